//! The platform as a kiosk (or anyone) meets it over HTTP: the real `borne-platform` binary on
//! loopback, given bad input of every kind.

mod support;

use borne_testkit::{PlatformProcess, Scratch};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use support::*;

const DEVICE: &str = "borne-it-01";

both!(receiver_refuses_bad_input_with_the_contract_error_body, arbitrary_requests_never_break_the_receiver,);

fn start_receiver(dir: &Path, backend: &Backend, tokens: &str, faults: &[&str]) -> PlatformProcess {
    let tokens_file = dir.join("receiver-tokens.txt");
    std::fs::write(&tokens_file, tokens).unwrap();
    let mut args: Vec<OsString> = vec!["--tokens".into(), tokens_file.into()];
    args.extend(backend.args());
    args.extend(faults.iter().map(OsString::from));
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    PlatformProcess::start(platform_bin(), "127.0.0.1:0", &args)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn receiver_refuses_bad_input_with_the_contract_error_body(postgres: bool) {
    let dir = Scratch::new("receiverinput");
    let backend = Backend::new(postgres, dir.path());
    let receiver = start_receiver(dir.path(), &backend, &format!("good-token {DEVICE}\n"), &[]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let key = uuid::Uuid::now_v7().to_string();
    let body = |device: &str, text: &str| {
        format!(
            r#"{{"schema_version":1,"batch_id":"{key}","source":{{"device_id":"{device}","product_id":1,"form_id":2,"button_id":3,"app_version":"borne/0.1.0"}},"reviews":[{{"client_review_id":"0192f1c2-88aa-7c3e-8e55-2f0d7d2b9e01","submitted_at":"2026-03-14T10:42:17+01:00","clock":"synced","language":"fr","answers":[{{"field_code":"satisfaction","kind":"radio","answer_item_id":3,"answer_text":"{text}","intention":"good"}}]}}]}}"#
        )
    };
    let post = |token: Option<&str>, key: &str, content: Vec<u8>, gzip: bool| {
        let mut request = client
            .post(format!("{}/v1/batches", receiver.url))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", key)
            .body(content);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if gzip {
            request = request.header("Content-Encoding", "gzip");
        }
        runtime.block_on(async {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        })
    };
    let error_code = |text: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|_| panic!("JSON error body: {text}"));
        assert!(v["message"].is_string(), "{text}");
        v["code"].as_str().unwrap().to_string()
    };
    let good = body(DEVICE, "Très bien").into_bytes();
    let (s, t) = post(None, &key, good.clone(), false);
    assert_eq!((s, error_code(&t).as_str()), (401, "UNAUTHORIZED"));
    let (s, t) = post(Some("good-token"), &key, body("borne-autre", "Très bien").into_bytes(), false);
    assert_eq!((s, error_code(&t).as_str()), (403, "FORBIDDEN"));
    let (s, t) = post(Some("good-token"), &key, b"{not json".to_vec(), false);
    assert_eq!((s, error_code(&t).as_str()), (400, "BAD_REQUEST"));
    let (s, t) = post(Some("good-token"), &key, b"\x1f\x8b garbage".to_vec(), true);
    assert_eq!((s, error_code(&t).as_str()), (400, "BAD_REQUEST"));
    let (s, t) = post(Some("good-token"), "not-a-uuid", good.clone(), false);
    assert_eq!((s, error_code(&t).as_str()), (400, "BAD_REQUEST"));
    let huge = gzip(&vec![b' '; 2 * 1024 * 1024]);
    let (s, t) = post(Some("good-token"), &key, huge, true);
    assert_eq!((s, error_code(&t).as_str()), (413, "PAYLOAD_TOO_LARGE"));
    // Accepted once; the same key and body is replayed; another body under that key is 409.
    let (s, first) = post(Some("good-token"), &key, gzip(&good), true);
    assert_eq!(s, 200, "{first}");
    assert!(first.contains("\"accepted\""), "{first}");
    let (s, replay) = post(Some("good-token"), &key, good.clone(), false);
    assert_eq!((s, replay.as_str()), (200, first.as_str()));
    let (s, t) = post(Some("good-token"), &key, body(DEVICE, "Moyen").into_bytes(), false);
    assert_eq!((s, error_code(&t).as_str()), (409, "CONFLICT"));
    // The same review in a new batch is a duplicate with the same platform id.
    let key2 = uuid::Uuid::now_v7().to_string();
    let again = body(DEVICE, "Très bien").replace(&key, &key2);
    let (s, dup) = post(Some("good-token"), &key2, again.into_bytes(), false);
    assert_eq!(s, 200);
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    let dup: serde_json::Value = serde_json::from_str(&dup).unwrap();
    assert_eq!(dup["results"][0]["status"], "duplicate");
    assert_eq!(dup["results"][0]["review_id"], first["results"][0]["review_id"]);
    // An inconsistent answer is rejected for good, with the reason.
    let key3 = uuid::Uuid::now_v7().to_string();
    let bad = body(DEVICE, "Bien").replace(&key, &key3).replace("0192f1c2-88aa-7c3e-8e55-2f0d7d2b9e01", &key3);
    let (s, rejected) = post(Some("good-token"), &key3, bad.into_bytes(), false);
    assert_eq!(s, 200);
    let rejected: serde_json::Value = serde_json::from_str(&rejected).unwrap();
    assert_eq!(rejected["results"][0]["status"], "rejected");
    assert_eq!(rejected["results"][0]["retryable"], false);
    assert!(rejected["results"][0]["error"]["message"].as_str().unwrap().contains("answer_text"));
    runtime.block_on(async {
        let health = client.get(format!("{}/v1/health", receiver.url)).send().await.unwrap();
        let health: serde_json::Value = serde_json::from_str(&health.text().await.unwrap()).unwrap();
        assert_eq!(health["status"], "ok");
        let spec = client.get(format!("{}/v1/openapi.yaml", receiver.url)).send().await.unwrap().text().await.unwrap();
        assert!(spec.starts_with("openapi: 3.1.0"));
    });
}

