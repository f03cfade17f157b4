//! Forwarding to « Je donne mon avis », against the stand-in written from JDMA's code
//! (`borne-jdma-standin`): kiosks upload to the real platform binary, and the forwarder runs on
//! a clock the test walks through hours and days (the stand-in's clock walks with it).

mod support;

use borne_jdma_standin::{JdmaStandIn, Settings, StoredReview};
use borne_platform::config::JdmaConfig;
use borne_platform::jdma::Forwarder;
use borne_platform::storage::Storage;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use support::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn jdma_config(standin: &JdmaStandIn, creates_per_hour: u32) -> JdmaConfig {
    JdmaConfig {
        form_url: standin.form_url(),
        api_url: Some(standin.api_url()),
        api_key_file: None,
        creates_per_hour,
        timeout: std::time::Duration::from_secs(2),
    }
}

/// A clock shared by the forwarders and the stand-in.
struct Walk {
    at: Arc<Mutex<DateTime<Utc>>>,
    standin: borne_jdma_standin::Clock,
}

impl Walk {
    /// The walks start tomorrow at 09:00 UTC: after the uploads the platform dates with the real
    /// clock, and far enough from midnight that a day's forwarding stays within its UTC day.
    fn start() -> DateTime<Utc> {
        let tomorrow = Utc::now().date_naive().succ_opt().unwrap();
        tomorrow.and_hms_opt(9, 0, 0).unwrap().and_utc()
    }

    fn new(standin: &JdmaStandIn, start: DateTime<Utc>) -> Walk {
        let walk = Walk { at: Arc::new(Mutex::new(start)), standin: standin.clock() };
        walk.standin.set(start);
        walk
    }

    fn clock(&self) -> borne_platform::jdma::Clock {
        let at = self.at.clone();
        Arc::new(move || *at.lock().unwrap())
    }

    fn now(&self) -> DateTime<Utc> {
        *self.at.lock().unwrap()
    }

    fn advance(&self, by: Duration) {
        let mut at = self.at.lock().unwrap();
        *at += by;
        self.standin.set(*at);
    }
}

/// Registers a site bound to JDMA and its kiosks (each with its own button, titled as in the
/// stand-in: « Borne <kiosk> »); their tokens.
fn register(backend: &Backend, product: i64, form: i64, buttons: &[(&str, i64)]) -> Vec<String> {
    let (p, f) = (product.to_string(), form.to_string());
    cli_ok(backend, &["sites", "add", "prefecture", "--name", "Préfecture", "--jdma-product", &p, "--jdma-form", &f]);
    buttons
        .iter()
        .map(|(device, button)| {
            let b = button.to_string();
            let title = format!("Borne {device}");
            let args =
                ["devices", "add", device, "--site", "prefecture", "--jdma-button", &b, "--jdma-button-title", &title];
            let out = cli_ok(backend, &args);
            out.lines().last().unwrap().trim().to_string()
        })
        .collect()
}

/// The answers of the `n`th review beside its satisfaction: some of JDMA's questions, and one
/// question of the kiosk's own, which must stay in Borne.
fn extra(n: usize) -> &'static str {
    match n % 4 {
        0 => {
            r#",{"field_code":"comprehension","kind":"radio","answer_item_id":7,"answer_text":"4","intention":"good"}"#
        }
        1 => {
            // Two channels tried, each with its own help answers (contract 1.2).
            concat!(
                r#",{"field_code":"contact_tried","kind":"checkbox","answer_item_id":9,"answer_text":"Au guichet avec l’administration","intention":"neutral"}"#,
                r#",{"field_code":"contact_tried","kind":"checkbox","answer_item_id":10,"answer_text":"Par téléphone avec l’administration","intention":"neutral"}"#,
                r#",{"field_code":"contact_reached","kind":"radio","answer_item_id":17,"answer_text":"Oui","intention":"good","parent_answer_item_id":9}"#,
                r#",{"field_code":"contact_reached","kind":"radio","answer_item_id":18,"answer_text":"Non","intention":"bad","parent_answer_item_id":10}"#,
                r#",{"field_code":"contact_satisfaction","kind":"radio","answer_item_id":22,"answer_text":"Bonne","intention":"good","parent_answer_item_id":9}"#,
                r#",{"field_code":"contact_satisfaction","kind":"radio","answer_item_id":20,"answer_text":"Mauvaise","intention":"bad","parent_answer_item_id":10}"#
            )
        }
        2 => {
            r#",{"field_code":"verbatim","kind":"text","answer_item_id":0,"answer_text":"Accueil rapide, « parfait », merci","intention":"neutral"},{"field_code":"kiosk_attente","kind":"radio","answer_item_id":1,"answer_text":"Moins de 10 min","intention":"good"}"#
        }
        _ => "",
    }
}

