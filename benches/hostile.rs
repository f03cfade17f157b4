//! Hostile clients, measured: 1 500 connections sending their headers a few bytes at a time
//! and 1 000 trickling bodies announced at 2 MiB, from another process, against one platform
//! instance (release build, SQLite) and then against a running kiosk (`borne`, release build,
//! its window under Xvfb and its dashboard in one process), while a kiosk uploads, a manager signs in
//! and a visitor's reviews are committed. Figures: each target's peak memory (VmHWM), the
//! latencies of the health check, the kiosk's batch, the manager's sign-in and page, the
//! visitor's commit; and the time of a refused sign-in for a known and an unknown account.
//!
//! Run with `cargo build --release -p borne-platform && cargo bench --bench hostile` (needs
//! `xvfb-run`, Debian: xvfb). Figures go to docs/benchmarks.md.

mod common;

use borne::clock::{SyncSource, SystemClock};
use borne::config::Config;
use borne::kiosk;
use borne::store::{Integrity, Store};
use borne_model::review::ReviewDraft;
use common::*;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const SLOW: usize = 1500;
const TRICKLE: usize = 1000;
const PASSWORD: &str = "mot de passe du banc d'essai";
const SAMPLES: usize = 30;

/// The kiosk started by xvfb-run: the process named `borne` whose command line names `dir`.
fn kiosk_pid(dir: &Path) -> Option<u32> {
    let needle = dir.to_string_lossy().to_string();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
        let cmdline = std::fs::read_to_string(entry.path().join("cmdline")).ok()?;
        (comm.trim() == "borne" && cmdline.contains(&needle)).then_some(pid)
    })
}

/// A process to end with SIGTERM, by its pid.
struct KilledPid(u32);

