//! The platform as a kiosk (or anyone) meets it over HTTP: the real `borne-platform` binary on
//! loopback, given bad input of every kind.

use borne_testkit::pg::PgCluster;
use borne_testkit::{PlatformProcess, Scratch};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

const DEVICE: &str = "borne-it-01";

/// Where a test's platform keeps its data: the SQLite file, or a database of a throwaway
/// PostgreSQL cluster (each test runs once on each, see `both!`).
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(PgCluster, String),
}

impl Backend {
    fn new(postgres: bool, dir: &Path) -> Backend {
        if postgres {
            let cluster = PgCluster::for_test();
            let url = cluster.database("platform");
            Backend::Postgres(cluster, url)
        } else {
            Backend::Sqlite(dir.join("platform.db"))
        }
    }

    /// The command-line arguments that name this database.
    fn args(&self) -> Vec<OsString> {
        match self {
            Backend::Sqlite(path) => vec!["--db".into(), path.into()],
            Backend::Postgres(_, url) => vec!["--database-url".into(), url.into()],
        }
    }

    fn cluster(&self) -> Option<&PgCluster> {
        match self {
            Backend::Postgres(cluster, _) => Some(cluster),
            Backend::Sqlite(_) => None,
        }
    }
}

/// Each scenario, once on SQLite and once on PostgreSQL (ignored without `--include-ignored`,
/// which `.ci/run` passes with PostgreSQL installed; it fails there if PostgreSQL is missing).
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(false)
            }
            #[test]
            #[ignore = "needs PostgreSQL's server programs (Debian package postgresql): .ci/run installs them"]
            fn postgres() {
                super::$name(true)
            }
        }
    )*};
}

both!(
    receiver_refuses_bad_input_with_the_contract_error_body,
    arbitrary_requests_never_break_the_receiver,
);

fn platform_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_borne-platform"))
}

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

/// One raw HTTP/1.1 exchange on a fresh connection: the status code and the body, or `None`
/// when the server closed the connection without a status line.
fn raw_exchange(addr: &str, request: &[u8]) -> Option<(u16, String)> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    stream.write_all(request).ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.lines().next()?.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
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
            let answer = raw_exchange(&addr, &request);
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
    let (status, body) =
        raw_exchange(&addr, format!("GET /v1/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
            .unwrap();
    assert_eq!((status, body.contains("ok")), (200, true), "{body}");
}
