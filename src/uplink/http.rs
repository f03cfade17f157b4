//! The HTTP side of the uploader: reqwest over rustls (system roots plus an optional extra CA),
//! explicit timeouts, and the contract's status table turned into an `Outcome`.

use super::plan::Outcome;
use crate::config::UploadConfig;
use crate::store::OpenBatch;
use borne_model::wire::{ActionsUpdate, BatchResponse, ErrorBody, Heartbeat, PublishedSurvey};
use std::time::Duration;

/// Sends batches and heartbeats somewhere.
pub trait Transport {
    fn send(&self, batch: &OpenBatch) -> impl std::future::Future<Output = Outcome> + Send;
    fn heartbeat(&self, heartbeat: &Heartbeat) -> impl std::future::Future<Output = Result<(), String>> + Send;
    /// `PUT /v1/actions` (contract 1.1). A transport that does not carry it answers
    /// `Unsupported`, as a platform of contract 1.0 does.
    fn put_actions(&self, update: &ActionsUpdate) -> impl std::future::Future<Output = ActionsOutcome> + Send {
        let _ = update;
        async { ActionsOutcome::Unsupported }
    }
    /// `GET /v1/survey` (contract 1.2), telling the versions the kiosk already has. A transport
    /// that does not carry it answers `Unsupported`, as a platform of contract 1.1 does.
    fn get_survey(&self, device_id: &str, known: &[u64]) -> impl std::future::Future<Output = SurveyOutcome> + Send {
        let _ = (device_id, known);
        async { SurveyOutcome::Unsupported }
    }
}

/// What the platform said of the survey it publishes for this kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SurveyOutcome {
    /// One of the versions the kiosk has (304).
    Unchanged,
    Published(PublishedSurvey),
    /// None for this kiosk (204): its file's survey runs.
    NoneForThisKiosk,
    /// The platform does not know this addition to the contract (404, 405, 501).
    Unsupported,
    Failed(String),
}

/// How the platform took the list of actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionsOutcome {
    Accepted,
    /// The platform does not know this addition to the contract (404, 405, 501).
    Unsupported,
    Failed(String),
}

pub struct HttpTransport {
    client: reqwest::Client,
    config: UploadConfig,
}

impl HttpTransport {
    pub fn new(config: &UploadConfig) -> Result<HttpTransport, String> {
        // reqwest is built without a default crypto provider: ring builds with a C compiler only.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(app_version())
            // Below the platform's 30 s idle close: a pooled connection is never one it closed.
            .pool_idle_timeout(Duration::from_secs(20));
        if let Some(ca) = &config.ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("upload.ca_file {} illisible : {e}", ca.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("upload.ca_file {} : certificat PEM invalide ({e})", ca.display()))?;
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder.build().map_err(|e| format!("client HTTP impossible à créer : {e}"))?;
        Ok(HttpTransport { client, config: config.clone() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url)
    }
}

/// `Retry-After`: a number of seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds.min(86_400)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - now;
    Some(wait.to_std().unwrap_or(Duration::ZERO).min(Duration::from_secs(86_400)))
}

fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => format!("{} ({})", e.message, e.code),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string(),
    }
}