/// Arbitrary requests sent as raw bytes to the real binary: valid batches with bytes flipped,
/// arbitrary bytes, gzip of either or a lie about it, any key, any token, any route. Every one
/// gets an answer (never a dropped connection: no handler panics), never a 5xx, and every 4xx
/// of the API carries the contract's `{message, code}`; the receiver still answers after.
fn arbitrary_requests_never_break_the_receiver(postgres: bool) {
    use proptest::prelude::*;
    use proptest::test_runner::{Config as RunnerConfig, TestRunner};
    let dir = Scratch::new("fuzz");
    let backend = Backend::new(postgres, dir.path());
    let receiver = start_receiver(dir.path(), &backend, &format!("good-token {DEVICE}\n"), &[]);
    let addr = receiver.url.trim_start_matches("http://").to_string();
    let valid = |key: &str, id: &str| {
        format!(
            r#"{{"schema_version":1,"batch_id":"{key}","source":{{"device_id":"{DEVICE}","product_id":1,"form_id":2,"button_id":3,"app_version":"borne/0.1.0"}},"reviews":[{{"client_review_id":"{id}","submitted_at":"2026-03-14T10:42:17+01:00","clock":"synced","language":"fr","answers":[{{"field_code":"satisfaction","kind":"radio","answer_item_id":3,"answer_text":"Très bien","intention":"good"}},{{"field_code":"verbatim","kind":"text","answer_item_id":0,"answer_text":"Accueil rapide","intention":"neutral"}}]}}]}}"#
        )
    };
    let strategy = (
        prop_oneof![8 => Just("POST"), 1 => Just("GET"), 1 => Just("PUT")],
        prop_oneof![6 => Just("/v1/batches"), 2 => Just("/v1/heartbeats"), 1 => Just("/v1/health"), 1 => Just("/v1/x")],
        prop_oneof![Just(0u8), Just(1), Just(1), Just(1), Just(2)],
        prop_oneof![4 => Just("application/json"), 1 => Just("text/plain"), 1 => Just("")],
        prop_oneof![4 => Just(0u8), 2 => Just(1), 1 => Just(2)],
        prop_oneof![3 => Just(None), 1 => proptest::collection::vec(any::<char>(), 0..50).prop_map(|c| Some(c.into_iter().collect::<String>()))],
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        prop_oneof![3 => Just(None), 1 => proptest::collection::vec(any::<u8>(), 0..400).prop_map(Some)],
    );
    let mut runner = TestRunner::new(RunnerConfig { cases: 500, failure_persistence: None, ..RunnerConfig::default() });
    runner
        .run(&strategy, |(method, path, auth, content_type, encoding, odd_key, flips, random_body)| {
            let key = uuid::Uuid::now_v7().to_string();
            let mut body = random_body.unwrap_or_else(|| valid(&key, &uuid::Uuid::now_v7().to_string()).into_bytes());
            for (at, byte) in &flips {
                if !body.is_empty() {
                    let i = at.index(body.len());
                    body[i] = *byte;
                }
            }
            let body = match encoding {
                1 => gzip(&body),
                _ => body,
            };
            let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
            match auth {
                1 => head.push_str("Authorization: Bearer good-token\r\n"),
                2 => head.push_str("Authorization: Bearer autre\r\n"),
                _ => {}
            }
            if !content_type.is_empty() {
                head.push_str(&format!("Content-Type: {content_type}\r\n"));
            }
            if encoding > 0 {
                head.push_str("Content-Encoding: gzip\r\n");
            }
            let key_header = odd_key.unwrap_or(key).replace(['\r', '\n'], " ");
            // Control bytes make the header itself invalid HTTP: hyper answers a bare 400.
            let malformed = key_header.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f);
            head.push_str(&format!("Idempotency-Key: {key_header}\r\nContent-Length: {}\r\n\r\n", body.len()));
            let mut request = head.into_bytes();
            request.extend_from_slice(&body);
            let answer = raw_exchange(&addr, &request, std::time::Duration::from_secs(30));
            prop_assert!(answer.is_some(), "{method} {path}: no answer");
            let (status, text) = answer.unwrap_or_default();
            prop_assert!(status < 500, "{method} {path}: {status} {text}");
            if malformed {
                prop_assert_eq!(status, 400, "{}", text);
            } else if (400..500).contains(&status) && path.starts_with("/v1/") && status != 405 {
                let error: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| TestCaseError::fail(format!("{status} without a JSON error body ({e}): {text}")))?;
                prop_assert!(error["message"].is_string() && error["code"].is_string(), "{text}");
            }
            Ok(())
        })
        .unwrap();
    let (status, body) = raw_exchange(
        &addr,
        format!("GET /v1/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        std::time::Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!((status, body.contains("ok")), (200, true), "{body}");
}

both!(
    registered_kiosks_send_and_a_revoked_token_stops_on_every_instance,
    counts_exports_and_partitions_follow_the_kiosks_days,
    migrations_are_versioned_and_idempotent,
    shutdown_lets_the_batch_in_flight_finish,
);

/// Blocking HTTP for the scenarios: (status, Retry-After, body).
fn registered_kiosks_send_and_a_revoked_token_stops_on_every_instance(postgres: bool) {
    let dir = Scratch::new("registered");
    let backend = Backend::new(postgres, dir.path());
    cli_ok(&backend, &["migrate"]);
    let refused = cli(&backend, &["devices", "add", "borne-orne-01", "--site", "orne-alencon"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("site inconnu"), "{refused:?}");
    cli_ok(
        &backend,
        &[
            "sites",
            "add",
            "orne-alencon",
            "--name",
            "Préfecture de l'Orne",
            "--org",
            "pref-orne",
            "--product-id",
            "3119",
            "--form-id",
            "4521",
            "--button-id",
            "98765",
        ],
    );
    let added = cli_ok(&backend, &["devices", "add", "borne-orne-01", "--site", "orne-alencon"]);
    let token = added.lines().last().unwrap().trim().to_string();
    assert_eq!(token.len(), 64, "the token alone on the last line: {added}");
    assert!(!cli(&backend, &["devices", "add", "borne-orne-01", "--site", "orne-alencon"]).status.success());
    let listed = cli_ok(&backend, &["devices", "list"]);
    assert!(!listed.contains(&token), "only a hash is kept: {listed}");

    let a = start_registered(&backend);
    let b = start_registered(&backend);
    let http = Http::new();
    let source = (3119, 4521, 98765);
    let id = uuid::Uuid::now_v7().to_string();
    let body = batch_body("borne-orne-01", source, &[(id.clone(), "2026-03-14T10:42:17+01:00", 3, "")]);
    let (status, _, first) = http.batch(&a.url, &token, &body);
    assert_eq!(status, 200, "{first}");
    assert!(first.contains("\"accepted\""), "{first}");
    let (status, _, replay) = http.batch(&b.url, &token, &body);
    assert_eq!((status, replay.as_str()), (200, first.as_str()), "another instance replays the same answer");
    let again = batch_body("borne-orne-01", source, &[(id.clone(), "2026-03-14T10:42:17+01:00", 3, "")]);
    let (_, _, dup) = http.batch(&b.url, &token, &again);
    assert!(dup.contains("\"duplicate\""), "{dup}");
    // Bound to JDMA ids: a batch naming another button is refused; so is another kiosk's id.
    let (status, _, text) = http.batch(
        &a.url,
        &token,
        &batch_body(
            "borne-orne-01",
            (3119, 4521, 1),
            &[(uuid::Uuid::now_v7().to_string(), "2026-03-14T10:42:17+01:00", 3, "")],
        ),
    );
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("button_id"), "{text}");
    let (status, _, _) = http.batch(
        &a.url,
        &token,
        &batch_body("borne-autre", source, &[(uuid::Uuid::now_v7().to_string(), "2026-03-14T10:42:17+01:00", 3, "")]),
    );
    assert_eq!(status, 403);
    // Heartbeats feed the fleet's view.
    let heartbeat = r#"{"device_id":"borne-orne-01","app_version":"borne/0.9.1","pending":12,"oldest_pending_at":"2026-03-14T09:00:00+01:00","last_upload_at":"2026-03-14T10:40:00+01:00","disk_free_bytes":123456789,"uptime_s":3600}"#;
    let (status, _, _) = http.send(
        http.client
            .post(format!("{}/v1/heartbeats", b.url))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(heartbeat),
    );
    assert_eq!(status, 204);
    let devices: serde_json::Value = serde_json::from_str(&cli_ok(&backend, &["devices", "list"])).unwrap();
    assert_eq!(devices[0]["id"], "borne-orne-01");
    assert_eq!(devices[0]["app_version"], "borne/0.9.1");
    assert_eq!(devices[0]["pending"], 12);
    assert_eq!(devices[0]["disk_free_bytes"], 123456789);
    assert!(devices[0]["last_seen_at"].is_string());
    let stats: serde_json::Value = serde_json::from_str(&cli_ok(&backend, &["stats", "--json"])).unwrap();
    assert_eq!(
        (stats["reviews"].as_i64(), stats["devices"].as_i64(), stats["sites"].as_i64()),
        (Some(1), Some(1), Some(1))
    );
    // Metrics count what happened.
    let (_, _, metrics) = http.get(&format!("{}/metrics", a.url));
    assert!(metrics.contains("borne_platform_batches_total{outcome=\"processed\"} 1"), "{metrics}");
    assert!(metrics.contains("borne_platform_reviews_total{result=\"accepted\"} 1"), "{metrics}");
    assert!(metrics.contains("borne_platform_batch_duration_seconds_bucket"), "{metrics}");
    // Revoked: refused by both instances at once.
    cli_ok(&backend, &["devices", "revoke", "borne-orne-01"]);
    let fresh = || {
        batch_body("borne-orne-01", source, &[(uuid::Uuid::now_v7().to_string(), "2026-03-14T10:42:17+01:00", 3, "")])
    };
    for instance in [&a, &b] {
        let (status, _, text) = http.batch(&instance.url, &token, &fresh());
        assert_eq!(status, 401, "{text}");
    }
    // Rotated: a new token works, the old one stays refused.
    let rotated = cli_ok(&backend, &["devices", "rotate", "borne-orne-01", "--reactiver"]);
    let new_token = rotated.lines().last().unwrap().trim().to_string();
    assert_ne!(new_token, token);
    assert_eq!(http.batch(&b.url, &token, &fresh()).0, 401);
    assert_eq!(http.batch(&a.url, &new_token, &fresh()).0, 200);
    assert!(!cli(&backend, &["devices", "revoke", "borne-inconnue"]).status.success());
}

fn counts_exports_and_partitions_follow_the_kiosks_days(postgres: bool) {
    let dir = Scratch::new("counts");
    let backend = Backend::new(postgres, dir.path());
    cli_ok(&backend, &["sites", "add", "caf-61", "--name", "CAF de l'Orne"]);
    let token =
        cli_ok(&backend, &["devices", "add", "borne-caf-01", "--site", "caf-61"]).lines().last().unwrap().to_string();
    cli_ok(&backend, &["sites", "add", "caf-72", "--name", "CAF de la Sarthe", "--org", "caf"]);
    let token72 =
        cli_ok(&backend, &["devices", "add", "borne-caf-72", "--site", "caf-72"]).lines().last().unwrap().to_string();
    let platform = start_registered(&backend);
    let http = Http::new();
    let id = || uuid::Uuid::now_v7().to_string();
    let follow_up = r#",{"field_code":"comprehension","kind":"radio","answer_item_id":6,"answer_text":"3","intention":"medium"},{"field_code":"verbatim","kind":"text","answer_item_id":0,"answer_text":"Trop d'attente, \"vraiment\",\nmerci","intention":"neutral"}"#;
    // 23:30 on 31 January in Paris is already February in UTC: the kiosk's day counts.
    let reviews = vec![
        (id(), "2026-01-31T23:30:00+01:00", 1, follow_up),
        (id(), "2026-02-01T09:00:00+01:00", 3, ""),
        (id(), "2026-02-15T09:00:00+01:00", 3, ""),
        (id(), "2026-02-28T17:00:00+01:00", 2, ""),
        (id(), "2026-03-02T10:00:00+01:00", 3, ""),
        // An unsynced clock at 1970: held, in the early partition.
        (id(), "1970-01-01T00:02:00+00:00", 3, ""),
    ];
    let (status, _, text) = http.batch(&platform.url, &token, &batch_body("borne-caf-01", (1, 2, 3), &reviews));
    assert_eq!(status, 200, "{text}");
    assert_eq!(text.matches("\"accepted\"").count(), 6, "{text}");
    let (status, _, _) = http.batch(
        &platform.url,
        &token72,
        &batch_body("borne-caf-72", (1, 2, 3), &[(id(), "2026-02-10T10:00:00+01:00", 1, "")]),
    );
    assert_eq!(status, 200);
    let counts = |site: Option<&str>, from: &str, to: &str| -> serde_json::Value {
        let mut args = vec!["counts", "--from", from, "--to", to];
        if let Some(site) = site {
            args.extend(["--site", site]);
        }
        serde_json::from_str(&cli_ok(&backend, &args)).unwrap()
    };
    let item = |v: &serde_json::Value, code: &str, item: i64| -> i64 {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["field_code"] == code && i["answer_item_id"] == item)
            .map(|i| i["count"].as_i64().unwrap())
            .unwrap_or(0)
    };
    // February as a whole month: the three February reviews, not January's late one.
    let february = counts(Some("caf-61"), "2026-02-01", "2026-02-28");
    assert_eq!(february[0]["reviews"], 3, "{february}");
    assert_eq!((item(&february[0], "satisfaction", 3), item(&february[0], "satisfaction", 2)), (2, 1));
    // Across months, with partial months at both ends (days from the daily counts).
    let span = counts(Some("caf-61"), "2026-01-31", "2026-03-02");
    assert_eq!(span[0]["reviews"], 5, "{span}");
    assert_eq!(item(&span[0], "satisfaction", 1), 1);
    assert_eq!(item(&span[0], "comprehension", 6), 1, "follow-up answers are counted");
    assert_eq!(item(&span[0], "verbatim", 0), 1, "comments are counted (not their text)");
    assert_eq!(item(&span[0], "satisfaction", -1), 5, "and the reviews that answered each question");
    let mid = counts(Some("caf-61"), "2026-02-02", "2026-02-27");
    assert_eq!(mid[0]["reviews"], 1, "{mid}");
    // Every site at once.
    let all = counts(None, "2026-01-01", "2026-12-31");
    let sites: Vec<&str> = all.as_array().unwrap().iter().map(|s| s["site_id"].as_str().unwrap()).collect();
    assert_eq!(sites, vec!["caf-61", "caf-72"], "{all}");
    assert_eq!(all[1]["reviews"], 1);
    if let Backend::Postgres(cluster, _) = &backend {
        let partitions = cluster
            .psql("platform", "SELECT tableoid::regclass || ':' || count(*) FROM reviews GROUP BY tableoid ORDER BY 1");
        assert!(partitions.contains("reviews_early:1"), "{partitions}");
        assert!(partitions.contains("reviews_2026_02:4"), "January 31st in Paris is February 1st in UTC: {partitions}");
        assert!(partitions.contains("reviews_2026_03:1"), "{partitions}");
        let ahead = cluster.psql(
            "platform",
            "SELECT count(*) FROM pg_class WHERE relname = to_char(now() + interval '3 months', '\"reviews_\"YYYY_MM')",
        );
        assert_eq!(ahead, "1", "months are created ahead");
    }
    // Hand-over to JDMA.
    let csv = cli_ok(&backend, &["export", "--format", "jdma-csv"]);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    assert_eq!(&header[0], "Date de l'avis");
    assert_eq!(&header[3], "Identifiant Avis");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 7);
    let late = rows.iter().find(|r| r.iter().any(|f| f.contains("vraiment"))).expect("the comment is exported");
    assert_eq!(&late[0], "2026-01-31 22:30:00", "UTC, as JDMA writes it");
    assert_eq!(&late[1], "Évaluation de la satisfaction usager", "JDMA's root form title, none given");
    assert_eq!(&late[2], "borne-caf-01");
    assert!(late.iter().any(|f| f == "Pas bien") && late.iter().any(|f| f == "3"));
    assert!(late.iter().any(|f| f == "Trop d'attente, \"vraiment\",\nmerci"), "quoted back intact");
    let jsonl = cli_ok(&backend, &["export", "--format", "jsonl"]);
    let lines: Vec<serde_json::Value> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 7);
    assert!(lines.iter().all(|l| l["answers"][0]["field_code"] == "satisfaction"));
    assert!(lines.iter().any(|l| l["answers"].as_array().unwrap().len() == 3 && l["has_verbatim"] == true));
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    assert_eq!(cli_ok(&backend, &["export", "--format", "jsonl", "--since", &tomorrow]), "");
    let out = cli(&backend, &["export", "--format", "xls"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("jdma-csv"));
}