/// An answer as JDMA holds it: (code, item, text, label, the parent answer's item).
type Held = (String, i64, String, String, Option<i64>);

/// What JDMA must hold for the `n`th review.
fn expected(n: usize, satisfaction: i64) -> BTreeSet<Held> {
    let s = match satisfaction {
        1 => "Pas bien",
        2 => "Moyen",
        _ => "Très bien",
    };
    let mut set = BTreeSet::from([(
        "satisfaction".to_string(),
        satisfaction,
        s.to_string(),
        "De façon générale, comment ça s’est passé ?".to_string(),
        None,
    )]);
    let tried = "Durant votre parcours, avez-vous tenté d’obtenir de l’aide par l’un des moyens suivants ?";
    match n % 4 {
        0 => {
            set.insert((
                "comprehension".into(),
                7,
                "4".into(),
                "Qu'avez-vous pensé des informations et des instructions fournies ?".into(),
                None,
            ));
        }
        1 => {
            let reached = "Quand vous avez cherché de l'aide, avez-vous réussi à joindre l'administration ?";
            let quality =
                "Comment évaluez-vous la qualité de l'aide que vous avez obtenue de la part de l'administration ?";
            set.insert(("contact_tried".into(), 9, "Au guichet avec l’administration".into(), tried.into(), None));
            set.insert(("contact_tried".into(), 10, "Par téléphone avec l’administration".into(), tried.into(), None));
            set.insert(("contact_reached".into(), 17, "Oui".into(), reached.into(), Some(9)));
            set.insert(("contact_reached".into(), 18, "Non".into(), reached.into(), Some(10)));
            set.insert(("contact_satisfaction".into(), 22, "Bonne".into(), quality.into(), Some(9)));
            set.insert(("contact_satisfaction".into(), 20, "Mauvaise".into(), quality.into(), Some(10)));
        }
        2 => {
            set.insert((
                "verbatim".into(),
                0,
                "Accueil rapide, « parfait », merci".into(),
                "Souhaitez-vous nous en dire plus ?".into(),
                None,
            ));
        }
        _ => {}
    }
    set
}

/// Uploads `per_kiosk` reviews from each kiosk, in batches of 8; (client id → (kiosk, n, satisfaction)).
fn upload(
    url: &str,
    kiosks: &[(&str, String)],
    ids: (i64, i64, i64),
    per_kiosk: usize,
) -> BTreeMap<String, (String, usize, i64)> {
    let http = Http::new();
    let mut sent = BTreeMap::new();
    for (device, token) in kiosks {
        for chunk in (0..per_kiosk).collect::<Vec<_>>().chunks(8) {
            let reviews: Vec<(String, &str, i64, &str)> = chunk
                .iter()
                .map(|n| {
                    (uuid::Uuid::now_v7().to_string(), "2026-12-07T09:30:00+01:00", (*n % 3) as i64 + 1, extra(*n))
                })
                .collect();
            for (id, _, satisfaction, _) in &reviews {
                let n = chunk[reviews.iter().position(|r| &r.0 == id).unwrap()];
                sent.insert(id.clone(), (device.to_string(), n, *satisfaction));
            }
            let body = batch_body(device, (ids.0 as u64, ids.1 as u64, ids.2 as u64), &reviews);
            let (status, _, text) = http.batch(url, token, &body);
            assert_eq!(status, 200, "{text}");
            assert!(!text.contains("rejected"), "{text}");
        }
    }
    sent
}

