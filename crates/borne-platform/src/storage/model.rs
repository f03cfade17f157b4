//! The storage's plain types and the rules both engines share: what a batch becomes (its
//! partition key, its local buckets, its response), how a period splits into months and days,
//! and how counts become the State's indicators. No SQL here, and nothing of either engine.

use crate::validate::{ParsedBatch, ValidReview, field_label};
use borne_model::release::SystemState;
use borne_model::review::{SATISFACTION, VERBATIM};
use borne_model::wire::{BatchResponse, ErrorBody, ResultStatus, ReviewResult};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Idempotency records are replayed for at least 24 h (the contract); they are purged after 48 h.
pub const IDEMPOTENCY_KEEP_HOURS: i64 = 48;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The database cannot be reached or failed: the request may be retried later (503).
    #[error("base de données indisponible : {0}")]
    Unavailable(String),
    /// An operator's request the data refuses (unknown site, a device that already exists…).
    #[error("{0}")]
    Refused(String),
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// The device a token belongs to, when the token is known and not revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuth {
    pub device_id: String,
    pub site: Option<Site>,
}

/// A site (one reception point: one kiosk or a few), optionally bound to JDMA's
/// product → form → button; when bound, a batch's `source` must name the same ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub organisation: Option<String>,
    pub product_id: Option<i64>,
    pub form_id: Option<i64>,
    pub button_id: Option<i64>,
    /// The IANA time zone its people read times in (`Europe/Paris` unless told).
    pub time_zone: String,
}

impl Site {
    /// Why a batch's source does not match this site's JDMA ids, if it does not.
    pub fn source_mismatch(&self, source: &borne_model::wire::Source) -> Option<String> {
        let checks = [
            ("product_id", self.product_id, source.product_id),
            ("form_id", self.form_id, source.form_id),
            ("button_id", self.button_id, source.button_id),
        ];
        checks.iter().find(|(_, expected, sent)| expected.is_some_and(|e| e as u64 != *sent)).map(
            |(name, expected, sent)| {
                format!("source.{name} {sent} is not this site's ({})", expected.unwrap_or_default())
            },
        )
    }
}

/// A kiosk as the fleet sees it: its registration and its last heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    pub id: String,
    pub site_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub app_version: Option<String>,
    pub pending: Option<i64>,
    pub oldest_pending_at: Option<String>,
    pub last_upload_at: Option<String>,
    pub disk_free_bytes: Option<i64>,
    /// When its last batch arrived (a batch is a sign of life too).
    pub last_batch_at: Option<DateTime<Utc>>,
    /// Reviews its batches brought since its last heartbeat: no longer waiting on the kiosk.
    pub reviews_since_heartbeat: i64,
    /// The published survey version its screen runs (contract 1.2); `None`: its file's.
    pub config_version: Option<i64>,
    /// The last published version it refused, and why.
    pub config_refused: Option<(i64, String)>,
    /// The system it runs, on the Borne image (contract 1.2).
    pub system: Option<SystemState>,
}

/// A heartbeat's system as stored: its version, pending version, rejected versions (spaced).
pub fn system_of(version: Option<String>, pending: Option<String>, rejected: Option<String>) -> Option<SystemState> {
    Some(SystemState {
        version: version?,
        pending,
        rejected: rejected.unwrap_or_default().split_whitespace().map(String::from).collect(),
    })
}

/// What storing a batch produced.
#[derive(Debug)]
pub enum Stored {
    /// Processed now: the answer, and its JSON text as stored for replays (sent as is).
    Fresh { response: BatchResponse, text: String },
    /// The response first given for this key and body, byte for byte.
    Replay(String),
    /// The key was used with a different body.
    Conflict,
}

impl Stored {
    pub fn outcome(&self) -> &'static str {
        match self {
            Stored::Fresh { .. } => "processed",
            Stored::Replay(_) => "replayed",
            Stored::Conflict => "conflict",
        }
    }
}

/// Counts of one answer item in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemCount {
    pub field_code: String,
    pub answer_item_id: i64,
    pub count: i64,
}

/// One site's answer counts over local days `[from, to]`, read from the per-site counts; an
/// item id of [`RESPONDENTS`] counts the reviews that answered the question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteCounts {
    pub site_id: String,
    pub reviews: i64,
    pub items: Vec<ItemCount>,
}

