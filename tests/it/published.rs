//! The survey a network publishes (contract 1.2) end to end: the real `borne-platform` binary
//! (two instances on one database) and `borne` binaries, three kiosks of two networks, each with
//! its own data directory.

use crate::common::*;
use crate::upload::{kiosk, kiosk_config_for, receiver_bin, status_json};
use std::path::{Path, PathBuf};
use std::process::Command;

const QUESTION: &str = "[survey]\n[[survey.follow_up]]\ncode = \"kiosk_attente\"\n\
    label = \"Avez-vous attendu plus de 20 minutes ?\"\nkind = \"radio\"\n\
    items = [{ id = 1, text = \"Oui\", intention = \"bad\" }, { id = 2, text = \"Non\", intention = \"good\" }]\n";

struct Kiosk {
    config: PathBuf,
    data: PathBuf,
}

impl Kiosk {
    /// `borne upload --once` (which asks for the survey), then what `borne status --json` says.
    fn sync(&self) -> serde_json::Value {
        run_ok(kiosk(&self.config, &self.data).args(["upload", "--once"]));
        status_json(&self.config, &self.data)
    }
}

/// A version published to a network is held by its kiosks and by no other; a version the
/// kiosk's rules refuse (written past the CLI's check, as another platform could serve it) is
/// refused and reported while the good one stays; a kiosk that could not reach the platform while
/// versions changed gets the latest when it can; a rollback and a withdrawal follow.
#[test]
fn a_network_survey_reaches_its_kiosks_only_and_a_bad_version_is_refused() {
    let dir = Scratch::new("published-survey");
    let db = dir.path().join("platform.db");
    let cli = |args: &[&str]| run_ok(Command::new(receiver_bin()).args(args).arg("--db").arg(&db));
    for (site, org) in [("rhone-lyon", "pref-69"), ("rhone-villefranche", "pref-69"), ("orne-alencon", "pref-61")] {
        cli(&["sites", "add", site, "--name", site, "--org", org]);
    }
    let platform = borne_testkit::PlatformProcess::start(
        &receiver_bin(),
        "127.0.0.1:0",
        &[std::ffi::OsStr::new("--db"), db.as_os_str()],
    );
    let kiosk_of = |device: &str, site: &str, url: &str| {
        let token = cli(&["devices", "add", device, "--site", site]).lines().last().unwrap().to_string();
        let home = dir.path().join(device);
        std::fs::create_dir_all(&home).unwrap();
        Kiosk { config: kiosk_config_for(&home, url, &token, 100, device), data: home.join("data") }
    };
    // A second instance on the same database: a kiosk may reach either.
    let second = borne_testkit::PlatformProcess::start(
        &receiver_bin(),
        "127.0.0.1:0",
        &[std::ffi::OsStr::new("--db"), db.as_os_str()],
    );
    let lyon = kiosk_of("borne-lyon", "rhone-lyon", &platform.url);
    let villefranche = kiosk_of("borne-villefranche", "rhone-villefranche", &second.url);
    // This one's platform address is wrong for now: it is « offline ».
    let alencon = kiosk_of("borne-alencon", "orne-alencon", "http://127.0.0.1:9");
    let file = dir.path().join("question.toml");
    std::fs::write(&file, QUESTION).unwrap();
    let held = |status: &serde_json::Value| status["config_held_version"].as_u64();

    for k in [&lyon, &villefranche, &alencon] {
        assert_eq!(held(&k.sync()), None, "nothing published yet");
    }
    let first: u64 = cli(&["survey", "publish", "--org", "pref-69", file.to_str().unwrap()])
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(held(&lyon.sync()), Some(first));
    assert_eq!(held(&villefranche.sync()), Some(first));
    assert_eq!(held(&alencon.sync()), None, "another network's kiosk");
    let text = run_ok(kiosk(&lyon.config, &lyon.data).arg("status"));
    assert!(text.contains(&format!("version {first} reçue, en service au prochain accueil")), "{text}");

    // A version the kiosk's rules refuse, as a platform without the check could serve it.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO survey_versions (organisation_id, body, author, published_at_ms)
         VALUES ('pref-69', '[survey]\ncomment_max_chars = 0\n', 'un script', 0)",
        [],
    )
    .unwrap();
    let bad = conn.last_insert_rowid() as u64;
    let status = lyon.sync();
    assert_eq!(held(&status), Some(first), "the good version stays");
    assert_eq!(status["config_refused"]["version"], bad);
    let why = status["config_refused"]["message"].as_str().unwrap();
    assert!(why.contains("survey.comment_max_chars"), "{why}");
    let text = run_ok(kiosk(&lyon.config, &lyon.data).arg("status"));
    assert!(text.contains(&format!("ATTENTION : version {bad} refusée")), "{text}");

    // Rolled back: the bad version withdrawn, the first one is current again; the refusal is
    // kept until another version is held.
    cli(&["survey", "rollback", "--org", "pref-69"]);
    assert_eq!(held(&lyon.sync()), Some(first));

    // Unreachable while versions changed, then back: the latest version of its network, at once.
    cli(&["survey", "publish", "--site", "orne-alencon", file.to_str().unwrap()]);
    let second: u64 = cli(&["survey", "publish", "--org", "pref-61", file.to_str().unwrap()])
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    cli(&["survey", "rollback", "--site", "orne-alencon"]);
    set_base_url(&alencon.config, &platform.url);
    assert_eq!(held(&alencon.sync()), Some(second));

    // Everything withdrawn for the network: its kiosks go back to their files.
    cli(&["survey", "rollback", "--org", "pref-69"]);
    let status = villefranche.sync();
    assert_eq!(held(&status), None);
    assert!(status["config_refused"].is_null());
}

/// `borne screenshots --questionnaire FILE` draws a version as the kiosk will run it, with the
/// kiosk's own renderer: the question screen changes, the home screen does not; a version the
/// kiosk refuses is an error that says why.
#[test]
fn a_version_is_previewed_with_the_kiosks_own_renderer() {
    let dir = Scratch::new("published-preview");
    let file = dir.path().join("question.toml");
    std::fs::write(&file, QUESTION).unwrap();
    let draw = |name: &str, with: Option<&Path>| {
        let out = dir.path().join(name);
        let mut cmd = borne(&dir.path().join("data"));
        cmd.arg("screenshots").arg(&out);
        if let Some(file) = with {
            cmd.arg("--questionnaire").arg(file);
        }
        run_ok(&mut cmd);
        out.join("800x480")
    };
    let (file_survey, published) = (draw("file", None), draw("published", Some(&file)));
    let read = |dir: &Path, name: &str| std::fs::read(dir.join(name)).unwrap();
    assert_eq!(read(&file_survey, "01-accueil.png"), read(&published, "01-accueil.png"));
    assert_ne!(read(&file_survey, "04-question.png"), read(&published, "04-question.png"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[survey]
comment_max_chars = 0
",
    )
    .unwrap();
    let refused = run_err(
        borne(&dir.path().join("data")).arg("screenshots").arg(dir.path().join("bad")).arg("--questionnaire").arg(&bad),
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("survey.comment_max_chars"), "{refused:?}");
}

fn set_base_url(config: &Path, url: &str) {
    let text = std::fs::read_to_string(config).unwrap().replace("http://127.0.0.1:9", url);
    std::fs::write(config, text).unwrap();
}
