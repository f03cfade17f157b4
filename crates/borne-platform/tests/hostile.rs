//! Hostile clients, on the real binary: what a penetration test sent to take the platform down
//! or turn it against its users, each as a test. Dates at the end of the calendar, every
//! console and public route fuzzed signed in, bodies that are never sent, a crowd of slow
//! connections past the open-files limit, sign-in failures behind HAProxy, counts invented by
//! a kiosk, heartbeats of megabytes, NUL bytes, formulas in CSV cells, a revoked kiosk's words,
//! a session that outlives its password.

mod support;

use borne_testkit::{PlatformProcess, Scratch};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;
use support::*;

both!(
    far_dates_are_refused_and_the_instance_goes_on,
    every_console_and_public_route_survives_arbitrary_query_values,
    a_stranger_s_body_is_never_read,
    a_kiosk_cannot_inflate_the_counts,
    heartbeats_and_nul_bytes_are_bounded_input,
    revocation_is_kept_and_csv_cells_are_text,
    a_new_password_ends_the_sessions,
);

const PASSWORD: &str = "un mot de passe assez long";
const SITE: &str = "pref-69-lyon";
const DEVICE: &str = "borne-lyon-1";

struct Setup {
    dir: Scratch,
    backend: Backend,
    config: std::path::PathBuf,
    platform: PlatformProcess,
    http: Http,
    token: String,
    /// A client that shows redirects instead of following them.
    client: reqwest::Client,
}

/// One site, one kiosk with a few reviews, a site manager and a national one.
fn setup(postgres: bool, name: &str, config: &str) -> Setup {
    let dir = Scratch::new(name);
    let backend = Backend::new(postgres, dir.path());
    cli_ok(&backend, &["sites", "add", SITE, "--name", "Préfecture du Rhône", "--org", "pref-69"]);
    let token = cli_ok(&backend, &["devices", "add", DEVICE, "--site", SITE]).lines().last().unwrap().to_string();
    for (email, role) in [
        ("sophie@rhone.gouv.fr", vec!["--role", "site", "--site", SITE]),
        ("nadia@interieur.gouv.fr", vec!["--role", "national"]),
    ] {
        let mut args = vec!["accounts", "add", email, "--name", "Responsable", "--password"];
        args.extend(role);
        cli_stdin(&backend, &args, &format!("{PASSWORD}\n"));
    }
    let config_path = dir.path().join("platform.toml");
    std::fs::write(&config_path, format!("[console]\nsecure_cookies = false\n{config}")).unwrap();
    let platform = start(&backend, &config_path, None);
    let http = Http::new();
    let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap()).to_rfc3339();
    let comment = r#",{"field_code":"verbatim","kind":"text","answer_item_id":0,"answer_text":"Accueil aimable","intention":"neutral"}"#;
    let reviews: Vec<(String, &str, i64, &str)> =
        (0..3).map(|i| (uuid::Uuid::now_v7().to_string(), now.as_str(), 1 + i, comment)).collect();
    let (status, _, text) = http.batch(&platform.url, &token, &batch_body(DEVICE, (1, 2, 3), &reviews));
    assert_eq!(status, 200, "{text}");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Setup { dir, backend, config: config_path, platform, http, token, client }
}

/// The platform on `config`; with `nofile`, under that open-files limit (`prlimit`), soft and
/// hard alike.
fn start(backend: &Backend, config: &std::path::Path, nofile: Option<u32>) -> PlatformProcess {
    let mut args: Vec<OsString> = backend.args();
    args.extend(["--config".into(), config.into()]);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    match nofile {
        None => PlatformProcess::start(platform_bin(), "127.0.0.1:0", &args),
        Some(n) => PlatformProcess::start_wrapped(
            &["prlimit", &format!("--nofile={n}:{n}"), "--"],
            platform_bin(),
            "127.0.0.1:0",
            &args,
        ),
    }
}

struct Answer {
    status: u16,
    content_type: String,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
}

