//! Forwarding to « Je donne mon avis », measured against the JDMA stand-in (allow-listed, no
//! faults): how fast a backlog drains into JDMA (one instance on SQLite; two on PostgreSQL), and
//! the lag from a review's upload to its creation in JDMA, in a burst and at a steady trickle.
//! Writes its section of `docs/benchmarks.md`.
//!
//! `cargo bench -p borne-platform --bench jdma` (PostgreSQL from Debian's packages).

use borne_jdma_standin::{JdmaStandIn, Settings};
use borne_testkit::bench::{machine, percentile, write_section};
use borne_testkit::pg::PgCluster;
use borne_testkit::{PlatformProcess, Scratch, free_port};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

const KIOSKS: usize = 10;
const BACKLOG_PER_KIOSK: usize = 300;
const BATCH: usize = 100;

fn platform_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_borne-platform"))
}

fn cli(config: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(platform_bin())
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn body(device: &str, ids: &[String]) -> String {
    let reviews: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (item, text, intention) = [(1, "Pas bien", "bad"), (2, "Moyen", "medium"), (3, "Très bien", "good")][i % 3];
            format!(
                r#"{{"client_review_id":"{id}","submitted_at":"2026-12-07T10:15:00+01:00","clock":"synced","language":"fr","answers":[{{"field_code":"satisfaction","kind":"radio","answer_item_id":{item},"answer_text":"{text}","intention":"{intention}"}},{{"field_code":"verbatim","kind":"text","answer_item_id":0,"answer_text":"Accueil aimable","intention":"neutral"}}]}}"#
            )
        })
        .collect();
    format!(
        r#"{{"schema_version":1,"batch_id":"{}","source":{{"device_id":"{device}","product_id":3119,"form_id":4521,"button_id":1,"app_version":"borne/bench"}},"reviews":[{}]}}"#,
        uuid::Uuid::now_v7(),
        reviews.join(",")
    )
}

struct Setup {
    _scratch: Scratch,
    _cluster: Option<PgCluster>,
    standin: JdmaStandIn,
    config: std::path::PathBuf,
    instances: Vec<PlatformProcess>,
    tokens: Vec<(String, String)>,
}

fn setup(rt: &tokio::runtime::Runtime, postgres: bool, instances: usize) -> Setup {
    let scratch = Scratch::new("bench-jdma");
    let standin =
        rt.block_on(JdmaStandIn::start(Settings { allowed_ips: "127.0.0.1".into(), ..Settings::default() })).unwrap();
    standin.add_product_with_id(3119, "Accueil", "Préfecture");
    standin.add_form_with_id(4521, 3119, "Évaluation de la satisfaction usager");
    let (cluster, database) = if postgres {
        let cluster = PgCluster::for_test();
        let url = cluster.database("bench");
        (Some(cluster), format!("url = \"{url}\""))
    } else {
        (None, format!("sqlite = \"{}\"", scratch.path().join("platform.db").display()))
    };
    let config = scratch.path().join("borne-platform.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\n{database}\n\n[jdma]\nform_url = \"{}\"\ncreates_per_hour = 0\nallow_insecure_http = true\n",
            standin.form_url()
        ),
    )
    .unwrap();
    cli(&config, &["sites", "add", "site", "--name", "Site", "--jdma-product", "3119", "--jdma-form", "4521"]);
    let tokens = (0..KIOSKS)
        .map(|k| {
            let device = format!("borne-{k:02}");
            let button = standin.add_button(4521, &device).to_string();
            let out = cli(&config, &["devices", "add", &device, "--site", "site", "--jdma-button", &button]);
            (device, out.lines().last().unwrap().trim().to_string())
        })
        .collect();
    let args: Vec<&std::ffi::OsStr> = vec!["--config".as_ref(), config.as_os_str()];
    let instances = (0..instances)
        .map(|_| PlatformProcess::start(platform_bin(), &format!("127.0.0.1:{}", free_port()), &args))
        .collect();
    Setup { _scratch: scratch, _cluster: cluster, standin, config, instances, tokens }
}

