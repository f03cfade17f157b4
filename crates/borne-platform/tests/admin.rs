//! The administration from the browser's side, against a real SMTP server: `serve` on an
//! empty database prints the first administrator's single-use link; that administrator names
//! a network, adds a site, registers a kiosk — whose pasted configuration and token then
//! upload — invites a network manager by e-mail, who chooses a password through the mailed
//! link, signs in and sees their network only; a forgotten password is reset by mail, once; a
//! revoked kiosk is refused. Mistakes come back as 400 pages keeping what was typed.

mod support;

use borne_testkit::{Scratch, free_port};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::smtp::{Mail, certificates, mailbox, smtp_server};
use support::{Backend, batch_body, platform_bin};

mod the_console_administers_a_network_from_an_empty_database {
    #[test]
    #[ignore = "needs Debian's python3-aiosmtpd (an SMTP server): .ci/run installs it"]
    fn sqlite() {
        super::the_console_administers_a_network_from_an_empty_database(false)
    }

    #[test]
    #[ignore = "needs Debian's python3-aiosmtpd and PostgreSQL's server programs: .ci/run installs them"]
    fn postgres() {
        super::the_console_administers_a_network_from_an_empty_database(true)
    }
}

/// The same path as a person takes it in Chromium (`tests/e2e/admin.mjs`): the first
/// administrator installs the network from the printed link; the kiosk uploads with the lines
/// the page showed; the invited manager opens the mailed link and reads the reasons behind the
/// score. Every page passed through is checked by axe-core.
#[test]
#[ignore = "needs Debian's Chromium and python3-aiosmtpd, and tests/e2e's node modules: .ci/run installs them"]
fn the_administration_is_done_in_chromium() {
    let served = serve_empty(false, "console-admin-chromium");
    let out = served.dir.path().join("kiosk.json");
    support::e2e_script(
        "admin.mjs",
        &["install".as_ref(), served.public.as_ref(), served.setup.as_ref(), out.as_os_str()],
        &[],
    );
    let shown: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let (config, token) = (shown["configuration"].as_str().unwrap(), shown["token"].as_str().unwrap());
    let value = |key: &str| -> String {
        let line =
            config.lines().find(|l| l.starts_with(&format!("{key} = "))).unwrap_or_else(|| panic!("{key}: {config}"));
        line.split_once(" = ").unwrap().1.split("  #").next().unwrap().trim().trim_matches('"').to_string()
    };
    // The kiosk, configured with what the page showed, uploads « Pas bien » reviews saying why.
    let source: (u64, u64, u64) =
        (value("product_id").parse().unwrap(), value("form_id").parse().unwrap(), value("button_id").parse().unwrap());
    let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap());
    let why = ["Le temps d'attente", "L'accueil"];
    let reviews: Vec<(String, String, i64, String)> = (0..12)
        .map(|i: i64| {
            let reason = format!(
                r#",{{"field_code":"kiosk_pourquoi","kind":"radio","answer_item_id":{},"answer_text":"{}","intention":"neutral","field_label":"Qu'est-ce qui n'a pas été ?"}}"#,
                i % 2 + 1,
                why[i as usize % 2]
            );
            let at = (now - chrono::Duration::hours(i + 1)).to_rfc3339();
            (uuid::Uuid::now_v7().to_string(), at, if i < 8 { 1 } else { 3 }, if i < 8 { reason } else { String::new() })
        })
        .collect();
    let reviews: Vec<(String, &str, i64, &str)> =
        reviews.iter().map(|(id, at, item, extra)| (id.clone(), at.as_str(), *item, extra.as_str())).collect();
    let (status, _, body) =
        support::Http::new().batch(&value("base_url"), token, &batch_body(&value("device_id"), source, &reviews));
    assert!(status == 200 || status == 201, "{status} {body}");
    // The invited manager's mail, then her first visit.
    let invitation = next_mail(&served.maildir, "camille.martin@rhone.gouv.fr", 0);
    let link = link_in(&invitation);
    support::e2e_script(
        "admin.mjs",
        &[
            "manager".as_ref(),
            served.public.as_ref(),
            link.as_ref(),
            "camille.martin@rhone.gouv.fr".as_ref(),
            "lyon".as_ref(),
            why[0].as_ref(),
        ],
        &[],
    );
    // The sites page compares those reasons across the network's sites: 8 answers, half each.
    let camille = Browser::new(&served.public);
    assert_eq!(camille.sign_in("camille.martin@rhone.gouv.fr", "le mot de passe de Camille").0, 303);
    let home = camille.get("/console/").2;
    assert!(
        home.contains("<th scope=\"row\">Préfecture de Lyon</th><td>8 (indicatif)</td><td>50,0 %</td><td>50,0 %</td>"),
        "{home}"
    );
}

