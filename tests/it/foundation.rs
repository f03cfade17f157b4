//! The foundation as a user meets it: `borne rate`, `stats`, `export`, `config`, `db check`,
//! under concurrency, SIGKILL, a full disk and bad input.

use crate::common::*;
use std::collections::HashSet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

fn uuid_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.len() == 36 && uuid::Uuid::parse_str(l).is_ok())
        .map(String::from)
        .collect()
}

#[test]
fn four_concurrent_processes_rate_1000_reviews_and_every_printed_id_is_stored() {
    let dir = Scratch::new("concurrent");
    let data = dir.path().join("data");
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let data = data.clone();
            std::thread::spawn(move || {
                let mut printed = Vec::new();
                for i in 0..250 {
                    let satisfaction = ((w + i) % 3 + 1).to_string();
                    let out = run_ok(borne(&data).args(["rate", "--satisfaction", &satisfaction]));
                    let ids = uuid_lines(&out);
                    assert_eq!(ids.len(), 1, "one id per rate, got {out:?}");
                    printed.extend(ids);
                }
                printed
            })
        })
        .collect();
    let printed: Vec<String> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert_eq!(printed.len(), 1000);
    let printed_set: HashSet<_> = printed.iter().cloned().collect();
    assert_eq!(printed_set.len(), 1000, "ids are unique");
    let stored = stored_ids(&data);
    let stored_set: HashSet<_> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), 1000, "nothing else is stored");
    assert_eq!(stored_set, printed_set);
    let stats = run_ok(borne(&data).args(["stats", "--json"]));
    let json: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(json["indicators"]["reviews"], 1000);
    // Sent: (w + i) % 3 + 1 over w in 0..4, i in 0..250 → 334 « Pas bien », 333 « Moyen »,
    // 333 « Très bien ». The State's mean: (333 × 10 + 333 × 5 + 334 × 0) / 1000 = 4.995 → 5.0,
    // banded as JDMA bands it, on the unrounded mean: under 5, « Pas bien ».
    let dist = &json["indicators"]["satisfaction"]["distribution"];
    let counts: Vec<u64> = (0..3).map(|i| dist[i]["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, [334, 333, 333]);
    assert_eq!(json["indicators"]["satisfaction"]["score"]["value"].as_f64().unwrap(), 5.0);
    assert_eq!(json["indicators"]["satisfaction"]["score"]["band"], "bad");
    assert_eq!(json["indicators"]["jdma"]["satisfaction"]["text"], "5,0 / 10");
    assert_eq!(json["indicators"]["jdma"]["satisfaction"]["band"], "Pas bien");
    let text = run_ok(borne(&data).arg("stats"));
    assert!(text.contains("Satisfaction usager : 5,0 / 10 (Pas bien) — 1000 avis"), "{text}");
    assert!(text.contains("\n  Satisfaction usager : 5,0 / 10 — Pas bien (1000 réponses)\n"), "{text}");
    assert!(text.contains("\n  Niveau d'autonomie : Aucune donnée pour calculer cette note\n"), "{text}");
    assert!(run_ok(borne(&data).args(["db", "check"])).trim_start().starts_with("intégrité : ok"));
}

#[test]
fn sigkill_at_random_moments_loses_no_printed_review_and_never_corrupts() {
    let dir = Scratch::new("sigkill");
    let data = dir.path().join("data");
    let mut rng = Lcg(seed());
    let rate = || {
        borne(&data)
            .args(["rate", "--satisfaction", "2", "--answer", "kiosk_motif=1", "--comment", "attente"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long one uninterrupted run takes here: kills land anywhere from start to just after.
    let started = std::time::Instant::now();
    let mut printed = uuid_lines(&String::from_utf8(rate().wait_with_output().unwrap().stdout).unwrap());
    let run_us = started.elapsed().as_micros() as u64;
    let mut killed = 0;
    for _ in 0..150 {
        let mut child = rate();
        let delay_us = rng.below(run_us * 5 / 4);
        std::thread::sleep(Duration::from_micros(delay_us));
        // SAFETY: plain FFI call; the pid is our own child, not yet reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let status = child.wait().unwrap();
        if status.code().is_none() {
            killed += 1;
        }
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        printed.extend(uuid_lines(&out));
    }
    assert!(killed > 20, "the loop must really kill processes mid-way (killed {killed})");
    assert!(!printed.is_empty(), "some processes must finish before the kill");
    let check = run_ok(borne(&data).args(["db", "check"]));
    assert!(check.contains("intégrité : ok"), "{check}");
    let stored: HashSet<_> = stored_ids(&data).into_iter().collect();
    for id in &printed {
        assert!(stored.contains(id), "printed id {id} is missing from the store");
    }
    // The store stays usable afterwards.
    uuid_lines(&run_ok(borne(&data).args(["rate", "--satisfaction", "3"])));
    eprintln!("{killed} killed, {} printed, {} stored", printed.len(), stored.len());
}

#[test]
fn personal_data_never_reaches_the_disk() {
    let dir = Scratch::new("pii");
    let data = dir.path().join("data");
    let secrets = [
        ("jean.dupont@example.fr", "[courriel]"),
        ("06 12 34 56 78", "[téléphone]"),
        ("+44 20 7946 0958", "[téléphone]"),
        ("1 84 12 76 451 089 46", "[n° de sécurité sociale]"),
        ("FR76 3000 6000 0112 3456 7890 189", "[IBAN]"),
        ("4970 1012 3456 7893", "[carte bancaire]"),
        ("dossier n° 2024-998877", "[référence]"),
    ];
    for (secret, _) in &secrets {
        let comment = format!("Merci de me rappeler, voici : {secret} — le 12/03/2024 à 14h30");
        run_ok(borne(&data).args(["rate", "--satisfaction", "1", "--comment", &comment]));
    }
    // Everything on disk: the database, its WAL, anything else SQLite left there.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let haystack = String::from_utf8_lossy(&bytes);
    for (secret, placeholder) in &secrets {
        let compact: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
        let digits: String = secret.chars().filter(|c| c.is_ascii_digit()).collect();
        assert!(!haystack.contains(secret), "{secret} is on disk");
        assert!(!haystack.contains(&compact), "{compact} is on disk");
        if digits.len() >= 8 {
            assert!(!haystack.contains(&digits), "{digits} is on disk");
        }
        assert!(haystack.contains(placeholder), "placeholder {placeholder} is missing");
    }
    // Dates and hours survive redaction.
    assert!(haystack.contains("le 12/03/2024 à 14h30"));
}

/// Runs a shell script in a private mount namespace as (mapped) root, so a test can mount a
/// tiny tmpfs with or without real root.
fn in_mount_namespace(script: &str) -> std::process::Output {
    Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "--propagation", "private", "sh", "-c", script])
        .env("BORNE", BORNE)
        .env_remove("BORNE_CONFIG")
        .output()
        .expect("unshare (util-linux) runs")
}

#[test]
fn full_disk_gives_a_clear_error_keeps_everything_and_recovers() {
    let dir = Scratch::new("diskfull");
    let script = format!(
        r#"set -u
        M="{dir}/mnt"; mkdir -p "$M"
        mount -t tmpfs -o size=1536k tmpfs "$M" || exit 90
        D="$M/data"
        for i in 1 2 3 4 5; do "$BORNE" --data-dir "$D" rate --satisfaction 3 --comment "avant $i" | sed 's/^/BEFORE /'; done
        dd if=/dev/zero of="$M/filler" bs=4096 2>/dev/null
        dd if=/dev/zero of="$M/filler2" bs=512 2>/dev/null
        "$BORNE" --data-dir "$D" rate --satisfaction 1 --comment "pendant" > "$M/../full.out" 2> "$M/../full.err"
        echo "FULL_RC $?"
        sed 's/^/FULL_STDOUT /' "$M/../full.out"; sed 's/^/FULL_STDERR /' "$M/../full.err"
        "$BORNE" --data-dir "$D" stats --json > /dev/null 2> "$M/../stats.err"; echo "STATS_WHILE_FULL_RC $?"
        sed 's/^/STATS_STDERR /' "$M/../stats.err"
        rm -f "$M/filler" "$M/filler2"
        "$BORNE" --data-dir "$D" db check | sed 's/^/CHECK /'
        "$BORNE" --data-dir "$D" rate --satisfaction 2 --comment "après" | sed 's/^/AFTER /'
        "$BORNE" --data-dir "$D" export --format jsonl | sed 's/^/EXPORT /'
        "#,
        dir = dir.path().display()
    );
    let out = in_mount_namespace(&script);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_ne!(out.status.code(), Some(90), "could not mount a tmpfs: {}", String::from_utf8_lossy(&out.stderr));
    let with = |prefix: &str| -> Vec<String> {
        stdout.lines().filter_map(|l| l.strip_prefix(prefix)).map(String::from).collect()
    };
    let before = with("BEFORE ");
    assert_eq!(before.len(), 5, "{stdout}");
    assert_eq!(with("FULL_RC "), vec!["1"], "{stdout}");
    assert!(with("FULL_STDOUT ").is_empty(), "no id may be printed when the commit failed: {stdout}");
    let err = with("FULL_STDERR ").join("\n");
    assert!(err.contains("disque plein"), "the error says the disk is full: {err}");
    assert!(err.contains("intact"), "the error says nothing stored was lost: {err}");
    // A new process may not even map SQLite's shared-memory file on a full disk; then it says so.
    let stats_rc = with("STATS_WHILE_FULL_RC ");
    let stats_err = with("STATS_STDERR ").join("\n");
    assert!(
        stats_rc == vec!["0"] || (stats_rc == vec!["1"] && stats_err.contains("disque plein")),
        "reading while full works or says why: {stdout}"
    );
    assert!(with("CHECK ").iter().any(|l| l.contains("intégrité : ok")), "{stdout}");
    let after = with("AFTER ");
    assert_eq!(after.len(), 1, "writing resumes when space returns: {stdout}");
    let exported: Vec<serde_json::Value> = with("EXPORT ").iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: HashSet<String> = exported.iter().map(|v| v["client_review_id"].as_str().unwrap().to_string()).collect();
    for id in before.iter().chain(after.iter()) {
        assert!(ids.contains(id.trim()), "{id} lost");
    }
    assert_eq!(exported.len(), 6, "nothing else was stored: {stdout}");
}

#[test]
fn malformed_config_names_the_key_and_line() {
    let dir = Scratch::new("badconfig");
    let bad = dir.path().join("borne.toml");
    std::fs::write(&bad, "[kiosk]\ndevice_id = \"accueil-01\"\n\n[survey]\ncomment_max_chars = \"beaucoup\"\n")
        .unwrap();
    let out = run_err(borne(dir.path()).arg("--config").arg(&bad).arg("stats"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ligne 5"), "{err}");
    assert!(err.contains("survey.comment_max_chars"), "{err}");
    assert!(!dir.path().join("borne.db").exists(), "a bad config creates nothing");

    std::fs::write(&bad, "[kiosk]\ndevice_id = \"accueil-01\"\nlanguage = [\"fr\"]\n").unwrap();
    let out = run_err(borne(dir.path()).args(["config", "check"]).arg(&bad));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ligne 3") && err.contains("kiosk.language"), "{err}");

    // The same file through $BORNE_CONFIG.
    let out = run_err(borne(dir.path()).env("BORNE_CONFIG", &bad).arg("stats"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ligne 3"));

    // A missing explicit file is an error, not a silent fallback to defaults.
    let out = run_err(borne(dir.path()).arg("--config").arg(dir.path().join("absent.toml")).arg("stats"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("absent.toml"));
}

#[test]
fn default_config_round_trips_and_embedded_defaults_need_no_file() {
    let dir = Scratch::new("defaultconfig");
    let text = run_ok(borne(dir.path()).args(["config", "default"]));
    assert!(text.contains("device_id") && text.contains("# token_file"), "every key is shown");
    let file = dir.path().join("borne.toml");
    std::fs::write(&file, &text).unwrap();
    let check = run_ok(borne(dir.path()).args(["config", "check"]).arg(&file));
    assert!(check.contains("configuration valide"), "{check}");
    // With no file at all, the kiosk runs on its embedded configuration.
    let run = kiosk_without_screen(&dir.path().join("data"));
    assert!(run.contains("configuration par défaut intégrée"), "{run}");
    assert!(run.contains("En attente d'envoi"), "{run}");
}

#[test]
fn rate_refuses_bad_input_clearly_and_stores_nothing() {
    let dir = Scratch::new("badrate");
    let data = dir.path().join("data");
    for (args, needle) in [
        (vec!["--satisfaction", "4"], "1 (Pas bien), 2 (Moyen) ou 3 (Très bien)"),
        (vec!["--satisfaction", "3", "--answer", "kiosk_motif=1"], "n'est pas posée après « Très bien »"),
        (vec!["--satisfaction", "1", "--answer", "kiosk_motif=99"], "n'a pas de réponse n° 99"),
        (vec!["--satisfaction", "1", "--answer", "kiosk_motif"], "CODE=NUMÉRO"),
        (vec!["--satisfaction", "1", "--lang", "xx"], "langue « xx »"),
    ] {
        let out = run_err(borne(&data).arg("rate").args(&args));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
    let long = "x".repeat(501);
    let out = run_err(borne(&data).args(["rate", "--satisfaction", "2", "--comment", &long]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dépasse 500 caractères"));
    assert!(!data.exists(), "refused input creates no store");
}

#[test]
fn csv_export_opens_in_a_french_spreadsheet() {
    let dir = Scratch::new("csv");
    let data = dir.path().join("data");
    let first = run_ok(borne(&data).args([
        "rate",
        "--satisfaction",
        "1",
        "--answer",
        "kiosk_motif=1",
        "--answer",
        "kiosk_motif=5",
        "--comment",
        "=SOMME(A1) trop d'attente; vraiment\nDeuxième ligne",
    ]));
    run_ok(borne(&data).args(["rate", "--satisfaction", "3", "--lang", "en"]));
    let csv_path = dir.path().join("export.csv");
    run_ok(borne(&data).args(["export", "--format", "csv", "--output"]).arg(&csv_path));
    let bytes = std::fs::read(&csv_path).unwrap();
    assert!(bytes.starts_with("\u{FEFF}".as_bytes()), "UTF-8 BOM first");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "identifiant");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("identifiant")], first.trim());
    assert_eq!(&rows[0][col("satisfaction_texte")], "Pas bien");
    assert_eq!(&rows[0][col("kiosk_motif")], "L'attente | Les locaux");
    assert_eq!(&rows[0][col("commentaire")], "'=SOMME(A1) trop d'attente; vraiment\nDeuxième ligne");
    assert_eq!(&rows[0][col("statut")], "en attente");
    assert_eq!(&rows[1][col("langue")], "en");
    assert_eq!(&rows[1][col("satisfaction")], "3");

    let today = chrono::Local::now().date_naive();
    let tomorrow = (today + chrono::Duration::days(1)).to_string();
    let none = run_ok(borne(&data).args(["export", "--format", "jsonl", "--since", &tomorrow]));
    assert!(none.is_empty());
    let out = run_err(borne(&data).args(["export", "--since", "14/03/2026"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AAAA-MM-JJ"));
    let pending = run_ok(borne(&data).args(["reviews", "pending"]));
    assert!(pending.contains("2 avis en attente d'envoi"), "{pending}");
    let rejected = run_ok(borne(&data).args(["reviews", "rejected"]));
    assert!(rejected.contains("0 avis rejeté"), "{rejected}");
}

#[test]
fn corrupt_store_is_moved_aside_by_the_kiosk_and_a_new_one_started() {
    let dir = Scratch::new("corrupt");
    let data = dir.path().join("data");
    run_ok(borne(&data).args(["rate", "--satisfaction", "3"]));
    // Overwrite the middle of the file: pages of the tables are damaged.
    let db = data.join("borne.db");
    run_ok(borne(&data).args(["db", "check"]));
    let mut bytes = std::fs::read(&db).unwrap();
    for b in bytes.iter_mut().skip(100) {
        *b = 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    let out = kiosk_without_screen(&data);
    assert!(out.contains("Avis enregistrés : 0"), "{out}");
    let aside: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("borne.db.corrupt-"))
        .collect();
    assert!(!aside.is_empty(), "the damaged file is kept");
    assert_eq!(std::fs::read(aside[0].path()).unwrap(), bytes);
}

/// `borne` (the kiosk) where no screen can be opened: it opens the store as a kiosk does
/// (integrity check, recovery, maintenance), prints its status, then stops with a clear error
/// about the screen. Returns what it printed.
fn kiosk_without_screen(data: &std::path::Path) -> String {
    let out = borne(data)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("SLINT_BACKEND", "winit")
        .output()
        .expect("borne runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("aucun écran utilisable"), "{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
