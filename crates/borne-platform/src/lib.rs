//! `borne-platform`: the gateway Borne kiosks upload to (upload contract v1). An axum server that
//! authenticates kiosks, validates batches, stores them once in JDMA's shape (PostgreSQL, or an
//! embedded SQLite file), replays idempotent answers, takes heartbeats, exposes Prometheus
//! metrics, and can inject faults for tests and demos.
//!
//! Invariants: bad input gets a 4xx with the contract's error body and no input makes it panic;
//! an instance keeps no state a retry depends on (idempotency, dedup and revocation live in the
//! database), so any instance answers any retry the same way.

pub mod alerts;
pub mod config;
pub mod console;
pub mod export;
pub mod frame;
pub mod jdma;
pub mod local;
pub mod metrics;
pub mod notify;
pub mod public;
pub mod published;
pub mod rollout;
pub mod storage;
pub mod validate;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use borne_model::wire::{ErrorBody, Heartbeat, MAX_BATCH_BYTES};
use metrics::Metrics;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use storage::{Storage, StorageError, Stored};
use validate::{BatchError, ParsedBatch, parse_batch};

/// The contract, served at `/v1/openapi.yaml`.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.yaml");

/// Tokens and the device ids each may send for. File format: one token per line, followed by
/// the device ids it covers (`*` for any); `#` starts a comment.
#[derive(Debug, Clone, Default)]
pub struct Tokens(HashMap<String, Vec<String>>);

impl Tokens {
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let mut map = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let token = words.next().unwrap_or_default().to_string();
            let devices: Vec<String> = words.map(String::from).collect();
            if devices.is_empty() {
                return Err(format!("line {}: a token needs at least one device id (or *)", n + 1));
            }
            map.insert(token, devices);
        }
        Ok(Tokens(map))
    }

    pub fn load(path: &Path) -> Result<Tokens, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Tokens::parse(&text)
    }

    fn devices_for(&self, token: &str) -> Option<&Vec<String>> {
        self.0.get(token)
    }
}

/// Fault injection: each is a probability in [0, 1], drawn from a generator seeded with `seed`.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub seed: u64,
    /// Answer with one of `statuses` instead of processing the batch.
    pub fail_rate: f64,
    pub statuses: Vec<u16>,
    /// `Retry-After` seconds sent with 429 and 503.
    pub retry_after_s: u64,
    /// Process and commit, then answer only after `delay` (beyond the client's timeout).
    pub delay_rate: f64,
    pub delay: Duration,
    /// Process and commit, then drop the connection without answering.
    pub drop_rate: f64,
    /// Process and commit, then answer 200 with a truncated body.
    pub truncate_rate: f64,
    /// Process and commit, then answer 200 with garbage.
    pub garbage_rate: f64,
}

/// Who may send: the database's registered kiosks (the deployment), or a tokens file (tests,
/// demos, a quick trial without registering anything).
#[derive(Debug, Clone)]
pub enum Auth {
    Database,
    File(Tokens),
}

pub struct Platform {
    storage: Storage,
    auth: Auth,
    faults: Faults,
    rng: Mutex<fastrand::Rng>,
    /// One JSON line per well-formed batch request: its key, its body's hash, the reviews in
    /// it and what became of it, for tests to check that every retry kept its key and bytes.
    audit: Option<Mutex<std::fs::File>>,
    pub metrics: Metrics,
    pub console: Arc<console::Console>,
    /// Alert mails, when configured.
    pub notifier: Option<notify::Notifier>,
    /// How connections are bounded and whose word on a client's address is taken.
    pub server: borne_web::serve::Server,
    /// The public results, in memory for a few minutes.
    pub public: public::PublicCache,
    /// Forwarding to « Je donne mon avis », when configured (set once, before serving).
    pub jdma: std::sync::OnceLock<Arc<jdma::Forwarder>>,
}

pub type Shared = Arc<Platform>;