fn status(backend: &Backend) -> serde_json::Value {
    serde_json::from_str(&cli_ok(backend, &["jdma", "status", "--json"])).unwrap()
}

/// Every review sent is in JDMA exactly once, with its kiosk's button and only JDMA's answers.
fn assert_once_each(
    held: &[StoredReview],
    sent: &BTreeMap<String, (String, usize, i64)>,
    buttons: &[(&str, i64)],
    form: i64,
) {
    let mut by_user: BTreeMap<String, Vec<&StoredReview>> = BTreeMap::new();
    for r in held {
        by_user.entry(r.user_id.clone().unwrap_or_default()).or_default().push(r);
    }
    assert_eq!(by_user.keys().cloned().collect::<BTreeSet<_>>(), sent.keys().cloned().collect::<BTreeSet<_>>());
    for (id, (device, n, satisfaction)) in sent {
        let copies = &by_user[id];
        assert_eq!(copies.len(), 1, "review {id} is in JDMA {} times", copies.len());
        let review = copies[0];
        let button = buttons.iter().find(|(d, _)| d == device).unwrap().1;
        assert_eq!((review.button_id, review.form_id), (button, form), "review {id}");
        let parent_item =
            |id: Option<i64>| id.and_then(|id| review.answers.iter().find(|p| p.id == id)).map(|p| p.answer_item_id);
        let answers: Vec<Held> = review
            .answers
            .iter()
            .map(|a| {
                let parent = parent_item(a.parent_answer_id);
                (a.field_code.clone(), a.answer_item_id, a.answer_text.clone(), a.field_label.clone(), parent)
            })
            .collect();
        let distinct: BTreeSet<_> = answers.iter().cloned().collect();
        assert_eq!(answers.len(), distinct.len(), "review {id} holds an answer twice: {answers:?}");
        assert_eq!(distinct, expected(*n, *satisfaction), "review {id}");
        assert_eq!(review.has_verbatim, n % 4 == 2, "review {id}");
    }
}

