//! The dashboard's handlers against a real server bound to port 0 on loopback, over a real
//! store file: login, throttling, CSRF, sessions, headers, pages, filters, export, TLS.

use crate::common::{Answer, Scratch, borne, client, hidden_csrf, http_send, run_err, set_cookie, urlencode};
use borne::app::App;
use borne::clock::{SyncSource, SystemClock};
use borne::config::Config;
use borne::dashboard::{self, Dashboard};
use borne::kiosk;
use borne::store::{Integrity, Store};
use borne_model::review::ReviewDraft;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

const PASSWORD: &str = "un mot de passe assez long";

struct Server {
    base: String,
    runtime: tokio::runtime::Runtime,
    _stop: tokio::sync::oneshot::Sender<()>,
    dir: Scratch,
}

/// 150 reviews: 100 « Très bien » (20 with a comment), 30 « Moyen », 20 « Pas bien » (10 with a
/// comment), over the last four weeks; two of them rejected by the platform.
fn seed(dir: &std::path::Path, config: &Config) {
    let (mut store, _) = Store::open(dir, Integrity::CheckAndRecover).unwrap();
    let clock = SystemClock { source: SyncSource::AssumeSynced };
    let mut ids = Vec::new();
    for (satisfaction, n, with_comment) in [(3, 100, 20), (2, 30, 0), (1, 20, 10)] {
        for i in 0..n {
            let comment = (i < with_comment).then(|| format!("avis {satisfaction}-{i} <script>alert(1)</script>"));
            let answers = if satisfaction == 1 { vec![("kiosk_motif".to_string(), 1)] } else { vec![] };
            let draft =
                ReviewDraft { channel_answers: Vec::new(), satisfaction, answers, comment, language: "fr".into() };
            let mut review = kiosk::build_review(&config.survey, &clock, &draft).unwrap();
            // Spread over the last four weeks, in opening hours (the newest last).
            let k = ids.len() as i64;
            let back = chrono::Duration::days((149 - k) / 6) + chrono::Duration::hours(k % 9);
            review.submitted_at -= back;
            ids.push(review.client_review_id);
            store.insert_review(&review).unwrap();
        }
    }
    let batch = uuid::Uuid::now_v7();
    let now = chrono::Utc::now();
    assert!(store.create_batch(batch, &ids[..2], b"x", 1, now).unwrap());
    let rejected: Vec<_> = ids[..2].iter().map(|id| (*id, "champ inconnu : motif".to_string())).collect();
    store.complete_batch(batch, &[], &rejected, now).unwrap();
    store.set_manager_password_hash(&borne_web::auth::hash_password(PASSWORD).unwrap()).unwrap();
}

fn serve(name: &str, session_idle: Duration, tls: Option<tokio_rustls::TlsAcceptor>) -> Server {
    let dir = Scratch::new(name);
    let config = Config::embedded();
    seed(dir.path(), &config);
    let app = App { config, data_dir: dir.path().to_path_buf() };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let tls_on = tls.is_some();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Dashboard::new(app, session_idle, tls_on);
    runtime.spawn(dashboard::serve(listener, state, tls, async {
        let _ = stopped.await;
    }));
    let scheme = if tls_on { "https" } else { "http" };
    Server { base: format!("{scheme}://localhost:{}", addr.port()), runtime, _stop: stop, dir }
}

impl Server {
    fn send(&self, client: &reqwest::Client, method: &str, path: &str, cookie: &str, form: &[(&str, &str)]) -> Answer {
        self.runtime.block_on(http_send(client, &format!("{}{path}", self.base), method, cookie, form))
    }

    /// Logs in; returns the session cookie and the page's CSRF token.
    fn login(&self, client: &reqwest::Client) -> (String, String) {
        let form = self.send(client, "GET", "/connexion", "", &[]);
        let (cookie, token) = login_token(&form);
        let answer = self.send(client, "POST", "/connexion", &cookie, &[("csrf", &token), ("password", PASSWORD)]);
        assert_eq!(answer.status, 303, "{}", answer.body);
        let session = set_cookie(&answer, "borne_session").expect("session cookie");
        let cookie = session.split(';').next().unwrap().to_string();
        let page = self.send(client, "GET", "/", &cookie, &[]);
        (cookie, hidden_csrf(&page.body))
    }
}