/// Uploads `per_kiosk` reviews from each kiosk in batches, the kiosks spread over the instances;
/// each review's upload instant.
fn upload(
    rt: &tokio::runtime::Runtime,
    urls: &[String],
    tokens: &[(String, String)],
    per_kiosk: usize,
    batch: usize,
) -> HashMap<String, DateTime<Utc>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for (k, (device, token)) in tokens.iter().enumerate() {
        let url = urls[k % urls.len()].clone();
        let (client, device, token) = (client.clone(), device.clone(), token.clone());
        tasks.push(rt.spawn(async move {
            let mut at = HashMap::new();
            let ids: Vec<String> = (0..per_kiosk).map(|_| uuid::Uuid::now_v7().to_string()).collect();
            for chunk in ids.chunks(batch) {
                let body = body(&device, chunk);
                let key =
                    serde_json::from_str::<serde_json::Value>(&body).unwrap()["batch_id"].as_str().unwrap().to_string();
                let r = client
                    .post(format!("{url}/v1/batches"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .header("idempotency-key", key)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let now = Utc::now();
                for id in chunk {
                    at.insert(id.clone(), now);
                }
            }
            at
        }));
    }
    let mut all = HashMap::new();
    for t in tasks {
        all.extend(rt.block_on(t).unwrap());
    }
    all
}

fn wait_forwarded(s: &Setup, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while s.standin.reviews().len() < n {
        assert!(Instant::now() < deadline, "not forwarded: {}", cli(&s.config, &["jdma", "status"]));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Lags from upload to creation in JDMA, sorted.
fn lags(s: &Setup, uploaded: &HashMap<String, DateTime<Utc>>) -> Vec<Duration> {
    let mut lags: Vec<Duration> = s
        .standin
        .reviews()
        .iter()
        .filter_map(|r| {
            let at = uploaded.get(r.user_id.as_deref()?)?;
            Some((r.created_at - *at).to_std().unwrap_or_default())
        })
        .collect();
    lags.sort();
    lags
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut out = String::new();
    writeln!(out, "## Forwarding to « Je donne mon avis »\n").unwrap();
    writeln!(out, "`cargo bench -p borne-platform --bench jdma` on {}.\n", machine()).unwrap();
    writeln!(
        out,
        "Against the JDMA stand-in on the same machine (allow-listed: no limit; no faults; SQLite in memory for JDMA), \
         each review is one `review.create` and one `review.insertOrUpdate`. Backlog: {KIOSKS} kiosks upload {} reviews \
         at once in batches of {BATCH}; throughput is the reviews created in JDMA per second from the first upload to \
         the last creation. Trickle: one review every 100 ms for 30 s; lag is a review's creation in JDMA minus the \
         instant its batch was answered.\n",
        KIOSKS * BACKLOG_PER_KIOSK
    )
    .unwrap();
    writeln!(out, "| database, instances | backlog: reviews/s into JDMA | backlog lag p50 / p95 / max (s) | trickle lag p50 / p95 / max (s) |").unwrap();
    writeln!(out, "|---|---|---|---|").unwrap();
    for (postgres, instances) in [(false, 1), (true, 2)] {
        let s = setup(&rt, postgres, instances);
        let started = Instant::now();
        let urls: Vec<String> = s.instances.iter().map(|i| i.url.clone()).collect();
        let uploaded = upload(&rt, &urls, &s.tokens, BACKLOG_PER_KIOSK, BATCH);
        wait_forwarded(&s, KIOSKS * BACKLOG_PER_KIOSK);
        let elapsed = started.elapsed();
        let burst = lags(&s, &uploaded);
        let mut trickle_at = HashMap::new();
        let trickle_started = Instant::now();
        while trickle_started.elapsed() < Duration::from_secs(30) {
            trickle_at.extend(upload(&rt, &urls, &s.tokens[..1], 1, 1));
            std::thread::sleep(Duration::from_millis(100));
        }
        wait_forwarded(&s, KIOSKS * BACKLOG_PER_KIOSK + trickle_at.len());
        let trickle = lags(&s, &trickle_at);
        let secs = |d: Duration| format!("{:.2}", d.as_secs_f64());
        writeln!(
            out,
            "| {}, {instances} | {:.0} | {} / {} / {} | {} / {} / {} ({} reviews; the idle round waits 2 s) |",
            if postgres { "PostgreSQL" } else { "SQLite" },
            (KIOSKS * BACKLOG_PER_KIOSK) as f64 / elapsed.as_secs_f64(),
            secs(percentile(&burst, 0.5)),
            secs(percentile(&burst, 0.95)),
            secs(*burst.last().unwrap()),
            secs(percentile(&trickle, 0.5)),
            secs(percentile(&trickle, 0.95)),
            secs(*trickle.last().unwrap()),
            trickle.len()
        )
        .unwrap();
    }
    writeln!(
        out,
        "\nNot allow-listed, JDMA takes 5 creates an hour from one address: the platform keeps to it (`creates_per_hour`), \
         120 reviews a day, whatever the figures above."
    )
    .unwrap();
    write_section("jdma", &out);
}