fn migrations_are_versioned_and_idempotent(postgres: bool) {
    let dir = Scratch::new("migrations");
    let backend = Backend::new(postgres, dir.path());
    if let Backend::Sqlite(path) = &backend {
        // A file written by the reference receiver before the platform (schema version 1,
        // `user_version` 0), holding one review.
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch(
            "CREATE TABLE reviews (id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, client_review_id TEXT NOT NULL,
                product_id INTEGER NOT NULL, form_id INTEGER NOT NULL, button_id INTEGER NOT NULL, submitted_at TEXT NOT NULL,
                clock TEXT NOT NULL, language TEXT NOT NULL, batch_id TEXT NOT NULL, received_at_ms INTEGER NOT NULL,
                UNIQUE (device_id, client_review_id));
             CREATE TABLE answers (review_id INTEGER NOT NULL REFERENCES reviews (id), field_code TEXT NOT NULL,
                field_label TEXT, answer_item_id INTEGER NOT NULL, answer_text TEXT NOT NULL, intention TEXT NOT NULL,
                kind TEXT NOT NULL);
             CREATE TABLE idempotency (device_id TEXT NOT NULL, key TEXT NOT NULL, body_sha256 TEXT NOT NULL,
                response TEXT NOT NULL, created_at_ms INTEGER NOT NULL, PRIMARY KEY (device_id, key));
             CREATE TABLE heartbeats (device_id TEXT PRIMARY KEY, body TEXT NOT NULL, received_at_ms INTEGER NOT NULL);
             INSERT INTO reviews VALUES (1, 'borne-old', '0192f1c2-88aa-7c3e-8e55-2f0d7d2b9e01', 1, 2, 3,
                '2025-06-10T10:00:00+02:00', 'synced', 'fr', 'b', 1749542400000);
             INSERT INTO answers VALUES (1, 'satisfaction', 'x', 3, 'Très bien', 'good', 'radio');",
        )
        .unwrap();
    }
    let first = cli_ok(&backend, &["migrate"]);
    let second = cli_ok(&backend, &["migrate"]);
    // The abandoned mails' list: none yet, whatever the limit; a limit that is not a number
    // is refused by the command line, not the database.
    assert_eq!(cli_ok(&backend, &["alerts", "abandoned", "--limit", "4294967295"]).trim(), "[]");
    for bad in ["-1", "beaucoup", "4294967296"] {
        let refused = cli(&backend, &["alerts", "abandoned", "--limit", bad]);
        assert!(!refused.status.success(), "--limit {bad}");
        assert!(String::from_utf8_lossy(&refused.stderr).starts_with("erreur : "), "{bad}: {refused:?}");
    }
    assert_eq!(first, second, "a second run changes nothing");
    let expected = if postgres { "version 16" } else { "version 17" };
    assert!(first.contains(expected), "{first}");
    if let Backend::Postgres(cluster, _) = &backend {
        assert_eq!(cluster.psql("platform", "SELECT count(*) FROM schema_migrations"), "16");
    } else {
        // Upgraded in place: the old review is kept, and counted (it had no site).
        let stats: serde_json::Value = serde_json::from_str(&cli_ok(&backend, &["stats"])).unwrap();
        assert_eq!(stats["reviews"], 1);
        assert_eq!(stats["satisfaction_by_item"]["3"], 1, "{stats}");
        let counts: serde_json::Value =
            serde_json::from_str(&cli_ok(&backend, &["counts", "--from", "2025-06-10", "--to", "2025-06-10"])).unwrap();
        assert_eq!(counts[0]["reviews"], 1, "{counts}");
    }
    // Several instances starting at once on a fresh database: one migrates, the others wait.
    let dir2 = Scratch::new("migrations-race");
    let fresh = Backend::new(postgres, dir2.path());
    let children: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(platform_bin())
                .arg("migrate")
                .args(fresh.args())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // Nothing names a database (a DATABASE_URL forgotten in this shell): a command says so and
    // creates no empty SQLite file; `migrate` creates it when that is what is meant.
    let bare = Scratch::new("no-database");
    let run = |args: &[&str]| {
        std::process::Command::new(platform_bin())
            .args(args)
            .current_dir(bare.path())
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };
    let refused = run(&["sites", "list"]);
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && message.contains("aucune base de données"), "{message}");
    assert!(message.contains("export DATABASE_URL=postgres://"), "{message}");
    assert!(!bare.path().join("borne-platform.db").exists(), "no empty file left");
    assert!(run(&["migrate"]).status.success());
    assert!(bare.path().join("borne-platform.db").exists());
    assert!(run(&["sites", "list"]).status.success());
}

