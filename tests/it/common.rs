//! Helpers shared by the integration tests.

use std::path::Path;
use std::process::{Command, Output};

pub const BORNE: &str = env!("CARGO_BIN_EXE_borne");

pub use borne_testkit::workspace_bin;

pub use borne_testkit::Scratch;

/// `borne --data-dir DIR …` with no configuration file from the environment.
pub fn borne(data_dir: &Path) -> Command {
    let mut cmd = Command::new(BORNE);
    cmd.env_remove("BORNE_CONFIG").env_remove("STATE_DIRECTORY").arg("--data-dir").arg(data_dir);
    cmd
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("binary runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

pub fn run_err(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("binary runs");
    assert!(!out.status.success(), "{cmd:?} should have failed; stdout: {}", String::from_utf8_lossy(&out.stdout));
    out
}

/// Every client_review_id stored, read straight from the SQLite file.
pub fn stored_ids(data_dir: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(data_dir.join("borne.db")).unwrap();
    let mut stmt = conn.prepare("SELECT client_review_id FROM reviews ORDER BY seq").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

/// A small deterministic generator, so failures can be replayed from the printed seed.
pub use borne_testkit::Lcg;

pub fn seed() -> u64 {
    let seed = std::env::var("BORNE_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("BORNE_TEST_SEED={seed}");
    seed
}

/// A client that shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

/// A GET, or a POST of `form` (URL-encoded), with the `cookie` header when not empty.
pub async fn http_send(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> Answer {
    let mut request = match method {
        "POST" => client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&")),
        _ => client.get(url),
    };
    if !cookie.is_empty() {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    Answer { status, headers, body }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn set_cookie(answer: &Answer, name: &str) -> Option<String> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// The CSRF token of the page's first form.
pub fn hidden_csrf(body: &str) -> String {
    let start = body.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    body[start..start + 64].to_string()
}

/// Starts something bound to a port just freed, which may linger a moment: retried for a few
/// seconds before giving up.
pub fn start_retrying<T>(what: &str, mut start: impl FnMut() -> T) -> T {
    for _ in 0..20 {
        if let Ok(started) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut start)) {
            return started;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("{what} does not start");
}

/// A simulated kiosk's batch sent with its key until the platform answers 200 with every review
/// accepted or duplicate, as a kiosk retries: no answer, a 5xx or a body cut by a dying instance
/// is retried; anything else fails the test. Returns the answer's text and the retries.
pub async fn post_batch_until_taken(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
    body: &str,
    reviews: usize,
    patience: std::time::Duration,
) -> (String, usize) {
    let started = std::time::Instant::now();
    let mut retries = 0;
    loop {
        assert!(started.elapsed() < patience, "batch {key} never got through");
        let sent = client
            .post(format!("{url}/v1/batches"))
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", key)
            .body(body.to_string())
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await;
        let (status, text) = match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        };
        if status == 200
            && let Ok(parsed) = serde_json::from_str::<serde_json::Value>(&text)
        {
            let results = parsed["results"].as_array().expect("results");
            assert_eq!(results.len(), reviews, "{text}");
            for result in results {
                assert!(
                    result["status"] == "accepted" || result["status"] == "duplicate",
                    "batch {key}: a valid review was not taken: {result}"
                );
            }
            return (text, retries);
        }
        assert!(
            status == 0 || status >= 500 || status == 200,
            "batch {key}: only transient failures are expected, got {status}: {text}"
        );
        retries += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100 + fastrand::u64(0..300))).await;
    }
}