fn login_token(form: &Answer) -> (String, String) {
    let cookie = set_cookie(form, "borne_login_csrf").expect("login CSRF cookie");
    (cookie.split(';').next().unwrap().to_string(), hidden_csrf(&form.body))
}

#[test]
fn login_is_throttled_and_the_session_cookie_is_locked_down() {
    let s = serve("dash-login", Duration::from_secs(1800), None);
    let c = client();
    let unauthenticated = s.send(&c, "GET", "/", "", &[]);
    assert_eq!((unauthenticated.status, unauthenticated.headers["location"].to_str().unwrap()), (303, "/connexion"));
    assert_eq!(s.send(&c, "GET", "/api/stats", "", &[]).status, 401);
    assert_eq!(s.send(&c, "GET", "/export.csv", "", &[]).status, 401);

    let form = s.send(&c, "GET", "/connexion", "", &[]);
    assert_eq!(form.status, 200);
    // No script at all (nothing allows one: `default-src 'none'` and no `script-src`), styles
    // and fonts only from the kiosk itself (the design system it serves), no framing.
    let csp = form.headers["content-security-policy"].to_str().unwrap();
    assert_eq!(
        csp,
        "default-src 'none'; style-src 'self'; font-src 'self'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(form.headers["x-content-type-options"], "nosniff");
    let (cookie, token) = login_token(&form);

    // No CSRF token, or a wrong one: refused before the password is even looked at.
    let no_token = s.send(&c, "POST", "/connexion", &cookie, &[("password", PASSWORD)]);
    assert_eq!(no_token.status, 403);
    let wrong_token = s.send(&c, "POST", "/connexion", &cookie, &[("csrf", &"0".repeat(64)), ("password", PASSWORD)]);
    assert_eq!(wrong_token.status, 403);

    let wrong = s.send(&c, "POST", "/connexion", &cookie, &[("csrf", &token), ("password", "mauvais mot de passe")]);
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Mot de passe incorrect"));
    let (cookie, token) = login_token(&wrong);
    let at_once = s.send(&c, "POST", "/connexion", &cookie, &[("csrf", &token), ("password", PASSWORD)]);
    assert_eq!(at_once.status, 429, "even the right password waits after a failure");
    assert!(at_once.body.contains("Trop d'essais"));
    std::thread::sleep(Duration::from_millis(1100));
    let (cookie, token) = login_token(&at_once);
    let ok = s.send(&c, "POST", "/connexion", &cookie, &[("csrf", &token), ("password", PASSWORD)]);
    assert_eq!(ok.status, 303);
    let session = set_cookie(&ok, "borne_session").unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
    assert!(!session.contains("Secure"), "no Secure flag over plain HTTP");

    let cookie = session.split(';').next().unwrap();
    let page = s.send(&c, "GET", "/", cookie, &[]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Vue d'ensemble") && page.body.contains("<svg"), "server-side charts");
    assert!(page.body.contains("150 avis"), "the 30-day card counts every review");
    assert!(!page.body.contains("<script"), "no script on the page");
    assert_eq!(page.headers["cache-control"], "no-store");

    // Logging out needs the token, then ends the session.
    let csrf = hidden_csrf(&page.body);
    assert_eq!(s.send(&c, "POST", "/deconnexion", cookie, &[]).status, 403);
    assert_eq!(s.send(&c, "POST", "/deconnexion", cookie, &[("csrf", &csrf)]).status, 303);
    assert_eq!(s.send(&c, "GET", "/", cookie, &[]).status, 303);
}

#[test]
fn pages_filters_export_and_api_show_the_stored_figures() {
    let s = serve("dash-pages", Duration::from_secs(1800), None);
    let c = client();
    let (cookie, csrf) = s.login(&c);

    let bad = s.send(&c, "GET", "/commentaires?note=1", &cookie, &[]);
    assert_eq!(bad.status, 200);
    assert_eq!(bad.body.matches("<blockquote>").count(), 10, "only the « Pas bien » comments");
    assert!(bad.body.contains("&lt;script&gt;") && !bad.body.contains("<script>alert"), "comments are escaped");
    let all = s.send(&c, "GET", "/commentaires", &cookie, &[]);
    assert_eq!(all.body.matches("<blockquote>").count(), 20, "a page holds 20");
    assert!(all.body.contains("page=2"));
    let second = s.send(&c, "GET", "/commentaires?page=2", &cookie, &[]);
    assert_eq!(second.body.matches("<blockquote>").count(), 10);
    let first = all.body.find("<blockquote>").unwrap();
    assert!(all.body[first..].starts_with("<blockquote>avis 1-9"), "newest first");
    for bad_input in ["/commentaires?du=hier", "/commentaires?note=7", "/commentaires?du=2026-02-01&au=2026-01-01"] {
        let answer = s.send(&c, "GET", bad_input, &cookie, &[]);
        assert_eq!(answer.status, 400, "{bad_input}");
        assert!(answer.body.contains("role=\"alert\""), "{bad_input}: a clear message");
    }

    let csv = s.send(&c, "GET", "/export.csv", &cookie, &[]);
    assert_eq!(csv.status, 200);
    assert!(csv.headers["content-disposition"].to_str().unwrap().contains("attachment"));
    assert_eq!(csv.body.lines().count(), 151, "a header and one line per review");
    let none = s.send(&c, "GET", "/export.csv?du=2001-01-01&au=2001-01-31", &cookie, &[]);
    assert_eq!(none.body.lines().count(), 1);

    let api = s.send(&c, "GET", "/api/stats", &cookie, &[]);
    let json: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    let month = json["periods"].as_array().unwrap().iter().find(|p| p["key"] == "30d").unwrap();
    assert_eq!(month["indicators"]["reviews"], 150);
    assert_eq!(month["indicators"]["satisfaction"]["score"]["value"], 7.7, "(100×10 + 30×5) / 150");
    assert_eq!(json["daily"].as_array().unwrap().len(), 30);
    assert_eq!(month["indicators"]["jdma"]["satisfaction"]["text"], "7,7 / 10");

    // The pages show JDMA's back-office figures (no minimum of reviews there): the 30 days'
    // 1150 points over 150 reviews, and today's few « Pas bien » as an indicative score.
    let overview = s.send(&c, "GET", "/", &cookie, &[]);
    let jdma_month =
        overview.body.find("Indicateurs de « Je donne mon avis » — 30 derniers jours").expect("JDMA's figures");
    assert!(
        overview.body[jdma_month..].contains(
            "<th scope=\"row\">Satisfaction usager</th><td>7,7 / 10</td><td class=\"severity-new\">Moyen</td><td>150</td>"
        ),
        "{}",
        overview.body
    );
    assert!(
        overview.body[jdma_month..].contains("Niveau d&#39;autonomie")
            || overview.body[jdma_month..].contains("Niveau d'autonomie")
    );
    let today_card =
        &overview.body[overview.body.find("id=\"p-today\"").unwrap()..overview.body.find("id=\"p-7d\"").unwrap()];
    assert!(today_card.contains("score indicative band-bad\">0,0"), "{today_card}");
    assert!(today_card.contains("Pas bien — note indicative ("), "{today_card}");
    // The weekly chart: weeks of fewer than 100 reviews have a pale bar with their indicative score.
    assert!(overview.body.contains("<rect class=\"indicative\""), "indicative weekly bars");
    assert!(overview.body.contains(" : aucun avis</title>"), "the weeks before the first review");
    assert_eq!(json["weekly"].as_array().unwrap().len(), 12);

    for (path, wanted) in [
        ("/borne", "Espace disque libre"),
        ("/export", "Télécharger le CSV"),
        ("/affiche", "Nos résultats"),
        ("/envoi", "champ inconnu : motif"),
    ] {
        let page = s.send(&c, "GET", path, &cookie, &[]);
        assert_eq!(page.status, 200, "{path}");
        assert!(page.body.contains(wanted), "{path}: {wanted}");
    }

    // Retrying rejected reviews needs the form's token.
    assert_eq!(s.send(&c, "POST", "/envoi/reessayer", &cookie, &[]).status, 403);
    let retried = s.send(&c, "POST", "/envoi/reessayer", &cookie, &[("csrf", &csrf)]);
    assert_eq!(retried.status, 200);
    assert!(retried.body.contains("2 avis remis en attente"));
    let (store, _) = Store::open(s.dir.path(), Integrity::Trust).unwrap();
    assert_eq!(store.outbox_summary().unwrap().rejected, 0);
}

/// « Vous nous l'avez dit, on l'a fait » on the dashboard: written (spaces tidied, markup
/// escaped), refused with what was typed kept and what to fix, on the poster, removed.
#[test]
fn improvement_actions_are_written_refused_without_losing_the_text_and_removed() {
    let s = serve("dash-actions", Duration::from_secs(1800), None);
    let c = client();
    let (cookie, csrf) = s.login(&c);
    let today = chrono::Local::now().date_naive();
    let page = s.send(&c, "GET", "/actions", &cookie, &[]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Aucune pour le moment") && page.body.contains(&format!("value=\"{today}\"")));

    let typed = "  Un guichet   de plus\r\nle lundi <b>matin</b> ";
    let added =
        s.send(&c, "POST", "/actions", &cookie, &[("csrf", &csrf), ("texte", typed), ("date", &today.to_string())]);
    assert_eq!((added.status, added.headers["location"].to_str().unwrap()), (303, "/actions"));
    let listed = s.send(&c, "GET", "/actions", &cookie, &[]);
    assert!(listed.body.contains("Un guichet de plus le lundi &lt;b&gt;matin&lt;/b&gt;"), "{}", listed.body);
    assert!(!listed.body.contains("<b>matin"));

    // Refused: nothing stored, the form comes back with the text as typed and why.
    let tomorrow = today.succ_opt().unwrap().to_string();
    for (text, date, why) in [
        ("Des chaises en salle d'attente", tomorrow.as_str(), "dans l'avenir"),
        ("Des chaises en salle d'attente", "demain", "n'est pas une date"),
        ("Oui", "2026-01-05", "trop court"),
    ] {
        let refused = s.send(&c, "POST", "/actions", &cookie, &[("csrf", &csrf), ("texte", text), ("date", date)]);
        assert_eq!(refused.status, 400, "{why}");
        assert!(refused.body.contains(why) && refused.body.contains("role=\"alert\""), "{why}: {}", refused.body);
        assert!(
            refused.body.contains(&format!(">{}</textarea>", text.replace('\'', "&#39;")))
                || refused.body.contains(&format!(">{text}</textarea>")),
            "{why}: the text is kept"
        );
        assert!(refused.body.contains(&format!("value=\"{date}\"")), "{why}: the date is kept");
    }
    let long = "x".repeat(borne_model::actions::TEXT_MAX + 1);
    let refused = s.send(&c, "POST", "/actions", &cookie, &[("csrf", &csrf), ("texte", &long), ("date", "2026-01-05")]);
    assert!(refused.status == 400 && refused.body.contains("trop long"));
    assert_eq!(
        s.send(&c, "POST", "/actions", &cookie, &[("texte", "Sans jeton du tout"), ("date", "2026-01-05")]).status,
        403
    );
    let (store, _) = Store::open(s.dir.path(), Integrity::Trust).unwrap();
    let stored = store.actions().unwrap();
    assert_eq!(stored.len(), 1, "only the valid one");

    let poster = s.send(&c, "GET", "/affiche", &cookie, &[]);
    assert!(
        poster.body.contains("Vous nous l'avez dit, on l'a fait")
            && poster.body.contains("Un guichet de plus le lundi")
    );

    let id = stored[0].id.to_string();
    assert_eq!(s.send(&c, "POST", "/actions/supprimer", &cookie, &[("csrf", &csrf), ("id", "pas-un-id")]).status, 400);
    assert_eq!(s.send(&c, "POST", "/actions/supprimer", &cookie, &[("id", &id)]).status, 403);
    let removed = s.send(&c, "POST", "/actions/supprimer", &cookie, &[("csrf", &csrf), ("id", &id)]);
    assert_eq!(removed.status, 303);
    assert!(store.actions().unwrap().is_empty());
    let poster = s.send(&c, "GET", "/affiche", &cookie, &[]);
    assert!(!poster.body.contains("on l'a fait"), "no section without actions");
}