fn shutdown_lets_the_batch_in_flight_finish(postgres: bool) {
    let dir = Scratch::new("shutdown");
    let backend = Backend::new(postgres, dir.path());
    let audit = dir.path().join("audit.jsonl");
    let platform = start_receiver(
        dir.path(),
        &backend,
        &format!("good-token {DEVICE}\n"),
        &["--delay-rate", "1", "--delay-ms", "1500", "--audit-log", audit.to_str().unwrap()],
    );
    let url = platform.url.clone();
    let sender = std::thread::spawn(move || {
        let http = Http::new();
        let body =
            batch_body(DEVICE, (1, 2, 3), &[(uuid::Uuid::now_v7().to_string(), "2026-03-14T10:42:17+01:00", 3, "")]);
        http.batch(&url, "good-token", &body)
    });
    // Stopped once the batch is stored and its answer is being held back (the delay fault).
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&audit).unwrap_or_default().is_empty() {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the batch never arrived");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = platform.terminate();
    assert!(status.success(), "a clean exit on SIGTERM: {status}");
    let (code, _, text) = sender.join().unwrap();
    assert_eq!(code, 200, "the request in flight got its answer: {text}");
    assert!(text.contains("\"accepted\""));
}

/// PostgreSQL stopped under a running instance: health and batches answer 503 with
/// Retry-After; once it is back, the same instance serves again, without a restart.
#[test]
#[ignore = "needs PostgreSQL's server programs (Debian package postgresql): .ci/run installs them"]
fn a_database_restart_is_503_until_it_is_back() {
    let dir = Scratch::new("pgrestart");
    let backend = Backend::new(true, dir.path());
    let platform = start_receiver(dir.path(), &backend, &format!("good-token {DEVICE}\n"), &[]);
    let http = Http::new();
    let body =
        || batch_body(DEVICE, (1, 2, 3), &[(uuid::Uuid::now_v7().to_string(), "2026-03-14T10:42:17+01:00", 3, "")]);
    assert_eq!(http.batch(&platform.url, "good-token", &body()).0, 200);
    let cluster = backend.cluster().unwrap();
    cluster.stop().unwrap();
    let (status, _, text) = http.get(&format!("{}/v1/health", platform.url));
    assert_eq!(status, 503, "{text}");
    let (status, retry, text) = http.batch(&platform.url, "good-token", &body());
    assert_eq!(status, 503, "{text}");
    assert!(retry.is_some(), "Retry-After tells the kiosk when");
    assert!(text.contains("\"code\""), "{text}");
    cluster.start_again().unwrap();
    let (status, _, _) = http.get(&format!("{}/v1/health", platform.url));
    assert_eq!(status, 200);
    let pending = body();
    let (status, _, text) = http.batch(&platform.url, "good-token", &pending);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"accepted\""), "{text}");
}

