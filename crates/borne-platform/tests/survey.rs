//! The survey a network or a site publishes to its kiosks (contract 1.2, `GET /v1/survey`),
//! over HTTP with the real binary: published with the CLI (checked by the kiosk's rules), the
//! site's version winning over its network's, 304 for a version the kiosk has, 204 where
//! nothing is published, rollbacks, and what kiosks say of it in their heartbeats.

mod support;

use borne_testkit::Scratch;
use support::*;

both!(a_network_publishes_a_survey_its_kiosks_and_no_others_get, managers_preview_publish_and_withdraw_in_the_console);

const MOTIF: &str = r#"[survey]
[[survey.follow_up]]
code = "kiosk_attente"
label = "Avez-vous attendu plus de 20 minutes ?"
kind = "radio"
items = [{ id = 1, text = "Oui", intention = "bad" }, { id = 2, text = "Non", intention = "good" }]
"#;

fn a_network_publishes_a_survey_its_kiosks_and_no_others_get(postgres: bool) {
    let dir = Scratch::new("survey");
    let backend = Backend::new(postgres, dir.path());
    for (site, org) in [("rhone-lyon", "pref-69"), ("rhone-villefranche", "pref-69"), ("orne-alencon", "pref-61")] {
        cli_ok(&backend, &["sites", "add", site, "--name", site, "--org", org]);
    }
    let token = |device: &str, site: &str| {
        cli_ok(&backend, &["devices", "add", device, "--site", site]).lines().last().unwrap().to_string()
    };
    let lyon = token("borne-lyon", "rhone-lyon");
    let villefranche = token("borne-villefranche", "rhone-villefranche");
    let alencon = token("borne-alencon", "orne-alencon");
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };

    // What the kiosk's rules refuse is refused before anything is published, saying where.
    let refused = cli(
        &backend,
        &["survey", "publish", "--org", "pref-69", &file("bad.toml", "[survey]\ncomment_max_chars = 0\n")],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("survey.comment_max_chars"), "{stderr}");
    let refused =
        cli(&backend, &["survey", "publish", "--org", "pref-69", &file("other.toml", "[kiosk]\nadmin_pin = \"1\"\n")]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("ligne 1") && stderr.contains("[survey]"), "{stderr}");
    let refused = cli(&backend, &["survey", "publish", "--org", "pref-00", &file("motif.toml", MOTIF)]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("réseau « pref-00 » inconnu"), "{refused:?}");
    assert!(!cli(&backend, &["survey", "publish", &file("motif.toml", MOTIF)]).status.success(), "a scope is required");
    let refused = cli(&backend, &["survey", "rollback", "--site", "inconnu"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("site « inconnu » inconnu"), "{refused:?}");

    let published =
        cli_ok(&backend, &["survey", "publish", "--org", "pref-69", &file("motif.toml", MOTIF), "--auteur", "Camille"]);
    let network_version: i64 = published.lines().last().unwrap().parse().unwrap();

    let platform = start_registered(&backend);
    let http = Http::new();
    let ask = |token: &str, device: &str, known: Option<&str>| {
        let mut request = http.client.get(format!("{}/v1/survey?device_id={device}", platform.url)).bearer_auth(token);
        if let Some(known) = known {
            request = request.header("If-None-Match", known);
        }
        http.send(request)
    };
    let (status, _, text) = ask(&lyon, "borne-lyon", None);
    assert_eq!(status, 200, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["version"], network_version);
    assert_eq!(body["survey"], MOTIF, "the text as published");
    assert_eq!(ask(&villefranche, "borne-villefranche", None).0, 200, "every kiosk of the network");
    assert_eq!(ask(&alencon, "borne-alencon", None).0, 204, "another network's kiosk: nothing");
    let tag = format!("\"{network_version}\"");
    assert_eq!(ask(&lyon, "borne-lyon", Some(&tag)).0, 304, "a version the kiosk has");
    assert_eq!(ask(&lyon, "borne-lyon", Some(&format!("\"999999\", {tag}"))).0, 304, "among others");
    assert_eq!(ask(&lyon, "borne-lyon", Some("\"999999\"")).0, 200);
    assert_eq!(ask("pas-le-bon-jeton", "borne-lyon", None).0, 401);
    assert_eq!(ask(&lyon, "borne-villefranche", None).0, 403, "another kiosk's device_id");
    assert_eq!(ask(&lyon, "", None).0, 400);

    // A site's own version wins over its network's, for that site only.
    let site_text = "[survey]\ncomment = false\n";
    let site_version: i64 =
        cli_ok(&backend, &["survey", "publish", "--site", "rhone-lyon", &file("site.toml", site_text)])
            .lines()
            .last()
            .unwrap()
            .parse()
            .unwrap();
    let version_of = |token: &str, device: &str| -> serde_json::Value {
        let (status, _, text) = ask(token, device, None);
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["version"].clone()
    };
    assert_eq!(version_of(&lyon, "borne-lyon"), site_version);
    assert_eq!(version_of(&villefranche, "borne-villefranche"), network_version);

    // A newer network version does not override the site's; rolling the site back does.
    let newer: i64 = cli_ok(&backend, &["survey", "publish", "--org", "pref-69", &file("motif.toml", MOTIF)])
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(version_of(&lyon, "borne-lyon"), site_version);
    assert_eq!(version_of(&villefranche, "borne-villefranche"), newer);
    let rolled = cli_ok(&backend, &["survey", "rollback", "--site", "rhone-lyon", "--auteur", "Camille"]);
    assert!(rolled.contains(&format!("version {site_version} retirée")), "{rolled}");
    assert_eq!(version_of(&lyon, "borne-lyon"), newer);
    let rolled = cli_ok(&backend, &["survey", "rollback", "--org", "pref-69"]);
    assert!(rolled.contains(&format!("la version {network_version} revient")), "{rolled}");
    assert_eq!(version_of(&lyon, "borne-lyon"), network_version);
    cli_ok(&backend, &["survey", "rollback", "--org", "pref-69"]);
    assert_eq!(ask(&lyon, "borne-lyon", None).0, 204, "everything withdrawn: the kiosks' files");
    let none_left = cli(&backend, &["survey", "rollback", "--org", "pref-69"]);
    assert!(String::from_utf8_lossy(&none_left.stderr).contains("aucune version en service"), "{none_left:?}");
    let history = cli_ok(&backend, &["survey", "list", "--org", "pref-69"]);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 2, "{history}");
    assert!(lines[0].starts_with(&newer.to_string()) && lines[0].contains("retirée"), "{history}");
    assert!(lines[1].starts_with(&network_version.to_string()) && lines[1].contains("Camille"), "{history}");

    // What a kiosk says in its heartbeat: the version it runs, the one it refused and why.
    let beat = |body: serde_json::Value| {
        http.send(
            http.client
                .post(format!("{}/v1/heartbeats", platform.url))
                .bearer_auth(&lyon)
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        )
        .0
    };
    let heartbeat = |extra: serde_json::Value| {
        let mut body = serde_json::json!({"device_id": "borne-lyon", "app_version": "borne/0.1.0", "pending": 0});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    assert_eq!(
        beat(heartbeat(
            serde_json::json!({"config_version": network_version, "config_refused": {"version": newer, "message": "clé « survey.follow_up[0].code » : en double"}})
        )),
        204
    );
    let devices: serde_json::Value = serde_json::from_str(&cli_ok(&backend, &["devices", "list"])).unwrap();
    let lyon_device = devices.as_array().unwrap().iter().find(|d| d["id"] == "borne-lyon").unwrap().clone();
    assert_eq!(lyon_device["config_version"], network_version);
    assert_eq!(lyon_device["config_refused"][0], newer);
    assert!(lyon_device["config_refused"][1].as_str().unwrap().contains("en double"));
    for (bad, why) in [
        (serde_json::json!({"config_version": -1}), "a negative version"),
        (serde_json::json!({"config_refused": {"version": 1, "message": "x".repeat(501)}}), "a message too long"),
        (serde_json::json!({"config_refused": {"version": 1, "message": "a\u{0}b"}}), "a control character"),
        (serde_json::json!({"config_refused": {"version": 1}}), "no message"),
    ] {
        assert_eq!(beat(heartbeat(bad)), 400, "{why}");
    }
    // A kiosk of version 1.1 says nothing of it: what it said before is cleared.
    assert_eq!(beat(heartbeat(serde_json::json!({}))), 204);
    let devices: serde_json::Value = serde_json::from_str(&cli_ok(&backend, &["devices", "list"])).unwrap();
    let lyon_device = devices.as_array().unwrap().iter().find(|d| d["id"] == "borne-lyon").unwrap().clone();
    assert!(lyon_device["config_version"].is_null() && lyon_device["config_refused"].is_null(), "{lyon_device}");
}

