//! The managers' console over HTTP, on the real binary: sign-in (CSRF, throttling, disabled
//! accounts), sessions shared by two instances, and each role's scope tested through every
//! route — a manager never reads a site, a kiosk or a comment outside it.

mod support;

use borne_testkit::{PlatformProcess, Scratch};
use std::collections::HashMap;
use std::ffi::OsString;
use support::*;

both!(
    every_route_keeps_each_manager_to_their_scope,
    comments_are_searched_and_filtered,
    an_unsubscribe_link_asks_then_unsubscribes,
    kiosk_states_follow_uploads_as_well_as_heartbeats,
);

/// Every page of the console in Chromium, as a site manager: readable by everyone (axe-core:
/// no serious or critical violation), and never another site's comment.
#[test]
#[ignore = "needs Debian's Chromium and tests/e2e's node modules: .ci/run installs them"]
fn console_pages_are_accessible_in_chromium() {
    let console = network(false, "consolebrowser");
    let url = &console.platform.url;
    // Two months of reviews at Lyon, « Pas bien » ones saying why (a question of its own).
    let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap());
    let why = ["Le temps d'attente", "L'accueil", "Les informations données"];
    let answers: Vec<(String, String, i64, String)> = (0..180)
        .map(|i: i64| {
            let item = [3, 3, 2, 1, 3][i as usize % 5];
            let extra = if item == 1 {
                format!(
                    r#",{{"field_code":"kiosk_pourquoi","kind":"radio","answer_item_id":{},"answer_text":"{}","intention":"neutral","field_label":"Qu'est-ce qui n'a pas été ?"}}"#,
                    i % 3 + 1,
                    why[i as usize % 3]
                )
            } else {
                String::new()
            };
            (uuid::Uuid::now_v7().to_string(), (now - chrono::Duration::hours(8 * i + 1)).to_rfc3339(), item, extra)
        })
        .collect();
    for chunk in answers.chunks(60) {
        let reviews: Vec<(String, &str, i64, &str)> =
            chunk.iter().map(|(id, at, item, extra)| (id.clone(), at.as_str(), *item, extra.as_str())).collect();
        let (status, _, text) = console.http.batch(
            url,
            &console.tokens[SITES[0].device],
            &batch_body(SITES[0].device, (1, 2, 3), &reviews),
        );
        assert_eq!(status, 200, "{text}");
    }
    let lyon = format!("/console/sites/{}", SITES[0].id);
    // A release rolled out to Lyon's network, for the « Mises à jour » page.
    let bundles = Scratch::new("console-bundle");
    let bundle = bundle(bundles.path(), "borne-0.3.0.raucb", b"systeme 0.3.0");
    let address = "https://maj.example/borne/borne-0.3.0.raucb";
    cli_ok(&console.backend, &["release", "add", &bundle, "--version", "0.3.0", "--url", address]);
    cli_ok(&console.backend, &["rollout", "start", "--org", SITES[0].org, "0.3.0"]);
    let session = console.login("nadia@interieur.gouv.fr", PASSWORD).unwrap();
    let comments = console.get(url, "/console/commentaires", Some(&session)).body;
    let review = comments
        .split("href=\"/console/avis/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to a whole review")
        .to_string();
    let plan = serde_json::json!({
        "public": [
            ["/console/connexion", "connexion", 200],
            ["/console/mot-de-passe-oublie", "mot-de-passe-oublie", 200],
            ["/console/lien/perime", "lien-perime", 410],
            [format!("/public/sites/{}", SITES[0].id), "resultats-publics", 200],
            ["/public/sites/inconnu", "resultats-introuvables", 404],
            ["/public/schema", "donnees-ouvertes", 200],
            ["/accessibilite", "accessibilite", 200],
            ["/mentions-legales", "mentions-legales", 200],
        ],
        "accounts": [
            {"email": "nadia@interieur.gouv.fr", "password": PASSWORD, "pages": [
                ["/console/", "sites", 200],
                ["/console/bornes", "bornes", 200],
                [lyon.clone(), "site", 200],
                [format!("{lyon}?par=jour"), "site-par-jour", 200],
                [format!("{lyon}?par=mois"), "site-par-mois", 200],
                [format!("{lyon}?par=annee"), "site-erreur", 400],
                ["/console/sites/inconnu", "site-introuvable", 404],
                ["/console/commentaires", "commentaires", 200],
                ["/console/commentaires?q=attente", "commentaires-recherche", 200],
                [format!("/console/avis/{review}"), "avis", 200],
                ["/console/administration", "administration", 200],
                ["/console/questionnaire", "questionnaire", 200],
                [format!("/console/questionnaire?reseau={}", SITES[0].org), "questionnaire-reseau", 200],
                ["/console/mises-a-jour", "mises-a-jour", 200],
            ]},
            {"email": "rene@rhone.gouv.fr", "password": PASSWORD, "pages": [
                ["/console/", "", 200], ["/console/administration", "", 200], [lyon.clone(), "", 200],
                ["/console/questionnaire", "", 200], ["/console/mises-a-jour", "", 200],
            ]},
            {"email": "sophie@rhone.gouv.fr", "password": PASSWORD, "pages": [
                ["/console/", "", 200], ["/console/administration", "", 200], ["/console/commentaires", "", 200],
            ]},
        ],
        "register": {"device": "borne-lyon-2", "site": SITES[0].id},
    });
    // The pictures: into docs/screens/console when asked, else into a scratch folder to
    // compare with those committed.
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screens/console");
    let asked = std::env::var_os("BORNE_CONSOLE_SCREENSHOTS").map(std::path::PathBuf::from);
    let scratch = Scratch::new("console-shots");
    let shots = asked.clone().unwrap_or_else(|| scratch.path().join("shots"));
    let plan = plan.to_string();
    support::e2e_script("console.mjs", &[url.as_ref(), shots.as_os_str(), plan.as_ref()], &[]);
    if asked.is_none() {
        // The pictures are drawn from data dated relative to the run, so their pixels change
        // with the day: what is compared is that every page has its pictures and no picture is
        // of a page that is gone.
        let names = |folder: &std::path::Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(folder)
                .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            names(&shots),
            names(&committed),
            "docs/screens/console must have one picture per page and width; redraw it with \
             BORNE_CONSOLE_SCREENSHOTS=$PWD/docs/screens/console cargo test -p borne-platform --test console \
             console_pages_are_accessible_in_chromium -- --include-ignored"
        );
    }
}

