//! A fleet draining into the platform as deployed: three `borne-platform` instances on one
//! PostgreSQL database behind HAProxy (round robin, health checks), 20 real kiosks
//! (`borne upload`) and 200 simulated ones sending their backlogs at once, while an instance is
//! SIGKILLed and restarted every few seconds and PostgreSQL itself is restarted once. Every
//! review must be held exactly once, every replay answered byte for byte as first answered, no
//! valid review rejected, and the per-site counts must add up to the reviews.

use crate::common::*;
use crate::upload::{kiosk, kiosk_config_for, seed_reviews, status_json};
use borne_testkit::pg::PgCluster;
use borne_testkit::{Haproxy, PlatformProcess, free_port};
use std::collections::{HashMap, HashSet};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const REAL_KIOSKS: usize = 20;
const REVIEWS_PER_REAL_KIOSK: usize = 1_000;
const SIMULATED_KIOSKS: usize = 200;
const REVIEWS_PER_SIMULATED_KIOSK: usize = 400;
const SIMULATED_BATCH: usize = 100;

fn platform_bin() -> std::path::PathBuf {
    workspace_bin("borne-platform")
}

/// The instances, restartable on their own port (HAProxy's configuration names the ports).
struct Instances {
    url: String,
    ports: Vec<u16>,
    running: Vec<Option<PlatformProcess>>,
}

impl Instances {
    fn start(url: &str, n: usize) -> Instances {
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut instances = Instances { url: url.to_string(), ports, running: Vec::new() };
        for i in 0..n {
            let process = instances.spawn(i);
            instances.running.push(Some(process));
        }
        instances
    }

    fn spawn(&self, i: usize) -> PlatformProcess {
        let listen = format!("127.0.0.1:{}", self.ports[i]);
        let args: Vec<std::ffi::OsString> = vec!["--database-url".into(), self.url.clone().into()];
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        PlatformProcess::start(&platform_bin(), &listen, &args)
    }

    fn backends(&self) -> Vec<String> {
        self.ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect()
    }

    /// SIGKILLs instance `i`; whether it was running until then and died of it (as its exit
    /// status says, not as this test believes).
    fn kill(&mut self, i: usize) -> bool {
        use std::os::unix::process::ExitStatusExt;
        let Some(mut process) = self.running[i].take() else { return false };
        let was_running = matches!(process.child.try_wait(), Ok(None));
        let _ = process.child.kill();
        let status = process.child.wait();
        was_running && status.is_ok_and(|s| s.signal() == Some(libc::SIGKILL))
    }

    fn restart(&mut self, i: usize) {
        let process = start_retrying(&format!("instance {i}"), || self.spawn(i));
        self.running[i] = Some(process);
    }
}

/// What a simulated kiosk saw: per key, the body it sent and the answer it got.
type Answered = Arc<Mutex<Vec<(String, String, String)>>>;

fn review_json(id: &str, i: usize) -> String {
    let (item, text, intention) = [(1, "Pas bien", "bad"), (2, "Moyen", "medium"), (3, "Très bien", "good")][i % 3];
    let comment = if i.is_multiple_of(5) {
        r#",{"field_code":"verbatim","kind":"text","answer_item_id":0,"answer_text":"Trop d'attente au guichet","intention":"neutral"}"#
    } else {
        ""
    };
    format!(
        r#"{{"client_review_id":"{id}","submitted_at":"2026-11-{:02}T{:02}:15:00+01:00","clock":"synced","language":"fr","answers":[{{"field_code":"satisfaction","kind":"radio","answer_item_id":{item},"answer_text":"{text}","intention":"{intention}"}}{comment}]}}"#,
        1 + i % 28,
        8 + i % 10
    )
}

/// One simulated kiosk: its backlog in batches, each retried with the same key and body until
/// the platform answers 200; every result must be accepted or duplicate.
async fn simulated_kiosk(
    client: reqwest::Client,
    url: String,
    device: String,
    ids: Vec<String>,
    answered: Answered,
    retries: Arc<AtomicUsize>,
) {
    let token = format!("tok-{device}");
    for (n, chunk) in ids.chunks(SIMULATED_BATCH).enumerate() {
        let key = uuid::Uuid::now_v7().to_string();
        let reviews: Vec<String> =
            chunk.iter().enumerate().map(|(i, id)| review_json(id, n * SIMULATED_BATCH + i)).collect();
        let body = format!(
            r#"{{"schema_version":1,"batch_id":"{key}","source":{{"device_id":"{device}","product_id":1,"form_id":2,"button_id":3,"app_version":"borne/sim"}},"reviews":[{}]}}"#,
            reviews.join(",")
        );
        let (text, retried) =
            post_batch_until_taken(&client, &url, &token, &key, &body, chunk.len(), Duration::from_secs(240)).await;
        retries.fetch_add(retried, Ordering::Relaxed);
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        for (result, id) in parsed["results"].as_array().unwrap().iter().zip(chunk) {
            assert_eq!(result["client_review_id"], id.as_str(), "{device}");
        }
        answered.lock().unwrap().push((key, body, text));
    }
}