/// JDMA drops a fifth of its answers after committing and loses a fifth of the answers it
/// stores while saying success: every review still ends in JDMA once, whole.
fn forwarded_once_through_a_flaky_jdma(postgres: bool) {
    let scratch = borne_testkit::Scratch::new("jdma-flaky");
    let dir = scratch.path();
    let backend = Backend::new(postgres, dir);
    let rt = runtime();
    let settings = Settings {
        allowed_ips: "127.0.0.1".into(),
        drop_rate: 0.2,
        lose_answer_rate: 0.2,
        seed: 7,
        ..Settings::default()
    };
    let standin = rt.block_on(JdmaStandIn::start(settings)).unwrap();
    let product = standin.add_product("Accueil des étrangers", "Préfecture de l'Orne");
    let form = standin.add_form(product, "Évaluation de la satisfaction usager");
    let buttons = [
        ("borne-accueil", standin.add_button(form, "Borne borne-accueil")),
        ("borne-etage", standin.add_button(form, "Borne borne-etage")),
    ];
    let tokens = register(&backend, product, form, &buttons);
    let platform = start_registered(&backend);
    let kiosks: Vec<(&str, String)> = buttons.iter().map(|(d, _)| *d).zip(tokens).collect();
    let sent = upload(&platform.url, &kiosks, (product, form, 0), 24);
    let before = status(&backend);
    assert_eq!((before["pending"].as_u64(), before["forwarded"].as_u64()), (Some(48), Some(0)), "{before}");

    let walk = Walk::new(&standin, Walk::start());
    let (day_before, forwarding_day) = (walk.now().date_naive().pred_opt().unwrap(), walk.now().date_naive());
    let storage = rt.block_on(Storage::open(&backend.target())).unwrap();
    let forwarder = Forwarder::new(storage, &jdma_config(&standin, 0)).unwrap().with_clock(walk.clock());
    for _ in 0..2000 {
        rt.block_on(forwarder.round()).unwrap();
        if status(&backend)["pending"] == 0 {
            break;
        }
        walk.advance(Duration::seconds(20));
    }
    let after = status(&backend);
    assert_eq!(
        (after["forwarded"].as_u64(), after["pending"].as_u64(), after["ambiguous"].as_u64(), after["failed"].as_u64()),
        (Some(48), Some(0), Some(0), Some(0)),
        "{after}"
    );
    let (dropped, lost) = standin.faults_seen();
    assert!(dropped > 0 && lost > 0, "the faults fired: {dropped} answers dropped, {lost} answers lost");
    assert_once_each(&standin.reviews(), &sent, &buttons, form);

    // JDMA's export of the form and Borne's, of the same reviews: the same bytes.
    let theirs = standin.export_csv(form);
    assert_eq!(theirs.lines().count(), 49, "a header and 48 reviews");
    let ours = cli_ok(&backend, &["export", "--format", "jdma-csv", "--jdma-form", &form.to_string()]);
    assert_eq!(ours, theirs);
    assert_eq!(cli_ok(&backend, &["export", "--format", "jdma-csv", "--site", "prefecture"]), theirs);
    let next_day = forwarding_day.succ_opt().unwrap().to_string();
    let day = cli_ok(&backend, &["export", "--format", "jdma-csv", "--site", "prefecture", "--since", &next_day]);
    assert_eq!(day.lines().count(), 1, "nothing created in JDMA after the forwarding day: {day}");

    // The next day, JDMA's counts (its open API) are compared with what was forwarded.
    standin.add_api_key(product, "cle-essai");
    std::fs::write(dir.join("jdma-key"), "cle-essai\n").unwrap();
    let with_api = JdmaConfig { api_key_file: Some(dir.join("jdma-key")), ..jdma_config(&standin, 0) };
    walk.advance(Duration::hours(20));
    let storage = rt.block_on(Storage::open(&backend.target())).unwrap();
    let checker = Forwarder::new(storage, &with_api).unwrap().with_clock(walk.clock());
    let days = rt.block_on(checker.reconcile(2)).unwrap();
    let day = |d: chrono::NaiveDate| days.iter().find(|r| r.day == d).map(|r| (r.jdma, r.forwarded));
    assert_eq!((day(day_before), day(forwarding_day)), (Some((0, 0)), Some((48, 48))), "{days:?}");
    assert_eq!(status(&backend)["reconciliation"], serde_json::json!([]));
    // A review left on JDMA's own web form on that day shows as a difference.
    walk.advance(Duration::hours(-8));
    standin.add_web_review(product, form, buttons[0].1, 3);
    walk.advance(Duration::hours(8));
    rt.block_on(checker.reconcile(2)).unwrap();
    let apart = status(&backend)["reconciliation"].clone();
    assert_eq!(
        (apart[0]["day"].as_str(), apart[0]["jdma"].as_u64(), apart[0]["forwarded"].as_u64()),
        (Some(forwarding_day.to_string().as_str()), Some(49), Some(48)),
        "{apart}"
    );
    let gap = format!("Écart le {forwarding_day} (jour UTC) sur le formulaire");
    assert!(cli_ok(&backend, &["jdma", "status"]).contains(&gap));

    // The console shows the same on the site's page, to a State agent.
    let password = "un mot de passe assez long";
    let agent = ["accounts", "add", "agent@orne.gouv.fr", "--name", "Agent", "--role", "national", "--password"];
    cli_stdin(&backend, &agent, &format!("{password}\n"));
    let session = console_session(&Http::new(), &platform.url, "agent@orne.gouv.fr", password);
    let page = Http::new().send(
        reqwest::Client::new()
            .get(format!("{}/console/sites/prefecture", platform.url))
            .header("Cookie", format!("borne_console={session}")),
    );
    let text = page.2;
    for expected in [
        "Remise à « Je donne mon avis »",
        "<th scope=\"row\">Remis à JDMA</th><td>48</td>",
        "<th scope=\"row\">En attente</th><td>0</td>",
        &format!("<th scope=\"row\">{}</th><td>49</td><td>48</td>", forwarding_day.format("%d/%m/%Y")),
        // JDMA's figures: 12 reviews answered contact_tried, none « pas eu besoin d'aide »; each
        // tried two channels, reached one: 12 « Oui » of 24 per-channel answers.
        "<th scope=\"row\">Niveau d'autonomie</th><td>0,0 %</td><td>—</td><td>12</td>",
        "<th scope=\"row\">Aide joignable</th><td>50,0 %</td><td class=\"severity-error\">Faible</td><td>24</td>",
        "<th scope=\"row\">Aide efficace</th><td>5,0 / 10</td><td class=\"severity-new\">Moyen</td><td>24</td>",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    pages_in_chromium(
        "Accueil rapide",
        &[&format!("{}/console/sites/prefecture", platform.url)],
        Some(&format!("borne_console={session}")),
    );
    // The same export from the console, within the agent's scope.
    let download = |path: &str| {
        Http::new().send(
            reqwest::Client::new()
                .get(format!("{}/console/sites/prefecture/{path}", platform.url))
                .header("Cookie", format!("borne_console={session}")),
        )
    };
    let (status, _, csv) = download("avis-jdma.csv");
    assert_eq!((status, csv.as_str()), (200, ours.as_str()));
    assert_eq!(download("avis-jdma.xlsx").0, 200);

    // Binding a site: the ids are checked with the open API.
    let config = dir.join("borne-platform.toml");
    std::fs::write(
        &config,
        format!(
            "[jdma]\nform_url = \"{}\"\napi_url = \"{}\"\napi_key_file = \"{}\"\nallow_insecure_http = true\n",
            standin.form_url(),
            standin.api_url(),
            dir.join("jdma-key").display()
        ),
    )
    .unwrap();
    let bind = |site: &str, product: i64, form: i64| {
        let (p, f) = (product.to_string(), form.to_string());
        let c = config.to_str().unwrap();
        cli(
            &backend,
            &["sites", "add", site, "--name", "Annexe", "--jdma-product", &p, "--jdma-form", &f, "--config", c],
        )
    };
    let wrong = bind("annexe", product, form + 100);
    assert!(!wrong.status.success());
    let message = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        message.contains(&format!("le formulaire JDMA {} n'appartient pas au service {product}", form + 100)),
        "{message}"
    );
    let other = bind("annexe", product + 100, form);
    assert!(String::from_utf8_lossy(&other.stderr).contains("n'est pas accessible avec la clé"), "{other:?}");
    // An id JDMA could never hold is refused as typed, before anything is stored.
    for (id, flag) in [("2147483648", "--jdma-product"), ("0", "--jdma-form"), ("-3", "--jdma-button")] {
        let typed = cli(&backend, &["sites", "add", "annexe", "--name", "Annexe", &format!("{flag}={id}")]);
        let message = String::from_utf8_lossy(&typed.stderr);
        assert!(!typed.status.success(), "{flag} {id}");
        assert!(message.contains("un identifiant JDMA est un nombre entier de 1 à 2147483647"), "{message}");
    }
    let device = cli(&backend, &["devices", "add", "borne-x", "--site", "prefecture", "--jdma-button", "99999999999"]);
    assert!(String::from_utf8_lossy(&device.stderr).contains("de 1 à 2147483647"), "{device:?}");
    assert!(bind("annexe", product, form).status.success());
    drop(platform);
}