/// What `borne-platform stats --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub reviews: i64,
    pub answers: i64,
    pub devices: i64,
    pub sites: i64,
    pub organisations: i64,
    pub batches: i64,
    pub heartbeats: i64,
    /// Satisfaction answers by item id ("1" Pas bien, "2" Moyen, "3" Très bien), all time.
    pub satisfaction_by_item: BTreeMap<String, i64>,
    pub by_device: Vec<DeviceTotal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceTotal {
    pub device_id: String,
    pub reviews: i64,
}

/// A review as handed over to JDMA (`export`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportReview {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub device_id: String,
    pub site_id: Option<String>,
    pub product_id: i64,
    pub form_id: i64,
    pub button_id: i64,
    pub client_review_id: String,
    pub submitted_at: String,
    pub clock: String,
    pub language: String,
    pub answers: Vec<ExportAnswer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportAnswer {
    pub field_code: String,
    pub field_label: Option<String>,
    pub answer_item_id: i64,
    pub answer_text: String,
    pub intention: String,
    pub kind: String,
    /// The `contact_tried` channel a per-channel help answer is about (contract 1.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<i64>,
}

/// A valid review made ready for either engine: its partition key, its buckets in the kiosk's
/// local time, and its answers with JDMA's labels.
#[derive(Debug, Clone)]
pub(crate) struct Prepared<'a> {
    pub review: &'a ValidReview,
    /// The partition key: the kiosk's own instant, but never later than the platform received it
    /// (a kiosk whose clock runs ahead cannot write into a month that does not exist yet).
    pub created_at: DateTime<Utc>,
    pub local_hour: NaiveDateTime,
    pub local_day: NaiveDate,
    pub local_month: NaiveDate,
    pub has_verbatim: bool,
}

pub(crate) fn prepare(review: &ValidReview, received_at: DateTime<Utc>) -> Prepared<'_> {
    // Validation has checked RFC 3339 already; the fallback never runs on a validated review.
    let sent =
        chrono::DateTime::parse_from_rfc3339(&review.submitted_at).unwrap_or_else(|_| received_at.fixed_offset());
    let local = sent.naive_local();
    let local_hour = local.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0));
    let local_day = local.date();
    Prepared {
        review,
        created_at: sent.with_timezone(&Utc).min(received_at),
        local_hour: local_hour.unwrap_or(local),
        local_day,
        local_month: local_day.with_day0(0).unwrap_or(local_day),
        has_verbatim: review.answers.iter().any(|a| a.field_code == VERBATIM && !a.answer_text.trim().is_empty()),
    }
}

/// Answer item id of the per-question respondent count in the per-site counts (the kiosk's
/// store uses the same): one per review and question answered, whatever the answers.
pub const RESPONDENTS: i64 = -1;

/// The label stored with an answer: JDMA's for its questions; for a kiosk-only question, the
/// text the kiosk sent (contract 1.2) when it is plain text of 1 to 300 characters — any other
/// is left out, never a reason to refuse the review.
pub(crate) fn label_of(answer: &borne_model::wire::WireAnswer) -> Option<String> {
    field_label(&answer.field_code).or_else(|| {
        let label = answer.field_label.as_deref()?.trim();
        let fits = (1..=borne_model::wire::MAX_FIELD_LABEL_CHARS).contains(&label.chars().count());
        (fits && !label.chars().any(char::is_control)).then(|| label.to_string())
    })
}

/// Builds the batch's response in request order: rejected reviews as validation left them,
/// valid ones accepted the first time their id is taken, duplicate otherwise.
pub(crate) fn response(
    batch: &ParsedBatch,
    fresh: &std::collections::HashSet<uuid::Uuid>,
    ids: &std::collections::HashMap<uuid::Uuid, i64>,
) -> BatchResponse {
    let mut answered = std::collections::HashSet::new();
    let results = batch
        .reviews
        .iter()
        .map(|review| match review {
            Err(rejected) => ReviewResult {
                client_review_id: rejected.client_review_id.clone(),
                status: ResultStatus::Rejected,
                review_id: None,
                retryable: Some(false),
                error: Some(ErrorBody { message: rejected.message.clone(), code: "BAD_REQUEST".into(), issues: None }),
            },
            Ok(valid) => {
                let id = valid.client_review_id;
                let first = answered.insert(id);
                ReviewResult {
                    client_review_id: id.to_string(),
                    status: if first && fresh.contains(&id) { ResultStatus::Accepted } else { ResultStatus::Duplicate },
                    review_id: ids.get(&id).map(|n| format!("r-{n}")),
                    retryable: None,
                    error: None,
                }
            }
        })
        .collect();
    BatchResponse { results }
}