impl Setup {
    fn request(&self, request: reqwest::RequestBuilder) -> Answer {
        self.http.runtime.block_on(async {
            let r = request.timeout(Duration::from_secs(30)).send().await.unwrap();
            let header = |name: &str| r.headers().get(name).map(|v| v.to_str().unwrap_or("").to_string());
            let content_type = header("content-type").unwrap_or_default();
            let location = header("location");
            let cookies = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
            Answer { status: r.status().as_u16(), content_type, location, cookies, body: r.text().await.unwrap() }
        })
    }

    fn get(&self, path: &str, session: Option<&str>) -> Answer {
        let mut request = self.client.get(format!("{}{path}", self.platform.url));
        if let Some(session) = session {
            request = request.header("Cookie", format!("borne_console={session}"));
        }
        self.request(request)
    }

    /// Signs in through `base` from `from` (a loopback address); `Ok(session)` or the answer.
    fn login_via(&self, base: &str, from: &str, email: &str, password: &str) -> Result<String, Answer> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(from.parse::<std::net::IpAddr>().ok())
            .build()
            .unwrap();
        let form = self.request(client.get(format!("{base}/console/connexion")));
        assert_eq!(form.status, 200, "{}", form.body);
        let token = cookie_value(&form.cookies, "borne_console_login").expect("a login CSRF cookie");
        let answer = self.request(
            client
                .post(format!("{base}/console/connexion"))
                .header("Cookie", format!("borne_console_login={token}"))
                .form(&[("email", email), ("password", password), ("csrf", &token)]),
        );
        match (answer.status, cookie_value(&answer.cookies, "borne_console")) {
            (303, Some(session)) => Ok(session),
            _ => Err(answer),
        }
    }

    fn login(&self, email: &str) -> String {
        let base = self.platform.url.clone();
        self.login_via(&base, "127.0.0.1", email, PASSWORD).unwrap_or_else(|a| panic!("{}: {}", a.status, a.body))
    }

    fn healthy(&self) {
        let (status, _, body) = self.http.get(&format!("{}/v1/health", self.platform.url));
        assert_eq!(status, 200, "{body}");
    }

    fn one_review(&self) -> (u16, String) {
        let now = chrono::Utc::now().to_rfc3339();
        let reviews = [(uuid::Uuid::now_v7().to_string(), now.as_str(), 3, "")];
        let (status, _, text) =
            self.http.batch(&self.platform.url, &self.token, &batch_body(DEVICE, (1, 2, 3), &reviews));
        (status, text)
    }
}

