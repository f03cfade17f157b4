//! `borne-receiver`: the reference platform side of upload contract v1. An axum server that
//! validates batches, stores them once in SQLite in JDMA's shape, replays idempotent answers,
//! and can inject faults for tests and demos.
//!
//! Invariant: bad input gets a 4xx with the contract's error body; no input makes it panic.

pub mod db;
pub mod validate;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use borne_model::wire::{ErrorBody, Heartbeat, MAX_BATCH_BYTES};
use db::{ReceiverDb, Stored};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
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

    fn devices_for(&self, headers: &HeaderMap) -> Option<&Vec<String>> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let token = value.strip_prefix("Bearer ")?.trim();
        self.0.get(token)
    }
}

/// Fault injection: each is a probability in [0, 1].
#[derive(Debug, Clone, Default)]
pub struct Faults {
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

pub struct Receiver {
    db: Mutex<ReceiverDb>,
    tokens: Tokens,
    faults: Faults,
    rng: Mutex<fastrand::Rng>,
    /// One JSON line per well-formed batch request: its key, its body's hash, the reviews in
    /// it and what became of it, for tests to check that every retry kept its key and bytes.
    audit: Option<Mutex<std::fs::File>>,
}

pub type Shared = Arc<Receiver>;

impl Receiver {
    pub fn open(
        db_path: &Path,
        tokens: Tokens,
        faults: Faults,
        seed: u64,
        audit_log: Option<&Path>,
    ) -> Result<Shared, String> {
        let db = ReceiverDb::open(db_path).map_err(|e| format!("cannot open {}: {e}", db_path.display()))?;
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
        let rng = Mutex::new(fastrand::Rng::with_seed(seed));
        Ok(Arc::new(Receiver { db: Mutex::new(db), tokens, faults, rng, audit }))
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

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/v1/health", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
        .route(
            "/v1/openapi.yaml",
            get(|| async { ([(header::CONTENT_TYPE, "application/yaml; charset=utf-8")], OPENAPI) }),
        )
        .route("/v1/batches", post(post_batch))
        .route("/v1/heartbeats", post(post_heartbeat))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint") })
        // Compressed bodies are small; the decompressed size is checked separately.
        .layer(DefaultBodyLimit::max(2 * MAX_BATCH_BYTES))
        .with_state(state)
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

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")))
}

/// A request extension: lets a handler ask its connection to be dropped unanswered.
#[derive(Clone)]
struct DropConnection(Arc<tokio::sync::Notify>);

async fn post_batch(
    State(rx): State<Shared>,
    headers: HeaderMap,
    drop_connection: Option<axum::Extension<DropConnection>>,
    body: Bytes,
) -> Response {
    let Some(allowed) = rx.tokens.devices_for(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "missing or unknown bearer token");
    };
    if !is_json(&headers) {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "Content-Type must be application/json");
    }
    let json = match decoded_body(&headers, &body) {
        Ok(json) => json,
        Err(response) => return *response,
    };
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) else {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "Idempotency-Key header is required");
    };
    let batch = match parse_batch(&json, key) {
        Ok(batch) => batch,
        Err(BatchError::BadRequest(m)) => return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", m),
        Err(BatchError::TooLarge(m)) => return error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", m),
    };
    if !allowed.iter().any(|d| d == "*" || *d == batch.source.device_id) {
        return error(StatusCode::FORBIDDEN, "FORBIDDEN", "this token may not send for this device_id");
    }
    let hash = hex::encode(Sha256::digest(&json));
    if rx.roll(rx.faults.fail_rate) {
        let status = rx.pick_status();
        rx.audit(key, &hash, &batch, &format!("injected {status}"));
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = error(code, "INJECTED_FAULT", format!("injected fault {status}"));
        if matches!(status, 429 | 503) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(rx.faults.retry_after_s));
        }
        return response;
    }
    tracing::debug!(batch_id = %batch.batch_id, reviews = batch.reviews.len(), "batch parsed");
    let now_ms = chrono::Utc::now().timestamp_millis();
    let state = rx.clone();
    let key = key.to_string();
    let stored = tokio::task::spawn_blocking(move || {
        let stored = {
            let mut db = state.db.lock().map_err(|_| "database lock poisoned".to_string())?;
            db.store_batch(&batch, &hash, now_ms).map_err(|e| e.to_string())
        };
        let outcome = match &stored {
            Ok(Stored::Fresh(_)) => "processed",
            Ok(Stored::Replay(_)) => "replayed",
            Ok(Stored::Conflict) => "conflict",
            Err(_) => "error",
        };
        state.audit(&key, &hash, &batch, outcome);
        stored
    })
    .await;
    let text = match stored {
        Ok(Ok(Stored::Fresh(response))) => serde_json::to_string(&response).unwrap_or_default(),
        Ok(Ok(Stored::Replay(text))) => text,
        Ok(Ok(Stored::Conflict)) => {
            return error(StatusCode::CONFLICT, "CONFLICT", "this Idempotency-Key was used with a different body");
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "receiver database error");
            return error(StatusCode::SERVICE_UNAVAILABLE, "INTERNAL_SERVER_ERROR", "storage unavailable, retry later");
        }
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR", "internal error"),
    };
    tracing::debug!("batch stored");
    // Faults after the commit: the platform holds the reviews, the kiosk does not know it.
    if let Some(axum::Extension(DropConnection(notify))) = &drop_connection
        && rx.roll(rx.faults.drop_rate)
    {
        notify.notify_one();
        std::future::pending::<()>().await;
    }
    if rx.roll(rx.faults.delay_rate) {
        tokio::time::sleep(rx.faults.delay).await;
    }
    let body = if rx.roll(rx.faults.truncate_rate) {
        truncated(&text)
    } else if rx.roll(rx.faults.garbage_rate) {
        b"<html>502 Bad Gateway</html>".to_vec()
    } else {
        text.into_bytes()
    };
    ([(header::CONTENT_TYPE, "application/json")], Body::from(body)).into_response()
}

