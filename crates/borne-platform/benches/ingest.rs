//! The platform on PostgreSQL, measured: ingest from 200 concurrent simulated kiosks in batches
//! of 500 against a raw COPY of the same rows into the same tables; batch latency with one and
//! three instances (HAProxy), empty and with 10 million reviews stored; statistics for one site
//! and for all sites over those 10 million reviews. Writes its section of `docs/benchmarks.md`.
//!
//! `cargo bench -p borne-platform --bench ingest` (PostgreSQL and HAProxy from Debian's
//! packages; a throwaway cluster with PostgreSQL's default durability: fsync and synchronous
//! commit on). `BORNE_BENCH_STORED=1000000` stores fewer reviews for a quicker run.

use borne_platform::storage::{Storage, Target};
use borne_testkit::bench::{machine, ms, percentile, write_section};
use borne_testkit::pg::PgCluster;
use borne_testkit::{Haproxy, PlatformProcess, Scratch, free_port};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

const KIOSKS: usize = 200;
const BATCH: usize = 500;
const SITES: usize = 20;

fn platform_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_borne-platform"))
}

fn device(i: usize) -> String {
    format!("sim-{i:03}")
}

fn review_json(id: &uuid::Uuid, i: usize) -> String {
    let (item, text, intention) = [(1, "Pas bien", "bad"), (2, "Moyen", "medium"), (3, "Très bien", "good")][i % 3];
    let comment = if i.is_multiple_of(5) {
        r#",{"field_code":"verbatim","kind":"text","answer_item_id":0,"answer_text":"Trop d'attente au guichet, mais accueil aimable","intention":"neutral"}"#
    } else {
        ""
    };
    format!(
        r#"{{"client_review_id":"{id}","submitted_at":"2026-11-{:02}T{:02}:{:02}:00+01:00","clock":"synced","language":"fr","answers":[{{"field_code":"satisfaction","kind":"radio","answer_item_id":{item},"answer_text":"{text}","intention":"{intention}"}}{comment}]}}"#,
        1 + i % 28,
        8 + i % 10,
        i % 60
    )
}

fn batch_body(kiosk: usize, round: usize) -> (String, String) {
    let key = uuid::Uuid::now_v7().to_string();
    let reviews: Vec<String> =
        (0..BATCH).map(|i| review_json(&uuid::Uuid::now_v7(), kiosk * 7 + round * BATCH + i)).collect();
    let body = format!(
        r#"{{"schema_version":1,"batch_id":"{key}","source":{{"device_id":"{}","product_id":1,"form_id":2,"button_id":3,"app_version":"borne/bench"}},"reviews":[{}]}}"#,
        device(kiosk),
        reviews.join(",")
    );
    (key, body)
}

/// 200 kiosks at once, `rounds` batches each; (reviews per second, sorted batch latencies).
fn drain(url: &str, rounds: usize) -> (f64, Vec<Duration>) {
    drain_with(url, KIOSKS, rounds)
}