const PASSWORD: &str = "un mot de passe assez long";

/// Three sites in two networks, one kiosk each, and what only each one holds.
struct Site {
    id: &'static str,
    name: &'static str,
    org: &'static str,
    device: &'static str,
    /// A comment only this site's visitors wrote (each has « accueil », and a word of its own).
    comment: &'static str,
    /// The comment's word of its own, to search for.
    word: &'static str,
}

/// A text as the console's HTML writes it (the comments here have no quote or ampersand).
fn html(text: &str) -> String {
    text.replace('<', "&lt;").replace('>', "&gt;")
}

const SITES: [Site; 3] = [
    Site {
        id: "pref-69-lyon",
        name: "Préfecture du Rhône, Lyon",
        org: "pref-69",
        device: "borne-lyon-1",
        comment: "Les attentes au guichet étaient trop longues accueil LYONTEXTE",
        word: "lyontexte",
    },
    Site {
        id: "sous-pref-69-villefranche",
        name: "Sous-préfecture de Villefranche-sur-Saône",
        org: "pref-69",
        device: "borne-villefranche-1",
        comment: "Agent très aimable accueil VILLEFRANCHETEXTE",
        word: "villefranchetexte",
    },
    Site {
        id: "pref-75-paris",
        name: "Préfecture de police, Paris",
        org: "pref-75",
        device: "borne-paris-1",
        // A visitor's markup is text: the page shows it, never runs it.
        comment: "Personne pour renseigner accueil <script>alert(1)</script><b>PARISTEXTE</b>",
        word: "paristexte",
    },
];

/// (email, role arguments, the sites it may read)
fn accounts() -> Vec<(&'static str, Vec<&'static str>, Vec<&'static str>)> {
    vec![
        (
            "nadia@interieur.gouv.fr",
            vec!["--role", "national"],
            vec!["pref-69-lyon", "sous-pref-69-villefranche", "pref-75-paris"],
        ),
        (
            "Rene@Rhone.gouv.fr",
            vec!["--role", "network", "--org", "pref-69"],
            vec!["pref-69-lyon", "sous-pref-69-villefranche"],
        ),
        ("sophie@rhone.gouv.fr", vec!["--role", "site", "--site", "pref-69-lyon"], vec!["pref-69-lyon"]),
    ]
}