#[test]
fn an_idle_session_expires() {
    let s = serve("dash-expiry", Duration::from_secs(2), None);
    let c = client();
    let (cookie, _) = s.login(&c);
    assert_eq!(s.send(&c, "GET", "/borne", &cookie, &[]).status, 200);
    std::thread::sleep(Duration::from_millis(2500));
    let expired = s.send(&c, "GET", "/borne", &cookie, &[]);
    assert_eq!((expired.status, expired.headers["location"].to_str().unwrap()), (303, "/connexion"));
}

#[test]
fn tls_serves_with_secure_cookies_and_hsts() {
    let dir = Scratch::new("dash-tls-keys");
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, key.cert.pem()).unwrap();
    std::fs::write(&key_path, key.signing_key.serialize_pem()).unwrap();
    let acceptor = dashboard::tls_acceptor(&cert_path, &key_path).unwrap();
    let s = serve("dash-tls", Duration::from_secs(1800), Some(acceptor));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only([reqwest::Certificate::from_pem(key.cert.pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let form = s.send(&c, "GET", "/connexion", "", &[]);
    assert_eq!(form.status, 200);
    assert!(form.headers.contains_key("strict-transport-security"));
    let (cookie, token) = login_token(&form);
    assert!(set_cookie(&form, "borne_login_csrf").unwrap().contains("Secure"));
    let ok = s.send(&c, "POST", "/connexion", &cookie, &[("csrf", &token), ("password", PASSWORD)]);
    assert!(set_cookie(&ok, "borne_session").unwrap().contains("; Secure"));
    assert!(dashboard::tls_acceptor(&key_path, &cert_path).is_err(), "swapped files: a clear error");
}

#[test]
fn passwd_sets_an_argon2id_hash_and_dashboard_needs_it() {
    let dir = Scratch::new("dash-passwd");
    let out = run_err(borne(dir.path()).args(["dashboard", "--listen", "127.0.0.1:0"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("borne passwd"), "{err}");
    let mut child = borne(dir.path()).arg("passwd").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"court\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "a short password is refused");
    let mut child = borne(dir.path()).arg("passwd").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let (store, _) = Store::open(dir.path(), Integrity::Trust).unwrap();
    let hash = store.manager_password_hash().unwrap().unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(PASSWORD));
}

/// Headless Chromium through Playwright (tests/e2e/dashboard.mjs): login, overview, comment
/// filter, CSV download, CSRF, expired session, and axe-core on every page. With
/// `BORNE_DASHBOARD_SCREENSHOTS=DIR`, it also writes a screenshot of each page there.
#[test]
#[ignore = "needs Debian's chromium and Node.js (bash .ci/run installs them and runs it with --include-ignored)"]
fn end_to_end_in_headless_chromium_with_axe() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(
        std::path::Path::new(&chromium).exists() && node,
        "the end-to-end dashboard test needs {chromium} and node (bash .ci/run installs them)"
    );
    let e2e = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    if !e2e.join("node_modules/playwright-core").exists() {
        let status = std::process::Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&e2e)
            .status()
            .expect("npm");
        assert!(status.success(), "npm ci in tests/e2e");
    }
    let dir = Scratch::new("dash-e2e");
    let config_path = dir.path().join("borne.toml");
    std::fs::write(&config_path, "[dashboard]\nsession_idle_min = 1\n").unwrap();
    let config = borne::config::load_file(&config_path).unwrap();
    seed(dir.path(), &config);
    let mut server = borne(dir.path())
        .arg("--config")
        .arg(&config_path)
        .args(["dashboard", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut line).unwrap();
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).expect("address line").trim_end_matches('/');
    let expected = serde_json::json!({ "reviews": 150, "bad_comments": 10, "session_idle_s": 60 }).to_string();
    let mut node = std::process::Command::new("node");
    node.arg(e2e.join("dashboard.mjs")).args([base, PASSWORD, &expected]).env("CHROMIUM", &chromium);
    // The pages' pictures: into docs/screens/dashboard when asked, else into a scratch folder
    // to compare with those committed.
    let asked = std::env::var_os("BORNE_DASHBOARD_SCREENSHOTS").map(std::path::PathBuf::from);
    let shots = asked.clone().unwrap_or_else(|| dir.path().join("shots"));
    node.arg(&shots);
    let output = node.output().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("tout est bon"), "{stdout}");
    eprintln!("{stdout}");
    if asked.is_none() {
        // The same pages as docs/screens/dashboard, one picture each (the browser draws them
        // from data dated relative to the run, so their pixels, and the hour grid's size,
        // change with the day and the hour: what is compared is that every page has its
        // picture and no picture is of a page that is gone).
        let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screens/dashboard");
        let names = |folder: &std::path::Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(folder)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            names(&shots),
            names(&committed),
            "docs/screens/dashboard must have one picture per page; redraw it with \
             BORNE_DASHBOARD_SCREENSHOTS=$PWD/docs/screens/dashboard cargo test --test it end_to_end -- --include-ignored"
        );
    }
}

