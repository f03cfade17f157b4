//! The wire types of upload contract v1 (docs/upload-contract.md), shared by the kiosk's
//! uploader and the platform.
//!
//! Invariant: the one definition of the wire format; neither side writes its own copy.

use crate::review::{Answer, Review};
use serde::{Deserialize, Serialize};

pub const SCHEMA_VERSION: u32 = 1;
/// At most this many reviews in one batch.
pub const MAX_BATCH_REVIEWS: usize = 500;
/// At most this many bytes of JSON in one batch, before compression.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub device_id: String,
    pub product_id: u64,
    pub form_id: u64,
    pub button_id: u64,
    pub app_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireAnswer {
    pub field_code: String,
    pub kind: String,
    pub answer_item_id: i64,
    pub answer_text: String,
    pub intention: String,
    /// Contract 1.2: the `contact_tried` channel a per-channel help answer is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_answer_item_id: Option<i64>,
    /// Contract 1.2: a kiosk-only question's text as the kiosk asks it in French (JDMA's
    /// questions have theirs; a platform ignores this field for them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireReview {
    pub client_review_id: String,
    pub submitted_at: String,
    pub clock: String,
    pub language: String,
    pub answers: Vec<WireAnswer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchBody {
    pub schema_version: u32,
    pub batch_id: String,
    pub source: Source,
    pub reviews: Vec<WireReview>,
}

impl WireAnswer {
    pub fn from_answer(a: &Answer) -> WireAnswer {
        WireAnswer {
            field_code: a.field_code.clone(),
            kind: a.kind.as_str().to_string(),
            answer_item_id: a.answer_item_id,
            answer_text: a.answer_text.clone(),
            intention: a.intention.as_str().to_string(),
            parent_answer_item_id: a.parent,
            field_label: None,
        }
    }
}

/// The most characters a kiosk-only question's label may have on the wire.
pub const MAX_FIELD_LABEL_CHARS: usize = 300;

impl WireReview {
    /// The review as sent; `labels` gives the French text of the kiosk-only questions.
    pub fn labelled(r: &Review, labels: &std::collections::BTreeMap<String, String>) -> WireReview {
        let mut wire = WireReview::from_review(r);
        for answer in &mut wire.answers {
            answer.field_label = labels.get(&answer.field_code).cloned();
        }
        wire
    }

    pub fn from_review(r: &Review) -> WireReview {
        WireReview {
            client_review_id: r.client_review_id.to_string(),
            submitted_at: r.submitted_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            clock: r.clock.as_str().to_string(),
            language: r.language.clone(),
            answers: r.answers.iter().map(WireAnswer::from_answer).collect(),
        }
    }
}

/// One review's outcome in a `200 OK` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewResult {
    pub client_review_id: String,
    pub status: ResultStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    Accepted,
    Duplicate,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    pub results: Vec<ReviewResult>,
}

/// JDMA's error shape, for whole-batch errors and rejected reviews.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issues: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub device_id: String,
    pub app_version: String,
    pub pending: u64,
    pub oldest_pending_at: Option<String>,
    pub last_upload_at: Option<String>,
    pub disk_free_bytes: Option<u64>,
    pub uptime_s: Option<u64>,
    /// Contract 1.2: the published survey version the kiosk's screen runs (absent: its file's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_version: Option<u64>,
    /// Contract 1.2: the last published version the kiosk refused, and why, while no later
    /// one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_refused: Option<ConfigRefused>,
    /// Contract 1.2: the system a kiosk of the Borne image runs (its update agent's state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<crate::release::SystemState>,
}

/// A published survey version a kiosk could not run, and why (its own words, in French).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigRefused {
    pub version: u64,
    pub message: String,
}

/// A refusal's message is at most this many characters on the wire.
pub const MAX_REFUSAL_CHARS: usize = 500;

/// `GET /v1/survey` (contract 1.2): the survey version published for the asking kiosk, its
/// text the `[survey]` part of a kiosk's configuration (TOML).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedSurvey {
    pub version: u64,
    pub survey: String,
}

/// The largest number a count or an id may carry on the wire: JDMA's ids are 32-bit, and
/// both engines store 64-bit signed integers (a `u64` past `i64::MAX` would wrap).
pub const MAX_WIRE_ID: u64 = i32::MAX as u64;

/// A JDMA id typed by a person (a product, form or button): JDMA numbers them from 1 in a
/// 32-bit column, so anything else could never be created there.
pub fn parse_jdma_id(text: &str) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(id) if (1..=MAX_WIRE_ID as i64).contains(&id) => Ok(id),
        _ => Err(format!("« {text} » : un identifiant JDMA est un nombre entier de 1 à {MAX_WIRE_ID}")),
    }
}

/// A device id or an app version: 1 to 64 printable characters, no space.
pub fn check_token_text(name: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > 64 || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("{name} must be 1 to 64 printable characters"));
    }
    Ok(())
}

impl Heartbeat {
    /// What the platform stores and shows of a heartbeat is bounded: ids are short printable
    /// tokens, instants are RFC 3339 instants, numbers fit a signed 64-bit column (and a
    /// believable range).
    pub fn check(&self) -> Result<(), String> {
        check_token_text("device_id", &self.device_id)?;
        check_token_text("app_version", &self.app_version)?;
        for (name, value) in [("oldest_pending_at", &self.oldest_pending_at), ("last_upload_at", &self.last_upload_at)]
        {
            if let Some(text) = value
                && (text.len() > 40 || chrono::DateTime::parse_from_rfc3339(text).is_err())
            {
                return Err(format!("{name} must be an RFC 3339 instant"));
            }
        }
        let max = i64::MAX as u64;
        if self.pending > 100_000_000 {
            return Err("pending is out of range".into());
        }
        if self.disk_free_bytes.is_some_and(|n| n > max) {
            return Err("disk_free_bytes is out of range".into());
        }
        if self.uptime_s.is_some_and(|n| n > 100 * 366 * 86_400) {
            return Err("uptime_s is out of range".into());
        }
        if self.config_version.is_some_and(|n| n > max) {
            return Err("config_version is out of range".into());
        }
        if let Some(refused) = &self.config_refused
            && (refused.version > max
                || refused.message.chars().count() > MAX_REFUSAL_CHARS
                || refused.message.chars().any(|c| c.is_control() && c != '\n'))
        {
            return Err(format!(
                "config_refused: a version up to 2^63 - 1 and a message of at most {MAX_REFUSAL_CHARS} characters, no control character"
            ));
        }
        if let Some(system) = &self.system {
            system.check()?;
        }
        Ok(())
    }
}

/// `PUT /v1/actions` (contract 1.1, optional): the kiosk's whole list of « on l'a fait »
/// actions, sent when it changed; it replaces the list the platform held for this kiosk. A
/// platform of contract 1.0 answers 404, and the kiosk then tries again a day later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionsUpdate {
    pub device_id: String,
    pub actions: Vec<crate::actions::Action>,
}
