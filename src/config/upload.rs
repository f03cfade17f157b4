//! `[upload]`: where and how the kiosk uploads, and the token it reads from a file.

use super::check::{Invalid, invalid};
use super::raw::RawUpload;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Where and how to upload; present only when uploads are enabled.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    pub base_url: String,
    pub token_file: PathBuf,
    pub product_id: u64,
    pub form_id: u64,
    pub button_id: u64,
    pub batch_size: usize,
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_backoff: Duration,
    pub heartbeat_interval: Option<Duration>,
    /// How often the survey the platform publishes is asked for (contract 1.2); `None`: never.
    pub survey_poll: Option<Duration>,
}

/// A secret read from a file: never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub(super) fn new(text: String) -> Secret {
        Secret(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl UploadConfig {
    /// Reads the platform token from its file (first line, trimmed).
    pub fn read_token(&self) -> Result<Secret, String> {
        let text = std::fs::read_to_string(&self.token_file)
            .map_err(|e| format!("impossible de lire le fichier du jeton {} : {e}", self.token_file.display()))?;
        let token = text.lines().next().unwrap_or("").trim().to_string();
        if token.is_empty() {
            return Err(format!("le fichier du jeton {} est vide", self.token_file.display()));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "le fichier du jeton {} contient des espaces ou des caractères de contrôle",
                self.token_file.display()
            ));
        }
        Ok(Secret(token))
    }
}

pub(super) fn validate_upload(raw: RawUpload) -> Result<Option<UploadConfig>, Invalid> {
    if !raw.enabled.unwrap_or(false) {
        return Ok(None);
    }
    let base_url = raw.base_url.ok_or_else(|| invalid("upload.base_url", "obligatoire quand upload.enabled = true"))?;
    let insecure_allowed = raw.allow_insecure_http.unwrap_or(false);
    // Read by `url` (the same parser reqwest uses to send), with a host, and nothing a
    // terminal would hide.
    let parsed = url::Url::parse(&base_url)
        .ok()
        .filter(|u| u.host_str().is_some_and(|h| !h.is_empty()) && !base_url.contains(char::is_whitespace));
    match parsed.as_ref().map(url::Url::scheme) {
        Some("https") => {}
        Some("http") if insecure_allowed => {}
        Some("http") => {
            return Err(invalid(
                "upload.base_url",
                format!(
                    "« {base_url} » : le jeton de la borne circulerait en clair ; une adresse https:// est \
                     obligatoire (upload.allow_insecure_http = true seulement pour un laboratoire)"
                ),
            ));
        }
        _ => {
            let schemes = if insecure_allowed { "http:// ou https://" } else { "https://" };
            return Err(invalid("upload.base_url", format!("« {base_url} » n'est pas une adresse {schemes}")));
        }
    }
    let token_file =
        raw.token_file.ok_or_else(|| invalid("upload.token_file", "obligatoire quand upload.enabled = true"))?;
    let id = |key: &str, value: Option<u64>| {
        value.filter(|v| *v > 0).ok_or_else(|| {
            invalid(format!("upload.{key}"), "identifiant de la plateforme obligatoire (entier positif)")
        })
    };
    let product_id = id("product_id", raw.product_id)?;
    let form_id = id("form_id", raw.form_id)?;
    let button_id = id("button_id", raw.button_id)?;
    let batch_size = raw.batch_size.unwrap_or(200);
    if !(1..=500).contains(&batch_size) {
        return Err(invalid("upload.batch_size", "entre 1 et 500 avis (limite du contrat)"));
    }
    let seconds = |key: &str, value: Option<u64>, default: u64, max: u64| {
        let v = value.unwrap_or(default);
        if v == 0 || v > max {
            Err(invalid(format!("upload.{key}"), format!("entre 1 et {max} secondes")))
        } else {
            Ok(Duration::from_secs(v))
        }
    };
    let heartbeat_interval = match raw.heartbeat_interval_s {
        Some(0) => None,
        other => Some(seconds("heartbeat_interval_s", other, 300, 86_400)?),
    };
    let survey_poll = match raw.survey_poll_s {
        Some(0) => None,
        other => Some(seconds("survey_poll_s", other, 300, 86_400)?),
    };
    Ok(Some(UploadConfig {
        base_url: base_url.trim_end_matches('/').to_string(),
        token_file,
        product_id,
        form_id,
        button_id,
        batch_size,
        ca_file: raw.ca_file,
        connect_timeout: seconds("connect_timeout_s", raw.connect_timeout_s, 10, 300)?,
        request_timeout: seconds("request_timeout_s", raw.request_timeout_s, 30, 600)?,
        max_backoff: seconds("max_backoff_s", raw.max_backoff_s, 1800, 86_400)?,
        heartbeat_interval,
        survey_poll,
    }))
}