struct Console {
    _dir: Scratch,
    backend: Backend,
    config: std::path::PathBuf,
    platform: PlatformProcess,
    http: Http,
    /// A client that shows redirects instead of following them.
    client: reqwest::Client,
    /// Each kiosk's token.
    tokens: HashMap<&'static str, String>,
}

fn start_console(backend: &Backend, config: &std::path::Path) -> PlatformProcess {
    let mut args: Vec<OsString> = backend.args();
    args.extend(["--config".into(), config.into()]);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    PlatformProcess::start(platform_bin(), "127.0.0.1:0", &args)
}

/// The three sites registered, reviews and comments sent by their kiosks, the accounts made.
fn network(postgres: bool, name: &str) -> Console {
    let dir = Scratch::new(name);
    let backend = Backend::new(postgres, dir.path());
    let mut tokens = HashMap::new();
    for site in &SITES {
        cli_ok(&backend, &["sites", "add", site.id, "--name", site.name, "--org", site.org]);
        let out = cli_ok(&backend, &["devices", "add", site.device, "--site", site.id]);
        tokens.insert(site.device, out.lines().last().unwrap().to_string());
    }
    for (email, role, _) in accounts() {
        let mut args = vec!["accounts", "add", email, "--name", "Responsable", "--password"];
        args.extend(role);
        cli_stdin(&backend, &args, &format!("{PASSWORD}\n"));
    }
    cli_stdin(
        &backend,
        &["accounts", "add", "parti@rhone.gouv.fr", "--name", "Parti", "--role", "national", "--password"],
        &format!("{PASSWORD}\n"),
    );
    cli_ok(&backend, &["accounts", "disable", "parti@rhone.gouv.fr"]);
    let config = dir.path().join("platform.toml");
    // ProConnect offered on the sign-in page (its provider is only reached when an agent
    // chooses it: tests/proconnect.rs).
    std::fs::write(
        &config,
        "[console]\n# plain HTTP on loopback\nsecure_cookies = false\n\n[proconnect]\nissuer = \"http://127.0.0.1:9\"\nclient_id = \"borne\"\nclient_secret = \"s\"\npublic_url = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    let platform = start_console(&backend, &config);
    let http = Http::new();
    let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap());
    for (i, site) in SITES.iter().enumerate() {
        let comment = format!(
            r#",{{"field_code":"verbatim","kind":"text","answer_item_id":0,"answer_text":"{}","intention":"neutral"}}"#,
            site.comment
        );
        let at = (now - chrono::Duration::days(2 + i as i64)).to_rfc3339();
        let reviews: Vec<(String, &str, i64, &str)> = vec![
            (uuid::Uuid::now_v7().to_string(), &at, 1, &comment),
            (uuid::Uuid::now_v7().to_string(), &at, 3, ""),
            (uuid::Uuid::now_v7().to_string(), &at, 3, ""),
        ];
        let (status, _, text) =
            http.batch(&platform.url, &tokens[site.device], &batch_body(site.device, (1, 2, 3), &reviews));
        assert_eq!(status, 200, "{text}");
        let heartbeat = serde_json::json!({"device_id": site.device, "app_version": format!("borne/{}", site.device), "pending": 0, "disk_free_bytes": 1u64 << 30});
        let request = http
            .client
            .post(format!("{}/v1/heartbeats", platform.url))
            .bearer_auth(&tokens[site.device])
            .json(&heartbeat);
        assert_eq!(http.send(request).0, 204);
    }
    // One open incident per site (a kiosk silent), as the alerts' round commits them.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        use borne_platform::storage::alerting::{IncidentChange, TickOutcome};
        let storage = borne_platform::storage::Storage::open(&backend.target()).await.unwrap();
        let at = chrono::Utc::now();
        // An hour ahead: the round the platform itself took at start is long past by then.
        let round = at + chrono::Duration::hours(1);
        let memory = storage.claim_alert_tick("console-test", round, chrono::Duration::minutes(1)).await.unwrap();
        assert!(memory.is_some(), "this round is the test's");
        let incidents = SITES
            .iter()
            .map(|site| IncidentChange::Opened {
                rule: "hors-ligne".into(),
                scope_kind: "device".into(),
                scope_id: site.device.into(),
                site_id: Some(site.id.into()),
                detail: "aucun signe de vie depuis 7 h".into(),
                at,
            })
            .collect();
        let outcome = TickOutcome { tracks: "[]".into(), incidents, ..Default::default() };
        assert!(storage.commit_alert_tick("console-test", outcome, round).await.unwrap());
    });
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Console { _dir: dir, backend, config, platform, http, client, tokens }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
}