/// What a request's bearer token allows.
enum Allowed {
    Device(storage::DeviceAuth),
    Listed(Vec<String>),
}

impl Allowed {
    fn covers(&self, device_id: &str) -> bool {
        match self {
            Allowed::Device(d) => d.device_id == device_id,
            Allowed::Listed(ids) => ids.iter().any(|d| d == "*" || d == device_id),
        }
    }

    fn site(&self) -> Option<&storage::Site> {
        match self {
            Allowed::Device(d) => d.site.as_ref(),
            Allowed::Listed(_) => None,
        }
    }
}

impl Platform {
    pub fn new(
        storage: Storage,
        auth: Auth,
        faults: Faults,
        audit_log: Option<&Path>,
        console: console::Settings,
        notifier: Option<notify::Notifier>,
        server: borne_web::serve::Server,
    ) -> Result<Shared, String> {
        let audit = match audit_log {
            Some(path) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?,
            )),
            None => None,
        };
        let rng = Mutex::new(fastrand::Rng::with_seed(faults.seed));
        let mail_base = notifier.as_ref().map(|n| n.links.public_url.clone());
        let console = Arc::new(console::Console::new(console, storage.clone(), mail_base)?);
        Ok(Arc::new(Platform {
            storage,
            auth,
            faults,
            rng,
            audit,
            metrics: Metrics::new(),
            console,
            notifier,
            server,
            public: Default::default(),
            jdma: std::sync::OnceLock::new(),
        }))
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The bearer token's rights; `Err` is the response to give (401, or 503 when the database
    /// cannot say).
    async fn allowed(&self, headers: &HeaderMap) -> Result<Allowed, Response> {
        let unauthorized = || error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "missing or unknown bearer token");
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else { return Err(unauthorized()) };
        match &self.auth {
            Auth::File(tokens) => tokens.devices_for(token).cloned().map(Allowed::Listed).ok_or_else(unauthorized),
            Auth::Database => match self.storage.authenticate(token).await {
                Ok(Some(device)) => Ok(Allowed::Device(device)),
                Ok(None) => Err(unauthorized()),
                Err(e) => Err(unavailable(&e)),
            },
        }
    }

    /// Appends one line to the audit log, if there is one.
    fn audit(&self, key: &str, body_sha256: &str, batch: &ParsedBatch, outcome: &str) {
        let Some(file) = &self.audit else { return };
        let reviews: Vec<String> = batch
            .reviews
            .iter()
            .map(|r| match r {
                Ok(valid) => valid.client_review_id.to_string(),
                Err(rejected) => rejected.client_review_id.clone(),
            })
            .collect();
        let line = serde_json::json!({"key": key, "body_sha256": body_sha256, "outcome": outcome, "reviews": reviews});
        if let Ok(mut file) = file.lock() {
            let _ = writeln!(file, "{line}");
        }
    }

    fn roll(&self, probability: f64) -> bool {
        probability > 0.0 && self.rng.lock().map(|mut r| r.f64() < probability).unwrap_or(false)
    }

    fn pick_status(&self) -> u16 {
        let statuses = if self.faults.statuses.is_empty() { &[500u16][..] } else { &self.faults.statuses[..] };
        self.rng.lock().map(|mut r| statuses[r.usize(..statuses.len())]).unwrap_or(500)
    }
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody { message: message.into(), code: code.into(), issues: None };
    (status, axum::Json(body)).into_response()
}