/// One raw HTTP/1.1 exchange on a fresh connection: the status code, or `None` when the server
/// closed the connection without a status line.
fn raw_exchange(addr: &str, request: &[u8]) -> Option<u16> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(request).ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let line = text.lines().next()?;
    line.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Arbitrary requests, signed in or not, with or without the right CSRF token, on every route
/// and on made-up ones, with arbitrary queries, headers and bodies, sent as raw bytes to a real
/// server: every one gets an answer below 500 (or, for bytes that are not HTTP, a 400 or a
/// closed connection), and the dashboard still serves its login page afterwards.
#[test]
fn arbitrary_requests_never_break_the_dashboard() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config as RunnerConfig, TestRunner};
    let s = serve("dash-fuzz", Duration::from_secs(1800), None);
    let c = client();
    let (session, csrf) = s.login(&c);
    let addr = s.base.trim_start_matches("http://").replace("localhost", "127.0.0.1");
    // Each route with its own method; another method one time in five.
    let routes = [
        ("GET", "/"),
        ("GET", "/commentaires"),
        ("GET", "/envoi"),
        ("POST", "/envoi/reessayer"),
        ("GET", "/borne"),
        ("GET", "/export"),
        ("GET", "/export.csv"),
        ("GET", "/affiche"),
        ("GET", "/actions"),
        ("POST", "/actions"),
        ("POST", "/actions/supprimer"),
        ("GET", "/api/stats"),
        ("POST", "/deconnexion"),
        ("GET", "/connexion"),
        ("POST", "/connexion"),
        ("GET", "/assets/style.css"),
        ("GET", "/assets/../../etc/passwd"),
        ("GET", "/%ff%fe"),
    ];
    let text = || proptest::collection::vec(any::<char>(), 0..40).prop_map(|c| c.into_iter().collect::<String>());
    // A form's or a query's field: one the routes read, or anything.
    let key = || {
        prop_oneof![
            Just("note".to_string()),
            Just("du".into()),
            Just("au".into()),
            Just("page".into()),
            Just("password".into()),
            Just("texte".into()),
            Just("date".into()),
            Just("id".into()),
            text()
        ]
    };
    let query = proptest::collection::vec((key(), text()), 0..4);
    let strategy = (
        prop_oneof![4 => Just(None), 1 => prop_oneof![Just("GET"), Just("POST"), Just("HEAD"), Just("PUT"), Just("DELETE")].prop_map(Some)],
        0..routes.len(),
        query,
        prop_oneof![Just(0u8), Just(1), Just(1), Just(2)],
        prop_oneof![Just(0u8), Just(1), Just(2)],
        proptest::collection::vec((key(), text()), 0..4),
        proptest::collection::vec(any::<u8>(), 0..300),
        any::<bool>(),
    );
    let mut runner = TestRunner::new(RunnerConfig { cases: 800, failure_persistence: None, ..RunnerConfig::default() });
    runner
        .run(&strategy, |(method, route, query, cookie_kind, token_kind, fields, raw, form)| {
            let enc = |t: &str| urlencode(t);
            let (own_method, route_path) = routes[route];
            let method = method.unwrap_or(own_method);
            let mut path = route_path.to_string();
            if !query.is_empty() {
                let q: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
                path = format!("{path}?{}", q.join("&"));
            }
            let cookie = match cookie_kind {
                0 => String::new(),
                1 => format!("Cookie: {session}\r\n"),
                _ => "Cookie: borne_session=0000; borne_login_csrf=abc\r\n".to_string(),
            };
            let body: Vec<u8> = if form {
                let mut pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
                match token_kind {
                    0 => {}
                    // The valid token everywhere but on the way out: the session must live on.
                    1 if route_path != "/deconnexion" => pairs.push(format!("csrf={csrf}")),
                    _ => pairs.push("csrf=faux".into()),
                }
                pairs.join("&").into_bytes()
            } else {
                raw
            };
            let mut request = format!(
                "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{cookie}\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            request.extend_from_slice(&body);
            let status = raw_exchange(&addr, &request);
            prop_assert!(status.is_some_and(|s| s < 500), "{method} {path}: {status:?}");
            Ok(())
        })
        .unwrap();
    // Bytes that are not HTTP at all: a 400 or a closed connection, never a crash.
    for garbage in
        [&b"\x00\x01\x02\r\n\r\n"[..], b"GET / HTTP/9.9\r\n\r\n", b"GET /\xff HTTP/1.1\r\nHost: \xff\r\n\r\n"]
    {
        assert!(raw_exchange(&addr, garbage).is_none_or(|status| status == 400 || status == 505), "{garbage:?}");
    }
    let form = s.send(&c, "GET", "/connexion", "", &[]);
    assert_eq!(form.status, 200, "the dashboard still answers");
}

