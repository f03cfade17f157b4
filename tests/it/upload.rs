//! Upload contract v1 end to end: the real `borne` and `borne-platform` binaries on loopback.

use crate::common::*;
use borne_model::review::{Answer, AnswerKind, ClockState, Intention, Review};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The reference receiver, a binary of the platform package.
pub fn receiver_bin() -> PathBuf {
    workspace_bin("borne-platform")
}
pub const DEVICE: &str = "borne-it-01";

/// A running `borne-platform serve` on a tokens file (killed on drop), its database and audit log.
pub struct ReceiverProcess {
    _process: borne_testkit::PlatformProcess,
    pub url: String,
    pub db: PathBuf,
    /// One line per batch request the receiver parsed (`--audit-log`).
    pub audit: PathBuf,
}

pub fn start_receiver(dir: &Path, tokens: &str, faults: &[&str]) -> ReceiverProcess {
    let tokens_file = dir.join("receiver-tokens.txt");
    std::fs::write(&tokens_file, tokens).unwrap();
    let db = dir.join("receiver.db");
    let audit = dir.join("receiver-audit.jsonl");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "--tokens".as_ref(),
        tokens_file.as_os_str(),
        "--db".as_ref(),
        db.as_os_str(),
        "--audit-log".as_ref(),
        audit.as_os_str(),
    ];
    args.extend(faults.iter().map(std::ffi::OsStr::new));
    let process = borne_testkit::PlatformProcess::start(&receiver_bin(), "127.0.0.1:0", &args);
    ReceiverProcess { url: process.url.clone(), _process: process, db, audit }
}

/// A kiosk configuration pointed at the receiver; returns its path.
pub fn kiosk_config(dir: &Path, url: &str, token: &str, batch_size: usize) -> PathBuf {
    kiosk_config_for(dir, url, token, batch_size, DEVICE)
}