impl Console {
    fn request(&self, request: reqwest::RequestBuilder) -> Answer {
        self.http.runtime.block_on(async {
            let r = request.send().await.unwrap();
            let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
            let cookies = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
            Answer { status: r.status().as_u16(), location, cookies, body: r.text().await.unwrap() }
        })
    }

    fn get(&self, base: &str, path: &str, session: Option<&str>) -> Answer {
        let mut request = self.client.get(format!("{base}{path}"));
        if let Some(session) = session {
            request = request.header("Cookie", format!("borne_console={session}"));
        }
        self.request(request)
    }

    /// Signs in; `Ok(session cookie)` or `Err(the answer)`.
    fn login(&self, email: &str, password: &str) -> Result<String, Answer> {
        let form = self.get(&self.platform.url, "/console/connexion", None);
        assert_eq!(form.status, 200);
        let token = cookie_value(&form.cookies, "borne_console_login").expect("a login CSRF cookie");
        assert!(form.body.contains(&format!("value=\"{token}\"")), "the form carries the cookie's token");
        let answer = self.request(
            self.client
                .post(format!("{}/console/connexion", self.platform.url))
                .header("Cookie", format!("borne_console_login={token}"))
                .form(&[("email", email), ("password", password), ("csrf", &token)]),
        );
        match (answer.status, cookie_value(&answer.cookies, "borne_console")) {
            (303, Some(session)) => {
                assert_eq!(answer.location.as_deref(), Some("/console/"));
                Ok(session)
            }
            _ => Err(answer),
        }
    }
}

/// Every page and file of the console a signed-in manager can ask for; `{site}` is a site id.
const SITE_ROUTES: [&str; 6] = [
    "/console/sites/{site}",
    "/console/sites/{site}/indicateurs.json",
    "/console/bornes?site={site}",
    "/console/bornes.csv?site={site}",
    "/console/commentaires?site={site}",
    "/console/commentaires?site={site}&q={word}",
];
const LIST_ROUTES: [&str; 7] = [
    "/console/",
    "/console/bornes",
    "/console/bornes.csv",
    "/console/bornes?tri=disque&ordre=decroissant",
    "/console/commentaires",
    "/console/commentaires?note=1",
    "/console/commentaires?q=accueil",
];