/// A manager who starts a CSV export and never reads it: the other pages are still served
/// (the export gives the store back while it waits for the browser).
#[test]
fn a_stalled_export_does_not_freeze_the_dashboard() {
    let s = serve("dash-stalled", Duration::from_secs(1800), None);
    // Enough reviews that the export outgrows the socket's buffers.
    {
        let (mut store, _) = Store::open(s.dir.path(), Integrity::Trust).unwrap();
        let config = Config::embedded();
        let clock = SystemClock { source: SyncSource::AssumeSynced };
        // About 11 MB of CSV: more than the channel, the dashboard's socket buffer (4 MiB at
        // most) and the reader's (8 KiB, fixed below) can hold, so the export really waits.
        let comment = "un commentaire assez long pour remplir les tampons ".repeat(9);
        let reviews: Vec<_> = (0..20_000)
            .map(|_| {
                let draft = ReviewDraft {
                    channel_answers: Vec::new(),
                    satisfaction: 3,
                    answers: vec![],
                    comment: Some(comment.clone()),
                    language: "fr".into(),
                };
                kiosk::build_review(&config.survey, &clock, &draft).unwrap()
            })
            .collect();
        assert_eq!(store.import_reviews(&reviews).unwrap(), 20_000);
    }
    let c = client();
    let (cookie, _) = s.login(&c);
    let address = s.base.trim_start_matches("http://localhost:").to_string();
    // A reader with a small, fixed receive buffer (no autotuning up to tens of megabytes).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8192).unwrap();
    let target: std::net::SocketAddr = format!("127.0.0.1:{address}").parse().unwrap();
    let mut stalled = s.runtime.block_on(socket.connect(target)).unwrap().into_std().unwrap();
    stalled.set_nonblocking(false).unwrap();
    write!(stalled, "GET /export.csv HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n")
        .unwrap();
    // The export has begun (its first bytes are there), and is then left unread.
    let mut first = [0u8; 64];
    use std::io::Read;
    stalled.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&first));
    std::thread::sleep(Duration::from_millis(500));
    for path in ["/", "/commentaires", "/envoi"] {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        let answer = s.send(&client, "GET", path, &cookie, &[]);
        assert_eq!(answer.status, 200, "{path}");
    }
    // The export was indeed larger than every buffer on the way: it is whole once read.
    let mut rest = Vec::new();
    stalled.read_to_end(&mut rest).unwrap();
    assert!(rest.len() > 8_000_000, "{} bytes", rest.len());
    assert!(rest.ends_with(b"\r\n0\r\n\r\n"), "the export ends whole");
}