const PASSWORD: &str = "un mot de passe assez long";

/// The console's « Questionnaire »: a network's manager previews a version (nothing published),
/// is told what the kiosk's rules refuse with the text kept, publishes, sees which version each
/// kiosk runs, and withdraws it; a site's manager cannot reach the network's; forms need their
/// token.
fn managers_preview_publish_and_withdraw_in_the_console(postgres: bool) {
    let dir = Scratch::new("survey-console");
    let backend = Backend::new(postgres, dir.path());
    for (site, org) in [("rhone-lyon", "pref-69"), ("orne-alencon", "pref-61")] {
        cli_ok(&backend, &["sites", "add", site, "--name", &format!("Accueil {site}"), "--org", org]);
    }
    let lyon =
        cli_ok(&backend, &["devices", "add", "borne-lyon", "--site", "rhone-lyon"]).lines().last().unwrap().to_string();
    for (email, role) in [
        ("camille@rhone.gouv.fr", ["--role", "network", "--org", "pref-69"]),
        ("dom@orne.gouv.fr", ["--role", "site", "--site", "orne-alencon"]),
    ] {
        let mut args = vec!["accounts", "add", email, "--name", "Responsable", "--password"];
        args.extend(role);
        cli_stdin(&backend, &args, &format!("{PASSWORD}\n"));
    }
    let platform = start_registered(&backend);
    let http = Http::new();
    let camille = Signed::new(&http, &platform.url, "camille@rhone.gouv.fr", PASSWORD);
    let dom = Signed::new(&http, &platform.url, "dom@orne.gouv.fr", PASSWORD);
    let get = |who: &Signed, path: &str| who.get(path);
    let post = |who: &Signed, path: &str, form: &[(&str, &str)]| who.post(path, form);
    let published =
        || http.send(http.client.get(format!("{}/v1/survey?device_id=borne-lyon", platform.url)).bearer_auth(&lyon)).0;

    let (status, page) = get(&camille, "/console/questionnaire");
    assert_eq!(status, 200);
    assert!(page.contains("Réseau pref-69") && page.contains("Site Accueil rhone-lyon"), "{page}");
    assert!(page.contains("kiosk_motif"), "the default survey to start from: {page}");
    assert!(page.contains("Aucune version publiée"), "{page}");
    assert!(!page.contains("orne-alencon"), "another network's site is not offered");
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    let (status, _, page) = post(
        &camille,
        "/console/questionnaire",
        &[("csrf", &csrf), ("reseau", "pref-69"), ("texte", MOTIF), ("action", "apercu")],
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Aperçu : rien n'est publié"), "{page}");
    assert!(page.contains("Avez-vous attendu plus de 20 minutes ?"), "the question, as asked: {page}");
    assert!(page.contains("Oui · Non"), "{page}");
    assert_eq!(published(), 204, "a preview publishes nothing");

    let bad = "[survey]\ncomment_max_chars = 0\n";
    let (status, _, page) = post(
        &camille,
        "/console/questionnaire",
        &[("csrf", &csrf), ("reseau", "pref-69"), ("texte", bad), ("action", "publier")],
    );
    assert_eq!(status, 400);
    assert!(page.contains("Version non publiée") && page.contains("survey.comment_max_chars"), "{page}");
    assert!(page.contains("comment_max_chars = 0"), "the text typed is kept: {page}");
    assert_eq!(published(), 204);

    let (status, _, _) = post(
        &camille,
        "/console/questionnaire",
        &[("csrf", "faux"), ("reseau", "pref-69"), ("texte", MOTIF), ("action", "publier")],
    );
    assert_eq!(status, 403, "a form without its token");
    let (status, _, _) = post(
        &dom,
        "/console/questionnaire",
        &[("csrf", &csrf), ("reseau", "pref-69"), ("texte", MOTIF), ("action", "publier")],
    );
    assert_eq!(status, 403, "another session's token");
    let dom_csrf = {
        let (_, page) = get(&dom, "/console/questionnaire");
        page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string()
    };
    for scope in [("reseau", "pref-69"), ("site", "rhone-lyon"), ("reseau", "pref-61")] {
        let (status, _, _) = post(
            &dom,
            "/console/questionnaire",
            &[("csrf", &dom_csrf), scope, ("texte", MOTIF), ("action", "publier")],
        );
        assert_eq!(status, 404, "a site's manager and {scope:?}");
    }
    assert_eq!(get(&dom, "/console/questionnaire?reseau=pref-69").0, 404);
    assert_eq!(published(), 204);

    let (status, location, _) = post(
        &camille,
        "/console/questionnaire",
        &[("csrf", &csrf), ("reseau", "pref-69"), ("texte", &MOTIF.replace('\n', "\r\n")), ("action", "publier")],
    );
    assert_eq!(status, 303);
    let location = location.unwrap();
    let version: i64 = location.split("publie=").nth(1).unwrap().parse().unwrap();
    assert_eq!(published(), 200);
    let answer =
        http.send(http.client.get(format!("{}/v1/survey?device_id=borne-lyon", platform.url)).bearer_auth(&lyon)).2;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&answer).unwrap()["survey"],
        MOTIF,
        "line ends as a kiosk's file has them"
    );

    // The kiosk says it runs it.
    let beat = serde_json::json!({"device_id": "borne-lyon", "app_version": "borne/0.1.0", "pending": 0, "config_version": version});
    let sent = http.send(
        http.client
            .post(format!("{}/v1/heartbeats", platform.url))
            .bearer_auth(&lyon)
            .header("Content-Type", "application/json")
            .body(beat.to_string()),
    );
    assert_eq!(sent.0, 204);
    let (status, page) = get(&camille, &location);
    assert_eq!(status, 200);
    assert!(page.contains(&format!("Version {version} publiée")), "{page}");
    assert!(page.contains(&format!("version {version}")) && page.contains("borne-lyon"), "the kiosk runs it: {page}");
    assert!(page.contains("en service") && page.contains("Responsable (camille@rhone.gouv.fr)"), "the history: {page}");
    let (_, fleet) = get(&camille, "/console/bornes");
    assert!(fleet.contains("Questionnaire") && fleet.contains(&format!("version {version}")), "{fleet}");

    let (status, location, _) =
        post(&camille, "/console/questionnaire/retour", &[("csrf", &csrf), ("reseau", "pref-69")]);
    assert_eq!(status, 303);
    assert!(location.unwrap().ends_with(&format!("retire={version}")));
    assert_eq!(published(), 204, "withdrawn: the kiosks' files again");
    let (status, _, page) = post(&camille, "/console/questionnaire/retour", &[("csrf", &csrf), ("reseau", "pref-69")]);
    assert_eq!(status, 400, "nothing left to withdraw: {page}");
}
