//! What the platform's integration tests share: the database a test runs on (SQLite, or a
//! throwaway PostgreSQL cluster: each scenario runs on both, see `both!`), the binary and its
//! commands, a small HTTP client, batches, and the end-to-end browser script.
#![allow(dead_code)]

pub mod smtp;

use borne_testkit::PlatformProcess;
use borne_testkit::pg::PgCluster;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where a test's platform keeps its data: the SQLite file, or a database of a throwaway
/// PostgreSQL cluster (each test runs once on each, see `both!`).
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(PgCluster, String),
}

impl Backend {
    pub fn new(postgres: bool, dir: &Path) -> Backend {
        if postgres {
            let cluster = PgCluster::for_test();
            let url = cluster.database("platform");
            Backend::Postgres(cluster, url)
        } else {
            Backend::Sqlite(dir.join("platform.db"))
        }
    }

    /// The command-line arguments that name this database.
    pub fn args(&self) -> Vec<OsString> {
        match self {
            Backend::Sqlite(path) => vec!["--db".into(), path.into()],
            Backend::Postgres(_, url) => vec!["--database-url".into(), url.into()],
        }
    }

    /// The storage target of this backend, to reach its database directly.
    pub fn target(&self) -> borne_platform::storage::Target {
        match self {
            Backend::Sqlite(path) => borne_platform::storage::Target::Sqlite(path.clone()),
            Backend::Postgres(_, url) => borne_platform::storage::Target::Postgres { url: url.clone(), pool_size: 2 },
        }
    }

    pub fn cluster(&self) -> Option<&PgCluster> {
        match self {
            Backend::Postgres(cluster, _) => Some(cluster),
            Backend::Sqlite(_) => None,
        }
    }
}

/// Each scenario, once on SQLite and once on PostgreSQL (ignored without `--include-ignored`,
/// which `.ci/run` passes with PostgreSQL installed; it fails there if PostgreSQL is missing).
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(false)
            }
            #[test]
            #[ignore = "needs PostgreSQL's server programs (Debian package postgresql): .ci/run installs them"]
            fn postgres() {
                super::$name(true)
            }
        }
    )*};
}

pub fn platform_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_borne-platform"))
}

pub struct Http {
    pub runtime: tokio::runtime::Runtime,
    pub client: reqwest::Client,
}

/// A client that drops a kept-alive connection after 20 s unused, before the platform closes
/// it (30 s idle): a test's runtime runs only while it waits for an answer, so a connection the
/// server closed in between would otherwise be reused and fail (seen on a loaded machine).
pub fn idle_safe(builder: reqwest::ClientBuilder) -> reqwest::Client {
    builder.pool_idle_timeout(std::time::Duration::from_secs(20)).build().unwrap()
}

impl Http {
    pub fn new() -> Http {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Http {
            runtime: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
            client: idle_safe(reqwest::Client::builder()),
        }
    }

    pub fn send(&self, request: reqwest::RequestBuilder) -> (u16, Option<String>, String) {
        self.runtime.block_on(async {
            let r = request.send().await.unwrap();
            let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), retry, r.text().await.unwrap())
        })
    }

    pub fn batch(&self, url: &str, token: &str, body: &str) -> (u16, Option<String>, String) {
        let key: serde_json::Value = serde_json::from_str(body).unwrap();
        let request = self
            .client
            .post(format!("{url}/v1/batches"))
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", key["batch_id"].as_str().unwrap())
            .body(body.to_string());
        self.send(request)
    }

    pub fn get(&self, url: &str) -> (u16, Option<String>, String) {
        self.send(self.client.get(url))
    }
}

/// A batch of `reviews` (client id, submitted_at, satisfaction item, extra answers JSON).
pub fn batch_body(device: &str, source: (u64, u64, u64), reviews: &[(String, &str, i64, &str)]) -> String {
    let text = |item: i64| match item {
        1 => ("Pas bien", "bad"),
        2 => ("Moyen", "medium"),
        _ => ("Très bien", "good"),
    };
    let reviews: Vec<String> = reviews
        .iter()
        .map(|(id, at, item, extra)| {
            let (label, intention) = text(*item);
            format!(
                r#"{{"client_review_id":"{id}","submitted_at":"{at}","clock":"synced","language":"fr","answers":[{{"field_code":"satisfaction","kind":"radio","answer_item_id":{item},"answer_text":"{label}","intention":"{intention}"}}{extra}]}}"#
            )
        })
        .collect();
    format!(
        r#"{{"schema_version":1,"batch_id":"{}","source":{{"device_id":"{device}","product_id":{},"form_id":{},"button_id":{},"app_version":"borne/0.9.1"}},"reviews":[{}]}}"#,
        uuid::Uuid::now_v7(),
        source.0,
        source.1,
        source.2,
        reviews.join(",")
    )
}

