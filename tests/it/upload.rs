//! Upload contract v1 end to end: the real `borne` and `borne-receiver` binaries on loopback.

use crate::common::*;
use borne::review::{Answer, AnswerKind, ClockState, Intention, Review};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const RECEIVER: &str = env!("CARGO_BIN_EXE_borne-receiver");
const DEVICE: &str = "borne-it-01";

/// A running `borne-receiver serve`, killed on drop.
pub struct ReceiverProcess {
    child: Child,
    pub url: String,
    pub db: PathBuf,
}

impl Drop for ReceiverProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_receiver(dir: &Path, tokens: &str, faults: &[&str]) -> ReceiverProcess {
    let tokens_file = dir.join("receiver-tokens.txt");
    std::fs::write(&tokens_file, tokens).unwrap();
    let db = dir.join("receiver.db");
    let mut child = Command::new(RECEIVER)
        .args(["serve", "--listen", "127.0.0.1:0", "--tokens"])
        .arg(&tokens_file)
        .arg("--db")
        .arg(&db)
        .args(faults)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").expect("receiver prints its address").to_string();
    ReceiverProcess { child, url, db }
}

/// A kiosk configuration pointed at the receiver; returns its path.
fn kiosk_config(dir: &Path, url: &str, token: &str, batch_size: usize) -> PathBuf {
    let token_file = dir.join("kiosk-token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let config = dir.join("borne.toml");
    std::fs::write(
        &config,
        format!(
            "[kiosk]\ndevice_id = \"{DEVICE}\"\n\n[upload]\nenabled = true\nbase_url = \"{url}\"\ntoken_file = \"{}\"\n\
             product_id = 3119\nform_id = 4521\nbutton_id = 98765\nbatch_size = {batch_size}\nconnect_timeout_s = 2\n\
             request_timeout_s = 1\nmax_backoff_s = 1\nheartbeat_interval_s = 1\n",
            token_file.display()
        ),
    )
    .unwrap();
    config
}

/// `n` reviews committed straight into a real store file (faster than n processes), with
/// comments and follow-ups like real ones.
fn seed_reviews(data: &Path, n: usize) -> HashSet<String> {
    let (mut store, _) = borne::store::Store::open(data, borne::store::Integrity::Trust).unwrap();
    let mut ids = HashSet::new();
    let mut batch = Vec::new();
    for i in 0..n {
        let s = (i % 3) as i64 + 1;
        let mut answers = vec![Answer {
            field_code: "satisfaction".into(),
            kind: AnswerKind::Radio,
            answer_item_id: s,
            answer_text: ["Pas bien", "Moyen", "Très bien"][(s - 1) as usize].into(),
            intention: [Intention::Bad, Intention::Medium, Intention::Good][(s - 1) as usize],
        }];
        if s < 3 {
            answers.push(Answer {
                field_code: "kiosk_motif".into(),
                kind: AnswerKind::Checkbox,
                answer_item_id: 1,
                answer_text: "L'attente".into(),
                intention: Intention::Neutral,
            });
        }
        if i % 4 == 0 {
            answers.push(Answer {
                field_code: "verbatim".into(),
                kind: AnswerKind::Text,
                answer_item_id: 0,
                answer_text: format!("Commentaire n° {i}\nsur deux lignes"),
                intention: Intention::Neutral,
            });
        }
        let review = Review {
            client_review_id: uuid::Uuid::now_v7(),
            submitted_at: chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap()),
            clock: if i % 10 == 0 { ClockState::Unsynced } else { ClockState::Synced },
            boot: None,
            language: "fr".into(),
            answers,
        };
        ids.insert(review.client_review_id.to_string());
        batch.push(review);
        if batch.len() == 1000 {
            store.import_reviews(&batch).unwrap();
            batch.clear();
        }
    }
    store.import_reviews(&batch).unwrap();
    ids
}