/// The database could not answer: 503 with a short `Retry-After`, so the kiosk retries the same
/// batch (same key, same body) and any instance answers it.
fn unavailable(e: &StorageError) -> Response {
    tracing::error!(error = %e, "database unavailable");
    let mut response =
        error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "storage unavailable, retry later");
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(5u32));
    response
}

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route(
            "/v1/openapi.yaml",
            get(|| async { ([(header::CONTENT_TYPE, "application/yaml; charset=utf-8")], OPENAPI) }),
        )
        .route("/v1/batches", post(post_batch))
        .route("/v1/heartbeats", post(post_heartbeat))
        .route("/v1/actions", axum::routing::put(put_actions))
        .route("/v1/survey", get(|State(p), h, RawQuery(q)| published_for(p, h, q, published::What::Survey)))
        .route("/v1/update", get(|State(p), h, RawQuery(q)| published_for(p, h, q, published::What::Release)))
        .route("/metrics", get(metrics_text))
        .route("/public/style.css", get(|| async { public_answer("text/css; charset=utf-8", public::STYLE.clone()) }))
        .route("/public/schema", get(|| async { public_answer(HTML, public::schema_page().into_string()) }))
        .route("/public/sites/{site}", get(public_page))
        .route("/public/sites/{site}/results.json", get(public_json))
        .route("/public/sites/{site}/results.csv", get(public_csv))
        .merge(console::router(state.console.clone()))
        .merge(frame::router(state.console.settings.publication.clone()))
        .fallback(|uri: axum::http::Uri| async move {
            if console::is_console_path(uri.path()) {
                console::not_found()
            } else {
                error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")
            }
        })
        // Forms (sign-in, console) are small; the API's bodies are read after authentication,
        // each against its own limit (`read_body`).
        .layer(DefaultBodyLimit::max(FORM_BYTES))
        .layer(axum::middleware::from_fn(plain_errors))
        .with_state(state)
}

/// The largest form a browser posts here (a sign-in, a console filter): 16 KiB.
pub const FORM_BYTES: usize = 16 * 1024;

/// The errors axum and hyper answer by themselves (405, 413, a body that is not a form…) in
/// the shape of the rest: `{message, code}` on the API, the console's page on the console.
async fn plain_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = request.uri().path();
    let console = console::is_console_path(path) && !path.ends_with(".json");
    // A form announced larger than a form can be is refused before a byte of it is read (the
    // API's bodies have their own limits, checked after authentication).
    let announced = http_body::Body::size_hint(request.body()).lower();
    if console && announced > FORM_BYTES as u64 {
        return console::error_page(StatusCode::PAYLOAD_TOO_LARGE, "");
    }
    let response = next.run(request).await;
    let status = response.status();
    let typed = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| {
        t.starts_with("application/json") || t.starts_with("text/html") || t.starts_with("application/openmetrics")
    });
    if typed || !(status.is_client_error() || status.is_server_error()) || status == StatusCode::UNAUTHORIZED {
        return response;
    }
    let code = status.canonical_reason().unwrap_or("ERROR").to_ascii_uppercase().replace([' ', '-'], "_");
    let text = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&text).trim().to_string();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed for this endpoint".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => "body too large".to_string(),
        _ if detail.is_empty() => status.canonical_reason().unwrap_or("error").to_lowercase(),
        _ => detail,
    };
    if console {
        return console::error_page(status, &message);
    }
    error(status, &code, message)
}

const HTML: &str = "text/html; charset=utf-8";
use frame::PUBLIC_CSP;

/// A public answer: cacheable for an hour by browsers and proxies, readable from any origin
/// (open data), nothing executable.
fn public_answer(content_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::CONTENT_SECURITY_POLICY, PUBLIC_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
        .into_response()
}

/// A site's published results, or the answer to give instead (404, 503).
async fn published(platform: &Platform, site: &str) -> Result<Arc<public::PublicResults>, Response> {
    let today = chrono::Utc::now().date_naive();
    match platform.public.results(&platform.storage, site, today).await {
        Ok(Some(results)) => Ok(results),
        Ok(None) => Err(error(StatusCode::NOT_FOUND, "NOT_FOUND", "site inconnu")),
        Err(e) => Err(unavailable(&e)),
    }
}