/// `kiosks` kiosks at once (the first ones), `rounds` batches each, one after the other.
fn drain_with(url: &str, kiosks: usize, rounds: usize) -> (f64, Vec<Duration>) {
    let bodies: Vec<(usize, String, String)> = (0..kiosks)
        .flat_map(|k| (0..rounds).map(move |r| (k, r)))
        .map(|(k, r)| {
            let (key, body) = batch_body(k, r);
            (k, key, body)
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let client = reqwest::Client::builder().pool_max_idle_per_host(KIOSKS).build().unwrap();
    let started = Instant::now();
    let mut latencies: Vec<Duration> = runtime.block_on(async {
        let mut per_kiosk: Vec<Vec<(String, String)>> = vec![Vec::new(); kiosks];
        for (k, key, body) in bodies {
            per_kiosk[k].push((key, body));
        }
        let tasks: Vec<_> = per_kiosk
            .into_iter()
            .enumerate()
            .map(|(k, batches)| {
                let client = client.clone();
                let url = url.to_string();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    for (key, body) in batches {
                        loop {
                            let sent = Instant::now();
                            let response = client
                                .post(format!("{url}/v1/batches"))
                                .bearer_auth(format!("tok-{}", device(k)))
                                .header("Content-Type", "application/json")
                                .header("Idempotency-Key", &key)
                                .body(body.clone())
                                .timeout(Duration::from_secs(120))
                                .send()
                                .await;
                            if let Ok(r) = response
                                && r.status() == 200
                                && r.text().await.is_ok_and(|t| t.matches("\"accepted\"").count() == BATCH)
                            {
                                latencies.push(sent.elapsed());
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                    latencies
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all
    });
    let elapsed = started.elapsed();
    latencies.sort();
    ((kiosks * rounds * BATCH) as f64 / elapsed.as_secs_f64(), latencies)
}

/// The same shape of rows, written by COPY into the same tables (review_keys, reviews,
/// answers), `n` reviews; reviews per second.
fn copy_baseline(cluster: &PgCluster, dir: &Path, n: usize) -> f64 {
    let mut keys = String::new();
    let mut reviews = String::new();
    let mut answers = String::new();
    let first_id: i64 = cluster
        .psql("bench", &format!("SELECT setval('reviews_id_seq', nextval('reviews_id_seq') + {n})"))
        .parse()
        .unwrap();
    for i in 0..n {
        let id = first_id - n as i64 + i as i64;
        let cid = uuid::Uuid::now_v7();
        let dev = device(i % KIOSKS);
        let site = format!("site-{:02}", (i % KIOSKS) / (KIOSKS / SITES));
        let at = format!("2026-11-{:02} {:02}:{:02}:00+01", 1 + i % 28, 8 + i % 10, i % 60);
        let (item, text, intention) = [(1, "Pas bien", "bad"), (2, "Moyen", "medium"), (3, "Très bien", "good")][i % 3];
        let _ = writeln!(keys, "{dev}\t{cid}\t{id}\t{at}");
        let _ = writeln!(
            reviews,
            "{id}\t{at}\t{dev}\t{cid}\t{site}\t1\t2\t3\t2026-11-01T10:00:00+01:00\tsynced\tfr\t{}\t{}\t{at}",
            i.is_multiple_of(5),
            uuid::Uuid::now_v7()
        );
        let _ = writeln!(answers, "{id}\t{at}\tsatisfaction\tDe façon générale\t{item}\t{text}\t{intention}\tradio");
        if i.is_multiple_of(5) {
            let _ = writeln!(
                answers,
                "{id}\t{at}\tverbatim\tCommentaire\t0\tTrop d'attente au guichet, mais accueil aimable\tneutral\ttext"
            );
        }
    }
    for (name, data) in [("keys.tsv", &keys), ("reviews.tsv", &reviews), ("answers.tsv", &answers)] {
        std::fs::write(dir.join(name), data).unwrap();
    }
    let script = format!(
        "BEGIN;\n\\copy review_keys (device_id, client_review_id, review_id, created_at) FROM '{}'\n\
         \\copy reviews (id, created_at, device_id, client_review_id, site_id, product_id, form_id, button_id, submitted_at, clock, language, has_verbatim, batch_id, received_at) FROM '{}'\n\
         \\copy answers (review_id, review_created_at, field_code, field_label, answer_item_id, answer_text, intention, kind) FROM '{}'\n\
         COMMIT;\n",
        dir.join("keys.tsv").display(),
        dir.join("reviews.tsv").display(),
        dir.join("answers.tsv").display()
    );
    std::fs::write(dir.join("copy.sql"), script).unwrap();
    let started = Instant::now();
    let out = std::process::Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &cluster.port.to_string(),
            "-U",
            "postgres",
            "-d",
            "bench",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
        ])
        .arg(dir.join("copy.sql"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    n as f64 / started.elapsed().as_secs_f64()
}

/// Fills the database up to `target` reviews spread over the past twelve months, with their
/// answers and per-site counts, in SQL (as a year of traffic would have left them).
fn fill(cluster: &PgCluster, target: usize) -> Duration {
    let held: usize = cluster.psql("bench", "SELECT count(*) FROM review_keys").parse().unwrap();
    let n = target.saturating_sub(held);
    let started = Instant::now();
    let sql = format!(
        "SET synchronous_commit = off;
         SET work_mem = '256MB';
         CREATE TEMP TABLE gen AS
           SELECT nextval('reviews_id_seq') AS id, gen_random_uuid() AS cid,
                  'sim-' || lpad((g % {KIOSKS})::text, 3, '0') AS device,
                  'site-' || lpad(((g % {KIOSKS}) / {per_site})::text, 2, '0') AS site,
                  timestamptz '2025-12-01 07:00:00+00' + ((g::bigint * 7919) % 31449600) * interval '1 second' AS ts,
                  1 + (g % 3) AS item
           FROM generate_series(1, {n}) g;
         INSERT INTO review_keys (device_id, client_review_id, review_id, created_at) SELECT device, cid, id, ts FROM gen;
         INSERT INTO reviews (id, created_at, device_id, client_review_id, site_id, product_id, form_id, button_id,
                submitted_at, clock, language, has_verbatim, batch_id, received_at)
           SELECT id, ts, device, cid, site, 1, 2, 3, to_char(ts AT TIME ZONE 'Europe/Paris', 'YYYY-MM-DD\"T\"HH24:MI:SS') || '+01:00',
                  'synced', 'fr', false, cid, ts FROM gen;
         INSERT INTO answers (review_id, review_created_at, field_code, field_label, answer_item_id, answer_text, intention, kind)
           SELECT id, ts, 'satisfaction', 'De façon générale', item,
                  (ARRAY['Pas bien', 'Moyen', 'Très bien'])[item], (ARRAY['bad', 'medium', 'good'])[item], 'radio' FROM gen;
         INSERT INTO site_hourly (site_id, hour, field_code, answer_item_id, n)
           SELECT site, date_trunc('hour', ts AT TIME ZONE 'Europe/Paris'), 'satisfaction', c.item, count(*)
           FROM gen CROSS JOIN LATERAL (VALUES (gen.item), (-1)) AS c(item) GROUP BY 1, 2, 3, 4
           ON CONFLICT (site_id, hour, field_code, answer_item_id) DO UPDATE SET n = site_hourly.n + excluded.n;
         INSERT INTO site_daily (site_id, day, field_code, answer_item_id, n)
           SELECT site, (ts AT TIME ZONE 'Europe/Paris')::date, 'satisfaction', c.item, count(*)
           FROM gen CROSS JOIN LATERAL (VALUES (gen.item), (-1)) AS c(item) GROUP BY 1, 2, 3, 4
           ON CONFLICT (site_id, day, field_code, answer_item_id) DO UPDATE SET n = site_daily.n + excluded.n;
         INSERT INTO site_monthly (site_id, month, field_code, answer_item_id, n)
           SELECT site, date_trunc('month', ts AT TIME ZONE 'Europe/Paris')::date, 'satisfaction', c.item, count(*)
           FROM gen CROSS JOIN LATERAL (VALUES (gen.item), (-1)) AS c(item) GROUP BY 1, 2, 3, 4
           ON CONFLICT (site_id, month, field_code, answer_item_id) DO UPDATE SET n = site_monthly.n + excluded.n;
         DROP TABLE gen;",
        per_site = KIOSKS / SITES
    );
    cluster.psql("bench", &sql);
    cluster.psql("bench", "VACUUM ANALYZE");
    // A year loaded in minutes leaves a checkpoint owed that steady traffic never builds up.
    cluster.psql("bench", "CHECKPOINT");
    started.elapsed()
}

fn register(cluster: &PgCluster) {
    let mut sql = String::from("BEGIN;");
    for s in 0..SITES {
        let _ = write!(sql, "INSERT INTO sites (id, name) VALUES ('site-{s:02}', 'Site {s}');");
    }
    for k in 0..KIOSKS {
        let _ = write!(
            sql,
            "INSERT INTO devices (id, site_id, token_sha256) VALUES ('{d}', 'site-{:02}', encode(sha256(convert_to('tok-{d}', 'UTF8')), 'hex'));",
            k / (KIOSKS / SITES),
            d = device(k)
        );
    }
    sql.push_str("COMMIT;");
    cluster.psql("bench", &sql);
}

fn start_instances(url: &str, n: usize) -> Vec<PlatformProcess> {
    (0..n)
        .map(|_| {
            let listen = format!("127.0.0.1:{}", free_port());
            let args: Vec<std::ffi::OsString> = vec!["--database-url".into(), url.into()];
            let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
            PlatformProcess::start(platform_bin(), &listen, &args)
        })
        .collect()
}

fn latency_line(label: &str, rate: f64, latencies: &[Duration]) -> String {
    format!(
        "| {label} | {} | {rate:.0} | {} | {} |\n",
        latencies.len(),
        ms(percentile(latencies, 0.5)),
        ms(percentile(latencies, 0.99))
    )
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let stored: usize = std::env::var("BORNE_BENCH_STORED").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let dir = Scratch::new("bench-platform");
    let cluster =
        PgCluster::start(&["shared_buffers = '512MB'", "max_wal_size = '4GB'", "checkpoint_timeout = '30min'"])
            .expect("PostgreSQL (Debian package postgresql)");
    let url = cluster.database("bench");
    let out = std::process::Command::new(platform_bin()).args(["migrate", "--database-url", &url]).output().unwrap();
    assert!(out.status.success());
    register(&cluster);
    let mut report = String::new();

    // Empty database, one instance.
    let one = start_instances(&url, 1);
    let (_, alone_empty) = drain_with(&one[0].url, 1, 40);
    let (rate_empty, lat_empty) = drain(&one[0].url, 2);
    eprintln!("empty, 1 instance: {rate_empty:.0} reviews/s");
    // The same rows by COPY, in the same run.
    let copy_rate = copy_baseline(&cluster, dir.path(), KIOSKS * 2 * BATCH);
    eprintln!("COPY: {copy_rate:.0} reviews/s");
    // Three instances behind HAProxy.
    let three = start_instances(&url, 3);
    let proxy = Haproxy::start(&three.iter().map(|p| p.url.clone()).collect::<Vec<_>>());
    let (_, alone_three) = drain_with(&proxy.url, 1, 40);
    let (rate_three, lat_three) = drain(&proxy.url, 2);
    eprintln!("3 instances: {rate_three:.0} reviews/s");
    drop(proxy);
    drop(three);
    // Ten million reviews stored, one instance again.
    let fill_time = fill(&cluster, stored);
    let held: usize = cluster.psql("bench", "SELECT count(*) FROM review_keys").parse().unwrap();
    eprintln!("filled to {held} in {:.0} s", fill_time.as_secs_f64());
    let (_, alone_full) = drain_with(&one[0].url, 1, 40);
    let (rate_full, lat_full) = drain(&one[0].url, 2);
    eprintln!("{held} stored: {rate_full:.0} reviews/s");
    drop(one);

    // Statistics over what is stored.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let stats = runtime.block_on(async {
        let storage = Storage::open(&Target::Postgres { url: url.clone(), pool_size: 4 }).await.unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let month_ago = today - chrono::Duration::days(29);
        let year_ago = today - chrono::Duration::days(364);
        let mut lines = Vec::new();
        for (label, site, from) in [
            ("one site, 30 days", Some("site-07"), month_ago),
            ("one site, 12 rolling months", Some("site-07"), year_ago),
            ("all 20 sites, 30 days", None, month_ago),
            ("all 20 sites, 12 rolling months", None, year_ago),
        ] {
            let mut times = Vec::new();
            let mut reviews = 0;
            for _ in 0..100 {
                let started = Instant::now();
                let counts = storage.site_counts(site, from, today).await.unwrap();
                times.push(started.elapsed());
                reviews = counts.iter().map(|c| c.reviews).sum::<i64>();
            }
            times.sort();
            lines.push(format!(
                "| {label} | {reviews} | {} | {} |\n",
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.95))
            ));
        }
        lines
    });
    let size = cluster.psql("bench", "SELECT pg_size_pretty(pg_database_size('bench'))");

    let _ = writeln!(report, "## Platform on PostgreSQL (`cargo bench -p borne-platform --bench ingest`)\n");
    let _ = writeln!(
        report,
        "Machine: {}. PostgreSQL {} in a throwaway cluster on loopback, default durability (fsync, synchronous commit), shared_buffers 512 MB. Everything runs on this machine's cores at once: PostgreSQL, the instances, HAProxy and the 200 simulated kiosks.\n",
        machine(),
        cluster.psql("postgres", "SHOW server_version")
    );
    let _ = writeln!(
        report,
        "### Ingest: 200 kiosks at once, 2 batches of 500 each (200,000 reviews, one in five with a comment)\n"
    );
    let _ = writeln!(report, "| path | reviews/s |\n|---|---|");
    let _ = writeln!(report, "| `POST /v1/batches`, 1 instance, empty database | {rate_empty:.0} |");
    let _ = writeln!(
        report,
        "| raw `COPY` of the same rows into the same tables (review_keys, reviews, answers; no counts, no idempotency) | {copy_rate:.0} |"
    );
    let _ = writeln!(report, "| ratio (goal ≥ 0.5) | {:.2} |\n", rate_empty / copy_rate);
    let _ = writeln!(report, "### Batch latency (500 reviews; from sending to the whole answer)\n");
    let _ = writeln!(report, "One kiosk alone, 40 batches one after the other (what a kiosk waits):\n");
    let _ = writeln!(report, "| setup | batches | reviews/s | p50 ms | p99 ms |\n|---|---|---|---|---|");
    let alone_rate = |l: &[Duration]| BATCH as f64 * l.len() as f64 / l.iter().map(Duration::as_secs_f64).sum::<f64>();
    report.push_str(&latency_line("1 instance, empty", alone_rate(&alone_empty), &alone_empty));
    report.push_str(&latency_line("3 instances behind HAProxy", alone_rate(&alone_three), &alone_three));
    report.push_str(&latency_line(&format!("1 instance, {held} reviews stored"), alone_rate(&alone_full), &alone_full));
    let _ = writeln!(
        report,
        "\n200 kiosks at once (the ingest above: the platform saturated, so latency is mostly the queue):\n"
    );
    let _ = writeln!(report, "| setup | batches | reviews/s | p50 ms | p99 ms |\n|---|---|---|---|---|");
    report.push_str(&latency_line("1 instance, empty", rate_empty, &lat_empty));
    report.push_str(&latency_line("3 instances behind HAProxy", rate_three, &lat_three));
    report.push_str(&latency_line(&format!("1 instance, {held} reviews stored"), rate_full, &lat_full));
    let ratio =
        |a: &[Duration], b: &[Duration], p: f64| percentile(a, p).as_secs_f64() / percentile(b, p).as_secs_f64();
    let _ = writeln!(
        report,
        "\nWith {held} reviews stored vs empty (goal ≤ 1.2): one kiosk p50 ×{:.2}, p99 ×{:.2}; 200 kiosks p50 ×{:.2}, p99 ×{:.2}. Database size: {size}; filled in {:.0} s by SQL (one satisfaction answer per review, spread over twelve months and 20 sites).\n",
        ratio(&alone_full, &alone_empty, 0.5),
        ratio(&alone_full, &alone_empty, 0.99),
        ratio(&lat_full, &lat_empty, 0.5),
        ratio(&lat_full, &lat_empty, 0.99),
        fill_time.as_secs_f64()
    );
    let _ =
        writeln!(report, "### Statistics over {held} reviews (per-site counts; 100 runs each, goal p95 < 100 ms)\n");
    let _ = writeln!(report, "| query | reviews counted | p50 ms | p95 ms |\n|---|---|---|---|");
    for line in stats {
        report.push_str(&line);
    }
    write_section("platform", &report);
}