impl Drop for KilledPid {
    fn drop(&mut self) {
        // SAFETY: a plain signal to the kiosk this benchmark started.
        unsafe { libc::kill(self.0 as i32, libc::SIGTERM) };
        std::thread::sleep(Duration::from_millis(500));
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    if let Ok(target) = std::env::var("BORNE_ATTACK") {
        attack(&target, &std::env::var("BORNE_ATTACK_PATHS").unwrap_or_default());
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut out = String::new();
    writeln!(out, "## Hostile clients (`cargo bench --bench hostile`)\n").unwrap();
    writeln!(out, "Machine: {}.\n", machine()).unwrap();
    writeln!(
        out,
        "An attacking process opens {SLOW} connections that send a request's headers a few bytes every \
         2 s, and {TRICKLE} that announce a 2 MiB body and send 1 KiB every 200 ms (half to the upload \
         endpoint without a valid token, half to the sign-in form); each reconnects as soon as it is \
         closed. Measured once the crowd is in place, {SAMPLES} times each, one after the other.\n"
    )
    .unwrap();
    platform(&runtime, &mut out);
    dashboard(&runtime, &mut out);
    write_section("hostile", &out);
}

/// The attacking process: runs until killed.
fn attack(target: &str, paths: &str) {
    raise_nofile();
    let paths: Vec<String> = paths.split(',').map(String::from).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async {
        for i in 0..SLOW {
            let target = target.to_string();
            tokio::spawn(async move {
                loop {
                    if let Ok(mut s) = tokio::net::TcpStream::connect(&target).await {
                        let mut ok = s.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n").await.is_ok();
                        while ok {
                            tokio::time::sleep(Duration::from_millis(2000 + (i % 7) as u64 * 10)).await;
                            ok = s.write_all(b"X-a: b\r\n").await.is_ok();
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
        for i in 0..TRICKLE {
            let target = target.to_string();
            let path = paths[i % paths.len()].clone();
            tokio::spawn(async move {
                let chunk = vec![b'a'; 1024];
                loop {
                    if let Ok(mut s) = tokio::net::TcpStream::connect(&target).await {
                        let head = format!(
                            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n\
                             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 2097152\r\n\r\n"
                        );
                        let mut ok = s.write_all(head.as_bytes()).await.is_ok();
                        while ok {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            ok = s.write_all(&chunk).await.is_ok();
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
        println!("ready");
        std::future::pending::<()>().await;
    });
}

fn raise_nofile() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn start_attack(target: &str, paths: &str) -> Killed {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("BORNE_ATTACK", target)
        .env("BORNE_ATTACK_PATHS", paths)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    // The crowd connects, and the target fills up to its cap and starts shedding.
    std::thread::sleep(Duration::from_secs(10));
    Killed(child)
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn line(out: &mut String, what: &str, times: &mut [Duration], failures: usize) {
    times.sort();
    writeln!(
        out,
        "- {what}: p50 {} ms, p95 {} ms, max {} ms{};",
        ms(percentile(times, 0.5)),
        ms(percentile(times, 0.95)),
        ms(times.last().copied().unwrap_or_default()),
        if failures > 0 { format!(", **{failures} failed**") } else { String::new() }
    )
    .unwrap();
}

fn timed<T>(f: impl FnOnce() -> Result<T, String>) -> (Duration, Result<T, String>) {
    let t = Instant::now();
    let r = f();
    (t.elapsed(), r)
}

fn platform_cli(db: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new(workspace_bin("borne-platform"))
        .args(args)
        .arg("--db")
        .arg(db)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// A sign-in on a form at `base` + `form_path`: the form, then the post; its status.
async fn sign_in(client: &reqwest::Client, base: &str, form_path: &str, fields: &str) -> Result<u16, String> {
    let form = client.get(format!("{base}{form_path}")).send().await.map_err(|e| e.to_string())?;
    let cookie = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.contains("_login"))
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .to_string();
    let body = form.text().await.map_err(|e| e.to_string())?;
    let start = body.find("name=\"csrf\" value=\"").ok_or("no token")? + "name=\"csrf\" value=\"".len();
    let token = body[start..start + 64].to_string();
    let answer = client
        .post(format!("{base}{form_path}"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}&{fields}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(answer.status().as_u16())
}

fn platform(runtime: &tokio::runtime::Runtime, out: &mut String) {
    let dir = std::env::temp_dir().join(format!("borne-bench-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("platform.db");
    platform_cli(&db, &["sites", "add", "site-1", "--name", "Site"], None);
    let token =
        platform_cli(&db, &["devices", "add", "borne-1", "--site", "site-1"], None).lines().last().unwrap().to_string();
    // The manager who signs in under the crowd, and ten accounts whose passwords are mistyped
    // once each (so that no account's wait comes into the refusals' time).
    for i in 0..11 {
        let account = if i == 0 { "agent@exemple.gouv.fr".to_string() } else { format!("agent{i}@exemple.gouv.fr") };
        platform_cli(
            &db,
            &["accounts", "add", &account, "--name", "Agent", "--role", "national", "--password"],
            Some(&format!("{PASSWORD}\n")),
        );
    }
    std::fs::write(dir.join("platform.toml"), "[console]\nsecure_cookies = false\n").unwrap();
    let mut child = Command::new(workspace_bin("borne-platform"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.join("platform.toml"))
        .arg("--db")
        .arg(&db)
        .env("BORNE_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let base = first.trim().trim_start_matches("listening on ").to_string();
    let server = Killed(child);
    let pid = server.0.id();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let before = vm_hwm_kib(pid);
    // Sign-in refusals, quiet: a known account with a wrong password, an unknown account.
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..10 {
        // Each from its own address, so the waits between failures do not come into it.
        let from: std::net::IpAddr = format!("127.0.1.{}", 10 + i).parse().unwrap();
        let c =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).local_address(from).build().unwrap();
        let (t, _) = timed(|| {
            runtime.block_on(sign_in(
                &c,
                &base,
                "/console/connexion",
                &format!("email=agent{}%40exemple.gouv.fr&password=faux", i + 1),
            ))
        });
        known.push(t);
        let from: std::net::IpAddr = format!("127.0.2.{}", 10 + i).parse().unwrap();
        let c =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).local_address(from).build().unwrap();
        let (t, _) = timed(|| {
            runtime.block_on(sign_in(
                &c,
                &base,
                "/console/connexion",
                &format!("email=inconnu{i}%40exemple.gouv.fr&password=faux"),
            ))
        });
        unknown.push(t);
    }
    let attack = start_attack(base.trim_start_matches("http://"), "/v1/batches,/console/connexion");
    let mut health = Vec::new();
    let mut batches = Vec::new();
    let mut signins = Vec::new();
    let mut failed = [0usize; 3];
    for i in 0..SAMPLES {
        let (t, r) = timed(|| {
            runtime.block_on(async {
                let r = client.get(format!("{base}/v1/health")).send().await.map_err(|e| e.to_string())?;
                if r.status() == 200 { Ok(()) } else { Err(r.status().to_string()) }
            })
        });
        health.push(t);
        failed[0] += r.is_err() as usize;
        let id = uuid::Uuid::now_v7();
        let body = format!(
            r#"{{"schema_version":1,"batch_id":"{id}","source":{{"device_id":"borne-1","product_id":1,"form_id":2,"button_id":3,"app_version":"borne/bench"}},"reviews":[{{"client_review_id":"{}","submitted_at":"{}","clock":"synced","language":"fr","answers":[{{"field_code":"satisfaction","kind":"radio","answer_item_id":3,"answer_text":"Très bien","intention":"good"}}]}}]}}"#,
            uuid::Uuid::now_v7(),
            chrono::Utc::now().to_rfc3339()
        );
        let (t, r) = timed(|| {
            runtime.block_on(async {
                let r = client
                    .post(format!("{base}/v1/batches"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .header("idempotency-key", id.to_string())
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if r.status() == 200 { Ok(()) } else { Err(r.status().to_string()) }
            })
        });
        batches.push(t);
        failed[1] += r.is_err() as usize;
        if i % 3 == 0 {
            let fields =
                format!("email=agent%40exemple.gouv.fr&password={}", PASSWORD.replace(' ', "+").replace('\'', "%27"));
            let (t, r) = timed(|| runtime.block_on(sign_in(&client, &base, "/console/connexion", &fields)));
            signins.push(t);
            failed[2] += (r != Ok(303)) as usize;
        }
    }
    let peak = vm_hwm_kib(pid);
    drop(attack);
    drop(server);
    writeln!(out, "**One platform instance** (SQLite, release build, `max_connections` 1024):\n").unwrap();
    line(out, "`/v1/health`", &mut health, failed[0]);
    line(out, "a kiosk's batch (one review)", &mut batches, failed[1]);
    line(out, "a manager's sign-in (form, then password: argon2id)", &mut signins, failed[2]);
    writeln!(
        out,
        "- peak memory: {:.1} MiB (VmHWM; {:.1} MiB before the crowd); goal: under 200 MiB.\n",
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    )
    .unwrap();
    writeln!(
        out,
        "A refused sign-in, without the crowd (10 each, each from its own address and for an account of \
         its own):\n"
    )
    .unwrap();
    line(out, "a known account, wrong password", &mut known, 0);
    line(out, "an unknown account (hashed against a dummy hash)", &mut unknown, 0);
    writeln!(out).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

fn dashboard(runtime: &tokio::runtime::Runtime, out: &mut String) {
    let dir = std::env::temp_dir().join(format!("borne-bench-hostile-kiosk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config::embedded();
    {
        let (mut store, _) = Store::open(&dir, Integrity::CheckAndRecover).unwrap();
        fill_store(&mut store, 20_000, 11);
        store.set_manager_password_hash(&borne_web::auth::hash_password(PASSWORD).unwrap()).unwrap();
    }
    // The whole kiosk: its window (under Xvfb, the same software renderer as on the Pi), its
    // store, its housekeeping and its dashboard, in one process, as on a site.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config_file = dir.join("borne.toml");
    std::fs::write(&config_file, format!("[dashboard]\nlisten = \"127.0.0.1:{port}\"\n")).unwrap();
    let xvfb = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1024x768x24"])
        .arg(env!("CARGO_BIN_EXE_borne"))
        .arg("--config")
        .arg(&config_file)
        .arg("--data-dir")
        .arg(&dir)
        .env_remove("BORNE_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("xvfb-run (Debian: xvfb) runs the kiosk's window without a display");
    let _xvfb = Killed(xvfb);
    let base = format!("http://127.0.0.1:{port}");
    let probe = reqwest::Client::new();
    let up = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        runtime.block_on(probe.get(format!("{base}/connexion")).send()).is_ok_and(|r| r.status() == 200)
    });
    assert!(up, "the kiosk's dashboard did not answer");
    let pid = kiosk_pid(&dir).expect("the kiosk's process");
    let server = KilledPid(pid);
    let quiet = commits(&dir, &config, 300);
    let before = vm_hwm_kib(pid);
    let attack = start_attack(base.trim_start_matches("http://"), "/connexion");
    let loading = Arc::new(AtomicBool::new(true));
    let (flag, commit_dir, commit_config) = (loading.clone(), dir.clone(), config.clone());
    let committer = std::thread::spawn(move || {
        let mut loaded = Vec::new();
        while flag.load(Ordering::SeqCst) {
            loaded.extend(commits(&commit_dir, &commit_config, 20));
        }
        loaded
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let fields = format!("password={}", PASSWORD.replace(' ', "+").replace('\'', "%27"));
    let mut signins = Vec::new();
    let mut pages = Vec::new();
    let mut failed = [0usize; 2];
    for _ in 0..SAMPLES / 3 {
        let (t, r) = timed(|| runtime.block_on(sign_in(&client, &base, "/connexion", &fields)));
        signins.push(t);
        failed[0] += (r != Ok(303)) as usize;
        let (t, r) = timed(|| {
            runtime.block_on(async {
                let r = client.get(format!("{base}/connexion")).send().await.map_err(|e| e.to_string())?;
                if r.status() == 200 { Ok(()) } else { Err(r.status().to_string()) }
            })
        });
        pages.push(t);
        failed[1] += r.is_err() as usize;
    }
    loading.store(false, Ordering::SeqCst);
    let mut loaded = committer.join().unwrap();
    let peak = vm_hwm_kib(pid);
    drop(attack);
    drop(server);
    writeln!(
        out,
        "**A running kiosk** (`borne`, release build: its window under Xvfb, its store of 20 000 \
         reviews, its dashboard with at most {} connections, one process):\n",
        borne::dashboard::MAX_CONNECTIONS
    )
    .unwrap();
    line(out, "a manager's sign-in (form, then password)", &mut signins, failed[0]);
    line(out, "the sign-in page", &mut pages, failed[1]);
    loaded.sort();
    let mut quiet = quiet;
    quiet.sort();
    writeln!(
        out,
        "- a visitor's commit (same store, another process): p99 {} ms under the crowd vs {} ms before it \
         ({} commits);",
        ms(percentile(&loaded, 0.99)),
        ms(percentile(&quiet, 0.99)),
        loaded.len()
    )
    .unwrap();
    writeln!(
        out,
        "- peak memory of the kiosk's process: {:.1} MiB (VmHWM; {:.1} MiB before the crowd); goal: under \
         120 MiB.",
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Commits `n` reviews as the kiosk does; each commit's latency.
fn commits(dir: &Path, config: &Config, n: usize) -> Vec<Duration> {
    let (mut store, _) = Store::open(dir, Integrity::Trust).unwrap();
    let clock = SystemClock { source: SyncSource::AssumeSynced };
    (0..n)
        .map(|i| {
            let draft = ReviewDraft {
                channel_answers: Vec::new(),
                satisfaction: (i % 3 + 1) as i64,
                answers: vec![],
                comment: None,
                language: "fr".into(),
            };
            let t = Instant::now();
            kiosk::commit_review(&mut store, &config.survey, &clock, &draft).unwrap();
            t.elapsed()
        })
        .collect()
}