async fn public_page(
    State(platform): State<Shared>,
    axum::extract::Path(site): axum::extract::Path<String>,
) -> Response {
    match published(&platform, &site).await {
        Ok(results) => public_answer(HTML, public::page(&results).into_string()),
        Err(response) if response.status() == StatusCode::NOT_FOUND => {
            let mut page = public_answer(HTML, public::missing_page().into_string());
            *page.status_mut() = StatusCode::NOT_FOUND;
            page.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
            page
        }
        Err(response) => response,
    }
}

async fn public_json(
    State(platform): State<Shared>,
    axum::extract::Path(site): axum::extract::Path<String>,
) -> Response {
    match published(&platform, &site).await {
        Ok(results) => public_answer("application/json", serde_json::to_string(&*results).unwrap_or_default()),
        Err(response) => response,
    }
}

async fn public_csv(
    State(platform): State<Shared>,
    axum::extract::Path(site): axum::extract::Path<String>,
) -> Response {
    match published(&platform, &site).await {
        Ok(results) => public_answer("text/csv; charset=utf-8", public::csv(&results)),
        Err(response) => response,
    }
}

/// `200 {"status": "ok"}` only when the database answers, so a load balancer's health check
/// takes an instance out while its database is away.
async fn health(State(platform): State<Shared>) -> Response {
    match platform.storage.health().await {
        Ok(()) => axum::Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(e) => unavailable(&e),
    }
}

async fn metrics_text(State(platform): State<Shared>) -> Response {
    let text = platform.metrics.render(platform.storage.pool_status());
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

/// Reads the body as JSON bytes, undoing gzip when announced; refuses more than the
/// contract's 1 MiB once decompressed.
fn decoded_body(headers: &HeaderMap, body: &Bytes) -> Result<Vec<u8>, Box<Response>> {
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity");
    let limit = MAX_BATCH_BYTES as u64 + 1;
    let bytes = match encoding.trim().to_ascii_lowercase().as_str() {
        "identity" | "" => body.to_vec(),
        "gzip" | "x-gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .take(limit)
                .read_to_end(&mut out)
                .map_err(|e| error(StatusCode::BAD_REQUEST, "BAD_REQUEST", format!("body is not valid gzip: {e}")))?;
            out
        }
        other => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("unsupported Content-Encoding {other:?}"),
            )
            .into());
        }
    };
    if bytes.len() > MAX_BATCH_BYTES {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "batch larger than 1 MiB before compression",
        )
        .into());
    }
    Ok(bytes)
}

fn too_large(limit: usize) -> Response {
    error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", format!("body larger than {limit} bytes"))
}

/// A heartbeat or a list of actions: a few hundred bytes; 64 KiB is plenty.
const SMALL_BODY_BYTES: usize = 64 * 1024;

/// Reads a request's body, at most `limit` bytes (413 beyond, without reading further; 400
/// when the client stops sending or the connection's body deadline runs out).
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    use http_body_util::BodyExt;
    if http_body::Body::size_hint(&body).lower() > limit as u64 {
        return Err(too_large(limit));
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Err(e) => Err(error(StatusCode::BAD_REQUEST, "BAD_REQUEST", format!("body not received: {e}"))),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")))
}

async fn post_batch(
    State(platform): State<Shared>,
    headers: HeaderMap,
    connection: Option<axum::Extension<borne_web::serve::Connection>>,
    body: Body,
) -> Response {
    let started = Instant::now();
    let (outcome, response) = batch_response(&platform, &headers, body).await;
    platform.metrics.batch(outcome);
    platform.metrics.batch_seconds.observe(started.elapsed().as_secs_f64());
    if !matches!(outcome, "processed" | "replayed") {
        return response;
    }
    // Faults after the commit: the platform holds the reviews, the kiosk does not know it.
    if let Some(axum::Extension(connection)) = &connection
        && platform.roll(platform.faults.drop_rate)
    {
        connection.drop_unanswered();
        std::future::pending::<()>().await;
    }
    if platform.roll(platform.faults.delay_rate) {
        tokio::time::sleep(platform.faults.delay).await;
    }
    if platform.roll(platform.faults.truncate_rate) {
        let text = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
        return ([(header::CONTENT_TYPE, "application/json")], Body::from(truncated(&text))).into_response();
    }
    if platform.roll(platform.faults.garbage_rate) {
        return ([(header::CONTENT_TYPE, "application/json")], Body::from(&b"<html>502 Bad Gateway</html>"[..]))
            .into_response();
    }
    response
}