both!(public_results_give_the_score_from_100_reviews_and_never_a_comment);

fn public_results_give_the_score_from_100_reviews_and_never_a_comment(postgres: bool) {
    publish_and_check(postgres, false);
}

#[test]
#[ignore = "needs Debian's chromium and tests/e2e's npm modules (Playwright, axe-core): .ci/run installs them"]
fn public_pages_are_accessible_in_chromium() {
    publish_and_check(false, true);
}

fn publish_and_check(postgres: bool, browser: bool) {
    let dir = Scratch::new("public");
    let backend = Backend::new(postgres, dir.path());
    cli_ok(
        &backend,
        &["sites", "add", "sous-pref-mortagne", "--name", "Sous-préfecture de Mortagne-au-Perche", "--org", "pref-61"],
    );
    let token = cli_ok(&backend, &["devices", "add", "borne-mortagne", "--site", "sous-pref-mortagne"])
        .lines()
        .last()
        .unwrap()
        .to_string();
    let platform = start_registered(&backend);
    let http = Http::new();
    let comment = r#",{"field_code":"verbatim","kind":"text","answer_item_id":0,"answer_text":"COMMENTAIRE-PRIVE de Mme Martin","intention":"neutral"}"#;
    let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap());
    let at = |days: i64| (now - chrono::Duration::days(days)).to_rfc3339();
    let id = || uuid::Uuid::now_v7().to_string();
    let send = |reviews: Vec<(String, String, i64, &str)>| {
        let reviews: Vec<(String, &str, i64, &str)> =
            reviews.iter().map(|(i, a, s, e)| (i.clone(), a.as_str(), *s, *e)).collect();
        let (status, _, text) = http.batch(&platform.url, &token, &batch_body("borne-mortagne", (1, 2, 3), &reviews));
        assert_eq!(status, 200, "{text}");
    };
    // 99 reviews in the last twelve months (and 5 older ones that do not count): no score yet.
    let mut first: Vec<(String, String, i64, &str)> = (0..99)
        .map(|i| {
            (
                id(),
                at(1 + i % 300),
                if i < 60 {
                    3
                } else if i < 90 {
                    2
                } else {
                    1
                },
                if i % 10 == 0 { comment } else { "" },
            )
        })
        .collect();
    first.extend((0..5).map(|_| (id(), at(400), 1, comment)));
    send(first);
    let json_url = format!("{}/public/sites/sous-pref-mortagne/results.json", platform.url);
    let (status, _, text) = http.get(&json_url);
    assert_eq!(status, 200, "{text}");
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(results["reviews"], 99, "the older reviews are outside the twelve months: {results}");
    assert_eq!(results["score"]["status"], "insufficient");
    assert_eq!(results["score"]["count"], 99);
    // The 100th: 60 « Très bien », 30 « Moyen », 10 « Pas bien » → (600 + 150) / 100 = 7.5.
    send(vec![(id(), at(2), 1, comment)]);
    let (_, _, text) = http.get(&json_url);
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(results["reviews"], 100);
    assert_eq!(results["score"]["status"], "ok", "{results}");
    assert_eq!(results["score"]["value"], 7.5);
    // In the Observatoire's words: 5 to 8 is « Insuffisant ».
    assert_eq!(results["score"]["band_label"], "Insuffisant");
    assert_eq!(results["schema_version"], 1);
    let share = |item: i64| {
        results["distribution"].as_array().unwrap().iter().find(|d| d["answer_item_id"] == item).unwrap().clone()
    };
    assert_eq!((share(3)["count"].as_i64(), share(3)["percent"].as_f64()), (Some(60), Some(60.0)));
    assert_eq!((share(1)["count"].as_i64(), share(1)["percent"].as_f64()), (Some(10), Some(10.0)));
    // The page and the CSV say the same, cacheable, and nothing of any comment.
    let page_url = format!("{}/public/sites/sous-pref-mortagne", platform.url);
    let response = http.runtime.block_on(http.client.get(&page_url).send()).unwrap();
    assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    assert!(response.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let page = http.runtime.block_on(response.text()).unwrap();
    assert!(page.contains("7,5 / 10") && page.contains("Insuffisant"), "{page}");
    let (_, _, csv) = http.get(&format!("{}/public/sites/sous-pref-mortagne/results.csv", platform.url));
    assert!(csv.starts_with("site_id,site_name,period_from,period_to,reviews,score_on_10,"), "{csv}");
    assert_eq!(csv.lines().count(), 4, "a header and the three answers: {csv}");
    assert!(csv.lines().any(|l| l.contains(",7.5,3,Très bien,60,60")), "{csv}");
    for text in [&page, &csv, &serde_json::to_string(&results).unwrap()] {
        assert!(!text.contains("COMMENTAIRE-PRIVE"), "no comment is ever published");
    }
    let (status, _, text) = http.get(&format!("{}/public/sites/inconnu/results.json", platform.url));
    assert_eq!(status, 404, "{text}");
    // A citizen who mistypes the address gets a page, not JSON.
    let (status, _, text) = http.get(&format!("{}/public/sites/inconnu", platform.url));
    assert_eq!(status, 404);
    assert!(text.starts_with("<!DOCTYPE html>") && text.contains("Page introuvable"), "{text}");
    // In a real browser: readable by everyone (axe-core), still without the comment, with the
    // site's « on l'a fait » actions.
    if browser {
        let actions = r#"{"device_id":"borne-mortagne","actions":[{"id":"019adf3c-5b1e-7c4a-9d2e-3f4a5b6c7d01","text":"Un guichet de plus le lundi matin","done_on":"2026-11-16"}]}"#;
        let request = http.client.put(format!("{}/v1/actions", platform.url)).bearer_auth(&token).body(actions);
        assert_eq!(http.send(request).0, 204);
        // The page shows the action at once (its cache is forgotten when a kiosk's list changes).
        let (_, _, page) = http.get(&page_url);
        assert!(page.contains("Un guichet de plus le lundi matin") && page.contains("16/11/2026"), "{page}");
        let schema = format!("{}/public/schema", platform.url);
        pages_in_chromium("COMMENTAIRE-PRIVE", &[&page_url, &schema], None);
    }
}