impl Transport for HttpTransport {
    async fn send(&self, batch: &OpenBatch) -> Outcome {
        let token = match self.config.read_token() {
            Ok(token) => token,
            Err(e) => return Outcome::AuthRefused(e),
        };
        let response = self
            .client
            .post(self.url("/v1/batches"))
            .bearer_auth(token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .header("Idempotency-Key", batch.batch_id.to_string())
            .body(batch.body_gzip.clone())
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Outcome::Transient("la plateforme n'a pas répondu à temps".into()),
            Err(e) if e.is_connect() => {
                return Outcome::Transient(format!("plateforme injoignable ({})", self.config.base_url));
            }
            Err(e) => return Outcome::Transient(format!("échange interrompu avec la plateforme : {e}")),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) if e.is_timeout() => return Outcome::Transient("la plateforme n'a pas répondu à temps".into()),
            Err(_) => return Outcome::Transient(format!("réponse interrompue de la plateforme (HTTP {status})")),
        };
        match status {
            200 => match serde_json::from_slice::<BatchResponse>(&body) {
                Ok(parsed) => Outcome::Answered(parsed),
                Err(_) => Outcome::Transient("réponse illisible de la plateforme (HTTP 200)".into()),
            },
            400 => Outcome::BadRequest(error_message(&body)),
            401 => Outcome::AuthRefused(format!(
                "jeton refusé par la plateforme (HTTP 401) : il n'est celui d'aucune borne ; vérifiez {} ; {}",
                self.config.token_file.display(),
                error_message(&body)
            )),
            403 => Outcome::AuthRefused(format!(
                "jeton refusé par la plateforme pour cette identité (HTTP 403) : {}",
                error_message(&body)
            )),
            409 => Outcome::Conflict(error_message(&body)),
            413 => Outcome::TooLarge,
            429 => Outcome::SlowDown { retry_after, message: "la plateforme demande de ralentir (HTTP 429)".into() },
            503 if retry_after.is_some() => {
                Outcome::SlowDown { retry_after, message: "plateforme indisponible (HTTP 503)".into() }
            }
            500..=599 => Outcome::Transient(format!("erreur de la plateforme (HTTP {status})")),
            _ => Outcome::Transient(format!(
                "réponse inattendue de la plateforme (HTTP {status}) : {}",
                error_message(&body)
            )),
        }
    }

    async fn heartbeat(&self, heartbeat: &Heartbeat) -> Result<(), String> {
        let response = self
            .send_json(reqwest::Method::POST, "/v1/heartbeats", heartbeat)
            .await?
            .map_err(|e| format!("signal de vie non envoyé : {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("signal de vie refusé (HTTP {})", response.status().as_u16()))
        }
    }

    async fn put_actions(&self, update: &ActionsUpdate) -> ActionsOutcome {
        let response = match self.send_json(reqwest::Method::PUT, "/v1/actions", update).await {
            Ok(response) => response,
            Err(e) => return ActionsOutcome::Failed(e),
        };
        match response {
            Ok(r) if r.status().is_success() => ActionsOutcome::Accepted,
            Ok(r) if matches!(r.status().as_u16(), 404 | 405 | 501) => ActionsOutcome::Unsupported,
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.bytes().await.unwrap_or_default();
                ActionsOutcome::Failed(format!("actions refusées (HTTP {status}) : {}", error_message(&body)))
            }
            Err(e) => ActionsOutcome::Failed(format!("actions non envoyées : {e}")),
        }
    }

    async fn get_survey(&self, device_id: &str, known: &[u64]) -> SurveyOutcome {
        self.fetch_survey(device_id, known).await
    }
}

impl HttpTransport {
    async fn fetch_survey(&self, device_id: &str, known: &[u64]) -> SurveyOutcome {
        let token = match self.config.read_token() {
            Ok(token) => token,
            Err(e) => return SurveyOutcome::Failed(e),
        };
        let mut request = self
            .client
            // A device id is letters, digits and « - _ . » (checked with the configuration).
            .get(self.url(&format!("/v1/survey?device_id={device_id}")))
            .bearer_auth(token.expose());
        if !known.is_empty() {
            let tags: Vec<String> = known.iter().map(|v| format!("\"{v}\"")).collect();
            request = request.header(reqwest::header::IF_NONE_MATCH, tags.join(", "));
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return SurveyOutcome::Failed(format!("questionnaire non demandé : {e}")),
        };
        let status = response.status().as_u16();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(_) => return SurveyOutcome::Failed(format!("réponse interrompue de la plateforme (HTTP {status})")),
        };
        match status {
            200 => match serde_json::from_slice::<PublishedSurvey>(&body) {
                Ok(published) => SurveyOutcome::Published(published),
                Err(_) => SurveyOutcome::Failed("questionnaire illisible (HTTP 200)".into()),
            },
            204 => SurveyOutcome::NoneForThisKiosk,
            304 => SurveyOutcome::Unchanged,
            404 | 405 | 501 => SurveyOutcome::Unsupported,
            _ => SurveyOutcome::Failed(format!("questionnaire refusé (HTTP {status}) : {}", error_message(&body))),
        }
    }

    /// A JSON body sent with the kiosk's token (heartbeats, actions): the token file's error, or
    /// what the exchange gave.
    async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<reqwest::Result<reqwest::Response>, String> {
        let token = self.config.read_token()?;
        Ok(self
            .client
            .request(method, self.url(path))
            .bearer_auth(token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(body).unwrap_or_default())
            .send()
            .await)
    }
}

pub use crate::sys::app_version;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_http_date() {
        let now: chrono::DateTime<chrono::Utc> = "2026-03-14T10:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Sat, 14 Mar 2026 10:01:30 GMT", now), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after("Sat, 14 Mar 2026 09:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
