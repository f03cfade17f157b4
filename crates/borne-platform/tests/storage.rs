//! The storage interface over simulated time, on both engines: idempotency records replayed for
//! at least 24 hours and purged after 48, dedup that outlives them, and (PostgreSQL) months
//! created ahead through two simulated years, so a review is always received into an existing
//! month. The clock is injected: `received_at` and `maintain(now)` are the platform's only
//! readings of time.

use borne_platform::storage::{Storage, Stored, Target};
use borne_platform::validate::parse_batch;
use borne_testkit::Scratch;
use borne_testkit::pg::PgCluster;
use chrono::{DateTime, Duration, Utc};

fn body(key: &str, id: &str, at: &str) -> String {
    format!(
        r#"{{"schema_version":1,"batch_id":"{key}","source":{{"device_id":"borne-t","product_id":1,"form_id":2,"button_id":3,"app_version":"borne/0.1.0"}},"reviews":[{{"client_review_id":"{id}","submitted_at":"{at}","clock":"synced","language":"fr","answers":[{{"field_code":"satisfaction","kind":"radio","answer_item_id":3,"answer_text":"Très bien","intention":"good"}}]}}]}}"#
    )
}

async fn send(storage: &Storage, key: &str, id: &str, at: DateTime<Utc>, received: DateTime<Utc>) -> Stored {
    let text = body(key, id, &at.to_rfc3339());
    let batch = parse_batch(text.as_bytes(), key).unwrap();
    let hash = format!("{:x}", text.len());
    storage.store_batch(&batch, None, &hash, received).await.unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

async fn open(postgres: Option<&PgCluster>, dir: &Scratch) -> Storage {
    let target = match postgres {
        Some(cluster) => Target::Postgres { url: cluster.database("time"), pool_size: 4 },
        None => Target::Sqlite(dir.path().join("time.db")),
    };
    Storage::open(&target).await.unwrap()
}

fn idempotency_outlives_a_day_and_dedup_outlives_idempotency(postgres: bool) {
    let dir = Scratch::new("idem-time");
    let cluster = postgres.then(PgCluster::for_test);
    runtime().block_on(async {
        let storage = open(cluster.as_ref(), &dir).await;
        let start: DateTime<Utc> = "2026-03-01T09:00:00Z".parse().unwrap();
        let key = uuid::Uuid::now_v7().to_string();
        let id = uuid::Uuid::now_v7().to_string();
        let Stored::Fresh { text: first, .. } = send(&storage, &key, &id, start, start).await else {
            panic!("first is fresh")
        };
        // Housekeeping every hour for two and a half days; the same batch retried along the way.
        let mut replayed_until = None;
        let mut forgotten_at = None;
        for hour in 1..=60 {
            let now = start + Duration::hours(hour);
            storage.maintain(now).await.unwrap();
            match send(&storage, &key, &id, start, now).await {
                Stored::Replay(text) => {
                    assert_eq!(text, first, "a replay is the first answer");
                    replayed_until = Some(hour);
                }
                Stored::Fresh { response: again, .. } => {
                    // The key is forgotten: the review itself is still known.
                    assert!(hour > 48, "replayed for 48 hours at least (hour {hour})");
                    assert_eq!(again.results[0].status, borne_model::wire::ResultStatus::Duplicate);
                    assert_eq!(
                        again.results[0].review_id,
                        serde_json::from_str::<serde_json::Value>(&first).unwrap()["results"][0]["review_id"]
                            .as_str()
                            .map(String::from)
                    );
                    forgotten_at = Some(hour);
                    break;
                }
                Stored::Conflict => panic!("same body"),
            }
        }
        // Kept for 48 hours, then purged by the first housekeeping after them (hourly here).
        assert_eq!(replayed_until, Some(48), "replayed through hour 48");
        assert_eq!(forgotten_at, Some(49), "purged at the first housekeeping past 48 hours");
        let totals = storage.totals().await.unwrap();
        assert_eq!(totals.reviews, 1);
    });
}

#[test]
fn idempotency_over_time_sqlite() {
    idempotency_outlives_a_day_and_dedup_outlives_idempotency(false);
}

#[test]
#[ignore = "needs PostgreSQL's server programs (Debian package postgresql): .ci/run installs them"]
fn idempotency_over_time_postgres() {
    idempotency_outlives_a_day_and_dedup_outlives_idempotency(true);
}

/// Two simulated years of daily housekeeping: every day a review is received, stamped by a kiosk
/// whose clock may be a month ahead or at 1970; each lands, and the months ahead always exist.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian package postgresql): .ci/run installs them"]
fn months_are_created_ahead_through_two_years() {
    let dir = Scratch::new("months");
    let cluster = PgCluster::for_test();
    runtime().block_on(async {
        let storage = open(Some(&cluster), &dir).await;
        let start: DateTime<Utc> = "2027-01-01T08:00:00Z".parse().unwrap();
        for day in 0..730 {
            let now = start + Duration::days(day);
            storage.maintain(now).await.unwrap();
            let stamped = match day % 3 {
                0 => now,
                1 => now + Duration::days(31),
                _ => "1970-01-01T00:05:00Z".parse().unwrap(),
            };
            let key = uuid::Uuid::now_v7().to_string();
            let stored = send(&storage, &key, &uuid::Uuid::now_v7().to_string(), stamped, now).await;
            assert!(matches!(stored, Stored::Fresh { .. }), "day {day}");
        }
    });
    let last = cluster.psql("time", "SELECT max(relname) FROM pg_class WHERE relname ~ '^reviews_[0-9]{4}_[0-9]{2}$'");
    assert_eq!(last, "reviews_2029_03", "three months ahead of the last day (2028-12-30)");
    let per_partition = cluster.psql(
        "time",
        "SELECT count(*) FILTER (WHERE tableoid::regclass::text = 'reviews_early') || ' ' || count(*) FROM reviews",
    );
    assert_eq!(per_partition, "243 730", "the 1970 stamps in the early partition, all held");
    let misplaced = cluster.psql("time", "SELECT count(*) FROM reviews WHERE created_at > received_at");
    assert_eq!(misplaced, "0", "a clock ahead never files a review after its reception");
}

/// A site's trend in the console: one review a day for 400 days, then each of the last twelve
/// months shows that month's reviews and the twelve months ending with it (the current month up
/// to today), as the calendar counts them.
fn a_sites_trend_counts_twelve_months_at_each_month(postgres: bool) {
    use chrono::{Datelike, Months, NaiveDate};
    let dir = Scratch::new("trend");
    let cluster = postgres.then(PgCluster::for_test);
    runtime().block_on(async {
        let storage = open(cluster.as_ref(), &dir).await;
        let today = NaiveDate::from_ymd_opt(2026, 11, 17).unwrap();
        let paris = chrono::FixedOffset::east_opt(3600).unwrap();
        for back in 0..400 {
            let day = today - Duration::days(back);
            let at = day.and_hms_opt(12, 0, 0).unwrap().and_local_timezone(paris).unwrap();
            let key = uuid::Uuid::now_v7().to_string();
            let text = body(&key, &uuid::Uuid::now_v7().to_string(), &at.to_rfc3339());
            let batch = parse_batch(text.as_bytes(), &key).unwrap();
            storage.store_batch(&batch, Some("site-t"), "h", at.with_timezone(&Utc)).await.unwrap();
        }
        let points = borne_platform::console::sites::trend(&storage, "site-t", today).await.unwrap();
        assert_eq!(points.len(), 12);
        let first_of = |d: NaiveDate| d.with_day(1).unwrap();
        for (i, point) in points.iter().enumerate() {
            let month = first_of(today).checked_sub_months(Months::new(11 - i as u32)).unwrap();
            assert_eq!(point.month, month);
            let end = (month + Months::new(1) - Duration::days(1)).min(today);
            let days_in = (end - month).num_days() as u64 + 1;
            assert_eq!(point.reviews_in_month, days_in, "{month}");
            // The twelve months ending with this one, from the first day with reviews at most.
            let window_start = (month - Months::new(11)).max(today - Duration::days(399));
            let days_window = (end - window_start).num_days() as u64 + 1;
            assert_eq!(point.rolling_12_months.reviews, days_window, "{month}");
            // A score only from 100 reviews (all « Très bien » here).
            let expected = (days_window >= 100).then_some(10.0);
            assert_eq!(point.rolling_12_months.satisfaction.score.value(), expected, "{month}");
        }
        assert_eq!(points[11].reviews_in_month, 17, "1 to 17 November");
        // December 2025 to 17 November 2026.
        assert_eq!(points[11].rolling_12_months.reviews, 31 + 31 + 28 + 31 + 30 + 31 + 30 + 31 + 31 + 30 + 31 + 17);
    });
}

#[test]
fn a_sites_trend_sqlite() {
    a_sites_trend_counts_twelve_months_at_each_month(false);
}

#[test]
#[ignore = "needs PostgreSQL's server programs (Debian package postgresql): .ci/run installs them"]
fn a_sites_trend_postgres() {
    a_sites_trend_counts_twelve_months_at_each_month(true);
}

/// Two ProConnect identities binding one account at once: one conditional write each, so
/// exactly one is bound, and the other is told so; a bound or disabled account binds no one.
/// Sign-in failures, kept in the database, are per account and per address, and forgotten
/// after an hour without one (simulated time).
fn accounts_bind_once_and_failures_are_forgotten(postgres: bool) {
    use borne_platform::storage::LoginFailures;
    use borne_platform::storage::console::{Account, Role};
    use borne_web::auth::FailureLog;
    let dir = Scratch::new("bind-once");
    let cluster = postgres.then(PgCluster::for_test);
    runtime().block_on(async {
        let storage = open(cluster.as_ref(), &dir).await;
        let account = |id: &str| Account {
            id: id.into(),
            name: "Agent".into(),
            role: Role::National,
            organisation: None,
            site: None,
            password_hash: None,
            oidc_subject: None,
            disabled: false,
        };
        storage.add_account(account("agent@interieur.gouv.fr")).await.unwrap();
        let (a, b) = tokio::join!(
            storage.link_subject("agent@interieur.gouv.fr", "sub-a"),
            storage.link_subject("agent@interieur.gouv.fr", "sub-b")
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a != b, "exactly one identity binds the account: {a} {b}");
        let bound = storage.account("agent@interieur.gouv.fr").await.unwrap().unwrap().oidc_subject.unwrap();
        assert_eq!(bound, if a { "sub-a" } else { "sub-b" });
        assert!(!storage.link_subject("agent@interieur.gouv.fr", "sub-c").await.unwrap(), "already bound");
        storage.add_account(account("parti@interieur.gouv.fr")).await.unwrap();
        storage.disable_account("parti@interieur.gouv.fr").await.unwrap();
        assert!(!storage.link_subject("parti@interieur.gouv.fr", "sub-d").await.unwrap(), "disabled");
        // The subject already bound elsewhere cannot bind a second account.
        storage.add_account(account("autre@interieur.gouv.fr")).await.unwrap();
        assert!(!storage.link_subject("autre@interieur.gouv.fr", &bound).await.unwrap());

        let log = LoginFailures(&storage);
        let (ip, other): (std::net::IpAddr, std::net::IpAddr) =
            ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let t0 = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        assert_eq!(log.failed("Agent@Interieur.gouv.fr", ip, t0).await.unwrap(), (1, 1));
        assert_eq!(log.failed("agent@interieur.gouv.fr", other, t0).await.unwrap(), (2, 1));
        let (on_account, on_address) = log.recent("agent@interieur.gouv.fr", other).await.unwrap();
        assert_eq!((on_account.unwrap().count, on_address.unwrap().count), (2, 1));
        // An hour and a minute later, another failure elsewhere purges the old ones.
        let later = t0 + std::time::Duration::from_secs(3660);
        log.failed("autre@interieur.gouv.fr", "192.0.2.3".parse().unwrap(), later).await.unwrap();
        assert_eq!(log.recent("agent@interieur.gouv.fr", ip).await.unwrap(), (None, None));
        assert_eq!(log.failed("agent@interieur.gouv.fr", ip, later).await.unwrap(), (1, 1), "counted afresh");
        log.succeeded("agent@interieur.gouv.fr", ip).await.unwrap();
        assert_eq!(log.recent("agent@interieur.gouv.fr", ip).await.unwrap(), (None, None));
    });
}

#[test]
fn accounts_bind_once_sqlite() {
    accounts_bind_once_and_failures_are_forgotten(false);
}

#[test]
#[ignore = "needs PostgreSQL's server programs (Debian package postgresql): .ci/run installs them"]
fn accounts_bind_once_postgres() {
    accounts_bind_once_and_failures_are_forgotten(true);
}

/// A site's own (kiosk-only) questions are in its indicators with what people read: the
/// question's text once a kiosk sends it (a kiosk of contract 1.1 sends none: its code stands
/// in until then), each answered item's text; a label too long is left out, never a reason to
/// refuse the review; another site does not see them.
fn a_sites_own_questions_carry_the_texts_kiosks_sent(postgres: bool) {
    use borne_platform::storage::Stored;
    let dir = Scratch::new("own-questions");
    let cluster = postgres.then(PgCluster::for_test);
    runtime().block_on(async {
        let storage = open(cluster.as_ref(), &dir).await;
        let now: DateTime<Utc> = "2026-11-17T10:00:00Z".parse().unwrap();
        let motif = |item: i64, text: &str, label: Option<&str>| {
            let label = label.map(|l| format!(r#","field_label":"{l}""#)).unwrap_or_default();
            format!(
                r#"{{"field_code":"kiosk_motif","kind":"checkbox","answer_item_id":{item},"answer_text":"{text}","intention":"neutral"{label}}}"#
            )
        };
        let send = |answers: Vec<String>| {
            let key = uuid::Uuid::now_v7().to_string();
            let id = uuid::Uuid::now_v7();
            let text = format!(
                r#"{{"schema_version":1,"batch_id":"{key}","source":{{"device_id":"borne-t","product_id":1,"form_id":2,"button_id":3,"app_version":"borne/0.1.0"}},"reviews":[{{"client_review_id":"{id}","submitted_at":"2026-11-17T11:00:00+01:00","clock":"synced","language":"fr","answers":[{{"field_code":"satisfaction","kind":"radio","answer_item_id":1,"answer_text":"Pas bien","intention":"bad"}},{}]}}]}}"#,
                answers.join(",")
            );
            let storage = &storage;
            async move {
                let batch = parse_batch(text.as_bytes(), &key).unwrap();
                let stored = storage.store_batch(&batch, Some("site-q"), &key, now).await.unwrap();
                let Stored::Fresh { response, .. } = stored else { panic!("fresh") };
                assert!(response.results.iter().all(|r| r.error.is_none()), "{response:?}");
            }
        };
        let day = now.date_naive();
        let question = |ind: &borne_model::indicators::Indicators| {
            ind.follow_ups.iter().find(|q| q.field_code == "kiosk_motif").cloned()
        };
        send(vec![motif(1, "L'attente", None)]).await;
        let first = storage.site_indicators("site-q", day, day, 100).await.unwrap();
        let q = question(&first).expect("the site's own question");
        assert_eq!((q.label.as_str(), q.respondents), ("kiosk_motif", 1));
        send(vec![motif(1, "L'attente", Some("Qu'est-ce qui n'a pas été ?")), motif(2, "L'accueil", None)]).await;
        send(vec![motif(3, "Les locaux", Some(&"x".repeat(301)))]).await;
        let then = storage.site_indicators("site-q", day, day, 100).await.unwrap();
        let q = question(&then).expect("the site's own question");
        assert_eq!((q.label.as_str(), q.respondents), ("Qu'est-ce qui n'a pas été ?", 3));
        let items: Vec<(i64, &str, u64)> =
            q.distribution.iter().map(|d| (d.answer_item_id, d.answer_text.as_str(), d.count)).collect();
        assert_eq!(items, [(1, "L'attente", 2), (2, "L'accueil", 1), (3, "Les locaux", 1)]);
        let elsewhere = storage.site_indicators("site-autre", day, day, 100).await.unwrap();
        assert!(question(&elsewhere).is_none());
    });
}

#[test]
fn a_sites_own_questions_sqlite() {
    a_sites_own_questions_carry_the_texts_kiosks_sent(false);
}

#[test]
#[ignore = "needs PostgreSQL's server programs (Debian package postgresql): .ci/run installs them"]
fn a_sites_own_questions_postgres() {
    a_sites_own_questions_carry_the_texts_kiosks_sent(true);
}

/// A connection that fails says which part failed: the server (nothing listening), the user's
/// password, or the database (absent) — not a bare « db error ».
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian package postgresql): .ci/run installs them"]
fn connection_failures_say_which_part_failed() {
    let cluster = PgCluster::for_test();
    let port = cluster.url("x").rsplit(':').next().unwrap().split('/').next().unwrap().to_string();
    cluster.psql("postgres", "CREATE ROLE borne LOGIN PASSWORD 'le-bon-mot-de-passe'");
    // Passwords checked for that role (the cluster trusts everyone else).
    let hba = cluster.dir().join("data/pg_hba.conf");
    let rules = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(&hba, format!("host all borne 127.0.0.1/32 scram-sha-256\n{rules}")).unwrap();
    cluster.psql("postgres", "SELECT pg_reload_conf()");
    let error = |url: String| {
        let target = Target::Postgres { url, pool_size: 1 };
        match runtime().block_on(Storage::open(&target)) {
            Ok(_) => panic!("opened"),
            Err(e) => e.to_string(),
        }
    };
    let password = error(format!("postgres://borne:mauvais@127.0.0.1:{port}/postgres"));
    assert!(password.contains("mot de passe refusé") && password.contains("« borne »"), "{password}");
    let absent = error(format!("postgres://postgres@127.0.0.1:{port}/absente"));
    assert!(absent.contains("la base « absente » n'existe pas"), "{absent}");
    let nobody = borne_testkit::free_port();
    let server = error(format!("postgres://postgres@127.0.0.1:{nobody}/postgres"));
    assert!(server.contains(&format!("127.0.0.1:{nobody} refuse la connexion")), "{server}");
    assert!(error(format!("postgres://borne:le-bon-mot-de-passe@127.0.0.1:{port}/absente")).contains("n'existe pas"));
}

/// Two handles on one SQLite file (two instances, or a command beside a running instance)
/// writing at once, each write reading first: they take turns, none is refused with « database
/// is locked » (a deferred transaction that reads then writes cannot wait for the other).
#[test]
fn two_handles_on_one_sqlite_file_write_in_turn() {
    let dir = Scratch::new("sqlite-turns");
    runtime().block_on(async {
        let target = Target::Sqlite(dir.path().join("turns.db"));
        let (a, b) = (Storage::open(&target).await.unwrap(), Storage::open(&target).await.unwrap());
        let site = borne_platform::storage::Site {
            id: "s".into(),
            name: "S".into(),
            organisation: None,
            product_id: None,
            form_id: None,
            button_id: None,
            time_zone: "Europe/Paris".into(),
        };
        a.add_site(&site).await.unwrap();
        let write = |storage: Storage, side: &'static str| async move {
            for i in 0..150 {
                storage.add_device(&format!("borne-{side}-{i}"), "s").await.map_err(|e| format!("{side} {i}: {e}"))?;
            }
            Ok::<(), String>(())
        };
        let (first, second) = tokio::join!(tokio::spawn(write(a.clone(), "a")), tokio::spawn(write(b, "b")));
        first.unwrap().unwrap();
        second.unwrap().unwrap();
        assert_eq!(a.devices().await.unwrap().len(), 300);
    });
}