/// The valid reviews of a batch, each once (a batch may repeat a review; the first counts).
pub(crate) fn distinct_valid(batch: &ParsedBatch) -> Vec<&ValidReview> {
    let mut seen = std::collections::HashSet::new();
    batch.reviews.iter().filter_map(|r| r.as_ref().ok()).filter(|r| seen.insert(r.client_review_id)).collect()
}

/// The indicators of a site's answer counts, computed as the kiosk's own dashboard computes
/// them (the State's rules, `minimum` reviews for a score): the satisfaction, the comments,
/// JDMA's follow-up questions, then `kiosk_questions`. Counts of the same item are added
/// (several periods at once).
pub fn indicators_of(
    items: impl IntoIterator<Item = ItemCount>,
    minimum: u64,
    kiosk_questions: Vec<borne_model::review::Question>,
) -> borne_model::indicators::Indicators {
    use borne_model::indicators::{QuestionCounts, indicators};
    use borne_model::review::{JDMA_CODES, Survey, jdma_question};
    let mut by_code: BTreeMap<String, QuestionCounts> = BTreeMap::new();
    for item in items {
        let entry = by_code.entry(item.field_code).or_default();
        let n = item.count.max(0) as u64;
        if item.answer_item_id == RESPONDENTS {
            entry.respondents += n;
        } else {
            entry.by_item.push((item.answer_item_id, n));
        }
    }
    let survey = Survey {
        follow_ups: JDMA_CODES
            .iter()
            .filter(|code| **code != SATISFACTION && **code != VERBATIM)
            .filter_map(|code| jdma_question(code))
            .chain(kiosk_questions)
            .collect(),
        comment_enabled: true,
        comment_max_chars: borne_model::review::VERBATIM_MAX_CHARS,
        languages: vec!["fr".into()],
    };
    indicators(&survey, &by_code, minimum)
}

/// [`indicators_of`] over a period, with only those of `kiosk_questions` answered in it.
pub fn period_indicators(
    items: Vec<ItemCount>,
    minimum: u64,
    mut kiosk_questions: Vec<borne_model::review::Question>,
) -> borne_model::indicators::Indicators {
    kiosk_questions.retain(|q| items.iter().any(|i| i.field_code == q.code));
    indicators_of(items, minimum, kiosk_questions)
}

/// Whole months inside `[from, to]` (first days), and the days outside them: the two parts of
/// a period read from the monthly and the daily counts.
pub(crate) fn split_period(from: NaiveDate, to: NaiveDate) -> (Vec<NaiveDate>, Vec<(NaiveDate, NaiveDate)>) {
    let mut months = Vec::new();
    let mut days = Vec::new();
    if from > to {
        return (months, days);
    }
    // Each step moves a month forward or stops: at the end of chrono's calendar there is no
    // next month, and the period ends in days.
    let first_full = if from.day() == 1 { Some(from) } else { next_month(from) };
    let mut month = first_full;
    while let Some(start) = month {
        let Some(next) = next_month(start) else { break };
        match next.pred_opt() {
            Some(last) if last <= to => months.push(start),
            _ => break,
        }
        month = Some(next);
    }
    match (months.first(), months.last()) {
        (Some(first), Some(last)) => {
            if from < *first {
                days.push((from, first.pred_opt().unwrap_or(from)));
            }
            if let Some(after) = next_month(*last).filter(|after| *after <= to) {
                days.push((after, to));
            }
        }
        _ => days.push((from, to)),
    }
    (months, days)
}