/// The batch's answer and its outcome (for the metrics).
async fn batch_response(platform: &Platform, headers: &HeaderMap, body: Body) -> (&'static str, Response) {
    let allowed = match platform.allowed(headers).await {
        Ok(allowed) => allowed,
        Err(response) => {
            let outcome = if response.status() == StatusCode::UNAUTHORIZED { "unauthorized" } else { "unavailable" };
            return (outcome, response);
        }
    };
    if !is_json(headers) {
        return ("bad_request", error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "Content-Type must be application/json"));
    }
    // Only now, the token known, is the body read: a stranger's bytes are never buffered.
    let body = match read_body(body, 2 * MAX_BATCH_BYTES).await {
        Ok(body) => body,
        Err(response) => {
            let outcome = if response.status() == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "bad_request" };
            return (outcome, response);
        }
    };
    let json = match decoded_body(headers, &body) {
        Ok(json) => json,
        Err(response) => {
            let outcome = if response.status() == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "bad_request" };
            return (outcome, *response);
        }
    };
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) else {
        return ("bad_request", error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "Idempotency-Key header is required"));
    };
    let batch = match parse_batch(&json, key) {
        Ok(batch) => batch,
        Err(BatchError::BadRequest(m)) => return ("bad_request", error(StatusCode::BAD_REQUEST, "BAD_REQUEST", m)),
        Err(BatchError::TooLarge(m)) => {
            return ("too_large", error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", m));
        }
    };
    if !allowed.covers(&batch.source.device_id) {
        return ("forbidden", error(StatusCode::FORBIDDEN, "FORBIDDEN", "this token may not send for this device_id"));
    }
    if let Some(mismatch) = allowed.site().and_then(|site| site.source_mismatch(&batch.source)) {
        return ("forbidden", error(StatusCode::FORBIDDEN, "FORBIDDEN", mismatch));
    }
    let hash = hex::encode(Sha256::digest(&json));
    if platform.roll(platform.faults.fail_rate) {
        let status = platform.pick_status();
        platform.audit(key, &hash, &batch, &format!("injected {status}"));
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = error(code, "INJECTED_FAULT", format!("injected fault {status}"));
        if matches!(status, 429 | 503) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(platform.faults.retry_after_s));
        }
        return ("injected", response);
    }
    let site_id = allowed.site().map(|s| s.id.clone());
    let stored = platform.storage.store_batch(&batch, site_id.as_deref(), &hash, chrono::Utc::now()).await;
    if let Some(site) = &site_id {
        platform.public.forget(site);
    }
    let outcome = match &stored {
        Ok(s) => s.outcome(),
        Err(_) => "unavailable",
    };
    platform.audit(key, &hash, &batch, if outcome == "unavailable" { "error" } else { outcome });
    tracing::info!(
        device_id = %batch.source.device_id,
        batch_id = %batch.batch_id,
        reviews = batch.reviews.len(),
        outcome,
        "batch"
    );
    let text = match stored {
        Ok(Stored::Fresh { response, text }) => {
            for (result, n) in tally(&response) {
                platform.metrics.review(result, n);
            }
            text
        }
        Ok(Stored::Replay(text)) => text,
        Ok(Stored::Conflict) => {
            return (
                outcome,
                error(StatusCode::CONFLICT, "CONFLICT", "this Idempotency-Key was used with a different body"),
            );
        }
        Err(e) => return (outcome, unavailable(&e)),
    };
    (outcome, ([(header::CONTENT_TYPE, "application/json")], Body::from(text)).into_response())
}