both!(actions_are_checked_replaced_and_published_per_site);

/// `PUT /v1/actions` (contract 1.1): refused with the contract's error body when malformed or
/// for another kiosk; a kiosk's list replaces its previous one; a site shows the union of its
/// kiosks' lists (an action carried by two kiosks once), newest first.
fn actions_are_checked_replaced_and_published_per_site(postgres: bool) {
    let dir = Scratch::new("actions");
    let backend = Backend::new(postgres, dir.path());
    cli_ok(&backend, &["sites", "add", "orne-alencon", "--name", "Préfecture de l'Orne"]);
    let token = |device: &str| {
        cli_ok(&backend, &["devices", "add", device, "--site", "orne-alencon"]).lines().last().unwrap().to_string()
    };
    let (first, second) = (token("borne-orne-01"), token("borne-orne-02"));
    let platform = start_registered(&backend);
    let http = Http::new();
    let put = |token: &str, body: &str| {
        http.send(
            http.client
                .put(format!("{}/v1/actions", platform.url))
                .bearer_auth(token)
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        )
    };
    let action = |id: &str, text: &str, day: &str| serde_json::json!({"id": id, "text": text, "done_on": day});
    let body = |device: &str, actions: Vec<serde_json::Value>| {
        serde_json::json!({"device_id": device, "actions": actions}).to_string()
    };
    let (a, b, c) = (
        "019adf3c-5b1e-7c4a-9d2e-3f4a5b6c7d01",
        "019adf3c-5b1e-7c4a-9d2e-3f4a5b6c7d02",
        "019adf3c-5b1e-7c4a-9d2e-3f4a5b6c7d03",
    );
    let ok = body("borne-orne-01", vec![action(a, "Un guichet de plus le lundi", "2026-11-16")]);
    assert_eq!(put("pas-le-bon-jeton", &ok).0, 401);
    let too_many: Vec<_> = (0..21)
        .map(|i| action(&format!("019adf3c-5b1e-7c4a-9d2e-3f4a5b6c{i:04}"), "Une action de plus", "2026-11-16"))
        .collect();
    for (bad, why) in [
        ("{".to_string(), "not JSON"),
        (r#"{"device_id":"borne-orne-01","actions":[],"extra":1}"#.to_string(), "an unknown field"),
        (body("borne-orne-01", vec![action("pas-un-uuid", "Un guichet de plus", "2026-11-16")]), "a bad id"),
        (body("borne-orne-01", vec![action(a, "Un  guichet de plus", "2026-11-16")]), "spaces not collapsed"),
        (body("borne-orne-01", vec![action(a, "Oui", "2026-11-16")]), "too short"),
        (body("borne-orne-01", vec![action(a, "Un guichet de plus", "2099-01-01")]), "in the future"),
        (body("borne-orne-01", vec![action(a, "Un guichet de plus", "16/11/2026")]), "not a date"),
        (
            body(
                "borne-orne-01",
                vec![action(a, "Un guichet", "2026-11-16"), action(a, "Un autre guichet", "2026-11-16")],
            ),
            "a duplicate id",
        ),
        (body("borne-orne-01", too_many), "21 actions"),
    ] {
        let (status, _, text) = put(&first, &bad);
        assert_eq!(status, 400, "{why}: {text}");
        let error: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(error["code"], "BAD_REQUEST", "{why}");
    }
    assert_eq!(put(&second, &ok).0, 403, "another kiosk's device_id");
    assert_eq!(put(&first, &ok).0, 204);
    let published = |http: &Http| {
        let (status, _, text) = http.get(&format!("{}/public/sites/orne-alencon/results.json", platform.url));
        assert_eq!(status, 200);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json["actions"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(published(&http), vec![a]);
    // The second kiosk carries the same action and a newer one; the first replaces its list.
    let both =
        vec![action(a, "Un guichet de plus le lundi", "2026-11-16"), action(b, "Des chaises en plus", "2026-11-20")];
    assert_eq!(put(&second, &body("borne-orne-02", both)).0, 204);
    assert_eq!(published(&http), vec![b, a], "newest first, the shared one once");
    assert_eq!(put(&first, &body("borne-orne-01", vec![action(c, "Un écran d'attente", "2026-10-01")])).0, 204);
    assert_eq!(
        put(&first, &body("borne-orne-01", vec![action(c, "Un écran d'attente", "2026-10-01")])).0,
        204,
        "idempotent"
    );
    assert_eq!(published(&http), vec![b, a, c]);
    assert_eq!(put(&second, &body("borne-orne-02", vec![])).0, 204);
    assert_eq!(published(&http), vec![c]);
    let page = http.get(&format!("{}/public/sites/orne-alencon", platform.url)).2;
    assert!(page.contains("Un écran d'attente") && page.contains("01/10/2026"), "{page}");
}
