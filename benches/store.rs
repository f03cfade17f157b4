//! Store benchmarks: commit latency against a bare insert, latency as the store grows,
//! indicators over a large store, peak memory of `borne rate` and `borne stats`.
//!
//! Run with `cargo bench --bench store`; `BORNE_BENCH_REVIEWS` sets the large store's size
//! (default 1 000 000). Figures go to docs/benchmarks.md.

mod common;

use borne::clock::{SyncSource, SystemClock};
use borne::config::Config;
use borne::store::{DayRange, Integrity, Store, apply_pragmas};
use borne_model::review::ReviewDraft;
use chrono::{Duration, Utc};
use common::*;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration as StdDuration, Instant};

const SAMPLES: usize = 5000;

fn draft(i: usize) -> ReviewDraft {
    ReviewDraft {
        channel_answers: Vec::new(),
        satisfaction: (i % 3) as i64 + 1,
        answers: if i % 3 < 2 { vec![("kiosk_motif".into(), (i % 6) as i64 + 1)] } else { vec![] },
        comment: i.is_multiple_of(5).then(|| "Accueil rapide et aimable, merci.".to_string()),
        language: "fr".into(),
    }
}

/// A bare rusqlite insert with the store's pragmas: the floor on this machine.
struct Bare(rusqlite::Connection);

impl Bare {
    fn open(dir: &Path) -> Bare {
        std::fs::create_dir_all(dir).unwrap();
        let conn = rusqlite::Connection::open(dir.join("bare.db")).unwrap();
        apply_pragmas(&conn).unwrap();
        conn.execute_batch("CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, payload TEXT NOT NULL)").unwrap();
        Bare(conn)
    }

    fn insert(&self) {
        self.0
            .execute(
                "INSERT INTO t (id, payload) VALUES (?1, ?2)",
                rusqlite::params![uuid::Uuid::now_v7().to_string(), "Très bien"],
            )
            .unwrap();
    }
}