/// `borne passwd` (here, its store call) while a manager is signed in: the session ends.
#[test]
fn a_new_password_ends_the_dashboard_sessions() {
    let s = serve("dash-newpass", Duration::from_secs(1800), None);
    let c = client();
    let (cookie, _) = s.login(&c);
    assert_eq!(s.send(&c, "GET", "/", &cookie, &[]).status, 200);
    let (mut store, _) = Store::open(s.dir.path(), Integrity::Trust).unwrap();
    store.set_manager_password_hash(&borne_web::auth::hash_password("un autre mot de passe long").unwrap()).unwrap();
    let after = s.send(&c, "GET", "/", &cookie, &[]);
    assert_eq!((after.status, after.headers["location"].to_str().unwrap()), (303, "/connexion"));
}

/// `borne dashboard` under an open-files limit of 384 (`prlimit`), and 700 connections that
/// send their headers slowly: the slowest are shed for each newcomer, and a manager still
/// signs in.
#[test]
fn a_crowd_of_slow_connections_does_not_lock_the_manager_out() {
    use std::io::BufRead;
    let dir = Scratch::new("dash-slow");
    let config = Config::embedded();
    seed(dir.path(), &config);
    let mut child = std::process::Command::new("prlimit")
        .arg("--nofile=384:384")
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_borne"))
        .env_remove("BORNE_CONFIG")
        .env_remove("STATE_DIRECTORY")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["dashboard", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    // Ended however the test ends (a failed assertion included).
    struct Ended(std::process::Child);
    impl Drop for Ended {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _dashboard = Ended(child);
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).expect("an address").trim_end_matches('/');
    let address = base.trim_start_matches("http://").to_string();
    let mut crowd = Vec::new();
    let mut refused = 0;
    for _ in 0..700 {
        let to = address.parse().expect("an address");
        // A connection may wait for a SYN's retransmission (1 s) when a burst fills the
        // listener's queue for a moment; five failures in a row mean nobody is let in.
        match std::net::TcpStream::connect_timeout(&to, Duration::from_secs(3)) {
            Ok(mut stream) => {
                let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
                crowd.push(stream);
                refused = 0;
            }
            Err(_) => {
                refused += 1;
                if refused == 5 {
                    break;
                }
            }
        }
    }
    assert!(crowd.len() >= 400, "{} connections", crowd.len());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let send = |method: &str, path: &str, cookie: &str, form: &[(&str, &str)]| {
        runtime.block_on(http_send(&c, &format!("{base}{path}"), method, cookie, form))
    };
    let form = send("GET", "/connexion", "", &[]);
    assert_eq!(form.status, 200);
    let (cookie, token) = login_token(&form);
    let answer = send("POST", "/connexion", &cookie, &[("csrf", &token), ("password", PASSWORD)]);
    assert_eq!(answer.status, 303, "{}", answer.body);
    for stream in &mut crowd {
        let _ = stream.write_all(b"x");
    }
}