/// The same, for the kiosk `device`.
pub fn kiosk_config_for(dir: &Path, url: &str, token: &str, batch_size: usize, device: &str) -> PathBuf {
    let token_file = dir.join("kiosk-token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let config = dir.join("borne.toml");
    std::fs::write(
        &config,
        format!(
            "[kiosk]\ndevice_id = \"{device}\"\nadmin_pin = \"4821\"\n\n[upload]\nenabled = true\nallow_insecure_http = true\nbase_url = \"{url}\"\ntoken_file = \"{}\"\n\
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
pub fn seed_reviews(data: &Path, n: usize) -> HashSet<String> {
    let (mut store, _) = borne::store::Store::open(data, borne::store::Integrity::Trust).unwrap();
    let mut ids = HashSet::new();
    let mut batch = Vec::new();
    for i in 0..n {
        let s = (i % 3) as i64 + 1;
        let mut answers = vec![Answer {
            parent: None,
            field_code: "satisfaction".into(),
            kind: AnswerKind::Radio,
            answer_item_id: s,
            answer_text: ["Pas bien", "Moyen", "Très bien"][(s - 1) as usize].into(),
            intention: [Intention::Bad, Intention::Medium, Intention::Good][(s - 1) as usize],
        }];
        if s < 3 {
            answers.push(Answer {
                parent: None,
                field_code: "kiosk_motif".into(),
                kind: AnswerKind::Checkbox,
                answer_item_id: 1,
                answer_text: "L'attente".into(),
                intention: Intention::Neutral,
            });
        }
        if i % 4 == 0 {
            answers.push(Answer {
                parent: None,
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

pub fn kiosk(config: &Path, data: &Path) -> Command {
    let mut cmd = borne(data);
    cmd.arg("--config").arg(config);
    cmd
}

pub fn status_json(config: &Path, data: &Path) -> serde_json::Value {
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
    assert_one_key_one_body(&receiver.audit);
}

/// What the receiver saw, request by request: a key always carried the same bytes (a retry
/// resends the same body), and each review was taken in under one key only (nothing re-keyed
/// once the platform had it: no 409, no dedup needed to hide a second sending).
fn assert_one_key_one_body(audit: &Path) {
    use std::collections::HashMap;
    let text = std::fs::read_to_string(audit).unwrap();
    let mut bodies: HashMap<String, HashSet<String>> = HashMap::new();
    let mut keys_of: HashMap<String, HashSet<String>> = HashMap::new();
    let mut requests = 0;
    for line in text.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = entry["key"].as_str().unwrap().to_string();
        let outcome = entry["outcome"].as_str().unwrap();
        assert_ne!(outcome, "conflict", "a key was sent with another body: {line}");
        bodies.entry(key.clone()).or_default().insert(entry["body_sha256"].as_str().unwrap().to_string());
        if outcome == "processed" || outcome == "replayed" {
            for id in entry["reviews"].as_array().unwrap() {
                keys_of.entry(id.as_str().unwrap().to_string()).or_default().insert(key.clone());
            }
        }
        requests += 1;
    }
    assert!(requests > 0, "the receiver logged the requests it parsed");
    let changed: Vec<_> = bodies.iter().filter(|(_, hashes)| hashes.len() > 1).collect();
    assert!(changed.is_empty(), "keys sent with more than one body: {changed:?}");
    let twice: Vec<_> = keys_of.iter().filter(|(_, keys)| keys.len() > 1).take(5).collect();
    assert!(twice.is_empty(), "reviews taken in under two keys: {twice:?}");
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
        serde_json::from_str(&run_ok(Command::new(receiver_bin()).args(["stats", "--json", "--db"]).arg(&receiver.db)))
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
    // Runs of the uploader that were still running when killed (their exit status says so) and
    // had delivered part of the outbox: killed mid-way, as the store reports it.
    let mut killed_mid_way = 0;
    let pending = || status_json(&config, &data)["outbox"]["pending"].as_u64().unwrap();
    for _ in 0..200 {
        let before = pending();
        if before == 0 {
            break;
        }
        let mut child =
            kiosk(&config, &data).arg("upload").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(20 + rng.below(250)));
        let was_running = matches!(child.try_wait(), Ok(None));
        // SAFETY: plain FFI call on our own, not yet reaped, child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        let after = pending();
        if was_running && status.signal() == Some(libc::SIGKILL) && after < before && after > 0 {
            killed_mid_way += 1;
        }
    }
    // Whatever is left goes in uninterrupted runs; `--once` stops at the first failed exchange
    // (the receiver still drops one connection in ten), so it is run until nothing is pending.
    for _ in 0..50 {
        if status_json(&config, &data)["outbox"]["pending"] == 0 {
            break;
        }
        let _ = kiosk(&config, &data).args(["upload", "--once"]).output().unwrap();
    }
    assert!(killed_mid_way >= 5, "the uploader was killed mid-way ({killed_mid_way} times)");
    assert_exactly_once(&expected, &receiver, &config, &data);
    let integrity = run_ok(kiosk(&config, &data).args(["db", "check"]));
    assert!(integrity.contains("intégrité : ok"));
    let stats: serde_json::Value =
        serde_json::from_str(&run_ok(Command::new(receiver_bin()).args(["stats", "--db"]).arg(&receiver.db))).unwrap();
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

/// A platform on its SQLite file in `dir` (console cookies without TLS), with the site
/// `caf-61-alencon` and the kiosk `DEVICE` registered: its file, its configuration, the kiosk's
/// token, the running process.
fn platform_with_site(dir: &Path) -> (PathBuf, PathBuf, String, borne_testkit::PlatformProcess) {
    let db = dir.join("platform.db");
    let config = dir.join("platform.toml");
    std::fs::write(&config, "[console]\nsecure_cookies = false\n").unwrap();
    let cli = |args: &[&str]| run_ok(Command::new(receiver_bin()).args(args).arg("--db").arg(&db));
    cli(&["sites", "add", "caf-61-alencon", "--name", "CAF de l'Orne, Alençon"]);
    let token = cli(&["devices", "add", DEVICE, "--site", "caf-61-alencon"]).lines().last().unwrap().to_string();
    let platform = borne_testkit::PlatformProcess::start(
        &receiver_bin(),
        "127.0.0.1:0",
        &[std::ffi::OsStr::new("--db"), db.as_os_str(), "--config".as_ref(), config.as_os_str()],
    );
    (db, config, token, platform)
}

/// The lines `borne-platform devices add` prints are a kiosk's configuration as is: pasted into
/// `borne.toml` (the platform's address and the token file's path being this machine's), the
/// kiosk checks them and uploads.
#[test]
fn the_lines_devices_add_prints_make_a_kiosk_upload() {
    let dir = Scratch::new("pasted-lines");
    let data = dir.path().join("data");
    seed_reviews(&data, 12);
    let db = dir.path().join("platform.db");
    let cli = |args: &[&str]| run_ok(Command::new(receiver_bin()).args(args).arg("--db").arg(&db));
    cli(&["sites", "add", "caf-61", "--name", "CAF de l'Orne", "--jdma-product", "3119", "--jdma-form", "4521"]);
    let printed = cli(&["devices", "add", "borne-caf-61", "--site", "caf-61", "--jdma-button", "98765"]);
    let token = printed.lines().last().unwrap();
    let start = printed.find("[kiosk]").expect("the lines to paste");
    let end = printed.find("Et ce jeton").expect("where the token goes");
    let lines = &printed[start..end];
    assert!(lines.contains("product_id = 3119\nform_id = 4521\nbutton_id = 98765\n"), "{lines}");
    let platform = borne_testkit::PlatformProcess::start(
        &receiver_bin(),
        "127.0.0.1:0",
        &[std::ffi::OsStr::new("--db"), db.as_os_str()],
    );
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let pasted = lines
        .replace("https://ADRESSE-DE-CETTE-PLATEFORME", &platform.url)
        .replace("/etc/borne/token", token_file.to_str().unwrap())
        .replace("[upload]\n", "[upload]\nallow_insecure_http = true\n");
    let config = dir.path().join("borne.toml");
    std::fs::write(&config, pasted).unwrap();
    run_ok(kiosk(&config, &data).args(["config", "check"]).arg(&config));
    let out = run_ok(kiosk(&config, &data).args(["upload", "--once"]));
    assert!(out.contains("12 avis envoyé(s)"), "{out}");
}

/// After a drain, a site's figures on the platform are its kiosk's own: `borne-platform
/// site-stats` equals `borne stats --json` (reviews, comments, the satisfaction score and its
/// distribution, every follow-up both compute).
#[test]
fn a_sites_figures_on_the_platform_are_its_kiosks_figures() {
    let dir = Scratch::new("samefigures");
    let data = dir.path().join("data");
    seed_reviews(&data, 250);
    let (db, platform_config, token, platform) = platform_with_site(dir.path());
    let platform_cli = |args: &[&str]| {
        run_ok(Command::new(receiver_bin()).args(args).arg("--db").arg(&db).arg("--config").arg(&platform_config))
    };
    let config = kiosk_config(dir.path(), &platform.url, &token, 100);
    let out = run_ok(kiosk(&config, &data).args(["upload", "--once"]));
    assert!(out.contains("250 avis envoyé(s)"), "{out}");
    // The site's manager reads the same figures in the console.
    let mut add = Command::new(receiver_bin());
    add.args([
        "accounts",
        "add",
        "accueil@caf61.fr",
        "--name",
        "Accueil",
        "--role",
        "site",
        "--site",
        "caf-61-alencon",
    ])
    .args(["--password", "--db"])
    .arg(&db)
    .stdin(Stdio::piped())
    .stdout(Stdio::null());
    let mut child = add.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"un mot de passe assez long\n").unwrap();
    assert!(child.wait().unwrap().success());
    let console_stats: serde_json::Value = {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let c = client();
        let url = |path: &str| format!("{}/console/{path}", platform.url);
        runtime.block_on(async {
            let form = http_send(&c, &url("connexion"), "GET", "", &[]).await;
            let cookie = set_cookie(&form, "borne_console_login").unwrap().split(';').next().unwrap().to_string();
            let fields = [("email", "accueil@caf61.fr"), ("password", "un mot de passe assez long")];
            let csrf = hidden_csrf(&form.body);
            let fields = [fields[0], fields[1], ("csrf", csrf.as_str())];
            let login = http_send(&c, &url("connexion"), "POST", &cookie, &fields).await;
            assert_eq!(login.status, 303, "{}", login.body);
            let session = set_cookie(&login, "borne_console").unwrap().split(';').next().unwrap().to_string();
            let answer = http_send(&c, &url("sites/caf-61-alencon/indicateurs.json"), "GET", &session, &[]).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            serde_json::from_str(&answer.body).unwrap()
        })
    };
    let kiosk_stats: serde_json::Value =
        serde_json::from_str(&run_ok(kiosk(&config, &data).args(["stats", "--json"]))).unwrap();
    let site_stats: serde_json::Value = serde_json::from_str(&platform_cli(&["site-stats", "caf-61-alencon"])).unwrap();
    let (k, p) = (&kiosk_stats["indicators"], &site_stats["indicators"]);
    assert_eq!(k["reviews"], 250);
    assert_eq!(&console_stats["indicators"], p, "the console shows what site-stats prints");
    for key in ["reviews", "comments", "minimum_reviews", "satisfaction"] {
        assert_eq!(k[key], p[key], "{key}: kiosk {} vs platform {}", k[key], p[key]);
    }
    // Every question the kiosk asked, JDMA's and its own (« Qu'est-ce qui n'a pas été ? », whose
    // text the kiosk sends with its answers), is on the platform with the same figures; the
    // platform knows only the items that were answered.
    let platform_follow_ups = p["follow_ups"].as_array().unwrap();
    let mut compared = 0;
    for question in k["follow_ups"].as_array().unwrap() {
        if question["respondents"] == 0 {
            continue;
        }
        let code = &question["field_code"];
        let same =
            platform_follow_ups.iter().find(|q| q["field_code"] == *code).unwrap_or_else(|| panic!("{code}: {p}"));
        for key in ["label", "respondents", "score", "share_percent"] {
            assert_eq!(question[key], same[key], "{code} {key}");
        }
        for item in question["distribution"].as_array().unwrap().iter().filter(|i| i["count"] != 0) {
            let theirs =
                same["distribution"].as_array().unwrap().iter().find(|i| i["answer_item_id"] == item["answer_item_id"]);
            assert_eq!(Some(item), theirs, "{code}");
        }
        compared += 1;
    }
    assert!(
        platform_follow_ups
            .iter()
            .any(|q| q["field_code"] == "kiosk_motif" && q["label"] == "Qu'est-ce qui n'a pas été ?"),
        "{p}"
    );
    assert!(compared >= 1);
    assert_eq!(k["satisfaction"]["score"]["status"], "ok", "250 reviews give a score: {k}");
}

/// « Vous nous l'avez dit, on l'a fait », end to end: actions written on the kiosk reach the
/// platform with the reviews (`borne upload`), appear on the site's public page and open data,
/// and leave them when removed on the kiosk.
#[test]
fn improvement_actions_reach_the_sites_public_page() {
    let dir = Scratch::new("actions-public");
    let data = dir.path().join("data");
    seed_reviews(&data, 5);
    let (_, _, token, platform) = platform_with_site(dir.path());
    let config = kiosk_config(dir.path(), &platform.url, &token, 100);
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 16).unwrap();
    let action = {
        let (mut store, _) = borne::store::Store::open(&data, borne::store::Integrity::Trust).unwrap();
        store.add_action("Des chaises en plus en salle d'attente", day.pred_opt().unwrap()).unwrap();
        store.add_action("Un guichet de plus le lundi matin", day).unwrap()
    };
    let out = run_ok(kiosk(&config, &data).args(["upload", "--once"]));
    assert!(out.contains("5 avis envoyé(s)"), "{out}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let get = |path: &str| runtime.block_on(http_send(&client(), &format!("{}{path}", platform.url), "GET", "", &[]));
    let page = get("/public/sites/caf-61-alencon");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Vous nous l'avez dit, on l'a fait"), "{}", page.body);
    let newest = page.body.find("Un guichet de plus le lundi matin").expect("the newest action");
    let older = page.body.find("Des chaises en plus en salle d'attente").expect("the older one");
    assert!(newest < older, "newest first");
    let json: serde_json::Value = serde_json::from_str(&get("/public/sites/caf-61-alencon/results.json").body).unwrap();
    assert_eq!(json["actions"][0]["id"], action.id.to_string());
    assert_eq!(json["actions"][0]["done_on"], "2026-11-16");
    assert_eq!(json["actions"].as_array().unwrap().len(), 2);

    // Removed on the kiosk: gone from the public page at the next upload.
    {
        let (mut store, _) = borne::store::Store::open(&data, borne::store::Integrity::Trust).unwrap();
        for a in store.actions().unwrap() {
            store.remove_action(a.id).unwrap();
        }
    }
    run_ok(kiosk(&config, &data).args(["upload", "--once"]));
    let json: serde_json::Value = serde_json::from_str(&get("/public/sites/caf-61-alencon/results.json").body).unwrap();
    assert_eq!(json["actions"], serde_json::json!([]));
    assert!(!get("/public/sites/caf-61-alencon").body.contains("on l'a fait"));
}

/// A platform of contract 1.0 does not know `PUT /v1/actions` nor `GET /v1/survey` (404): the
/// kiosk's upload goes on as before, keeps its list to send later and runs its file's survey.
#[test]
fn a_platform_without_actions_is_left_alone() {
    let dir = Scratch::new("actions-old-platform");
    let data = dir.path().join("data");
    // The platform of contract 1.0, as far as actions go: 404 to anything but batches and
    // heartbeats (here: to everything; the kiosk holds no review).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 8192];
            let n = std::io::Read::read(&mut stream, &mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_string();
            log.lock().unwrap().push(head);
            let body = r#"{"message":"no such endpoint","code":"NOT_FOUND"}"#;
            let answer = format!(
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = std::io::Write::write_all(&mut stream, answer.as_bytes());
        }
    });
    let config = kiosk_config(dir.path(), &url, "jeton-de-test-assez-long-0123456789", 100);
    {
        let (mut store, _) = borne::store::Store::open(&data, borne::store::Integrity::Trust).unwrap();
        store
            .add_action("Un guichet de plus le lundi matin", chrono::NaiveDate::from_ymd_opt(2026, 11, 16).unwrap())
            .unwrap();
    }
    let out = run_ok(kiosk(&config, &data).args(["upload", "--once"]));
    assert!(out.contains("0 avis envoyé(s)"), "{out}");
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        ["PUT /v1/actions HTTP/1.1", &format!("GET /v1/survey?device_id={DEVICE} HTTP/1.1")],
        "each asked once"
    );
    let (store, _) = borne::store::Store::open(&data, borne::store::Integrity::Trust).unwrap();
    assert!(store.actions_to_send().unwrap().is_some(), "still to send to a platform that takes them");
    // Nor a survey: the file's runs, and nothing is reported refused.
    assert_eq!(store.published_survey().unwrap(), borne::store::published::PublishedSurvey::default());
}
