//! System updates rolled out in rings (contract 1.2, `GET /v1/update`), with the real binary
//! and three simulated kiosks of one network (and one of another): releases registered with the
//! CLI, the first ring alone offered the version, the next ring once the first confirmed in its
//! heartbeats, and the rollout halting by itself when the second ring's kiosk gives the version
//! up, when a ring stays unconfirmed past its wait, or when a kiosk goes silent after
//! installing. Time is simulated hour by hour over days: heartbeats are stored at the simulated
//! hour and `rollout::tick` decides at it, as the server does each minute.

mod support;

use borne_model::release::SystemState;
use borne_model::wire::Heartbeat;
use borne_platform::rollout::{self, Decision};
use borne_platform::storage::Storage;
use borne_testkit::Scratch;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use support::*;

both!(a_rollout_goes_ring_by_ring_and_halts_by_itself, managers_start_halt_and_watch_rollouts_in_the_console);

fn heartbeat(device: &str, system: SystemState) -> Heartbeat {
    let mut hb: Heartbeat =
        serde_json::from_value(serde_json::json!({"device_id": device, "app_version": "borne/0.3.0", "pending": 0}))
            .unwrap();
    hb.system = Some(system);
    hb
}

fn running(version: &str) -> SystemState {
    SystemState { version: version.into(), pending: None, rejected: vec![] }
}