/// The pen test's two URLs: a loop over months that never ended, and a panic that poisoned
/// SQLite's lock (every request 503 until a restart). Now 400 with what is wrong, and the
/// instance serves on, kiosks included.
fn far_dates_are_refused_and_the_instance_goes_on(postgres: bool) {
    let s = setup(postgres, "hostiledates", "");
    let session = s.login("sophie@rhone.gouv.fr");
    let json = s.get(&format!("/console/sites/{SITE}/indicateurs.json?au=%2B262142-12-31"), Some(&session));
    assert_eq!(json.status, 400, "{}", json.body);
    assert!(json.content_type.starts_with("application/json"), "{}", json.content_type);
    let error: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(error["code"], "BAD_REQUEST");
    assert!(error["message"].as_str().unwrap().contains("hors des dates"), "{}", json.body);
    for path in [
        "/console/commentaires?au=%2B262142-12-31",
        "/console/commentaires?du=-262143-01-01",
        "/console/commentaires?du=1999-12-31",
        &format!("/console/sites/{SITE}/indicateurs.json?du=0001-01-01&au=2026-01-01"),
    ] {
        let answer = s.get(path, Some(&session));
        assert_eq!(answer.status, 400, "{path}: {}", answer.body);
    }
    // The console is well: the period's figures, the kiosks' uploads, the health check.
    let fine = s.get(&format!("/console/sites/{SITE}/indicateurs.json?du=2000-01-01&au=2100-12-31"), Some(&session));
    assert_eq!(fine.status, 200, "{}", fine.body);
    s.healthy();
    assert_eq!(s.one_review().0, 200);
    // The command line refuses them too.
    let out = cli(&s.backend, &["site-stats", SITE, "--until", "+262142-12-31"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("hors des dates"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every console route (signed in, national scope: the widest) and every public one, with
/// query values a fuzzer picks (dates at both ends of the calendar, huge numbers, NUL, other
/// scripts, markup, SQL and tsquery syntax): never a 5xx, never a dead instance.
fn every_console_and_public_route_survives_arbitrary_query_values(postgres: bool) {
    let s = setup(postgres, "hostilefuzz", "");
    let session = s.login("nadia@interieur.gouv.fr");
    let routes: [(&str, &[&str]); 15] = [
        ("/console/", &[]),
        ("/console/mises-a-jour", &["fait"]),
        ("/console/bornes", &["site", "tri", "ordre"]),
        ("/console/bornes.csv", &["site", "tri", "ordre"]),
        ("/console/sites/{v}", &["par"]),
        ("/console/administration", &["fait"]),
        ("/console/questionnaire", &["reseau", "site", "publie", "retire"]),
        ("/console/lien/{v}", &[]),
        ("/accessibilite", &[]),
        ("/console/sites/{v}/indicateurs.json", &["du", "au"]),
        ("/console/commentaires", &["site", "note", "du", "au", "q", "suivi", "theme", "page"]),
        ("/console/commentaires.csv", &["site", "note", "du", "au", "q", "suivi", "theme", "page"]),
        ("/console/commentaires.xlsx", &["site", "note", "du", "au", "q", "suivi", "theme", "page"]),
        ("/public/sites/{v}", &[]),
        ("/public/sites/{v}/results.json", &[]),
    ];
    let values = [
        "%2B262142-12-31",
        "+262142-12-31",
        "-262143-01-01",
        "262143-12-31",
        "0000-01-01",
        "2026-02-30",
        "9999999999999999999999",
        "-1",
        "0",
        "4294967296",
        "%00",
        "a%00b",
        "%FF%FE",
        "%E2%80%AE",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "attente & | ! :* (",
        "",
        SITE,
    ];
    let ask = |path: String| {
        let answer = s.get(&path, Some(&session));
        assert!(answer.status < 500, "{path}: {} {}", answer.status, answer.body);
    };
    // Each value alone in each place it can go…
    for (route, params) in routes {
        for value in values {
            if route.contains("{v}") {
                ask(route.replace("{v}", value));
            }
            for param in params {
                ask(format!("{}?{param}={value}", route.replace("{v}", SITE)));
            }
        }
    }
    // …in every field of every administration form (with the session's token)…
    let page = s.get("/console/administration", Some(&session)).body;
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).expect("a form token");
    let rules: &[&str] = &[
        "organisation",
        "offline_hours",
        "pending_hours",
        "negative_percent",
        "negative_days",
        "negative_minimum",
        "drop_points",
        "drop_days",
        "drop_minimum",
        "debounce_minutes",
    ];
    let forms: [(&str, &[&str]); 16] = [
        ("questionnaire", &["reseau", "site", "texte", "action"]),
        ("mises-a-jour", &["portee", "version", "anneaux", "delai", "action", "id"]),
        ("questionnaire/retour", &["reseau", "site"]),
        ("administration/organisations", &["id", "name"]),
        ("administration/themes", &["organisation", "themes"]),
        ("administration/sites", &["id", "name", "organisation", "time_zone"]),
        ("administration/alertes", rules),
        ("administration/bornes", &["id", "site"]),
        ("administration/bornes/revoquer", &["device"]),
        ("administration/bornes/deplacer", &["device", "site"]),
        ("administration/comptes", &["name", "email", "role", "organisation", "site"]),
        ("administration/comptes/desactiver", &["email"]),
        ("administration/resumes", &["digest", "alerts"]),
        ("avis/{v}", &["traite", "theme"]),
        ("incidents/{v}", &["action", "note"]),
        ("mot-de-passe-oublie", &["email"]),
    ];
    for (form, fields) in forms {
        for value in values {
            let decoded = value.replace("%2B", "+").replace("%00", "\0").replace("%FF%FE", "\u{FFFE}");
            let mut body: Vec<(&str, &str)> = fields.iter().map(|f| (*f, decoded.as_str())).collect();
            body.push(("csrf", csrf));
            // A form of a numbered thing: the fields on the first one, then the number itself.
            for path in [form.replace("{v}", "1"), form.replace("{v}", value)] {
                let request = s
                    .client
                    .post(format!("{}/console/{path}", s.platform.url))
                    .header("Cookie", format!("borne_console={session}"))
                    .form(&body);
                let answer = s.request(request);
                assert!(answer.status < 500, "{path}: {value:?}: {} {}", answer.status, answer.body);
            }
        }
    }
    // …then mixed at random.
    let mut rng = fastrand::Rng::with_seed(2026);
    for (route, params) in routes {
        for _ in 0..20 {
            let mut pick = || values[rng.usize(..values.len())];
            let path = route.replace("{v}", pick());
            let query: Vec<String> = params.iter().map(|p| format!("{p}={}", pick())).collect();
            ask(if query.is_empty() { path } else { format!("{path}?{}", query.join("&")) });
        }
    }
    s.healthy();
    assert_eq!(s.one_review().0, 200);
}

/// Sends `head` on a raw connection and reads the status line, waiting at most `wait`.
fn status_of(url: &str, head: &str, wait: Duration) -> Option<u16> {
    raw_exchange(url.trim_start_matches("http://"), head.as_bytes(), wait).map(|(status, _)| status)
}

/// A body announced and never sent: a stranger (no token, no session) is answered at once;
/// the platform buffers nothing of theirs. Errors the framework gives itself are in the
/// API's shape.
fn a_stranger_s_body_is_never_read(postgres: bool) {
    let s = setup(postgres, "hostilebody", "");
    let address = s.platform.url.trim_start_matches("http://");
    let head = |path: &str, extra: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\
             Idempotency-Key: 0192f1c4-3d7e-7a10-9c2b-5b1e0c9f4a11\r\n{extra}\r\n"
        )
    };
    let wait = Duration::from_secs(5);
    assert_eq!(status_of(&s.platform.url, &head("/v1/batches", "Authorization: Bearer nope\r\n"), wait), Some(401));
    assert_eq!(status_of(&s.platform.url, &head("/v1/batches", ""), wait), Some(401));
    assert_eq!(status_of(&s.platform.url, &head("/v1/heartbeats", ""), wait), Some(401));
    assert_eq!(status_of(&s.platform.url, &head("/v1/actions", ""), wait), Some(405), "PUT only");
    // A console form larger than a form can be: 413 at once, from the announced length.
    let form = format!(
        "POST /console/connexion HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 2097152\r\n\r\n"
    );
    assert_eq!(status_of(&s.platform.url, &form, wait), Some(413));
    // The framework's own errors, in `{message, code}`.
    let (status, _, body) = s.http.send(s.http.client.get(format!("{}/v1/batches", s.platform.url)));
    assert_eq!(status, 405);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON: {body}"));
    assert_eq!(error["code"], "METHOD_NOT_ALLOWED");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    // A kiosk's body past the limit: 413 from the announced length, in the API's shape (sent
    // as a head alone: a client still writing a body the server closed on may see a broken
    // pipe before the answer).
    let put = format!(
        "PUT /v1/actions HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: 2097162\r\nAuthorization: Bearer {}\r\n\r\n",
        s.token
    );
    let (status, body) = raw_exchange(address, put.as_bytes(), wait).expect("an answer");
    assert_eq!(status, 413, "{body}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["code"], "PAYLOAD_TOO_LARGE", "{body}");
    s.healthy();
}

/// A kiosk's token inventing question codes and item ids: ids out of range or the counts'
/// own marker (-1) are refused in the review; new pairs beyond the site's daily allowance are
/// refused too (the kiosk keeps those reviews); the counts stay bounded.
fn a_kiosk_cannot_inflate_the_counts(postgres: bool) {
    let s = setup(postgres, "hostilecounts", "");
    let now = chrono::Utc::now().to_rfc3339();
    let answer = |code: &str, item: i64| {
        format!(
            r#",{{"field_code":"{code}","kind":"checkbox","answer_item_id":{item},"answer_text":"x","intention":"neutral"}}"#
        )
    };
    let send = |extras: Vec<String>| -> Vec<serde_json::Value> {
        let reviews: Vec<(String, &str, i64, &str)> =
            extras.iter().map(|e| (uuid::Uuid::now_v7().to_string(), now.as_str(), 3, e.as_str())).collect();
        let (status, _, text) = s.http.batch(&s.platform.url, &s.token, &batch_body(DEVICE, (1, 2, 3), &reviews));
        assert_eq!(status, 200, "{text}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        body["results"].as_array().unwrap().clone()
    };
    let results = send(vec![
        answer("kiosk_motif", -1),
        answer("kiosk_motif", 1 << 40),
        answer("Kiosk Motif", 1),
        answer("kiosk_motif", 1),
    ]);
    let statuses: Vec<&str> = results.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["rejected", "rejected", "rejected", "accepted"], "{results:?}");
    // 20 batches of 100 reviews, each review with 5 new pairs: 10 000 pairs asked for.
    let mut accepted = 0;
    let mut refused = 0;
    for batch in 0..20 {
        let extras: Vec<String> =
            (0..100).map(|r| (0..5).map(|a| answer(&format!("flood_{batch}_{r}"), a)).collect::<String>()).collect();
        for result in send(extras) {
            match result["status"].as_str().unwrap() {
                "accepted" => accepted += 1,
                "rejected" => {
                    assert!(result["error"]["message"].as_str().unwrap().contains("allowance"), "{result}");
                    refused += 1;
                }
                other => panic!("{other}"),
            }
        }
    }
    // The allowance of a day (60 new pairs) minus the one already taken: 11 reviews of 5.
    assert_eq!(accepted, 11);
    assert_eq!(refused, 2000 - 11);
    let today = chrono::Local::now().date_naive();
    let from = (today - chrono::Days::new(2)).to_string();
    let to = (today + chrono::Days::new(2)).to_string();
    let counts = cli_ok(&s.backend, &["counts", "--site", SITE, "--from", &from, "--to", &to]);
    let flood_rows = counts.matches("flood_").count();
    assert!(flood_rows <= 2 * 60, "{flood_rows} rows of invented questions");
    s.healthy();
}

/// Heartbeats carry what the fleet page shows: a date that is not a date, megabytes of text,
/// 2^64 − 1 are refused; a NUL byte (which PostgreSQL's text cannot hold) is bad input, never
/// a 503.
fn heartbeats_and_nul_bytes_are_bounded_input(postgres: bool) {
    let s = setup(postgres, "hostileheartbeat", "");
    let heartbeat = |body: serde_json::Value| {
        let request = s.http.client.post(format!("{}/v1/heartbeats", s.platform.url)).bearer_auth(&s.token).json(&body);
        s.http.send(request)
    };
    let good = serde_json::json!({"device_id": DEVICE, "app_version": "borne/1.0.0", "pending": 3,
        "oldest_pending_at": "2026-03-01T10:00:00+01:00", "disk_free_bytes": 1u64 << 30, "uptime_s": 3600});
    assert_eq!(heartbeat(good.clone()).0, 204);
    let mut cases = Vec::new();
    for (key, value) in [
        ("oldest_pending_at", serde_json::json!("x".repeat(60_000))),
        ("oldest_pending_at", serde_json::json!("hier")),
        ("last_upload_at", serde_json::json!("2026-03-01")),
        ("pending", serde_json::json!(u64::MAX)),
        ("disk_free_bytes", serde_json::json!(u64::MAX)),
        ("app_version", serde_json::json!("borne\u{0}1")),
        ("device_id", serde_json::json!("borne-lyon-1\u{0}")),
    ] {
        let mut body = good.clone();
        body[key] = value;
        cases.push((key, heartbeat(body)));
    }
    for (key, (status, _, body)) in cases {
        assert_eq!(status, 400, "{key}: {body}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["code"], "BAD_REQUEST", "{key}");
    }
    // Megabytes: refused from the announced length.
    let mut huge = good.clone();
    huge["oldest_pending_at"] = serde_json::json!("x".repeat(2_000_000));
    let (status, _, body) = heartbeat(huge);
    assert_eq!(status, 413, "{body}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["code"], "PAYLOAD_TOO_LARGE");
    // A comment with a NUL: that review is refused, the others of the batch kept.
    let now = chrono::Utc::now().to_rfc3339();
    let nul =
        r#",{"field_code":"verbatim","kind":"text","answer_item_id":0,"answer_text":"a\u0000b","intention":"neutral"}"#;
    let reviews = [
        (uuid::Uuid::now_v7().to_string(), now.as_str(), 3, nul),
        (uuid::Uuid::now_v7().to_string(), now.as_str(), 3, ""),
    ];
    let (status, _, text) = s.http.batch(&s.platform.url, &s.token, &batch_body(DEVICE, (1, 2, 3), &reviews));
    assert_eq!(status, 200, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["results"][0]["status"], "rejected", "{text}");
    assert_eq!(body["results"][1]["status"], "accepted", "{text}");
    // A NUL in the source: the whole batch is bad input.
    let bad = batch_body("borne-lyon-1\\u0000", (1, 2, 3), &reviews[1..]);
    assert_eq!(s.http.batch(&s.platform.url, &s.token, &bad).0, 400);
    // What the fleet shows is what was sent in bounds.
    let session = s.login("nadia@interieur.gouv.fr");
    let fleet = s.get("/console/bornes", Some(&session));
    assert_eq!(fleet.status, 200);
    assert!(fleet.body.len() < 200_000, "{} bytes", fleet.body.len());
    s.healthy();
}

/// A revoked kiosk's « on l'a fait » lines leave the public page; `devices rotate` does not
/// quietly bring a revoked kiosk back; every CSV cell a person or a kiosk wrote is text to a
/// spreadsheet.
fn revocation_is_kept_and_csv_cells_are_text(postgres: bool) {
    let s = setup(postgres, "hostilerevoke", "");
    cli_ok(&s.backend, &["sites", "add", "site-formule", "--name", "=2+3 Mairie"]);
    let day = chrono::Utc::now().date_naive() - chrono::Days::new(1);
    let actions = serde_json::json!({"device_id": DEVICE, "actions": [
        {"id": uuid::Uuid::now_v7(), "text": "=HYPERLINK(\"http://x\") plus de chaises", "done_on": day}]});
    let request = s.http.client.put(format!("{}/v1/actions", s.platform.url)).bearer_auth(&s.token).json(&actions);
    assert_eq!(s.http.send(request).0, 204);
    let heartbeat = serde_json::json!({"device_id": DEVICE, "app_version": "=1+1", "pending": 0});
    let request =
        s.http.client.post(format!("{}/v1/heartbeats", s.platform.url)).bearer_auth(&s.token).json(&heartbeat);
    assert_eq!(s.http.send(request).0, 204);
    let (_, _, public) = s.http.get(&format!("{}/public/sites/{SITE}/results.json", s.platform.url));
    assert!(public.contains("plus de chaises"), "{public}");
    // Formulas: the fleet's CSV, the open data, the JDMA export.
    let session = s.login("nadia@interieur.gouv.fr");
    let fleet = s.get("/console/bornes.csv", Some(&session));
    assert!(fleet.body.contains(";'=1+1;"), "{}", fleet.body);
    let comment = r#",{"field_code":"verbatim","kind":"text","answer_item_id":0,"answer_text":"=cmd|' /C calc'!A0","intention":"neutral"}"#;
    let now = chrono::Utc::now().to_rfc3339();
    let reviews = [(uuid::Uuid::now_v7().to_string(), now.as_str(), 3, comment)];
    assert_eq!(s.http.batch(&s.platform.url, &s.token, &batch_body(DEVICE, (1, 2, 3), &reviews)).0, 200);
    let export = cli_ok(&s.backend, &["export", "--format", "jdma-csv"]);
    assert!(export.contains("'=cmd|"), "{export}");
    assert!(!export.lines().any(|l| l.split(',').any(|cell| cell.trim_matches('"').starts_with('='))), "{export}");
    let (_, _, csv) = s.http.get(&format!("{}/public/sites/site-formule/results.csv", s.platform.url));
    assert!(csv.contains("'=2+3 Mairie"), "{csv}");
    // Revoked: the actions are no longer published (read by an instance started after).
    cli_ok(&s.backend, &["devices", "revoke", DEVICE]);
    let after = start(&s.backend, &s.config, None);
    let (_, _, public) = s.http.get(&format!("{}/public/sites/{SITE}/results.json", after.url));
    assert!(!public.contains("plus de chaises"), "{public}");
    // Rotation refuses a revoked kiosk unless asked to bring it back.
    let out = cli(&s.backend, &["devices", "rotate", DEVICE]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--reactiver"), "{}", String::from_utf8_lossy(&out.stderr));
    let (status, _, _) = s.http.batch(&after.url, &s.token, &batch_body(DEVICE, (1, 2, 3), &reviews));
    assert_eq!(status, 401, "still revoked");
    let token = cli_ok(&s.backend, &["devices", "rotate", DEVICE, "--reactiver"]).lines().last().unwrap().to_string();
    let fresh = [(uuid::Uuid::now_v7().to_string(), now.as_str(), 3, "")];
    assert_eq!(s.http.batch(&after.url, &token, &batch_body(DEVICE, (1, 2, 3), &fresh)).0, 200);
}

/// `accounts password`: whoever held a session under the old password is signed out.
fn a_new_password_ends_the_sessions(postgres: bool) {
    let s = setup(postgres, "hostilepassword", "");
    let session = s.login("sophie@rhone.gouv.fr");
    assert_eq!(s.get("/console/", Some(&session)).status, 200);
    cli_stdin(&s.backend, &["accounts", "password", "sophie@rhone.gouv.fr"], "un tout autre mot de passe\n");
    let after = s.get("/console/", Some(&session));
    assert_eq!(after.status, 303);
    assert_eq!(after.location.as_deref(), Some("/console/connexion"));
}

/// Two instances on PostgreSQL behind HAProxy, which sends the PROXY protocol: 100 wrong
/// passwords for one account from one address delay neither another user's correct sign-in
/// from another address, nor the same address's first try at another account once its own
/// wait is over; the failures are shared by both instances (HAProxy alternates between them).
#[test]
#[ignore = "needs PostgreSQL (postgresql) and HAProxy (haproxy): .ci/run installs them"]
fn sign_in_failures_count_per_account_and_address_behind_haproxy() {
    // HAProxy connects from 127.0.0.9, the one trusted address; the test's own requests come
    // from 127.0.0.1, a client like any other.
    let s = setup(true, "hostilesignin", "[server]\ntrusted_proxies = [\"127.0.0.9\"]\nproxy_protocol = true\n");
    let second = start(&s.backend, &s.config, None);
    let haproxy = borne_testkit::Haproxy::start_with(
        &[s.platform.url.clone(), second.url.clone()],
        "send-proxy-v2 check-send-proxy source 127.0.0.9",
    );
    // Through a trusted balancer only: the instances refuse a connection without the header
    // from it, and take anyone else's address as it is.
    let mut statuses = HashMap::new();
    for _ in 0..100 {
        let answer = s.login_via(&haproxy.url, "127.0.0.2", "nadia@interieur.gouv.fr", "pas le bon");
        *statuses.entry(answer.err().map(|a| a.status).unwrap_or(303)).or_insert(0) += 1;
    }
    assert_eq!(statuses.get(&303), None, "{statuses:?}");
    assert!(statuses.get(&401).is_some_and(|n| *n >= 1), "{statuses:?}");
    assert!(statuses.get(&429).is_some_and(|n| *n >= 90), "{statuses:?}: most attempts wait, both instances agree");
    // Once the wait is over, one more wrong password: the account and the address now wait
    // several seconds, whichever instance is asked.
    let mut failed_again = false;
    for _ in 0..30 {
        match s.login_via(&haproxy.url, "127.0.0.2", "nadia@interieur.gouv.fr", "pas le bon") {
            Err(a) if a.status == 401 => {
                failed_again = true;
                break;
            }
            Err(a) if a.status == 429 => {
                let wait: u64 = a
                    .body
                    .split("réessayez dans ")
                    .nth(1)
                    .and_then(|rest| rest.split(' ').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                std::thread::sleep(Duration::from_secs(wait));
            }
            other => panic!("{:?}", other.map_err(|a| (a.status, a.body))),
        }
    }
    assert!(failed_again);
    // Another user, another address behind the same HAProxy: let in at once.
    s.login_via(&haproxy.url, "127.0.0.3", "sophie@rhone.gouv.fr", PASSWORD)
        .unwrap_or_else(|a| panic!("{}: {}", a.status, a.body));
    // The attacked account waits, whatever the address; the attacking address too, whatever
    // the account.
    let attacked = s.login_via(&haproxy.url, "127.0.0.3", "nadia@interieur.gouv.fr", PASSWORD).unwrap_err();
    assert_eq!(attacked.status, 429, "{}", attacked.body);
    let attacker = s.login_via(&haproxy.url, "127.0.0.2", "sophie@rhone.gouv.fr", PASSWORD).unwrap_err();
    assert_eq!(attacker.status, 429, "{}", attacker.body);
}

/// Connections past the open-files limit, each sending its headers a byte at a time: the
/// platform sheds the slowest for each newcomer, so a kiosk's batch, a health check and the
/// sign-in page are still answered.
#[test]
fn a_crowd_of_slow_connections_does_not_lock_out_the_next_client() {
    let s = setup(false, "hostileslow", "[server]\nmax_connections = 64\n");
    drop(s.platform);
    let platform = start(&s.backend, &s.config, Some(128));
    let address = platform.url.trim_start_matches("http://").to_string();
    let mut crowd = Vec::new();
    let mut refused = 0;
    for _ in 0..300 {
        let to = address.parse().expect("an address");
        // A connection may wait for a SYN's retransmission (1 s) when a burst fills the
        // listener's queue for a moment; five failures in a row mean nobody is let in.
        match TcpStream::connect_timeout(&to, Duration::from_secs(3)) {
            Ok(mut stream) => {
                let _ = stream.write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ");
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
    assert!(crowd.len() >= 200, "{} connections opened", crowd.len());
    // A client that gives up rather than wait forever in a full backlog.
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let ask = |request: reqwest::RequestBuilder| {
        s.http.runtime.block_on(async {
            let r = request.send().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((r.status().as_u16(), r.text().await.map_err(|e| e.to_string())?))
        })
    };
    for _ in 0..3 {
        let (status, body) = ask(client.get(format!("{}/v1/health", platform.url))).unwrap();
        assert_eq!(status, 200, "{body}");
        let now = chrono::Utc::now().to_rfc3339();
        let reviews = [(uuid::Uuid::now_v7().to_string(), now.as_str(), 3, "")];
        let body = batch_body(DEVICE, (1, 2, 3), &reviews);
        let key: serde_json::Value = serde_json::from_str(&body).unwrap();
        let batch = client
            .post(format!("{}/v1/batches", platform.url))
            .bearer_auth(&s.token)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", key["batch_id"].as_str().unwrap())
            .body(body.clone());
        let (status, text) = ask(batch).unwrap();
        assert_eq!(status, 200, "{text}");
        let (status, _) = ask(client.get(format!("{}/console/connexion", platform.url))).unwrap();
        assert_eq!(status, 200);
        // The crowd keeps trickling.
        for stream in &mut crowd {
            let _ = stream.write_all(b"x");
        }
    }
    let _keep = &s.dir;
}