/// The first day of the month after `day`'s; none past chrono's last year.
fn next_month(day: NaiveDate) -> Option<NaiveDate> {
    let (y, m) = if day.month() == 12 { (day.year().checked_add(1)?, 1) } else { (day.year(), day.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1)
}

pub(crate) fn group_counts(rows: Vec<(String, String, i64, i64)>) -> Vec<SiteCounts> {
    let mut by_site: BTreeMap<String, BTreeMap<(String, i64), i64>> = BTreeMap::new();
    for (site, code, item, n) in rows {
        *by_site.entry(site).or_default().entry((code, item)).or_default() += n;
    }
    by_site
        .into_iter()
        .map(|(site_id, items)| SiteCounts {
            site_id,
            reviews: items.get(&(SATISFACTION.to_string(), RESPONDENTS)).copied().unwrap_or(0),
            items: items
                .into_iter()
                .map(|((field_code, answer_item_id), count)| ItemCount { field_code, answer_item_id, count })
                .collect(),
        })
        .collect()
}

/// Ids of sites, organisations and kiosks: what the kiosk's own `device_id` allows.
pub(crate) fn check_id(what: &str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StorageError::Refused(format!(
            "identifiant de {what} invalide : {id:?} (1 à 64 caractères parmi a-z, A-Z, 0-9, « - », « _ », « . »)"
        )))
    }
}

/// A token's SHA-256, hex: tokens are 256 random bits, so a fast hash is enough (nothing to
/// brute-force), and the lookup is one index probe.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_is_whole_months_and_the_days_around_them() {
        let (months, days) = split_period(d("2026-01-15"), d("2026-04-10"));
        assert_eq!(months, vec![d("2026-02-01"), d("2026-03-01")]);
        assert_eq!(days, vec![(d("2026-01-15"), d("2026-01-31")), (d("2026-04-01"), d("2026-04-10"))]);
        let (months, days) = split_period(d("2026-02-01"), d("2026-02-28"));
        assert_eq!(months, vec![d("2026-02-01")]);
        assert!(days.is_empty());
        let (months, days) = split_period(d("2026-02-03"), d("2026-02-20"));
        assert!(months.is_empty());
        assert_eq!(days, vec![(d("2026-02-03"), d("2026-02-20"))]);
        let (months, days) = split_period(d("2025-12-01"), d("2026-01-31"));
        assert_eq!(months, vec![d("2025-12-01"), d("2026-01-01")]);
        assert!(days.is_empty());
        assert_eq!(split_period(d("2026-02-03"), d("2026-02-01")), (vec![], vec![]));
        // At the end of chrono's calendar there is no next month: the period ends in days
        // instead of looping forever on the last one.
        let last = NaiveDate::MAX;
        let (months, days) = split_period(NaiveDate::from_ymd_opt(last.year(), 11, 15).unwrap(), last);
        assert_eq!(months, vec![]);
        assert_eq!(days, vec![(NaiveDate::from_ymd_opt(last.year(), 11, 15).unwrap(), last)]);
        let (months, days) = split_period(NaiveDate::from_ymd_opt(last.year(), 10, 15).unwrap(), last);
        assert_eq!(months, vec![NaiveDate::from_ymd_opt(last.year(), 11, 1).unwrap()]);
        assert_eq!(
            days,
            vec![
                (
                    NaiveDate::from_ymd_opt(last.year(), 10, 15).unwrap(),
                    NaiveDate::from_ymd_opt(last.year(), 10, 31).unwrap()
                ),
                (NaiveDate::from_ymd_opt(last.year(), 12, 1).unwrap(), last)
            ]
        );
    }

    #[test]
    fn the_partition_key_is_the_kiosks_instant_never_after_reception() {
        let review = ValidReview {
            client_review_id: uuid::Uuid::nil(),
            submitted_at: "2026-03-14T23:42:17+01:00".into(),
            clock: "synced".into(),
            language: "fr".into(),
            answers: vec![],
        };
        let received: DateTime<Utc> = "2026-03-15T10:00:00Z".parse().unwrap();
        let p = prepare(&review, received);
        assert_eq!(p.created_at, "2026-03-14T22:42:17Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(p.local_day, d("2026-03-14"), "the kiosk's local day, as its own dashboard counts");
        assert_eq!(p.local_hour.to_string(), "2026-03-14 23:00:00");
        assert_eq!(p.local_month, d("2026-03-01"));
        let ahead = ValidReview { submitted_at: "2027-01-01T00:00:00+01:00".into(), ..review };
        assert_eq!(prepare(&ahead, received).created_at, received);
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("site", "prefecture-61.accueil_1").is_ok());
        for bad in ["", "a b", "é", "x/y", &"a".repeat(65)] {
            assert!(check_id("site", bad).is_err(), "{bad:?}");
        }
    }
}
