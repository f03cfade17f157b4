//! A typo in a kiosk's identity, as a new site makes it: the platform refuses the batches, the
//! kiosk says what was refused and what to fix, and once the configuration file is fixed (no
//! restart by hand) every review arrives exactly once, made again under the right identity.

use crate::common::*;
use crate::upload::{kiosk, kiosk_config_for, receiver_bin, seed_reviews, status_json};
use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEVICE: &str = "borne-caf-61";

/// `borne upload` running until dropped.
struct Uploading(Child);

impl Drop for Uploading {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn uploading(config: &Path, data: &Path) -> Uploading {
    Uploading(kiosk(config, data).arg("upload").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap())
}

/// Waits (at most a minute) until `borne status --json` satisfies `done`; returns it.
fn until(config: &Path, data: &Path, what: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let status = status_json(config, data);
        if done(&status) {
            return status;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{what}: {status:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The platform's reviews of the kiosk: (all, distinct).
fn held(db: &Path) -> (usize, HashSet<String>) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT client_review_id FROM reviews WHERE device_id = ?1").unwrap();
    let ids: Vec<String> = stmt.query_map([DEVICE], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    (ids.len(), ids.into_iter().collect())
}

#[test]
fn a_typo_in_the_identity_is_fixed_in_the_file_and_every_review_arrives_once() {
    let dir = Scratch::new("identity-typo");
    let data = dir.path().join("data");
    let db = dir.path().join("platform.db");
    let cli = |args: &[&str]| run_ok(Command::new(receiver_bin()).args(args).arg("--db").arg(&db));
    cli(&["sites", "add", "caf-61", "--name", "CAF de l'Orne", "--jdma-product", "3119", "--jdma-form", "4521"]);
    let token = cli(&["devices", "add", DEVICE, "--site", "caf-61", "--jdma-button", "98765"])
        .lines()
        .last()
        .unwrap()
        .to_string();
    let platform = borne_testkit::PlatformProcess::start(
        &receiver_bin(),
        "127.0.0.1:0",
        &[std::ffi::OsStr::new("--db"), db.as_os_str()],
    );
    let mut expected = seed_reviews(&data, 150);

    // 1. device_id mistyped (the token is borne-caf-61's).
    let config = kiosk_config_for(dir.path(), &platform.url, &token, 50, "borne-caf-16");
    let good = std::fs::read_to_string(&config).unwrap().replace("borne-caf-16", DEVICE);
    let running = uploading(&config, &data);
    let status = until(&config, &data, "the platform refuses the identity", |s| s["uplink"]["auth_refused"] == true);
    assert_eq!(status["outbox"]["pending"], 150);
    let error = status["uplink"]["last_error"].as_str().unwrap();
    assert!(error.contains("HTTP 403") && error.contains("device_id « borne-caf-16 »"), "what was refused: {error}");
    assert!(error.contains("corrigez-la dans la configuration"), "what to fix: {error}");
    let text = run_ok(kiosk(&config, &data).arg("status"));
    assert!(text.contains("rien n'est perdu") && text.contains("device_id"), "{text}");
    assert_eq!(held(&db).0, 0);
    // Fixed in the file, the process left running: it starts again with the file and delivers.
    std::fs::write(&config, &good).unwrap();
    until(&config, &data, "delivered after the fix", |s| s["outbox"]["pending"] == 0);
    let (all, distinct) = held(&db);
    assert_eq!((all, &distinct), (150, &expected), "each review once");
    drop(running);

    // 2. A JDMA id mistyped, found at a restart: the same once fixed.
    expected.extend(seed_reviews(&data, 60));
    std::fs::write(&config, good.replace("product_id = 3119", "product_id = 3191")).unwrap();
    let running = uploading(&config, &data);
    let status = until(&config, &data, "the platform refuses the JDMA ids", |s| s["uplink"]["auth_refused"] == true);
    let error = status["uplink"]["last_error"].as_str().unwrap();
    assert!(error.contains("product_id 3191"), "{error}");
    std::fs::write(&config, &good).unwrap();
    until(&config, &data, "delivered after the second fix", |s| {
        s["outbox"]["pending"] == 0 && s["uplink"]["auth_refused"] == false
    });
    drop(running);
    let (all, distinct) = held(&db);
    assert_eq!((all, &distinct), (210, &expected), "each review once");
    let status = status_json(&config, &data);
    assert_eq!(status["outbox"]["uploaded"], 210);
}