/// A browser: cookies kept, redirects not followed (their target is asserted).
struct Browser {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
}

impl Browser {
    fn new(base: &str) -> Browser {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Browser {
            runtime: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
            client: support::idle_safe(
                reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()),
            ),
            base: base.trim_end_matches('/').to_string(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.base) }
    }

    /// Status, `Location`, body.
    fn get(&self, path: &str) -> (u16, String, String) {
        self.answer(self.client.get(self.url(path)))
    }

    fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        self.answer(self.client.post(self.url(path)).form(form))
    }

    fn answer(&self, request: reqwest::RequestBuilder) -> (u16, String, String) {
        self.runtime.block_on(async {
            let r = request.send().await.unwrap();
            let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
            (r.status().as_u16(), location, r.text().await.unwrap())
        })
    }

    /// Signs in with the form (its CSRF cookie and field).
    fn sign_in(&self, email: &str, password: &str) -> (u16, String) {
        let (_, _, form) = self.get("/console/connexion");
        let csrf = between(&form, "name=\"csrf\" value=\"", "\"").expect("the sign-in form's token");
        let (status, location, _) =
            self.post("/console/connexion", &[("email", email), ("password", password), ("csrf", &csrf)]);
        (status, location)
    }

    /// The session's CSRF token, from the administration page.
    fn csrf(&self) -> String {
        let (status, _, page) = self.get("/console/administration");
        assert_eq!(status, 200, "{page}");
        between(&page, "name=\"csrf\" value=\"", "\"").expect("a form token")
    }
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(text[from..to].to_string())
}

fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// Waits (at most 30 s) for a new mail to `to` carrying a single-use link, after the `seen`
/// first ones (a manager may also get a summary meanwhile: the alerts run each minute).
fn next_mail(maildir: &std::path::Path, to: &str, seen: usize) -> Mail {
    let start = Instant::now();
    loop {
        let mails = if maildir.join("new").exists() { links_to(maildir, to) } else { vec![] };
        if let Some(mail) = mails.into_iter().nth(seen) {
            return mail;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no mail to {to} within 30 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The mails to `to` that carry a single-use link, in order.
fn links_to(maildir: &std::path::Path, to: &str) -> Vec<Mail> {
    mailbox(maildir).into_iter().filter(|m| m.to.contains(to) && m.body.contains("/console/lien/")).collect()
}

/// The console link in a mail's body.
fn link_in(mail: &Mail) -> String {
    mail.body.split_whitespace().find(|w| w.contains("/console/lien/")).expect("a link in the mail").to_string()
}

/// A platform serving an empty database, with mail through a real SMTP server: its address,
/// the first administrator's link it printed, where the mails land.
struct Served {
    dir: Scratch,
    backend: Backend,
    public: String,
    setup: String,
    maildir: std::path::PathBuf,
    _smtp: support::smtp::SmtpServer,
    _server: KillOnDrop,
}

fn serve_empty(postgres: bool, name: &str) -> Served {
    let dir = Scratch::new(name);
    let backend = Backend::new(postgres, dir.path());
    let (cert, key, ca_pem) = certificates(dir.path());
    std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
    let smtp_port = free_port();
    let maildir = dir.path().join("mail");
    let smtp = smtp_server(smtp_port, &cert, &key, &maildir);
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let config = dir.path().join("platform.toml");
    std::fs::write(
        &config,
        format!(
            "[console]\nsecure_cookies = false\npublisher = \"Préfecture du Rhône\"\n\n[alerts]\n\
             smtp_url = \"smtp://localhost:{smtp_port}\"\nfrom = \"Borne <borne@rhone.gouv.fr>\"\n\
             public_url = \"{public}\"\nca_file = \"{}\"\n",
            dir.path().join("ca.pem").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(platform_bin())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--config"])
        .arg(&config)
        .args(backend.args())
        .env_remove("DATABASE_URL")
        .env("BORNE_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("listening on "), "{first}");
    let setup_line = lines.next().unwrap().unwrap();
    let setup = setup_line
        .split_whitespace()
        .find(|w| w.contains("/console/lien/"))
        .unwrap_or_else(|| panic!("the first administrator's link: {setup_line}"))
        .to_string();
    Served { dir, backend, public, setup, maildir, _smtp: smtp, _server: KillOnDrop(child) }
}

fn the_console_administers_a_network_from_an_empty_database(postgres: bool) {
    let served = serve_empty(postgres, "console-admin");
    let Served { ref backend, ref public, ref setup, ref maildir, .. } = served;
    let admin = Browser::new(public);

    // The public pages every footer links to name the publisher.
    let (status, _, notice) = admin.get("/mentions-legales");
    assert!(status == 200 && notice.contains("Préfecture du Rhône"), "{notice}");
    let (status, _, statement) = admin.get("/accessibilite");
    assert!(status == 200 && statement.contains("non conforme"), "{statement}");

    // The first administrator: a mistake keeps what was typed; then the link works once.
    let (status, _, page) = admin.get(setup);
    assert!(status == 200 && page.contains("Premier administrateur"), "{status} {page}");
    let setup_path = setup.trim_start_matches(public.as_str()).to_string();
    let (status, _, page) = admin.post(
        &setup_path,
        &[
            ("name", "Dominique Admin"),
            ("email", "admin@interieur.gouv.fr"),
            ("password", "court"),
            ("confirmation", "court"),
        ],
    );
    assert!(status == 400 && page.contains("12 caractères") && page.contains("Dominique Admin"), "{status} {page}");
    let password = "un mot de passe assez long";
    let form = [
        ("name", "Dominique Admin"),
        ("email", "admin@interieur.gouv.fr"),
        ("password", password),
        ("confirmation", password),
    ];
    let (status, _, page) = admin.post(&setup_path, &form);
    assert!(status == 200 && page.contains("Votre mot de passe est enregistré"), "{status} {page}");
    let (status, _, _) = admin.post(&setup_path, &form);
    assert_eq!(status, 410, "the setup link serves once");
    let (status, location) = admin.sign_in("admin@interieur.gouv.fr", password);
    assert!(status == 303 && location == "/console/", "{status} {location}");

    // A network, a site (a mistake first), a kiosk.
    let csrf = admin.csrf();
    let (status, location, _) = admin.post(
        "/console/administration/organisations",
        &[("csrf", &csrf), ("id", "pref-69"), ("name", "Préfecture du Rhône")],
    );
    assert!(status == 303 && location.ends_with("fait=organisation"), "{status} {location}");
    let (status, _, page) = admin.post(
        "/console/administration/sites",
        &[("csrf", &csrf), ("id", "mauvais id !"), ("name", "Préfecture de Lyon"), ("organisation", "pref-69")],
    );
    assert!(status == 400 && page.contains("identifiant de site invalide"), "{status} {page}");
    assert!(page.contains("value=\"Préfecture de Lyon\""), "the name typed is kept: {page}");
    let (status, location, _) = admin.post(
        "/console/administration/sites",
        &[("csrf", &csrf), ("id", "lyon"), ("name", "Préfecture de Lyon"), ("organisation", "pref-69")],
    );
    assert!(status == 303 && location.ends_with("fait=site"), "{status} {location}");
    let (status, _, _) =
        admin.post("/console/administration/bornes", &[("csrf", "faux"), ("id", "x"), ("site", "lyon")]);
    assert_eq!(status, 403, "a form without the session's token is refused");
    let (status, _, page) =
        admin.post("/console/administration/bornes", &[("csrf", &csrf), ("id", "lyon-accueil"), ("site", "lyon")]);
    assert_eq!(status, 200, "{page}");
    let config = unescape(&between(&page, "id=\"configuration\">", "</pre>").expect("the configuration"));
    let token = between(&page, "id=\"jeton\">", "</pre>").expect("the token").trim().to_string();
    let value = |key: &str| -> String {
        let line =
            config.lines().find(|l| l.starts_with(&format!("{key} = "))).unwrap_or_else(|| panic!("{key}: {config}"));
        line.split_once(" = ").unwrap().1.split("  #").next().unwrap().trim().trim_matches('"').to_string()
    };
    assert_eq!(value("device_id"), "lyon-accueil");
    assert_eq!(&value("base_url"), public);
    assert_eq!(value("token_file"), "/etc/borne/token");
    let source: (u64, u64, u64) =
        (value("product_id").parse().unwrap(), value("form_id").parse().unwrap(), value("button_id").parse().unwrap());

    // The kiosk uploads with what was pasted.
    let http = support::Http::new();
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
        .to_rfc3339();
    let comment = r#",{"field_code":"verbatim","kind":"text","answer_item_id":0,"answer_text":"Trop d'attente au guichet","intention":"neutral"}"#;
    let reviews: Vec<(String, &str, i64, &str)> = (0..3)
        .map(|i| (uuid::Uuid::now_v7().to_string(), yesterday.as_str(), 3 - i % 2, if i == 1 { comment } else { "" }))
        .collect();
    let (status, _, body) = http.batch(&value("base_url"), &token, &batch_body(&value("device_id"), source, &reviews));
    assert!(status == 200 || status == 201, "{status} {body}");
    let (_, _, fleet) = admin.get("/console/bornes");
    assert!(fleet.contains("data-state=\"online\">en ligne</span></td><th scope=\"row\">lyon-accueil"), "{fleet}");
    // The charts' figures, by day and by month: the three reviews on the kiosk's day, scored
    // as the State does ((10 + 5 + 10) / 3), « indicatif » under 100 reviews.
    let (day, month) =
        (format!("{}/{}", &yesterday[8..10], &yesterday[5..7]), format!("{}/{}", &yesterday[5..7], &yesterday[..4]));
    for (step, label) in [("jour", day), ("mois", month)] {
        let (status, _, page) = admin.get(&format!("/console/sites/lyon?par={step}"));
        let row = format!("<th scope=\"row\">{label}</th><td>3</td><td>8,3 (indicatif)</td>");
        assert!(status == 200 && page.contains(&row), "{step}: {row} in {page}");
    }

    // A network manager invited by mail chooses a password through the link, once.
    let (status, location, _) = admin.post(
        "/console/administration/comptes",
        &[
            ("csrf", &csrf),
            ("name", "Camille Martin"),
            ("email", "camille.martin@rhone.gouv.fr"),
            ("role", "network"),
            ("organisation", "pref-69"),
        ],
    );
    assert!(status == 303 && location.ends_with("fait=invitation"), "{status} {location}");
    let invitation = next_mail(maildir, "camille.martin@rhone.gouv.fr", 0);
    assert!(
        invitation.body.contains("Camille Martin") && invitation.body.contains("Dominique Admin"),
        "{}",
        invitation.body
    );
    let link = link_in(&invitation);
    assert!(link.starts_with(&format!("{public}/console/lien/")), "{link}");
    let camille = Browser::new(public);
    let (status, _, page) = camille.get(&link);
    assert!(status == 200 && page.contains("Bienvenue"), "{status} {page}");
    let chosen = "le mot de passe de Camille";
    let (status, _, page) = camille.post(&link, &[("password", chosen), ("confirmation", "autre chose encore")]);
    assert!(status == 400 && page.contains("ne sont pas les mêmes"), "{status} {page}");
    let (status, _, _) = camille.post(&link, &[("password", chosen), ("confirmation", chosen)]);
    assert_eq!(status, 200);
    let (status, _, _) = camille.get(&link);
    assert_eq!(status, 410, "an invitation serves once");
    let (status, location) = camille.sign_in("camille.martin@rhone.gouv.fr", chosen);
    assert!(status == 303 && location == "/console/", "{status} {location}");
    let (_, _, home) = camille.get("/console/");
    assert!(home.contains("Préfecture de Lyon"), "{home}");
    // The network is named by its name, not its id.
    assert!(camille.get("/console/sites/lyon").2.contains("Réseau : Préfecture du Rhône."));
    // A step that is not one: the site's page by week, with what was wrong beside the choice.
    let (status, _, page) = camille.get("/console/sites/lyon?par=annee");
    assert_eq!(status, 400);
    assert!(page.contains("Pas inconnu : « annee »") && page.contains("<h1>Préfecture de Lyon</h1>"), "{page}");
    assert!(page.contains("<option value=\"semaine\" selected>"), "{page}");
    let sites = camille.get("/console/").2;
    assert!(sites.contains("<td>Préfecture du Rhône</td>"), "{sites}");
    let (_, _, administration) = camille.get("/console/administration");
    assert!(
        administration.contains("Préfecture du Rhône") && !administration.contains("Créer ou renommer"),
        "{administration}"
    );

    // Camille's summaries: monthly, and no alert mails; an unknown rhythm is refused.
    let (_, _, page) = camille.get("/console/administration");
    let csrf_camille = between(&page, "name=\"csrf\" value=\"", "\"").unwrap();
    let (status, _, _) =
        camille.post("/console/administration/resumes", &[("csrf", &csrf_camille), ("digest", "yearly")]);
    assert_eq!(status, 400);
    let (status, location, _) =
        camille.post("/console/administration/resumes", &[("csrf", &csrf_camille), ("digest", "monthly")]);
    assert!(status == 303 && location.ends_with("fait=resumes"), "{status} {location}");
    let (_, _, page) = camille.get("/console/administration");
    assert!(page.contains("value=\"monthly\" selected"), "{page}");
    assert!(!page.contains("name=\"alerts\" value=\"oui\" checked"), "{page}");
    {
        let opened = open_storage(backend);
        let subscribers = opened.runtime.block_on(opened.storage.subscribers()).unwrap();
        let camille = subscribers.iter().find(|s| s.email == "camille.martin@rhone.gouv.fr").unwrap();
        assert_eq!((camille.digest, camille.alerts), (borne_platform::storage::alerting::Digest::Monthly, false));
    }

    // The network's themes, then a comment opened whole, tagged and marked handled.
    let (status, location, _) = admin.post(
        "/console/administration/themes",
        &[("csrf", &csrf), ("organisation", "pref-69"), ("themes", "Attente, Accueil, Attente")],
    );
    assert!(status == 303 && location.ends_with("fait=themes"), "{status} {location}");
    let (_, _, comments) = camille.get("/console/commentaires");
    let review = between(&comments, "href=\"/console/avis/", "\"").expect("a link to the whole review");
    let path = format!("/console/avis/{review}");
    let (status, _, page) = camille.get(&path);
    assert!(status == 200 && page.contains("attente au guichet</td>"), "{status} {page}");
    assert!(
        page.contains("comment ça s") && page.contains(">Commentaire</th>"),
        "every answer with its question: {page}"
    );
    let csrf_camille = between(&page, "name=\"csrf\" value=\"", "\"").unwrap();
    let (status, _, page) = camille.post(&path, &[("csrf", &csrf_camille), ("theme", "Inventé")]);
    assert!(status == 400 && page.contains("Thème inconnu"), "{status} {page}");
    let (status, location, _) =
        camille.post(&path, &[("csrf", &csrf_camille), ("traite", "oui"), ("theme", "Attente")]);
    assert!(status == 303 && location == path, "{status} {location}");
    let (_, _, page) = camille.get(&path);
    assert!(page.contains("Traité par Camille Martin") && page.contains("value=\"Attente\" checked"), "{page}");
    let (_, _, comments) = camille.get("/console/commentaires");
    assert!(comments.contains("traité par Camille Martin · thèmes : Attente"), "{comments}");
    // The list filtered by follow-up and theme (the network's themes offered); a filter that
    // is not one comes back as a 400 keeping the others.
    assert!(comments.contains("<option value=\"Accueil\">Accueil</option>"), "{comments}");
    let shown =
        |query: &str| camille.get(&format!("/console/commentaires?{query}")).2.contains("Trop d'attente au guichet");
    assert!(shown("suivi=traite&theme=Attente"));
    assert!(!shown("suivi=a-traiter"), "handled, so not « à traiter »");
    assert!(!shown("theme=Accueil"), "not tagged Accueil");
    assert!(!shown("theme=Atten"), "a theme is matched whole");
    assert!(shown("suivi=&theme="));
    let (status, _, page) = camille.get("/console/commentaires?suivi=bientot&theme=Attente&note=1");
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("suivi inconnu : bientot"), "{page}");
    assert!(
        page.contains("<option value=\"Attente\" selected>") && page.contains("<option value=\"1\" selected>"),
        "{page}"
    );
    assert_eq!(camille.get("/console/avis/999999999").0, 404);

    // A forgotten password: the same answer for an unknown address; a link mailed, once.
    let stranger = Browser::new(public);
    let (status, _, page) = stranger.post("/console/mot-de-passe-oublie", &[("email", "inconnu@rhone.gouv.fr")]);
    assert!(status == 200 && page.contains("Si un compte existe"), "{page}");
    let (status, _, _) = stranger.post("/console/mot-de-passe-oublie", &[("email", "camille.martin@rhone.gouv.fr")]);
    assert_eq!(status, 200);
    let reset = next_mail(maildir, "camille.martin@rhone.gouv.fr", 1);
    assert!(reset.subject.contains("nouveau mot de passe"), "{}", reset.subject);
    let renewed = "un tout nouveau mot de passe";
    let (status, _, _) = stranger.post(&link_in(&reset), &[("password", renewed), ("confirmation", renewed)]);
    assert_eq!(status, 200);
    let (status, _, _) = stranger.post(&link_in(&reset), &[("password", renewed), ("confirmation", renewed)]);
    assert_eq!(status, 410, "a reset link serves once");
    assert_eq!(camille.get("/console/").0, 303, "the reset closed the sessions opened with the old password");
    assert_eq!(camille.sign_in("camille.martin@rhone.gouv.fr", chosen).0, 401, "the old password is gone");
    // A failed sign-in makes the next one wait a second (the console's throttle).
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(camille.sign_in("camille.martin@rhone.gouv.fr", renewed).0, 303);
    let unknown = mailbox(maildir).into_iter().filter(|m| m.to.contains("inconnu@")).count();
    assert_eq!(unknown, 0, "nobody is mailed for an address without account");
    // At most 3 links an hour for one account (the invitation and the reset were two): the
    // next request is mailed, those after it are not, with the same answer.
    for _ in 0..3 {
        let (status, _, page) =
            stranger.post("/console/mot-de-passe-oublie", &[("email", "camille.martin@rhone.gouv.fr")]);
        assert!(status == 200 && page.contains("Si un compte existe"), "{page}");
    }
    next_mail(maildir, "camille.martin@rhone.gouv.fr", 2);
    std::thread::sleep(Duration::from_secs(2));
    // Links, not messages: SMTP delivers at least once, and a server slow to confirm may get
    // the same message again; what the cap limits is the links issued.
    let mut to_camille: Vec<String> = links_to(maildir, "camille.martin@rhone.gouv.fr").iter().map(link_in).collect();
    to_camille.sort();
    to_camille.dedup();
    assert_eq!(to_camille.len(), 3, "the invitation, two resets, and nothing more this hour: {to_camille:#?}");

    // Alert rules typed in the console: a share over 100 % refused, a French decimal taken.
    let post_rules = |percent: &str| {
        let form = [
            ("csrf", csrf.as_str()),
            ("organisation", "pref-69"),
            ("offline_hours", "6"),
            ("pending_hours", "48"),
            ("negative_percent", percent),
            ("negative_days", "7"),
            ("negative_minimum", "20"),
            ("drop_points", "1"),
            ("drop_days", "30"),
            ("drop_minimum", "100"),
            ("debounce_minutes", "5"),
            ("cap_hours", "2"),
        ];
        admin.post("/console/administration/alertes", &form)
    };
    let (status, _, page) = post_rules("150");
    assert!(status == 400 && page.contains("Règles refusées") && page.contains("value=\"150\""), "{status} {page}");
    let (status, location, _) = post_rules("25,5");
    assert!(status == 303 && location.ends_with("fait=alertes"), "{status} {location}");
    let (_, _, page) = admin.get("/console/administration");
    assert!(
        page.contains(
            "id=\"pref-69-negative_percent\" name=\"negative_percent\" inputmode=\"decimal\" required value=\"25,5\""
        ),
        "{page}"
    );
    let storage = open_storage(backend);
    let stored = storage.runtime.block_on(storage.storage.alert_rules("pref-69")).unwrap().expect("its own rules");
    assert!(stored.contains("\"negative_percent\":25.5") && stored.contains("\"offline_hours\":6"), "{stored}");

    // An incident seen, then closed with what was done, by the network's manager.
    storage.open_incident("lyon-accueil", "lyon");
    let (_, _, home) = camille.get("/console/");
    let id = between(&home, "action=\"/console/incidents/", "\"").expect("an open incident's form");
    let camille_csrf = between(&home, "name=\"csrf\" value=\"", "\"").unwrap();
    let path = format!("/console/incidents/{id}");
    let (status, location, _) = camille.post(&path, &[("csrf", &camille_csrf), ("action", "vu")]);
    assert!(status == 303 && location == "/console/#incidents", "{status} {location}");
    assert!(camille.get("/console/").2.contains("Pris en compte par Camille Martin"));
    let (status, _, page) = camille.post(&path, &[("csrf", &camille_csrf), ("action", "clore"), ("note", "")]);
    assert!(status == 400 && page.contains("dites ce qui a été fait"), "{status} {page}");
    let (status, _, _) =
        camille.post(&path, &[("csrf", &camille_csrf), ("action", "clore"), ("note", "Borne rebranchée au guichet 3")]);
    assert_eq!(status, 303);
    let home = camille.get("/console/").2;
    assert!(home.contains("Clôturé par Camille Martin : « Borne rebranchée au guichet 3 »"), "{home}");
    let (status, _, _) = camille.post(&path, &[("csrf", &camille_csrf), ("action", "clore"), ("note", "encore")]);
    assert_eq!(status, 400, "an incident is closed once");

    // A revoked kiosk is refused from its next request.
    let (status, location, _) =
        admin.post("/console/administration/bornes/revoquer", &[("csrf", &csrf), ("device", "lyon-accueil")]);
    assert!(status == 303 && location.ends_with("fait=revoquee"), "{status} {location}");
    let (status, _, _) = http.batch(public, &token, &batch_body("lyon-accueil", source, &reviews[..1]));
    assert_eq!(status, 401, "a revoked kiosk's token is refused");
}

/// The platform's storage, opened by the test beside the running server.
struct OpenStorage {
    runtime: tokio::runtime::Runtime,
    storage: borne_platform::storage::Storage,
}

fn open_storage(backend: &Backend) -> OpenStorage {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let storage = runtime.block_on(borne_platform::storage::Storage::open(&backend.target())).unwrap();
    OpenStorage { runtime, storage }
}

impl OpenStorage {
    /// An incident opened as the alerts' round commits one (a kiosk silent).
    fn open_incident(&self, device: &str, site: &str) {
        use borne_platform::storage::alerting::{IncidentChange, TickOutcome};
        self.runtime.block_on(async {
            let at = chrono::Utc::now();
            // An hour ahead: the round the platform itself took at start is long past by then.
            let round = at + chrono::Duration::hours(1);
            let claimed =
                self.storage.claim_alert_tick("admin-test", round, chrono::Duration::minutes(1)).await.unwrap();
            assert!(claimed.is_some(), "this round is the test's");
            let incidents = vec![IncidentChange::Opened {
                rule: "hors-ligne".into(),
                scope_kind: "device".into(),
                scope_id: device.into(),
                site_id: Some(site.into()),
                detail: "aucun signe de vie depuis 7 h".into(),
                at,
            }];
            let outcome = TickOutcome { tracks: "[]".into(), incidents, ..Default::default() };
            assert!(self.storage.commit_alert_tick("admin-test", outcome, round).await.unwrap());
        });
    }
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
