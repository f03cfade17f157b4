//! Upload benchmarks: draining a backlog to the platform (`borne-platform`, built in release) on loopback, batched against
//! one request per review, bytes on the wire (counted by a TCP relay), and the uploader's peak
//! memory as the backlog grows.
//!
//! Run with `cargo bench --bench uplink`. `BORNE_BENCH_BACKLOG` (default 100 000) and
//! `BORNE_BENCH_LARGE_BACKLOG` (default 1 000 000) set the sizes. Figures go to
//! docs/benchmarks.md.

mod common;

use borne::store::{Integrity, Store};
use common::*;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const BORNE: &str = env!("CARGO_BIN_EXE_borne");

struct Receiver(Child, String);

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn receiver(dir: &Path) -> Receiver {
    std::fs::write(dir.join("tokens"), "bench-token *\n").unwrap();
    let mut child = Command::new(common::workspace_bin("borne-platform"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tokens"])
        .arg(dir.join("tokens"))
        .arg("--db")
        .arg(dir.join("receiver.db"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().trim_start_matches("listening on http://").to_string();
    Receiver(child, url)
}

/// A TCP relay that counts the bytes crossing it in each direction.
fn counting_relay(runtime: &tokio::runtime::Runtime, upstream: String) -> (String, Arc<AtomicU64>, Arc<AtomicU64>) {
    let up = Arc::new(AtomicU64::new(0));
    let down = Arc::new(AtomicU64::new(0));
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (u, d) = (up.clone(), down.clone());
    runtime.spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else { continue };
            let upstream = upstream.clone();
            let (u, d) = (u.clone(), d.clone());
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                // Without this, Nagle's algorithm and delayed ACKs stall each relayed request by
                // ~40 ms and the relay, not Borne, is what gets measured.
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                if let Ok((to_server, to_client)) = tokio::io::copy_bidirectional(&mut client, &mut server).await {
                    u.fetch_add(to_server, Ordering::Relaxed);
                    d.fetch_add(to_client, Ordering::Relaxed);
                }
            });
        }
    });
    (address, up, down)
}

fn seed(data: &Path, n: usize) {
    let (mut store, _) = Store::open(data, Integrity::Trust).unwrap();
    fill_store(&mut store, n, 7);
}

fn kiosk_config(dir: &Path, address: &str, batch_size: usize) -> PathBuf {
    std::fs::write(dir.join("kiosk-token"), "bench-token\n").unwrap();
    let path = dir.join(format!("borne-{batch_size}.toml"));
    std::fs::write(
        &path,
        format!(
            "[kiosk]\ndevice_id = \"borne-bench-01\"\nadmin_pin = \"4821\"\n[upload]\nenabled = true\nallow_insecure_http = true\nbase_url = \"http://{address}\"\ntoken_file = \"{}\"\nproduct_id = 1\nform_id = 2\nbutton_id = 3\nbatch_size = {batch_size}\n",
            dir.join("kiosk-token").display()
        ),
    )
    .unwrap();
    path
}

/// Drains `n` reviews with `borne upload --once` through the relay; returns (seconds, bytes
/// up, bytes down, peak RSS KiB).
fn drain(
    dir: &Path,
    name: &str,
    n: usize,
    batch_size: usize,
    address: &str,
    up: &AtomicU64,
    down: &AtomicU64,
) -> (f64, u64, u64, u64) {
    let data = dir.join(name);
    seed(&data, n);
    let config = kiosk_config(dir, address, batch_size);
    let (up0, down0) = (up.load(Ordering::Relaxed), down.load(Ordering::Relaxed));
    let start = Instant::now();
    let out = Command::new(BORNE)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .args(["upload", "--once"])
        .env("BORNE_REPORT_PEAK_RSS", "1")
        .output()
        .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("{n} avis envoyé(s)")), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib = stderr.lines().find_map(|l| l.strip_prefix("peak_rss_kib=")).and_then(|v| v.parse().ok()).unwrap_or(0);
    // Let the relay account for the last connection's bytes.
    std::thread::sleep(std::time::Duration::from_millis(300));
    (seconds, up.load(Ordering::Relaxed) - up0, down.load(Ordering::Relaxed) - down0, kib)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let backlog: usize = std::env::var("BORNE_BENCH_BACKLOG").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let large: usize =
        std::env::var("BORNE_BENCH_LARGE_BACKLOG").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let single = (backlog / 20).max(100);
    let root = std::env::temp_dir().join(format!("borne-bench-uplink-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let rx = receiver(&root);
    let (address, up, down) = counting_relay(&runtime, rx.1.clone());

    let mut out = String::new();
    writeln!(out, "## Upload (`cargo bench --bench uplink`)\n").unwrap();
    writeln!(out, "Machine: {}. `borne upload --once` (release build) drains a store into `borne-platform` (release build, SQLite `synchronous=FULL`) on loopback, through a TCP relay that counts every byte both ways (HTTP headers included). Synthetic reviews: 60 % « Très bien », follow-ups after the others, a comment on one in five.\n", machine()).unwrap();
    writeln!(out, "| run | reviews | seconds | reviews/s | bytes up per review | bytes down per review | uploader peak RSS MiB |\n|---|---|---|---|---|---|---|").unwrap();
    let mut row = |label: &str, n: usize, r: (f64, u64, u64, u64)| {
        writeln!(
            out,
            "| {label} | {n} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} |",
            r.0,
            n as f64 / r.0,
            r.1 as f64 / n as f64,
            r.2 as f64 / n as f64,
            r.3 as f64 / 1024.0
        )
        .unwrap();
        n as f64 / r.0
    };
    let batched = drain(&root, "batched", backlog, 500, &address, &up, &down);
    let batched_rate = row("batches of 500, gzip", backlog, batched);
    let per_review = drain(&root, "single", single, 1, &address, &up, &down);
    let single_rate = row("one request per review", single, per_review);
    let large_run = drain(&root, "large", large, 500, &address, &up, &down);
    row("batches of 500, large backlog", large, large_run);
    writeln!(
        out,
        "\nBatched / one-per-review rate: {:.0}× (goal ≥ 50×). Bytes up per review, batched: {:.1} (goal ≤ 60). Uploader peak memory: {:.1} MiB at {backlog} and {:.1} MiB at {large} pending (goal: flat, under 50 MB).",
        batched_rate / single_rate,
        batched.1 as f64 / backlog as f64,
        batched.3 as f64 / 1024.0,
        large_run.3 as f64 / 1024.0
    )
    .unwrap();
    if batched_rate / single_rate < 50.0 {
        writeln!(
            out,
            "\n**Ratio goal not met.** The kiosk's side is unchanged (bytes per review, memory); the \
             platform now does more per batch than the reference receiver it replaced (per-site hourly, \
             daily and monthly counts, the site's catalogue of questions, in one SQLite transaction with \
             `synchronous=FULL`), so batches are received more slowly while one review a request costs \
             the same round trips: the platform's ingest speed is measured on its own in « Platform on PostgreSQL » below (its speed is issue 30's)."
        )
        .unwrap();
    }
    drop(rx);
    let _ = std::fs::remove_dir_all(&root);
    write_section("uplink", &out);
}