fn every_route_keeps_each_manager_to_their_scope(postgres: bool) {
    let console = network(postgres, "consolescope");
    let url = console.platform.url.clone();
    // Signed out: every page sends to the sign-in page, files answer 401, posts 403.
    for route in LIST_ROUTES.iter().chain(SITE_ROUTES.iter()) {
        let path = route.replace("{site}", SITES[0].id).replace("{word}", SITES[0].word);
        let answer = console.get(&url, &path, None);
        if path.contains(".csv") || path.contains(".json") {
            assert_eq!(answer.status, 401, "{path}");
        } else {
            assert_eq!((answer.status, answer.location.as_deref()), (303, Some("/console/connexion")), "{path}");
        }
        assert!(!answer.body.contains("TEXTE") && !answer.body.contains("borne-"), "{path}: {}", answer.body);
    }
    let forged = console.get(&url, "/console/", Some("not-a-session"));
    assert_eq!(forged.status, 303);
    // A second instance on the same database: the session is the database's, not a process's.
    let second = start_console(&console.backend, &console.config);
    for (email, _, visible) in accounts() {
        let session = console.login(email, PASSWORD).unwrap_or_else(|a| panic!("{email}: {} {}", a.status, a.body));
        for base in [&url, &second.url] {
            for site in &SITES {
                let sees = visible.contains(&site.id);
                for route in SITE_ROUTES {
                    let path = route.replace("{site}", site.id).replace("{word}", site.word);
                    let answer = console.get(base, &path, Some(&session));
                    let expected = if sees { 200 } else { 404 };
                    assert_eq!(answer.status, expected, "{email} {path}: {}", answer.body);
                    if !sees {
                        assert!(!answer.body.contains(site.name) && !answer.body.contains(&html(site.comment)));
                    } else if path.contains("&q=") {
                        assert!(
                            answer.body.contains(&html(site.comment)),
                            "{email} finds {}: {}",
                            site.word,
                            answer.body
                        );
                    }
                }
            }
            for route in LIST_ROUTES {
                let answer = console.get(base, route, Some(&session));
                assert_eq!(answer.status, 200, "{email} {route}: {}", answer.body);
                for site in &SITES {
                    let shown = answer.body.contains(site.device)
                        || answer.body.contains(&html(site.comment))
                        || answer.body.contains(site.name);
                    if !visible.contains(&site.id) {
                        assert!(!shown, "{email} must not see {} on {route}", site.id);
                    } else if route.ends_with("q=accueil") {
                        assert!(answer.body.contains(&html(site.comment)), "{email} finds every comment in scope");
                    }
                }
            }
        }
        // What each list shows of the sites in scope.
        let home = console.get(&url, "/console/", Some(&session));
        let fleet = console.get(&url, "/console/bornes.csv", Some(&session));
        let comments = console.get(&url, "/console/commentaires", Some(&session));
        for site in SITES.iter().filter(|s| visible.contains(&s.id)) {
            assert!(
                home.body.contains(&site.name.replace('\'', "&#39;")) || home.body.contains(site.name),
                "{email}: {}",
                site.id
            );
            assert!(
                fleet.body.lines().any(|l| l.starts_with(site.device) && l.contains(";en ligne;")),
                "{}",
                fleet.body
            );
            assert!(comments.body.contains(&html(site.comment)), "{email} sees {}'s comment", site.id);
            // Its incident, on the home page (the rule and the kiosk).
            assert!(
                home.body.contains(&format!("borne hors ligne ({})", site.device)),
                "{email} sees {}'s incident: {}",
                site.id,
                home.body
            );
        }
        assert_eq!(fleet.body.lines().count(), 1 + visible.len(), "{}", fleet.body);
        // Signing out ends the session on every instance.
        let page = console.get(&url, "/console/bornes", Some(&session));
        let csrf = page.body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        let without = console.request(
            console
                .client
                .post(format!("{url}/console/deconnexion"))
                .header("Cookie", format!("borne_console={session}"))
                .form(&[("csrf", "faux")]),
        );
        assert_eq!(without.status, 403, "a form without its token is refused");
        let out = console.request(
            console
                .client
                .post(format!("{url}/console/deconnexion"))
                .header("Cookie", format!("borne_console={session}"))
                .form(&[("csrf", &csrf)]),
        );
        assert_eq!(out.status, 303);
        assert_eq!(console.get(&second.url, "/console/", Some(&session)).status, 303, "signed out everywhere");
    }
    // The figures of a site's page are the platform's count of its reviews (three sent, one « Pas bien »).
    let session = console.login("sophie@rhone.gouv.fr", PASSWORD).unwrap();
    let json = console.get(&url, "/console/sites/pref-69-lyon/indicateurs.json", Some(&session));
    let value: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(value["indicators"]["reviews"], 3);
    assert_eq!(value["indicators"]["comments"], 1);
    assert_eq!(value["indicators"]["satisfaction"]["score"]["status"], "insufficient");
    let cli: serde_json::Value =
        serde_json::from_str(&cli_ok(&console.backend, &["site-stats", "pref-69-lyon"])).unwrap();
    assert_eq!(value["indicators"], cli["indicators"]);
    // Under the State's 100 reviews, the page and the sites' table still give JDMA's figure
    // ((0 + 10 + 10) / 3 = 6.67, « Moyen »), marked indicative.
    let page = console.get(&url, "/console/sites/pref-69-lyon", Some(&session)).body;
    assert!(
        page.contains(
            r#"<span class="score indicative" data-band="medium">6,7 / 10</span> <span class="band">Moyen</span>"#
        ),
        "{page}"
    );
    assert!(page.contains("indicatif : 3 avis sur les 100 de la règle de l'État"), "{page}");
    let list = console.get(&url, "/console/", Some(&session)).body;
    assert!(list.contains(r#"<span class="score indicative" data-band="medium">6,7</span> <span class="insufficient">(indicatif)</span>"#), "{list}");
    // Sign-in refusals: a wrong password, then at once again (throttled), a disabled account,
    // a form without its token.
    let wrong = console.login("sophie@rhone.gouv.fr", "pas le bon mot de passe").unwrap_err();
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Adresse ou mot de passe incorrect."));
    let again = console.login("sophie@rhone.gouv.fr", PASSWORD).unwrap_err();
    assert_eq!(again.status, 429, "{}", again.body);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let disabled = console.login("parti@rhone.gouv.fr", PASSWORD).unwrap_err();
    assert_eq!(disabled.status, 401);
    let forged = console.request(console.client.post(format!("{url}/console/connexion")).form(&[
        ("email", "sophie@rhone.gouv.fr"),
        ("password", PASSWORD),
        ("csrf", "x"),
    ]));
    assert_eq!(forged.status, 403);
    // Headers: no script may run, nothing is cached, nothing framed.
    let page = console.request(console.client.get(format!("{url}/console/connexion")));
    assert_eq!(page.status, 200);
    let headers = console.http.runtime.block_on(console.client.get(format!("{url}/console/connexion")).send()).unwrap();
    let h = headers.headers();
    assert!(h["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-frame-options"], "DENY");
    // Bad input: a clear 400, never a 500.
    for bad in [
        "/console/bornes?tri=nimporte",
        "/console/commentaires?du=hier",
        "/console/commentaires?note=9",
        "/console/commentaires?du=2026-05-02&au=2026-05-01",
        "/console/commentaires?page=abc",
    ] {
        let answer = console.get(&url, bad, Some(&session));
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
    }
    // A filter mistake brings the page back with the menu, the filters as typed and why.
    let typed = console.get(&url, "/console/commentaires?du=hier&q=guichet&site=pref-69-lyon", Some(&session));
    assert_eq!(typed.status, 400);
    for kept in [
        "role=\"alert\"",
        "value=\"hier\"",
        "value=\"guichet\"",
        "value=\"pref-69-lyon\" selected",
        "href=\"/console/bornes\"",
    ] {
        assert!(typed.body.contains(kept), "{kept}: {}", typed.body);
    }
    assert_eq!(console.get(&url, "/console/nulle-part", Some(&session)).status, 404);
}

fn comments_are_searched_and_filtered(postgres: bool) {
    let console = network(postgres, "consolecomments");
    let url = console.platform.url.clone();
    let session = console.login("nadia@interieur.gouv.fr", PASSWORD).unwrap();
    let find = |query: &str| console.get(&url, &format!("/console/commentaires?{query}"), Some(&session)).body;
    // Words in another form than written (« attente » for « attentes », « longue » for « longues »).
    let page = find("q=attente+longue");
    assert!(page.contains(&html(SITES[0].comment)), "{page}");
    assert!(!page.contains(&html(SITES[1].comment)) && !page.contains(&html(SITES[2].comment)));
    // Every word must be there.
    assert!(!find("q=attente+aimable").contains("TEXTE"));
    // Plural and feminine forms on both engines, over all time when no start is given.
    assert!(find("q=longue+attentes").contains(&html(SITES[0].comment)));
    assert!(find("q=aimables").contains(&html(SITES[1].comment)), "« aimables » finds « aimable »");
    // The selection as a file for French spreadsheets, every page of it.
    let file = console.get(&url, "/console/commentaires.csv?q=attente", Some(&session)).body;
    let file = file.strip_prefix('\u{feff}').expect("a byte-order mark");
    let mut rows = csv::ReaderBuilder::new().delimiter(b';').from_reader(file.as_bytes());
    let found: Vec<csv::StringRecord> = rows.records().map(|r| r.unwrap()).collect();
    assert_eq!(found.len(), 1, "{file}");
    assert_eq!((&found[0][1], &found[0][4], &found[0][5]), (SITES[0].id, "Pas bien", SITES[0].comment));
    // The same selection as an Excel workbook: its cells hold the comment, as text.
    let xlsx = console.http.runtime.block_on(async {
        let r = console
            .client
            .get(format!("{url}/console/commentaires.xlsx?q=attente"))
            .header("Cookie", format!("borne_console={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.bytes().await.unwrap()
    });
    assert_eq!(&xlsx[..2], b"PK", "a zip container");
    let path = console._dir.path().join("commentaires.xlsx");
    std::fs::write(&path, &xlsx).unwrap();
    let strings = std::process::Command::new("python3")
        .args(["-c", "import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read('xl/sharedStrings.xml').decode())"])
        .arg(&path)
        .output()
        .unwrap();
    let strings = String::from_utf8_lossy(&strings.stdout);
    assert!(strings.contains(&html(SITES[0].comment)) && strings.contains("commentaire"), "{strings}");
    assert!(!strings.contains("VILLEFRANCHETEXTE"), "the selection only: {strings}");
    // Characters a search engine would parse are only characters.
    assert!(find("q=%22%29%28*+OR+NEAR").contains("Aucun commentaire ne correspond."));
    // The comments are with « Pas bien » answers: none with « Très bien ».
    assert!(find("note=1").contains(&html(SITES[2].comment)));
    assert!(find("note=3").contains("Aucun commentaire ne correspond."));
    // By site, and by period (the kiosks' local days: Paris's was sent 4 days ago).
    let paris = find("site=pref-75-paris");
    assert!(paris.contains(&html(SITES[2].comment)) && !paris.contains(&html(SITES[0].comment)));
    // The kiosks' days are in their offset (+01:00, as `network` sent them), not UTC's: near
    // midnight UTC the two differ.
    let today = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap()).date_naive();
    let recent = find(&format!("du={}&au={}", today - chrono::Duration::days(3), today));
    assert!(recent.contains(&html(SITES[0].comment)) && !recent.contains(&html(SITES[2].comment)), "{recent}");
    // A comment is text, never markup: Paris's is shown as written, its tags as characters.
    let all = find("");
    assert!(all.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;PARISTEXTE&lt;/b&gt;"), "{all}");
    assert!(!all.contains("<script") && !all.contains("<b>PARISTEXTE"), "{all}");
}

fn an_unsubscribe_link_asks_then_unsubscribes(postgres: bool) {
    let console = network(postgres, "consoleunsubscribe");
    let url = console.platform.url.clone();
    let target = console.backend.target();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let storage = runtime.block_on(borne_platform::storage::Storage::open(&target)).unwrap();
    let subscriber =
        |email: &str| runtime.block_on(storage.subscribers()).unwrap().into_iter().find(|s| s.email == email).unwrap();
    let rene = subscriber("rene@rhone.gouv.fr");
    assert!(rene.alerts);
    let link = format!("/console/desabonnement/{}", rene.unsubscribe_token);
    // Opening the link (as a mail client fetching ahead would) changes nothing…
    let page = console.get(&url, &link, None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("rene@rhone.gouv.fr") && page.body.contains("Me désabonner"));
    assert!(subscriber("rene@rhone.gouv.fr").alerts);
    // …the button does, without any session.
    let done = console.request(console.client.post(format!("{url}{link}")));
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("ne recevra plus ni alertes ni résumés"));
    let after = subscriber("rene@rhone.gouv.fr");
    assert!(!after.alerts);
    assert_eq!(after.digest, borne_platform::storage::alerting::Digest::None);
    assert!(subscriber("sophie@rhone.gouv.fr").alerts, "only this account");
    assert_eq!(console.get(&url, "/console/desabonnement/inconnu", None).status, 404);
    assert_eq!(console.request(console.client.post(format!("{url}/console/desabonnement/inconnu"))).status, 404);
}

/// A kiosk's state on the « Bornes » page follows its uploads as well as its heartbeats: one that
/// delivers reviews but has sent no heartbeat yet is online, not « jamais connectée »; a queue it
/// has just sent is not shown waiting until its next heartbeat.
fn kiosk_states_follow_uploads_as_well_as_heartbeats(postgres: bool) {
    let console = network(postgres, "consolestates");
    let url = console.platform.url.clone();
    let token = cli_ok(&console.backend, &["devices", "add", "borne-lyon-2", "--site", SITES[0].id]);
    let token = token.lines().last().unwrap().to_string();
    let session = console.login("nadia@interieur.gouv.fr", PASSWORD).unwrap();
    let row = |device: &str| -> Vec<String> {
        let csv = console.get(&url, "/console/bornes.csv", Some(&session)).body;
        // For French spreadsheets: a byte-order mark, then cells separated by `;`.
        let csv = csv.strip_prefix('\u{feff}').expect("a byte-order mark");
        let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(csv.as_bytes());
        let found = reader.records().map(|r| r.unwrap()).find(|r| &r[0] == device);
        found.unwrap_or_else(|| panic!("{device} in {csv}")).iter().map(str::to_string).collect()
    };
    assert_eq!(row("borne-lyon-2")[3], "jamais connectée");
    // Its heartbeat: three reviews waiting, the oldest for two months.
    let oldest = (chrono::Utc::now() - chrono::Duration::days(59)).to_rfc3339();
    let heartbeat = serde_json::json!({"device_id": "borne-lyon-2", "app_version": "borne/1.0", "pending": 3,
        "oldest_pending_at": oldest, "disk_free_bytes": 1u64 << 30});
    let request = console.http.client.post(format!("{url}/v1/heartbeats")).bearer_auth(&token).json(&heartbeat);
    assert_eq!(console.http.send(request).0, 204);
    let waiting = row("borne-lyon-2");
    assert_eq!((waiting[3].as_str(), waiting[7].as_str()), ("en ligne", "3"), "{waiting:?}");
    assert!(waiting[8].parse::<i64>().unwrap() >= 59 * 24, "{waiting:?}");
    // Then its batch of those three: nothing waits any more, before any heartbeat says so.
    let at = chrono::Utc::now().to_rfc3339();
    let reviews: Vec<(String, &str, i64, &str)> =
        (1..=3).map(|s| (uuid::Uuid::now_v7().to_string(), at.as_str(), s, "")).collect();
    let (status, _, text) = console.http.batch(&url, &token, &batch_body("borne-lyon-2", (1, 2, 3), &reviews));
    assert_eq!(status, 200, "{text}");
    let sent = row("borne-lyon-2");
    assert_eq!((sent[7].as_str(), sent[8].as_str()), ("0", ""), "{sent:?}");
    assert!(!sent[6].is_empty(), "the upload's time: {sent:?}");
    // A kiosk that uploads without ever sending a heartbeat is alive.
    let token = cli_ok(&console.backend, &["devices", "add", "borne-lyon-3", "--site", SITES[0].id]);
    let token = token.lines().last().unwrap().to_string();
    let (status, _, text) = console.http.batch(&url, &token, &batch_body("borne-lyon-3", (1, 2, 3), &reviews[..1]));
    assert_eq!(status, 200, "{text}");
    let silent = row("borne-lyon-3");
    assert_eq!((silent[3].as_str(), silent[7].as_str()), ("en ligne", ""), "{silent:?}");

    // Times are the site's own: a kiosk in Cayenne (UTC−3, no summer time) is read in Cayenne.
    let refused = cli(
        &console.backend,
        &["sites", "add", "sp-973", "--name", "Sous-préfecture", "--fuseau-horaire", "Europe/Lyon"],
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("fuseau horaire inconnu : « Europe/Lyon »"),
        "{refused:?}"
    );
    cli_ok(
        &console.backend,
        &["sites", "add", "prefecture-973", "--name", "Préfecture de la Guyane", "--fuseau-horaire", "America/Cayenne"],
    );
    let token = cli_ok(&console.backend, &["devices", "add", "borne-cayenne", "--site", "prefecture-973"]);
    let token = token.lines().last().unwrap().to_string();
    let sent_at = chrono::Utc::now();
    let (status, _, text) = console.http.batch(&url, &token, &batch_body("borne-cayenne", (1, 2, 3), &reviews[..1]));
    assert_eq!(status, 200, "{text}");
    let cayenne = row("borne-cayenne");
    let shown = chrono::NaiveDateTime::parse_from_str(&cayenne[6], "%Y-%m-%d %H:%M:%S").unwrap();
    let expected = sent_at.naive_utc() - chrono::Duration::hours(3);
    assert!((shown - expected).num_seconds().abs() < 60, "{shown} for {expected} ({cayenne:?})");
    let page = console.get(&url, "/console/bornes?site=prefecture-973", Some(&session)).body;
    assert!(page.contains(&shown.format("%d/%m/%Y à %H:%M").to_string()), "{page}");
}

/// Served in plain HTTP with the default « Secure » cookies, the browser sends no cookie back:
/// the sign-in says so and names the setting, instead of a bare CSRF refusal.
#[test]
fn plain_http_sign_in_points_to_the_cookie_setting() {
    let dir = Scratch::new("console-plain-http");
    let backend = Backend::new(false, dir.path());
    let config = dir.path().join("platform.toml");
    std::fs::write(&config, "").unwrap();
    let platform = start_console(&backend, &config);
    let http = Http::new();
    let form = http.send(http.client.get(format!("{}/console/connexion", platform.url)));
    assert_eq!(form.0, 200);
    let token = form.2.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    // The browser drops the « Secure » cookie over http://: the form comes back without it.
    let answer = http.send(http.client.post(format!("{}/console/connexion", platform.url)).form(&[
        ("email", "a@b.fr"),
        ("password", "x"),
        ("csrf", token.as_str()),
    ]));
    assert_eq!(answer.0, 403);
    assert!(answer.2.contains("secure_cookies = false") && answer.2.contains("https://"), "{}", answer.2);
}
