//! The network's view, measured on PostgreSQL: the console's fleet page for 5,000 kiosks and
//! its sites comparison (500 sites, 50 networks) over the counts of 10 million reviews, through
//! HTTP as a national administrator sees them; and one round of alert evaluation for those 5,000
//! kiosks and 500 sites. Writes its section of `docs/benchmarks.md`.
//!
//! `cargo bench -p borne-platform --bench console` (PostgreSQL from Debian's packages).
//!
//! The pages read the per-site counts and the kiosks' heartbeats, never the reviews: the counts
//! that twelve months of 10 million reviews leave are generated directly in SQL.

use borne_platform::storage::{Storage, Target};
use borne_testkit::bench::{machine, ms, percentile, write_section};
use borne_testkit::pg::PgCluster;
use borne_testkit::{PlatformProcess, Scratch, free_port};
use std::path::Path;
use std::time::{Duration, Instant};

const KIOSKS: usize = 5_000;
const SITES: usize = 500;
const NETWORKS: usize = 50;
const REVIEWS: u64 = 10_000_000;
const RUNS: usize = 50;

fn platform_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_borne-platform"))
}

/// 50 networks, 500 sites, 5,000 kiosks heard from in the last minutes (some silent, some
/// offline), and the counts of 10 million reviews over the last twelve months.
fn populate(cluster: &PgCluster) {
    let per_day = REVIEWS / (SITES as u64 * 365);
    cluster.psql(
        "bench",
        &format!(
            "BEGIN;
             INSERT INTO organisations (id, name) SELECT 'reseau-' || g, 'Réseau ' || g FROM generate_series(0, {NETWORKS} - 1) g;
             INSERT INTO sites (id, name, organisation_id)
               SELECT 'site-' || g, 'Site ' || g, 'reseau-' || (g % {NETWORKS}) FROM generate_series(0, {SITES} - 1) g;
             INSERT INTO devices (id, site_id, token_sha256)
               SELECT 'borne-' || g, 'site-' || (g % {SITES}), encode(sha256(convert_to('tok-' || g, 'UTF8')), 'hex')
               FROM generate_series(0, {KIOSKS} - 1) g;
             INSERT INTO heartbeats (device_id, received_at, app_version, pending, oldest_pending_at, last_upload_at, disk_free_bytes, uptime_s)
               SELECT 'borne-' || g,
                      now() - (CASE WHEN g % 50 = 0 THEN interval '2 days' WHEN g % 20 = 0 THEN interval '1 hour' ELSE interval '2 minutes' END),
                      'borne/1.' || (g % 4) || '.0', g % 7,
                      CASE WHEN g % 7 = 0 THEN NULL ELSE to_char(now() - interval '3 hours', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END,
                      to_char(now() - interval '5 minutes', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 8000000000 + g, 86400
               FROM generate_series(0, {KIOSKS} - 1) g;
             CREATE TEMP TABLE gen AS
               SELECT 'site-' || s AS site, d::date AS day, i AS item,
                      ({per_day} * (CASE i WHEN 1 THEN 1 + s % 3 WHEN 2 THEN 3 ELSE 6 + s % 4 END)
                        / (10 + s % 3 + s % 4))::bigint AS n
               FROM generate_series(0, {SITES} - 1) s,
                    generate_series(current_date - 364, current_date, interval '1 day') d,
                    generate_series(1, 3) i;
             INSERT INTO site_daily (site_id, day, field_code, answer_item_id, n)
               SELECT site, day, 'satisfaction', item, n FROM gen
               UNION ALL SELECT site, day, 'satisfaction', -1, sum(n) FROM gen GROUP BY site, day;
             INSERT INTO site_monthly (site_id, month, field_code, answer_item_id, n)
               SELECT site_id, date_trunc('month', day)::date, field_code, answer_item_id, sum(n) FROM site_daily GROUP BY 1, 2, 3, 4;
             COMMIT;"
        ),
    );
    cluster.psql("bench", "VACUUM ANALYZE");
}

fn populated_reviews(cluster: &PgCluster) -> String {
    cluster.psql("bench", "SELECT sum(n) FROM site_daily WHERE answer_item_id = -1")
}

/// Signs in as `email`; the session cookie.
async fn login(client: &reqwest::Client, url: &str, email: &str, password: &str) -> String {
    let form = client.get(format!("{url}/console/connexion")).send().await.unwrap();
    let cookie = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("borne_console_login="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let token = cookie.split_once('=').unwrap().1.to_string();
    let answer = client
        .post(format!("{url}/console/connexion"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email={}&password={}&csrf={token}", email.replace('@', "%40"), password.replace(' ', "+")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 303);
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("borne_console="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// The process's CPU time so far (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = Scratch::new("bench-console");
    let cluster = PgCluster::start(&["shared_buffers = '256MB'"]).expect("PostgreSQL (Debian package postgresql)");
    let url = cluster.database("bench");
    let run = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write;
        let mut child = std::process::Command::new(platform_bin())
            .args(args)
            .args(["--database-url", &url])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        if let Some(text) = stdin {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success(), "{args:?}");
    };
    run(&["migrate"], None);
    let started = Instant::now();
    populate(&cluster);
    let reviews = populated_reviews(&cluster);
    eprintln!("populated {reviews} reviews' counts in {:.0} s", started.elapsed().as_secs_f64());
    let password = "un mot de passe assez long";
    run(
        &["accounts", "add", "bench@interieur.gouv.fr", "--name", "Bench", "--role", "national", "--password"],
        Some(&format!("{password}\n")),
    );
    run(
        &[
            "accounts",
            "add",
            "reseau@orne.gouv.fr",
            "--name",
            "Réseau",
            "--role",
            "network",
            "--org",
            "reseau-7",
            "--password",
        ],
        Some(&format!("{password}\n")),
    );
    let config = dir.path().join("platform.toml");
    std::fs::write(&config, "[console]\nsecure_cookies = false\n").unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let args: Vec<std::ffi::OsString> =
        vec!["--database-url".into(), url.clone().into(), "--config".into(), config.into()];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let platform = PlatformProcess::start(platform_bin(), &listen, &args);

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut pages = String::new();
    runtime.block_on(async {
        let national = login(&client, &platform.url, "bench@interieur.gouv.fr", password).await;
        let network = login(&client, &platform.url, "reseau@orne.gouv.fr", password).await;
        for (label, path, session) in [
            ("fleet page, 5,000 kiosks (national)", "/console/bornes", &national),
            ("fleet CSV, 5,000 kiosks (national)", "/console/bornes.csv", &national),
            (
                "fleet page sorted by oldest pending (national)",
                "/console/bornes?tri=anciennete&ordre=decroissant",
                &national,
            ),
            ("sites comparison and ranking, 500 sites (national)", "/console/", &national),
            ("sites comparison, one network of 10 sites", "/console/", &network),
            ("one site's page (30 days, 12 months, 12-month trend)", "/console/sites/site-7", &national),
        ] {
            let mut times = Vec::new();
            let mut bytes = 0;
            for _ in 0..RUNS {
                let started = Instant::now();
                let answer =
                    client.get(format!("{}{path}", platform.url)).header("cookie", session).send().await.unwrap();
                assert_eq!(answer.status().as_u16(), 200, "{path}");
                bytes = answer.bytes().await.unwrap().len();
                times.push(started.elapsed());
            }
            times.sort();
            eprintln!("{label}: p95 {}", ms(percentile(&times, 0.95)));
            pages.push_str(&format!(
                "| {label} | `{path}` | {} kB | {} | {} |\n",
                bytes / 1024,
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.95))
            ));
        }
    });
    drop(platform);

    // Alert evaluation: one round a minute for every kiosk and site, in this process.
    let (rounds, cpu) = runtime.block_on(async {
        let storage = Storage::open(&Target::Postgres { url: url.clone(), pool_size: 4 }).await.unwrap();
        let mut times = Vec::new();
        let cpu_before = cpu_time();
        let start = chrono::Utc::now();
        for round in 0..20 {
            let now = start + chrono::Duration::minutes(round + 1);
            let started = Instant::now();
            assert!(borne_platform::notify::tick(&storage, "bench", None, now).await.unwrap());
            times.push(started.elapsed());
        }
        let cpu = cpu_time() - cpu_before;
        times.sort();
        (times, cpu)
    });
    let incidents = cluster.psql("bench", "SELECT count(*) FROM incidents");
    let body = format!(
        "Machine: {}. {}, throwaway cluster on loopback, shared_buffers 256 MB. The platform, PostgreSQL and the client share the machine's cores.\n\n\
         {KIOSKS} kiosks on {SITES} sites in {NETWORKS} networks; per-site counts of {reviews} reviews over the last twelve months (generated in SQL: the pages read counts and heartbeats, never review rows).\n\n\
         ### Console pages over HTTP ({RUNS} requests each, one after the other; goal p95 < 200 ms)\n\n\
         | page | path | size | p50 ms | p95 ms |\n|---|---|---|---|---|\n{pages}\n\
         ### Alert evaluation (20 rounds, one per simulated minute; goal: a round of every kiosk under one core-minute)\n\n\
         | rounds | p50 ms | p95 ms | max ms | this process's CPU per round ms |\n|---|---|---|---|---|\n| {} | {} | {} | {} | {:.1} |\n\n\
         Each round reads the {KIOSKS} kiosks' heartbeats and the satisfaction counts of the {SITES} sites over the rules' windows (7 days, 30 days and the 30 before), evaluates the four default rules per network and commits; {incidents} incidents were opened (the kiosks the data left offline or with reviews waiting). PostgreSQL's own CPU is not in the last column.\n",
        machine(),
        cluster.psql("bench", "SELECT version()").split(" on ").next().unwrap_or("PostgreSQL"),
        rounds.len(),
        ms(percentile(&rounds, 0.5)),
        ms(percentile(&rounds, 0.95)),
        ms(*rounds.last().unwrap()),
        cpu.as_secs_f64() * 1000.0 / rounds.len() as f64,
    );
    write_section(
        "platform-console",
        &format!("## Network console and alerts (`cargo bench -p borne-platform --bench console`)\n\n{body}"),
    );
}