/// How many reviews of a response were accepted, duplicate and rejected.
fn tally(response: &borne_model::wire::BatchResponse) -> [(&'static str, u64); 3] {
    use borne_model::wire::ResultStatus;
    let count = |status: ResultStatus| response.results.iter().filter(|r| r.status == status).count() as u64;
    [
        ("accepted", count(ResultStatus::Accepted)),
        ("duplicate", count(ResultStatus::Duplicate)),
        ("rejected", count(ResultStatus::Rejected)),
    ]
}

/// The first half of an answer's bytes (a fault: the client must survive a cut body), cut
/// anywhere, even inside a character: client ids are echoed as sent, in any script.
fn truncated(text: &[u8]) -> Vec<u8> {
    text[..text.len() / 2].to_vec()
}

async fn post_heartbeat(State(platform): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let (outcome, response) = heartbeat_response(&platform, &headers, body).await;
    platform.metrics.heartbeat(outcome);
    response
}

async fn heartbeat_response(platform: &Platform, headers: &HeaderMap, body: Body) -> (&'static str, Response) {
    let allowed = match platform.allowed(headers).await {
        Ok(allowed) => allowed,
        Err(response) => {
            let outcome = if response.status() == StatusCode::UNAUTHORIZED { "unauthorized" } else { "unavailable" };
            return (outcome, response);
        }
    };
    let body = match read_body(body, SMALL_BODY_BYTES).await {
        Ok(body) => body,
        Err(response) => return ("bad_request", response),
    };
    let heartbeat: Heartbeat = match serde_json::from_slice(&body) {
        Ok(h) => h,
        Err(e) => {
            return ("bad_request", error(StatusCode::BAD_REQUEST, "BAD_REQUEST", format!("not a heartbeat: {e}")));
        }
    };
    if let Err(m) = heartbeat.check() {
        return ("bad_request", error(StatusCode::BAD_REQUEST, "BAD_REQUEST", m));
    }
    if !allowed.covers(&heartbeat.device_id) {
        return ("forbidden", error(StatusCode::FORBIDDEN, "FORBIDDEN", "this token may not send for this device_id"));
    }
    match platform.storage.store_heartbeat(&heartbeat, chrono::Utc::now()).await {
        Ok(()) => ("stored", StatusCode::NO_CONTENT.into_response()),
        Err(e) => ("unavailable", unavailable(&e)),
    }
}

/// `PUT /v1/actions` (contract 1.1): the kiosk's whole list of « on l'a fait » actions replaces
/// the one held for it. Checked with the kiosk's own rules; 204 once stored.
async fn put_actions(State(platform): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let allowed = match platform.allowed(&headers).await {
        Ok(allowed) => allowed,
        Err(response) => return response,
    };
    let body = match read_body(body, SMALL_BODY_BYTES).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let update: borne_model::wire::ActionsUpdate = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", format!("not a list of actions: {e}")),
    };
    if let Err(m) = borne_model::wire::check_token_text("device_id", &update.device_id) {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", m);
    }
    // The kiosk's day may be ahead of the platform's by its time zone: `check_list` allows a day.
    let now = chrono::Utc::now();
    if let Err(e) = borne_model::actions::check_list(&update.actions, now.date_naive()) {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", e);
    }
    if !allowed.covers(&update.device_id) {
        return error(StatusCode::FORBIDDEN, "FORBIDDEN", "this token may not send for this device_id");
    }
    match platform.storage.replace_actions(&update.device_id, &update.actions, now).await {
        Ok(()) => {
            if let Some(site) = allowed.site() {
                platform.public.forget(&site.id);
            }
            tracing::info!(device = %update.device_id, actions = update.actions.len(), "actions");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => unavailable(&e),
    }
}

/// `GET /v1/survey?device_id=` and `GET /v1/update?device_id=` (contract 1.2): the survey
/// version, or the system release, published for this kiosk.
async fn published_for(platform: Shared, headers: HeaderMap, query: Option<String>, what: published::What) -> Response {
    let allowed = match platform.allowed(&headers).await {
        Ok(allowed) => allowed,
        Err(response) => return response,
    };
    let device = published::device_of(query.as_deref());
    if let Err(m) = borne_model::wire::check_token_text("device_id", device) {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", m);
    }
    if !allowed.covers(device) {
        return error(StatusCode::FORBIDDEN, "FORBIDDEN", "this token may not ask for this device_id");
    }
    published::answer(&platform.storage, what, device, allowed.site(), &headers)
        .await
        .unwrap_or_else(|e| unavailable(&e))
}

/// How long a graceful shutdown waits for requests in flight.
/// Evaluates each minute (on whichever instance claims the round) and sends the mails due.
async fn alerts(state: Shared) {
    let holder = borne_web::auth::random_token();
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(60));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        // Each minute; or at once when the console queued a mail (an invitation, a reset).
        let evaluate = tokio::select! {
            _ = ticker.tick() => true,
            _ = state.console.mail_queued.notified() => false,
        };
        let storage = state.storage();
        let links = state.notifier.as_ref().map(|n| &n.links);
        if evaluate && let Err(e) = notify::tick(storage, &holder, links, chrono::Utc::now()).await {
            tracing::warn!(error = %e, "alert evaluation failed; retried next minute");
        }
        if evaluate && let Err(e) = rollout::tick(storage, links, chrono::Utc::now()).await {
            tracing::warn!(error = %e, "rollouts not decided; retried next minute");
        }
        if let Some(notifier) = &state.notifier
            && let Err(e) = notify::deliver(storage, &notifier.mailer, chrono::Utc::now()).await
        {
            tracing::warn!(error = %e, "alert mails not sent; retried next minute");
        }
    }
}

pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves until `shutdown` resolves, then stops accepting, lets the requests in flight finish
/// (closing idle keep-alive connections) for at most [`SHUTDOWN_GRACE`], and returns. The
/// connections are bounded by `borne_web::serve` (timeouts by phase, a cap that sheds the
/// slowest, the client's address from trusted proxies only). A maintenance task creates the
/// months ahead and purges old idempotency records hourly.
pub async fn serve(listener: tokio::net::TcpListener, state: Shared, shutdown: impl std::future::Future<Output = ()>) {
    let maintenance = tokio::spawn(maintain_hourly(state.clone()));
    let alerts = tokio::spawn(alerts(state.clone()));
    let forwarding = state.jdma.get().cloned().map(|forwarder| {
        let (a, b) = (state.clone(), state.clone());
        tokio::spawn(
            forwarder.run(move |round| a.metrics.jdma_round(round), move |counts| b.metrics.jdma_counts(counts)),
        )
    });
    let server = state.server.clone();
    server.serve(listener, router(state), shutdown, SHUTDOWN_GRACE).await;
    maintenance.abort();
    alerts.abort();
    if let Some(forwarding) = forwarding {
        forwarding.abort();
    }
}

async fn maintain_hourly(state: Shared) {
    let mut ticker = tokio::time::interval(Duration::from_secs(3600));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        if let Err(e) = state.storage.maintain(chrono::Utc::now()).await {
            tracing::warn!(error = %e, "maintenance failed; retried next hour");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_answer_may_cut_a_character_in_half() {
        // Two bytes: « é » is cut in its middle, which slicing a `str` there would panic on.
        assert_eq!(truncated("é".as_bytes()), vec![0xC3]);
        assert_eq!(truncated("aébc".as_bytes()), vec![b'a', 0xC3]);
    }
}