/// Each kiosk's ring (from 1) in rollout `id`, as `rollout list --json` says.
fn rings_of(backend: &Backend, id: i64) -> Vec<(u64, String)> {
    let list: serde_json::Value = serde_json::from_str(&cli_ok(backend, &["rollout", "list", "--json"])).unwrap();
    let rollout = list.as_array().unwrap().iter().find(|r| r["id"] == id).unwrap();
    rollout["kiosks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["ring"].as_u64().unwrap(), k["device_id"].as_str().unwrap().to_string()))
        .collect()
}

/// The one kiosk of ring `n`.
fn kiosk_of(rings: &[(u64, String)], n: u64) -> String {
    let found: Vec<&String> = rings.iter().filter(|(r, _)| *r == n).map(|(_, d)| d).collect();
    assert_eq!(found.len(), 1, "ring {n}: {rings:?}");
    found[0].clone()
}

/// A rollout to pref-69 begun at the simulated `now`.
async fn start_at(storage: &Storage, version: &str, rings: &str, wait_h: i64, now: DateTime<Utc>) -> i64 {
    let scope = borne_platform::storage::surveys::SurveyScope::Organisation("pref-69".into());
    let request =
        rollout::Request { scope, version: version.into(), rings: rings.into(), wait_h, by: "Camille".into() };
    rollout::start(storage, request, now).await.unwrap()
}

/// Hour by hour from `from` for `hours`: `beat(hour)` says what each kiosk sends that hour
/// (`None`: nothing); the first decision that changes the rollout is returned with its hour.
async fn run_hours(
    storage: &Storage,
    from: DateTime<Utc>,
    hours: i64,
    beat: impl Fn(i64) -> Vec<(String, Option<SystemState>)>,
) -> Option<(i64, Decision)> {
    for hour in 0..hours {
        let now = from + Duration::hours(hour);
        for (device, system) in beat(hour) {
            if let Some(system) = system {
                storage.store_heartbeat(&heartbeat(&device, system), now).await.unwrap();
            }
        }
        let links = borne_platform::notify::Links { public_url: "https://borne.example".into() };
        if let Some((_, decision)) = rollout::tick(storage, Some(&links), now).await.unwrap().into_iter().next() {
            return Some((hour, decision));
        }
    }
    None
}

fn a_rollout_goes_ring_by_ring_and_halts_by_itself(postgres: bool) {
    let dir = Scratch::new("rollout");
    let backend = Backend::new(postgres, dir.path());
    for (site, org) in [("rhone-lyon", "pref-69"), ("rhone-villefranche", "pref-69"), ("orne-alencon", "pref-61")] {
        cli_ok(&backend, &["sites", "add", site, "--name", site, "--org", org]);
    }
    let mut tokens = HashMap::new();
    for (device, site) in [
        ("borne-lyon-1", "rhone-lyon"),
        ("borne-lyon-2", "rhone-lyon"),
        ("borne-villefranche", "rhone-villefranche"),
        ("borne-alencon", "orne-alencon"),
    ] {
        let token = cli_ok(&backend, &["devices", "add", device, "--site", site]).lines().last().unwrap().to_string();
        tokens.insert(device.to_string(), token);
    }

    // Managers who take alerts: the network's hears of a halt, another network's does not.
    for (email, org) in [("camille@rhone.gouv.fr", "pref-69"), ("lea@orne.gouv.fr", "pref-61")] {
        let args = ["accounts", "add", email, "--name", "Responsable", "--password", "--role", "network", "--org", org];
        cli_stdin(&backend, &args, &format!("{PASSWORD}\n"));
    }

    // Releases: a file that is no signed bundle, or an address that is no bundle's, is refused.
    let url = |v: &str| format!("https://maj.example/borne/borne-{v}.raucb");
    let not_a_bundle = dir.path().join("notes.txt");
    std::fs::write(&not_a_bundle, "pas un paquet").unwrap();
    let refused = cli(
        &backend,
        &["release", "add", not_a_bundle.to_str().unwrap(), "--version", "0.3.0", "--url", &url("0.3.0")],
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pas un paquet RAUC"), "{refused:?}");
    let file = bundle(dir.path(), "b030.raucb", b"systeme 0.3.0");
    let refused = cli(&backend, &["release", "add", &file, "--version", "0.3.0", "--url", "ftp://x/b.raucb"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("adresse de paquet"), "{refused:?}");
    let added = cli_ok(&backend, &["release", "add", &file, "--version", "0.3.0", "--url", &url("0.3.0")]);
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(added.contains(&format!("{size} octets")), "{added}");
    let again = cli(&backend, &["release", "add", &file, "--version", "0.3.0", "--url", &url("0.3.0")]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("déjà enregistrée"), "{again:?}");
    for v in ["0.3.1", "0.4.0"] {
        cli_ok(&backend, &["release", "add", &bundle(dir.path(), v, v.as_bytes()), "--version", v, "--url", &url(v)]);
    }

    let platform = start_registered(&backend);
    let http = Http::new();
    let offered = |device: &str| -> Option<serde_json::Value> {
        let request =
            http.client.get(format!("{}/v1/update?device_id={device}", platform.url)).bearer_auth(&tokens[device]);
        match http.send(request) {
            (200, _, text) => Some(serde_json::from_str(&text).unwrap()),
            (204, _, _) => None,
            (status, _, text) => panic!("{device}: HTTP {status} {text}"),
        }
    };
    // The system a kiosk runs travels in its heartbeat; a malformed one is refused.
    let post = |device: &str, body: serde_json::Value| {
        let request =
            http.client.post(format!("{}/v1/heartbeats", platform.url)).bearer_auth(&tokens[device]).json(&body);
        http.send(request).0
    };
    let beat = serde_json::json!({"device_id": "borne-lyon-1", "app_version": "borne/0.2.0", "pending": 0,
        "system": {"version": "0.2.0", "rejected": ["0.1.9"]}});
    assert_eq!(post("borne-lyon-1", beat.clone()), 204);
    let mut bad = beat.clone();
    bad["system"]["version"] = "0 2".into();
    assert_eq!(post("borne-lyon-1", bad), 400);

    // Only what a manager may start: a known version, a scope with kiosks, rings that parse.
    let refused = cli(&backend, &["rollout", "start", "--org", "pref-69", "9.9.9"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("version 9.9.9 inconnue"), "{refused:?}");
    let refused = cli(&backend, &["rollout", "start", "--org", "pref-00", "0.3.0"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("« pref-00 » inconnu"), "{refused:?}");
    let refused = cli(&backend, &["rollout", "start", "--org", "pref-69", "0.3.0", "--anneaux", "10%,1"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("anneaux « 10%,1 » invalides"), "{refused:?}");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let storage = runtime.block_on(Storage::open(&backend.target())).unwrap();
    let devices = runtime.block_on(storage.devices()).unwrap();
    let said = devices.iter().find(|d| d.id == "borne-lyon-1").and_then(|d| d.system.clone());
    assert_eq!(said, Some(SystemState { version: "0.2.0".into(), pending: None, rejected: vec!["0.1.9".into()] }));

    // 1. Three kiosks, rings « 1,10%,100% »: one kiosk each. The second ring's kiosk gives the
    //    version up (its trial boot failed): the rollout halts by itself and offers nothing more.
    let first: i64 =
        cli_ok(&backend, &["rollout", "start", "--org", "pref-69", "0.3.0"]).lines().last().unwrap().parse().unwrap();
    // Whole seconds: the engines keep instants to the millisecond.
    let t0 = chrono::SubsecRound::trunc_subsecs(Utc::now(), 0);
    let overlapping = cli(&backend, &["rollout", "start", "--site", "rhone-lyon", "0.4.0"]);
    assert!(String::from_utf8_lossy(&overlapping.stderr).contains("touche déjà ces bornes"), "{overlapping:?}");
    let rings = rings_of(&backend, first);
    let (a, b, c) = (kiosk_of(&rings, 1), kiosk_of(&rings, 2), kiosk_of(&rings, 3));
    let ring = HashMap::from([(1, a.clone()), (2, b.clone()), (3, c.clone())]);
    let offered_ring = |n: u64| offered(&ring[&n]).map(|m| m["version"].as_str().unwrap().to_string());
    let manifest = offered(&a).expect("the first ring is offered the version");
    assert_eq!(manifest["bundle"], url("0.3.0"));
    assert_eq!(manifest["size"], size);
    assert_eq!(manifest["sha256"].as_str().unwrap().len(), 64);
    assert_eq!((offered_ring(2), offered_ring(3)), (None, None), "the next rings wait");
    assert_eq!(offered("borne-alencon"), None, "another network's kiosk is never offered it");

    // The first ring's kiosk installs it in the night (hour 3) and says so: ring 2 begins.
    let old = || Some(running("0.2.0"));
    let (hour, decision) = runtime
        .block_on(run_hours(&storage, t0, 24, |h| {
            vec![
                (a.clone(), if h >= 3 { Some(running("0.3.0")) } else { old() }),
                (b.clone(), old()),
                (c.clone(), old()),
            ]
        }))
        .expect("the first ring confirms");
    assert_eq!((hour, decision), (3, Decision::Advance));
    assert_eq!(offered_ring(2).as_deref(), Some("0.3.0"), "the second ring is offered it now");
    assert_eq!(offered_ring(3), None);

    // The second ring's kiosk fails its trial boot the next night (hour 26 after ring 2 began).
    let failed = SystemState { version: "0.2.0".into(), pending: None, rejected: vec!["0.3.0".into()] };
    let ring2_from = t0 + Duration::hours(3);
    let (hour, decision) = runtime
        .block_on(run_hours(&storage, ring2_from, 72, |h| {
            let b_says = if h >= 26 { Some(failed.clone()) } else { old() };
            vec![(a.clone(), Some(running("0.3.0"))), (b.clone(), b_says), (c.clone(), old())]
        }))
        .expect("the rollout halts");
    assert_eq!(hour, 26, "halted at the first decision after the failure");
    let Decision::Halt(reason) = decision else { panic!("{decision:?}") };
    assert!(reason.contains(&format!("anneau 2 : la borne {b} a abandonné la version 0.3.0")), "{reason}");
    for n in [1, 2, 3] {
        assert_eq!(offered_ring(n), None, "a halted rollout offers nothing (ring {n})");
    }
    let mail = runtime.block_on(storage.claim_mail(t0 + Duration::days(30))).unwrap().expect("the halt is mailed");
    assert_eq!(mail.recipient, "camille@rhone.gouv.fr");
    assert_eq!(mail.subject, format!("[Borne] Déploiement {first} arrêté : version 0.3.0"));
    assert!(
        mail.body.contains(&reason) && mail.body.contains("https://borne.example/console/mises-a-jour"),
        "{}",
        mail.body
    );
    assert!(runtime.block_on(storage.claim_mail(t0 + Duration::days(30))).unwrap().is_none(), "one mail, to her only");
    let list = cli_ok(&backend, &["rollout", "list"]);
    assert!(
        list.contains(&format!("déploiement {first} : version 0.3.0 pour le réseau « pref-69 », arrêté (anneau 2"))
    );
    assert!(list.contains(&format!("{a}\tanneau 1\tversion 0.3.0\tinstallée et confirmée")), "{list}");
    assert!(list.contains(&format!("{b}\tanneau 2\tversion 0.2.0\tabandonnée par la borne")), "{list}");
    assert!(list.contains(&format!("{c}\tanneau 3\tversion 0.2.0\tpas encore son tour")), "{list}");

    // A manager resumes it: the kiosk still gives it up, so it halts again at once; then stops it.
    cli_ok(&backend, &["rollout", "resume", &first.to_string(), "--auteur", "Camille"]);
    assert_eq!(offered_ring(2).as_deref(), Some("0.3.0"));
    let again = runtime.block_on(rollout::tick(&storage, None, ring2_from + Duration::hours(30))).unwrap();
    assert!(matches!(&again[..], [(id, Decision::Halt(_))] if *id == first), "{again:?}");
    cli_ok(&backend, &["rollout", "stop", &first.to_string()]);
    let refused = cli(&backend, &["rollout", "halt", &first.to_string()]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("est abandonné"), "{refused:?}");

    // 2. A ring that stays unconfirmed past its wait (12 h here) halts, naming its kiosks; the
    //    kiosk that went quiet is named with its silence.
    let t1 = t0 + Duration::days(5);
    let second = runtime.block_on(start_at(&storage, "0.3.1", "1,10%,100%", 12, t1));
    let rings = rings_of(&backend, second);
    let (a, b, c) = (kiosk_of(&rings, 1), kiosk_of(&rings, 2), kiosk_of(&rings, 3));
    let (hour, decision) = runtime
        .block_on(run_hours(&storage, t1, 48, |h| {
            let b_says = if h < 4 { old() } else { None };
            vec![
                (a.clone(), Some(running(if h >= 2 { "0.3.1" } else { "0.2.0" }))),
                (b.clone(), b_says),
                (c.clone(), old()),
            ]
        }))
        .unwrap();
    assert_eq!((hour, &decision), (2, &Decision::Advance));
    let (hour, decision) = runtime
        .block_on(run_hours(&storage, t1 + Duration::hours(2), 48, |h| {
            let b_says = if h < 2 { old() } else { None };
            vec![(a.clone(), Some(running("0.3.1"))), (b.clone(), b_says), (c.clone(), old())]
        }))
        .unwrap();
    assert_eq!(hour, 12, "halted when the ring's 12 hours are over");
    let Decision::Halt(reason) = decision else { panic!("{decision:?}") };
    assert!(
        reason.contains(&format!(
            "anneau 2 : 1 borne(s) sans confirmation après 12 h : {b} (version 0.2.0, dernier signe de vie il y a 11 h)"
        )),
        "{reason}"
    );
    cli_ok(&backend, &["rollout", "stop", &second.to_string()]);

    // 3. Every ring confirms: done, and every kiosk of the network is offered it, a new one too;
    //    before that, the first kiosk goes silent after installing it, which halts it.
    let t2 = t0 + Duration::days(10);
    let third = runtime.block_on(start_at(&storage, "0.4.0", "1,100%", 48, t2));
    let rings = rings_of(&backend, third);
    let a = kiosk_of(&rings, 1);
    let others: Vec<String> = rings.iter().filter(|(r, _)| *r == 2).map(|(_, d)| d.clone()).collect();
    assert_eq!(others.len(), 2, "{rings:?}");
    let (hour, decision) = runtime
        .block_on(run_hours(&storage, t2, 48, |h| {
            let mut beats =
                vec![(a.clone(), if h < 10 { Some(running(if h >= 1 { "0.4.0" } else { "0.3.1" })) } else { None })];
            beats.extend(others.iter().map(|d| (d.clone(), Some(running("0.3.1")))));
            beats
        }))
        .unwrap();
    assert_eq!((hour, decision), (1, Decision::Advance));
    let (hour, decision) = runtime
        .block_on(run_hours(&storage, t2 + Duration::hours(1), 48, |_| {
            others.iter().map(|d| (d.clone(), Some(running("0.3.1")))).collect()
        }))
        .unwrap();
    // The first kiosk's last heartbeat was at hour 0 of this span; silent for more than 6 h.
    assert_eq!(hour, 7, "halted once the first kiosk is silent for more than 6 h: {decision:?}");
    let Decision::Halt(reason) = decision else { panic!("{decision:?}") };
    assert!(reason.contains(&format!("anneau 1 : la borne {a} ne donne plus signe de vie depuis 7 h")), "{reason}");
    // The kiosk was only unplugged: a manager resumes, and the second ring installs in 5 h.
    let t3 = t2 + Duration::hours(9);
    let halted = runtime.block_on(rollout::find(&storage, third)).unwrap();
    runtime.block_on(rollout::act(&storage, &halted, rollout::Action::Resume, "Camille", t3)).unwrap();
    let (hour, decision) = runtime
        .block_on(run_hours(&storage, t3, 48, |h| {
            let version = |d: &String| if h >= 5 || *d == a { "0.4.0" } else { "0.3.1" };
            rings.iter().map(|(_, d)| (d.clone(), Some(running(version(d))))).collect()
        }))
        .unwrap();
    assert_eq!((hour, decision), (5, Decision::Done));
    let token = cli_ok(&backend, &["devices", "add", "borne-lyon-3", "--site", "rhone-lyon"])
        .lines()
        .last()
        .unwrap()
        .to_string();
    let request = http.client.get(format!("{}/v1/update?device_id=borne-lyon-3", platform.url)).bearer_auth(&token);
    let (status, _, text) = http.send(request);
    assert_eq!(status, 200, "a kiosk added after the rollout ended is offered it: {text}");
    assert!(text.contains("\"0.4.0\""), "{text}");
    assert_eq!(offered("borne-alencon"), None);

    // Updates only go forward.
    let refused = cli(&backend, &["rollout", "start", "--org", "pref-69", "0.3.1"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("n'est pas plus récente que la 0.4.0"), "{refused:?}");
}

const PASSWORD: &str = "un mot de passe assez long";

fn managers_start_halt_and_watch_rollouts_in_the_console(postgres: bool) {
    let dir = Scratch::new("rollout-console");
    let backend = Backend::new(postgres, dir.path());
    for (site, org) in [("rhone-lyon", "pref-69"), ("orne-alencon", "pref-61")] {
        cli_ok(&backend, &["sites", "add", site, "--name", &format!("Accueil {site}"), "--org", org]);
    }
    let lyon = cli_ok(&backend, &["devices", "add", "borne-lyon-1", "--site", "rhone-lyon"])
        .lines()
        .last()
        .unwrap()
        .to_string();
    cli_ok(&backend, &["devices", "add", "borne-lyon-2", "--site", "rhone-lyon"]);
    cli_ok(&backend, &["devices", "add", "borne-alencon", "--site", "orne-alencon"]);
    let file = bundle(dir.path(), "b.raucb", b"0.3.0");
    cli_ok(&backend, &["release", "add", &file, "--version", "0.3.0", "--url", "https://maj.example/b-0.3.0.raucb"]);
    for (email, role) in [
        ("camille@rhone.gouv.fr", ["--role", "network", "--org", "pref-69"]),
        ("lea@orne.gouv.fr", ["--role", "network", "--org", "pref-61"]),
        ("sam@rhone.gouv.fr", ["--role", "site", "--site", "rhone-lyon"]),
    ] {
        let mut args = vec!["accounts", "add", email, "--name", "Responsable", "--password"];
        args.extend(role);
        cli_stdin(&backend, &args, &format!("{PASSWORD}\n"));
    }
    let platform = start_registered(&backend);
    let http = Http::new();
    let signed = |email: &str| Signed::new(&http, &platform.url, email, PASSWORD);
    let (camille, lea, sam) =
        (signed("camille@rhone.gouv.fr"), signed("lea@orne.gouv.fr"), signed("sam@rhone.gouv.fr"));
    let get = |who: &Signed, path: &str| who.get(path);
    // Each form with the page's CSRF token.
    let post = |who: &Signed, form: &[(&str, &str)]| {
        let page = who.get("/console/mises-a-jour").1;
        let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let mut form = form.to_vec();
        form.push(("csrf", &csrf));
        who.post("/console/mises-a-jour", &form)
    };

    let (status, page) = get(&camille, "/console/mises-a-jour");
    assert_eq!(status, 200);
    assert!(page.contains("Déployer une version") && page.contains("<option value=\"0.3.0\">"), "{page}");
    assert!(page.contains("Aucun déploiement ne touche vos bornes."), "{page}");
    assert!(!page.contains("orne-alencon"), "another network is not offered: {page}");

    // Mistakes are said; nothing starts.
    let start = |who: &Signed, portee: &str, anneaux: &str, delai: &str| {
        post(
            who,
            &[("action", "demarrer"), ("portee", portee), ("version", "0.3.0"), ("anneaux", anneaux), ("delai", delai)],
        )
    };
    let (status, _, page) = start(&camille, "reseau=pref-69", "10%,1", "48");
    assert!(status == 400 && page.contains("anneaux « 10%,1 » invalides"), "{status} {page}");
    let (status, _, page) = start(&camille, "reseau=pref-69", "1,100%", "deux jours");
    assert!(status == 400 && page.contains("Délai « deux jours »"), "{status} {page}");
    assert_eq!(start(&camille, "reseau=pref-61", "1,100%", "48").0, 404, "another network: as unknown");
    assert_eq!(start(&sam, "site=rhone-lyon", "1,100%", "48").0, 403, "a site's manager does not start one");
    assert_eq!(get(&camille, "/v1/update?device_id=borne-lyon-1").0, 401, "the kiosks' route wants a kiosk's token");

    let (status, location, _) = start(&camille, "reseau=pref-69", "1,100%", "48");
    assert_eq!((status, location.as_deref()), (303, Some("/console/mises-a-jour?fait=demarre")));
    let (_, page) = get(&camille, "/console/mises-a-jour?fait=demarre");
    assert!(page.contains("Déploiement commencé"), "{page}");
    assert!(page.contains("Déploiement 1 : version 0.3.0 pour le réseau « pref-69 »"), "{page}");
    assert!(page.contains("<strong>en cours</strong> — anneau 1 sur 2"), "{page}");
    assert!(page.contains("proposée, pas encore installée") && page.contains("pas encore son tour"), "{page}");
    // The site's manager watches it; another network's manager does not see it nor touch it.
    let (status, page) = get(&sam, "/console/mises-a-jour");
    assert!(status == 200 && page.contains("Déploiement 1") && !page.contains("Déployer une version"), "{page}");
    assert!(get(&lea, "/console/mises-a-jour").1.contains("Aucun déploiement ne touche vos bornes."));
    assert_eq!(post(&lea, &[("action", "arreter"), ("id", "1")]).0, 404);
    assert_eq!(post(&camille, &[("action", "arreter"), ("id", "999")]).0, 404);

    // What the kiosk says of its system shows on the fleet page and in its CSV.
    let beat = serde_json::json!({"device_id": "borne-lyon-1", "app_version": "borne/0.2.0", "pending": 0,
        "system": {"version": "0.2.0", "pending": "0.3.0"}});
    let request = http.client.post(format!("{}/v1/heartbeats", platform.url)).bearer_auth(&lyon).json(&beat);
    assert_eq!(http.send(request).0, 204);
    let fleet = get(&camille, "/console/bornes").1;
    assert!(fleet.contains("<th scope=\"col\">Système</th>"), "{fleet}");
    assert!(fleet.contains("0.2.0 (0.3.0 installée, en attente de redémarrage)"), "{fleet}");
    assert!(get(&camille, "/console/bornes.csv").1.contains("0.2.0 (0.3.0 installée"));

    // Halt, resume, stop.
    for (action, done, state) in
        [("arreter", "arrete", "arrêté"), ("reprendre", "repris", "en cours"), ("abandonner", "abandonne", "abandonné")]
    {
        let (status, location, _) = post(&camille, &[("action", action), ("id", "1")]);
        assert_eq!((status, location), (303, Some(format!("/console/mises-a-jour?fait={done}"))));
        let page = get(&camille, "/console/mises-a-jour").1;
        assert!(page.contains(&format!("<strong>{state}</strong>")), "{action}: {page}");
    }
    let page = get(&camille, "/console/mises-a-jour").1;
    assert!(page.contains("abandonné par Responsable (camille@rhone.gouv.fr)"), "{page}");
    let (status, _, page) = post(&camille, &[("action", "reprendre"), ("id", "1")]);
    assert!(status == 400 && page.contains("le déploiement 1 est abandonné"), "{status} {page}");
}