/// The platform is not allow-listed: over a week of JDMA down and the hours after, it never
/// makes more than 5 creates in an hour, loses nothing, and the creates left without an answer
/// when JDMA went down are counted ambiguous, never resent.
fn jdma_down_for_a_week_and_not_allow_listed(postgres: bool) {
    let scratch = borne_testkit::Scratch::new("jdma-week");
    let dir = scratch.path();
    let backend = Backend::new(postgres, dir);
    let rt = runtime();
    let standin = rt.block_on(JdmaStandIn::start(Settings { drop_rate: 1.0, ..Settings::default() })).unwrap();
    let product = standin.add_product("Accueil", "CAF de l'Orne");
    let form = standin.add_form(product, "Évaluation de la satisfaction usager");
    let buttons = [("borne-caf", standin.add_button(form, "Borne CAF"))];
    let tokens = register(&backend, product, form, &buttons);
    let platform = start_registered(&backend);
    let kiosks: Vec<(&str, String)> = vec![(buttons[0].0, tokens[0].clone())];
    let sent = upload(&platform.url, &kiosks, (product, form, 0), 20);

    let walk = Walk::new(&standin, Walk::start());
    // Two instances on one database, on the same clock.
    let instances: Vec<Forwarder> = (0..2)
        .map(|_| {
            let storage = rt.block_on(Storage::open(&backend.target())).unwrap();
            Forwarder::new(storage, &jdma_config(&standin, 5)).unwrap().with_clock(walk.clock())
        })
        .collect();
    // JDMA stores the first creates, their answers are lost, and JDMA goes down for a week.
    rt.block_on(instances[0].round()).unwrap();
    let cut = standin.reviews().len() as u64;
    assert!(cut >= 1);
    assert_eq!(status(&backend)["unsure"].as_u64(), Some(cut));
    standin.down();
    standin.set_settings(Settings::default());
    let week_end = walk.now() + Duration::days(7);
    let mut turn = 0;
    while walk.now() < week_end {
        walk.advance(Duration::minutes(10));
        rt.block_on(instances[turn % 2].round()).unwrap();
        turn += 1;
    }
    let during = status(&backend);
    assert_eq!((during["pending"].as_u64(), during["ambiguous"].as_u64()), (Some(20 - cut), Some(cut)), "{during}");
    assert_eq!(standin.reviews().len() as u64, cut, "nothing reached JDMA while it was down");
    rt.block_on(standin.up()).unwrap();
    let back = walk.now();
    while status(&backend)["pending"] != 0 && walk.now() < back + Duration::days(1) {
        walk.advance(Duration::minutes(5));
        rt.block_on(instances[turn % 2].round()).unwrap();
        turn += 1;
    }
    let after = status(&backend);
    assert_eq!(
        (after["forwarded"].as_u64(), after["pending"].as_u64(), after["ambiguous"].as_u64()),
        (Some(20 - cut), Some(0), Some(cut)),
        "{after}"
    );
    // The ambiguous reviews are those JDMA stored before going down: in JDMA once, not resent.
    let held = standin.reviews();
    assert_eq!(held.len(), 20);
    let users: BTreeSet<String> = held.iter().filter_map(|r| r.user_id.clone()).collect();
    assert_eq!(users, sent.keys().cloned().collect::<BTreeSet<_>>());
    // Creates at 5 an hour: the last ones come hours after JDMA is back.
    let calls = standin.create_calls();
    assert!(calls.iter().all(|c| !c.blocked), "JDMA's limiter never had to refuse a create");
    for call in &calls {
        let in_hour = calls.iter().filter(|c| c.at > call.at - Duration::hours(1) && c.at <= call.at).count();
        assert!(in_hour <= 5, "{in_hour} creates in the hour up to {}", call.at);
    }
    assert!(calls.last().unwrap().at - back >= Duration::hours(3), "{:?}", calls.last());
    drop(platform);
}

both!(forwarded_once_through_a_flaky_jdma, jdma_down_for_a_week_and_not_allow_listed);