#[test]
#[ignore = "needs PostgreSQL and HAProxy (Debian packages postgresql, postgresql-client, haproxy): .ci/run installs them"]
fn a_fleet_drains_exactly_once_through_instances_that_keep_dying() {
    let dir = Scratch::new("fleet");
    let cluster = PgCluster::for_test();
    let url = cluster.database("fleet");
    run_ok(std::process::Command::new(platform_bin()).args(["migrate", "--database-url", &url]));
    // 22 sites of 10 kiosks; tokens `tok-<device>`, registered as the platform stores them.
    let real: Vec<String> = (0..REAL_KIOSKS).map(|i| format!("kiosk-{i:02}")).collect();
    let simulated: Vec<String> = (0..SIMULATED_KIOSKS).map(|i| format!("sim-{i:03}")).collect();
    let devices: Vec<&String> = real.iter().chain(&simulated).collect();
    let mut sql = String::from("BEGIN;");
    for site in 0..devices.len().div_ceil(10) {
        sql.push_str(&format!("INSERT INTO sites (id, name) VALUES ('site-{site:02}', 'Site {site}');"));
    }
    for (i, device) in devices.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO devices (id, site_id, token_sha256) VALUES ('{device}', 'site-{:02}', encode(sha256(convert_to('tok-{device}', 'UTF8')), 'hex'));",
            i / 10
        ));
    }
    sql.push_str("COMMIT;");
    cluster.psql("fleet", &sql);

    let mut instances = Instances::start(&url, 3);
    let proxy = Haproxy::start(&instances.backends());

    // The real kiosks: seeded stores, `borne upload` running until their backlog is gone.
    let mut expected: HashSet<(String, String)> = HashSet::new();
    let mut kiosks: Vec<(std::path::PathBuf, std::path::PathBuf, Child)> = Vec::new();
    for device in &real {
        let kiosk_dir = dir.path().join(device);
        std::fs::create_dir_all(&kiosk_dir).unwrap();
        let data = kiosk_dir.join("data");
        for id in seed_reviews(&data, REVIEWS_PER_REAL_KIOSK) {
            expected.insert((device.clone(), id));
        }
        let config = kiosk_config_for(&kiosk_dir, &proxy.url, &format!("tok-{device}"), 100, device);
        let child = kiosk(&config, &data).arg("upload").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        kiosks.push((config, data, child));
    }
    // The simulated kiosks, all at once.
    let answered: Answered = Arc::new(Mutex::new(Vec::new()));
    let retries = Arc::new(AtomicUsize::new(0));
    let mut backlogs = Vec::new();
    for device in &simulated {
        let ids: Vec<String> = (0..REVIEWS_PER_SIMULATED_KIOSK).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        expected.extend(ids.iter().map(|id| (device.clone(), id.clone())));
        backlogs.push((device.clone(), ids));
    }
    let done = Arc::new(AtomicBool::new(false));
    let fleet = {
        let (url, answered, retries, done) = (proxy.url.clone(), answered.clone(), retries.clone(), done.clone());
        std::thread::spawn(move || {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let client = reqwest::Client::builder().pool_max_idle_per_host(32).build().unwrap();
                let tasks: Vec<_> = backlogs
                    .into_iter()
                    .map(|(device, ids)| {
                        tokio::spawn(simulated_kiosk(
                            client.clone(),
                            url.clone(),
                            device,
                            ids,
                            answered.clone(),
                            retries.clone(),
                        ))
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("a simulated kiosk failed");
                }
            });
            done.store(true, Ordering::SeqCst);
        })
    };

    // Chaos: an instance killed and restarted every few seconds; PostgreSQL restarted once.
    let started = Instant::now();
    let mut rounds = 0;
    let mut killed_running = 0;
    let postmaster_started = || cluster.psql("fleet", "SELECT pg_postmaster_start_time()");
    let first_postmaster = postmaster_started();
    let mut database_restarted = false;
    loop {
        let victim = rounds % 3;
        if instances.kill(victim) {
            killed_running += 1;
        }
        rounds += 1;
        std::thread::sleep(Duration::from_millis(300));
        instances.restart(victim);
        if !database_restarted && rounds == 2 {
            cluster.stop().unwrap();
            std::thread::sleep(Duration::from_secs(2));
            cluster.start_again().unwrap();
            database_restarted = true;
        }
        std::thread::sleep(Duration::from_millis(700));
        assert!(!fleet.is_finished() || done.load(Ordering::SeqCst), "the simulated fleet failed");
        if !done.load(Ordering::SeqCst) {
            continue;
        }
        let kiosks_pending: i64 = kiosks
            .iter()
            .map(|(config, data, _)| status_json(config, data)["outbox"]["pending"].as_i64().unwrap_or(1))
            .sum();
        if kiosks_pending == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(420), "the fleet did not drain ({kiosks_pending} pending)");
    }
    fleet.join().expect("the simulated fleet");
    for (_, _, child) in &mut kiosks {
        let _ = child.kill();
        let _ = child.wait();
    }
    // The chaos, as the processes and the database report it: instances that were serving and
    // died of SIGKILL, a server that started again, and kiosks that had to retry.
    assert!(killed_running >= 3, "instances killed while serving: {killed_running}");
    assert_ne!(postmaster_started(), first_postmaster, "PostgreSQL restarted");
    assert!(retries.load(Ordering::Relaxed) > 0, "the simulated kiosks met the failures and retried");

    // Every review exactly once.
    let held = cluster.psql("fleet", "SELECT device_id || ' ' || client_review_id FROM reviews");
    let held: Vec<(String, String)> = held
        .lines()
        .map(|l| {
            let (d, id) = l.split_once(' ').unwrap();
            (d.to_string(), id.to_string())
        })
        .collect();
    let held_set: HashSet<(String, String)> = held.iter().cloned().collect();
    assert_eq!(held.len(), held_set.len(), "no review twice");
    assert_eq!(held_set.len(), expected.len());
    assert!(held_set == expected, "the platform holds exactly the fleet's reviews");
    let total = expected.len().to_string();
    assert_eq!(cluster.psql("fleet", "SELECT count(*) FROM review_keys"), total);
    assert_eq!(cluster.psql("fleet", "SELECT count(*) FROM answers WHERE field_code = 'satisfaction'"), total);
    assert_eq!(
        cluster
            .psql("fleet", "SELECT sum(n) FROM site_monthly WHERE field_code = 'satisfaction' AND answer_item_id > 0"),
        total,
        "the per-site counts were kept once per review, through kills and the restart"
    );
    assert_eq!(
        cluster
            .psql("fleet", "SELECT sum(n) FROM site_monthly WHERE field_code = 'satisfaction' AND answer_item_id = -1"),
        total
    );
    for (config, data, _) in &kiosks {
        let status = status_json(config, data);
        assert_eq!(status["outbox"]["pending"], 0);
        assert_eq!(status["outbox"]["rejected"], 0, "no valid review rejected");
        assert_eq!(status["outbox"]["uploaded"], REVIEWS_PER_REAL_KIOSK as u64);
    }
    // Replays: every batch a simulated kiosk saw answered, sent again with the same key and body
    // through the balancer (any instance), is answered byte for byte the same.
    let answered = answered.lock().unwrap().clone();
    assert_eq!(answered.len(), SIMULATED_KIOSKS * REVIEWS_PER_SIMULATED_KIOSK.div_ceil(SIMULATED_BATCH));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = reqwest::Client::new();
    let mut by_device: HashMap<String, usize> = HashMap::new();
    for (key, body, first) in answered.iter() {
        let parsed: serde_json::Value = serde_json::from_str(body).unwrap();
        let device = parsed["source"]["device_id"].as_str().unwrap().to_string();
        *by_device.entry(device.clone()).or_default() += 1;
        let replay = runtime.block_on(async {
            client
                .post(format!("{}/v1/batches", proxy.url))
                .bearer_auth(format!("tok-{device}"))
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", key)
                .body(body.clone())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        assert_eq!(&replay, first, "a replay is the first answer, byte for byte");
    }
    eprintln!(
        "fleet: {} reviews from {} kiosks in {:.0} s, {killed_running} instance kills, 1 database restart, {} retried requests",
        expected.len(),
        REAL_KIOSKS + SIMULATED_KIOSKS,
        started.elapsed().as_secs_f64(),
        retries.load(Ordering::Relaxed)
    );
}