fn timed(f: impl FnOnce()) -> StdDuration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn summary(label: &str, mut samples: Vec<StdDuration>) -> (String, StdDuration) {
    samples.sort();
    let p50 = percentile(&samples, 0.5);
    (format!("| {label} | {} | {} | {} |", ms(p50), ms(percentile(&samples, 0.99)), ms(*samples.last().unwrap())), p50)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let large: usize = std::env::var("BORNE_BENCH_REVIEWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let root = std::env::temp_dir().join(format!("borne-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let config = Config::embedded();
    let clock = SystemClock { source: SyncSource::Kernel };
    let mut out = String::new();
    writeln!(out, "## Store (`cargo bench --bench store`)\n").unwrap();
    writeln!(out, "Machine: {}. Files in the system temporary directory (same disk as the build).\n", machine())
        .unwrap();

    // 1 and 2: empty store, large store and bare insert, interleaved so that disk noise hits
    // all three alike.
    let (mut empty, _) = Store::open(&root.join("empty"), Integrity::CheckAndRecover).unwrap();
    let (mut full, _) = Store::open(&root.join("full"), Integrity::CheckAndRecover).unwrap();
    let bare = Bare::open(&root.join("bare"));
    let end = Utc::now();
    let fill_start = Instant::now();
    fill_store(&mut full, large, 42);
    let fill = fill_start.elapsed();
    let size_mb = full.size_bytes() as f64 / 1e6;

    let (mut t_empty, mut t_full, mut t_bare) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..SAMPLES {
        t_empty.push(timed(|| {
            borne::kiosk::commit_review(&mut empty, &config.survey, &clock, &draft(i)).unwrap();
        }));
        t_full.push(timed(|| {
            borne::kiosk::commit_review(&mut full, &config.survey, &clock, &draft(i)).unwrap();
        }));
        t_bare.push(timed(|| bare.insert()));
    }
    writeln!(out, "### Commit latency (one review, durable: WAL + `synchronous=FULL`)\n").unwrap();
    writeln!(out, "{SAMPLES} commits each, interleaved. A Borne commit is `kiosk::commit_review`: validation, comment redaction, the review row, its answers and its hourly counts in one transaction.\n").unwrap();
    writeln!(out, "| what | p50 ms | p99 ms | max ms |\n|---|---|---|---|").unwrap();
    let (row, bare_p50) = summary("bare rusqlite insert, same pragmas", t_bare.clone());
    writeln!(out, "{row}").unwrap();
    let (row, empty_p50) = summary("Borne commit, empty store", t_empty.clone());
    writeln!(out, "{row}").unwrap();
    let (row, full_p50) = summary(&format!("Borne commit, store of {large} reviews"), t_full.clone());
    writeln!(out, "{row}").unwrap();
    let mut sorted_bare = t_bare;
    sorted_bare.sort();
    let mut sorted_empty = t_empty;
    sorted_empty.sort();
    writeln!(
        out,
        "\nRatio Borne / bare: p50 {:.2}, p99 {:.2} (goal ≤ 1.5). Ratio {large} / empty at p50: {:.2} (goal ≤ 1.2).",
        empty_p50.as_secs_f64() / bare_p50.as_secs_f64(),
        percentile(&sorted_empty, 0.99).as_secs_f64() / percentile(&sorted_bare, 0.99).as_secs_f64(),
        full_p50.as_secs_f64() / empty_p50.as_secs_f64(),
    )
    .unwrap();
    writeln!(out, "Filling the large store ({large} synthetic reviews over a year, 20 000 per transaction) took {:.1} s; the file is {size_mb:.0} MB.\n", fill.as_secs_f64()).unwrap();

    // 3: indicators over the large store.
    let today = (end + Duration::hours(1)).date_naive();
    let ranges = [
        ("all time", DayRange::default()),
        ("last 30 days", DayRange { since: Some(today - Duration::days(29)), until: Some(today) }),
    ];
    writeln!(out, "### Indicators over {large} reviews (30 runs each)\n").unwrap();
    writeln!(out, "| query | p50 ms | max ms |\n|---|---|---|").unwrap();
    // The queries whose median misses the goal, said under the table.
    let mut over_goal: Vec<(String, String)> = Vec::new();
    let mut measure = |label: &str, f: &mut dyn FnMut()| {
        let mut t: Vec<StdDuration> = (0..30).map(|_| timed(&mut *f)).collect();
        t.sort();
        let p50 = percentile(&t, 0.5);
        writeln!(out, "| {label} | {} | {} |", ms(p50), ms(*t.last().unwrap())).unwrap();
        if p50 > StdDuration::from_millis(50) {
            over_goal.push((label.to_string(), ms(p50)));
        }
    };
    for (label, range) in ranges {
        measure(&format!("score and distributions, {label}"), &mut || {
            let counts = full.question_counts(range).unwrap();
            std::hint::black_box(borne_model::indicators::indicators(&config.survey, &counts, 100));
        });
    }
    let year = DayRange { since: Some(today - Duration::days(364)), until: Some(today) };
    measure("satisfaction per day over a year", &mut || {
        std::hint::black_box(full.daily_satisfaction(year).unwrap());
    });
    measure("weekday × hour map over a year", &mut || {
        std::hint::black_box(full.weekday_hour_satisfaction(year).unwrap());
    });
    measure(&format!("outbox summary ({large} pending: the worst case, a count over all of them)"), &mut || {
        std::hint::black_box(full.outbox_summary().unwrap());
    });
    if over_goal.is_empty() {
        writeln!(out, "\nGoal: each under 50 ms: met by every query.\n").unwrap();
    } else {
        let missed: Vec<String> = over_goal.iter().map(|(label, p50)| format!("{label} ({p50} ms)")).collect();
        writeln!(
            out,
            "\nGoal: each under 50 ms. **Not met** by: {}. The outbox summary counts every pending review; \
             only a kiosk cut off from the platform for years holds a million, and the dashboard and \
             `borne status` read it once per page or command (a visitor's screen never waits on it).\n",
            missed.join(", ")
        )
        .unwrap();
    }
    drop(full);

    // 4: peak memory of the real binary on the large store.
    writeln!(out, "### Peak memory of the binary on the store of {large} reviews\n").unwrap();
    writeln!(out, "| command | peak RSS MiB |\n|---|---|").unwrap();
    let data = root.join("full");
    let borne = env!("CARGO_BIN_EXE_borne");
    for (label, args) in [
        ("borne rate --satisfaction 3", vec!["rate", "--satisfaction", "3"]),
        ("borne stats", vec!["stats"]),
        ("borne stats --json", vec!["stats", "--json"]),
        ("borne export --format csv (to /dev/null)", vec!["export", "--format", "csv", "--output", "/dev/null"]),
    ] {
        let (ok, kib) = peak_rss_kib(Command::new(borne).arg("--data-dir").arg(&data).args(&args));
        assert!(ok, "{label} failed");
        writeln!(out, "| `{label}` | {:.1} |", kib as f64 / 1024.0).unwrap();
    }
    let _ = std::fs::remove_dir_all(&root);
    write_section("store", &out);
}