/// The first half of an answer's bytes (a fault: the client must survive a cut body), cut
/// anywhere, even inside a character: client ids are echoed as sent, in any script.
fn truncated(text: &str) -> Vec<u8> {
    text.as_bytes()[..text.len() / 2].to_vec()
}

async fn post_heartbeat(State(rx): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(allowed) = rx.tokens.devices_for(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "missing or unknown bearer token");
    };
    let heartbeat: Heartbeat = match serde_json::from_slice(&body) {
        Ok(h) => h,
        Err(e) => return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", format!("not a heartbeat: {e}")),
    };
    if !allowed.iter().any(|d| d == "*" || *d == heartbeat.device_id) {
        return error(StatusCode::FORBIDDEN, "FORBIDDEN", "this token may not send for this device_id");
    }
    let text = String::from_utf8_lossy(&body).to_string();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let stored = rx
        .db
        .lock()
        .map_err(|_| ())
        .and_then(|mut db| db.store_heartbeat(&heartbeat.device_id, &text, now_ms).map_err(|_| ()));
    match stored {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(()) => error(StatusCode::SERVICE_UNAVAILABLE, "INTERNAL_SERVER_ERROR", "storage unavailable"),
    }
}

/// Serves until `shutdown` resolves. Each connection gets a handle that lets a handler drop it
/// unanswered (fault injection).
pub async fn serve(listener: tokio::net::TcpListener, state: Shared, shutdown: impl std::future::Future<Output = ()>) {
    let app = router(state);
    borne_web::accept::until_shutdown(listener, "receiver", shutdown, |stream, _| {
        let notify = Arc::new(tokio::sync::Notify::new());
        let service = app.clone().layer(axum::Extension(DropConnection(notify.clone())));
        tokio::spawn(async move {
            let hyper_service = hyper_util::service::TowerToHyperService::new(service);
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), hyper_service);
            tokio::select! {
                _ = connection => {}
                // Dropping the connection closes the socket with no response.
                _ = notify.notified() => {}
            }
        });
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_answer_may_cut_a_character_in_half() {
        // Two bytes: « é » is cut in its middle, which slicing a `str` there would panic on.
        assert_eq!(truncated("é"), vec![0xC3]);
        assert_eq!(truncated("aébc"), vec![b'a', 0xC3]);
    }
}