fn receiver_ids(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT client_review_id FROM reviews WHERE device_id = ?1").unwrap();
    stmt.query_map([DEVICE], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

fn kiosk(config: &Path, data: &Path) -> Command {
    let mut cmd = borne(data);
    cmd.arg("--config").arg(config);
    cmd
}

fn status_json(config: &Path, data: &Path) -> serde_json::Value {
    serde_json::from_str(&run_ok(kiosk(config, data).args(["status", "--json"]))).unwrap()
}

fn assert_exactly_once(expected: &HashSet<String>, receiver: &ReceiverProcess, config: &Path, data: &Path) {
    let held = receiver_ids(&receiver.db);
    let held_set: HashSet<String> = held.iter().cloned().collect();
    assert_eq!(held.len(), held_set.len(), "no review twice");
    assert_eq!(held_set.len(), expected.len());
    assert!(held_set == *expected, "the receiver holds exactly the kiosk's reviews");
    let status = status_json(config, data);
    assert_eq!(status["outbox"]["pending"], 0);
    assert_eq!(status["outbox"]["rejected"], 0);
    assert_eq!(status["outbox"]["uploaded"], expected.len() as u64);
}

#[test]
fn ten_thousand_reviews_through_every_fault_arrive_exactly_once() {
    let dir = Scratch::new("faults");
    let data = dir.path().join("data");
    let expected = seed_reviews(&data, 10_000);
    let receiver = start_receiver(
        dir.path(),
        &format!("good-token {DEVICE}\n"),
        &[
            "--fail-rate",
            "0.25",
            "--fail-statuses",
            "500,503,429,413",
            "--retry-after",
            "1",
            "--delay-rate",
            "0.05",
            "--delay-ms",
            "1500",
            "--drop-rate",
            "0.08",
            "--truncate-rate",
            "0.05",
            "--garbage-rate",
            "0.05",
            "--seed",
            "7",
        ],
    );
    let config = kiosk_config(dir.path(), &receiver.url, "good-token", 250);
    let mut failures = 0;
    for _ in 0..1000 {
        let out = kiosk(&config, &data).args(["upload", "--once"]).output().unwrap();
        if out.status.success() {
            break;
        }
        failures += 1;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("envoi interrompu"), "{err}");
    }
    assert!(failures > 5, "faults were injected ({failures} interrupted runs)");
    assert_exactly_once(&expected, &receiver, &config, &data);
    let stats: serde_json::Value =
        serde_json::from_str(&run_ok(Command::new(RECEIVER).args(["stats", "--json", "--db"]).arg(&receiver.db)))
            .unwrap();
    assert_eq!(stats["reviews"], 10_000);
}

#[test]
fn uploader_killed_at_random_moments_still_delivers_exactly_once() {
    let dir = Scratch::new("killupload");
    let data = dir.path().join("data");
    let expected = seed_reviews(&data, 3_000);
    let receiver = start_receiver(
        dir.path(),
        &format!("good-token {DEVICE}\n"),
        &["--drop-rate", "0.1", "--delay-rate", "0.05", "--delay-ms", "300", "--seed", "11"],
    );
    let config = kiosk_config(dir.path(), &receiver.url, "good-token", 40);
    let mut rng = Lcg(seed());
    let mut kills = 0;
    for _ in 0..200 {
        if status_json(&config, &data)["outbox"]["pending"] == 0 {
            break;
        }
        let mut child =
            kiosk(&config, &data).arg("upload").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(20 + rng.below(250)));
        // SAFETY: plain FFI call on our own, not yet reaped, child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap();
        kills += 1;
    }
    // Whatever is left goes in one last uninterrupted run.
    run_ok(kiosk(&config, &data).args(["upload", "--once"]));
    assert!(kills >= 5, "the uploader was killed mid-way ({kills} times)");
    assert_exactly_once(&expected, &receiver, &config, &data);
    let integrity = run_ok(kiosk(&config, &data).args(["db", "check"]));
    assert!(integrity.contains("intégrité : ok"));
    let stats: serde_json::Value =
        serde_json::from_str(&run_ok(Command::new(RECEIVER).args(["stats", "--db"]).arg(&receiver.db))).unwrap();
    assert!(stats["heartbeats"].as_i64().unwrap() >= 1, "heartbeats arrive: {stats}");
}

#[test]
fn a_wrong_token_keeps_everything_pending_says_so_and_recovers_once_fixed() {
    let dir = Scratch::new("token");
    let data = dir.path().join("data");
    let expected = seed_reviews(&data, 120);
    let receiver = start_receiver(dir.path(), &format!("good-token {DEVICE}\nother-token borne-ailleurs\n"), &[]);
    for wrong in ["bad-token", "other-token"] {
        let config = kiosk_config(dir.path(), &receiver.url, wrong, 50);
        let out = run_err(kiosk(&config, &data).args(["upload", "--once"]));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("jeton refusé"), "{err}");
        assert!(!err.contains(wrong), "the token is never printed: {err}");
        let status = status_json(&config, &data);
        assert_eq!(status["outbox"]["pending"], 120);
        assert_eq!(status["uplink"]["auth_refused"], true);
        let text = run_ok(kiosk(&config, &data).arg("status"));
        assert!(text.contains("refuse le jeton"), "{text}");
        assert!(!text.contains(wrong));
        assert!(receiver_ids(&receiver.db).is_empty());
    }
    let config = kiosk_config(dir.path(), &receiver.url, "good-token", 50);
    let out = run_ok(kiosk(&config, &data).args(["upload", "--once"]));
    assert!(out.contains("120 avis envoyé(s)"), "{out}");
    assert_exactly_once(&expected, &receiver, &config, &data);
    assert_eq!(status_json(&config, &data)["uplink"]["auth_refused"], false);
}

#[test]
fn receiver_refuses_bad_input_with_the_contract_error_body() {
    let dir = Scratch::new("receiverinput");
    let receiver = start_receiver(dir.path(), &format!("good-token {DEVICE}\n"), &[]);
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
    let huge = borne::uplink::gzip(&vec![b' '; 2 * 1024 * 1024]);
    let (s, t) = post(Some("good-token"), &key, huge, true);
    assert_eq!((s, error_code(&t).as_str()), (413, "PAYLOAD_TOO_LARGE"));
    // Accepted once; the same key and body is replayed; another body under that key is 409.
    let (s, first) = post(Some("good-token"), &key, borne::uplink::gzip(&good), true);
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