pub fn cli(backend: &Backend, args: &[&str]) -> std::process::Output {
    std::process::Command::new(platform_bin())
        .args(args)
        .args(backend.args())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

pub fn cli_ok(backend: &Backend, args: &[&str]) -> String {
    let out = cli(backend, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A command given `stdin` (a password, say), which must succeed.
pub fn cli_stdin(backend: &Backend, args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(platform_bin())
        .args(args)
        .args(backend.args())
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn start_registered(backend: &Backend) -> PlatformProcess {
    let args = backend.args();
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    PlatformProcess::start(platform_bin(), "127.0.0.1:0", &args)
}

/// Runs `tests/e2e/SCRIPT` with `args` in Debian's Chromium (or `$CHROMIUM`), with `env`:
/// it must succeed and end with « tout est bon »; its standard output is returned.
pub fn e2e_script(script: &str, args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> String {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e");
    assert!(
        Path::new(&chromium).exists() && e2e.join("node_modules/playwright-core").exists(),
        "{chromium} and tests/e2e's node modules are needed (bash .ci/run installs them)"
    );
    let mut node = std::process::Command::new("node");
    node.arg(e2e.join(script)).args(args).env("CHROMIUM", &chromium);
    for (key, value) in env {
        node.env(key, value);
    }
    let out = node.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{script}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("tout est bon"), "{script}: {stdout}");
    stdout
}

/// `tests/e2e/pages.mjs` (Playwright, axe-core) in Debian's Chromium: each page answers 200,
/// passes axe-core and does not show `forbidden`; `cookie` (`name=value`) is a session.
pub fn pages_in_chromium(forbidden: &str, urls: &[&str], cookie: Option<&str>) {
    let mut args: Vec<&std::ffi::OsStr> = vec![forbidden.as_ref()];
    args.extend(urls.iter().map(std::ffi::OsStr::new));
    let env: Vec<(&str, &str)> = cookie.map(|c| ("COOKIE", c)).into_iter().collect();
    e2e_script("pages.mjs", &args, &env);
}

/// The value of cookie `name` among a response's `Set-Cookie` headers (not a deletion).
pub fn cookie_value(cookies: &[String], name: &str) -> Option<String> {
    cookies
        .iter()
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

/// One raw HTTP/1.1 exchange on a fresh connection, waiting at most `wait` for each read: the
/// status code and the body, or `None` when the server closed the connection without a status
/// line. A request may be a head alone whose announced body never follows.
pub fn raw_exchange(addr: &str, request: &[u8], wait: std::time::Duration) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(wait)).unwrap();
    stream.write_all(request).ok()?;
    let mut answer = Vec::new();
    // A timeout ends the reading; what came before it is kept.
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.lines().next()?.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// Signs in to the console at `url` as the form does; the session cookie's value.
pub fn console_session(http: &Http, url: &str, email: &str, password: &str) -> String {
    http.runtime.block_on(async {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let form = client.get(format!("{url}/console/connexion")).send().await.unwrap();
        let cookies: Vec<String> =
            form.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        let token = cookie_value(&cookies, "borne_console_login").expect("a login CSRF cookie");
        let answer = client
            .post(format!("{url}/console/connexion"))
            .header("Cookie", format!("borne_console_login={token}"))
            .form(&[("email", email), ("password", password), ("csrf", &token)])
            .send()
            .await
            .unwrap();
        let cookies: Vec<String> =
            answer.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        cookie_value(&cookies, "borne_console").expect("signed in")
    })
}

/// A manager's browser on the console: their session's cookie on every request, redirects not
/// followed (a form's 303 is what is checked).
pub struct Signed<'a> {
    pub http: &'a Http,
    pub url: String,
    pub session: String,
    client: reqwest::Client,
}

impl<'a> Signed<'a> {
    pub fn new(http: &'a Http, url: &str, email: &str, password: &str) -> Signed<'a> {
        let session = console_session(http, url, email, password);
        let client = idle_safe(reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()));
        Signed { http, url: url.to_string(), session, client }
    }

    /// (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        self.http.runtime.block_on(async {
            let r = self
                .client
                .get(format!("{}{path}", self.url))
                .header("Cookie", format!("borne_console={}", self.session))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    }

    /// (status, Location, body).
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Option<String>, String) {
        self.http.runtime.block_on(async {
            let r = self
                .client
                .post(format!("{}{path}", self.url))
                .header("Cookie", format!("borne_console={}", self.session))
                .form(form)
                .send()
                .await
                .unwrap();
            let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), location, r.text().await.unwrap())
        })
    }
}

/// A file shaped as a signed RAUC bundle (SquashFS magic, content, a DER signature, its size on
/// 8 bytes), written into `dir`: what `release add` accepts; only a kiosk checks the signature.
pub fn bundle(dir: &Path, name: &str, content: &[u8]) -> String {
    let mut bytes = b"hsqs".to_vec();
    bytes.extend_from_slice(content);
    let signature = [0x30, 0x82, 0x00, 0x04, 1, 2, 3, 4];
    bytes.extend_from_slice(&signature);
    bytes.extend_from_slice(&(signature.len() as u64).to_be_bytes());
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}
