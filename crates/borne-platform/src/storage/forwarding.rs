//! What forwarding to « Je donne mon avis » keeps: an outbox row per review of a site bound to
//! JDMA (written in the batch's own transaction), claimed by one instance at a time, and the
//! create calls made (JDMA limits them per client address, so every instance counts them here).

use super::model::Result;
use borne_model::review::Answer;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::future::Future;
use uuid::Uuid;

/// Where a review stands on its way to JDMA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JdmaState {
    /// Not created in JDMA yet (or certainly not: a create that JDMA refused before storing).
    Pending,
    /// A create whose outcome is unknown (timeout, dropped answer, server error): to resolve through
    /// `review.insertOrUpdate` within the hour, before anything is created again.
    Unsure,
    /// Created in JDMA once, its answers confirmed.
    Forwarded,
    /// Could no longer be resolved: perhaps in JDMA, perhaps not; counted and shown, never resent.
    Ambiguous,
    /// Refused by JDMA as invalid: never resent.
    Failed,
}

impl JdmaState {
    pub fn as_str(self) -> &'static str {
        match self {
            JdmaState::Pending => "pending",
            JdmaState::Unsure => "unsure",
            JdmaState::Forwarded => "forwarded",
            JdmaState::Ambiguous => "ambiguous",
            JdmaState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<JdmaState> {
        [JdmaState::Pending, JdmaState::Unsure, JdmaState::Forwarded, JdmaState::Ambiguous, JdmaState::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A review claimed for forwarding, with what it is sent with.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub review_id: i64,
    pub state: JdmaState,
    pub attempts: i64,
    /// When the create whose outcome is unknown was sent.
    pub tried_at: Option<DateTime<Utc>>,
    pub site_id: String,
    pub device_id: String,
    pub client_review_id: Uuid,
    /// The site's JDMA product and form, the kiosk's button (else the site's).
    pub product: Option<i64>,
    pub form: Option<i64>,
    pub button: Option<i64>,
    pub answers: Vec<Answer>,
    /// JDMA's id and instant, when a create is known to have succeeded (answers to confirm).
    pub created: Option<(i64, DateTime<Utc>)>,
}

/// What became of a claimed review.
#[derive(Debug, Clone, PartialEq)]
pub enum Settle {
    /// Written before a create is sent, the claim kept: if this instance dies during the call,
    /// the review is resolved, never created blindly again.
    InFlight {
        tried_at: DateTime<Utc>,
        next_attempt_at: DateTime<Utc>,
    },
    Forwarded {
        jdma_review_id: i64,
        jdma_created_at: DateTime<Utc>,
        product: i64,
        form: i64,
        button: i64,
        at: DateTime<Utc>,
    },
    /// A create sent at `tried_at` whose outcome is unknown; or, with `created` (JDMA's id and
    /// instant), a review created whose answers are still to confirm.
    Unsure {
        tried_at: DateTime<Utc>,
        error: String,
        next_attempt_at: DateTime<Utc>,
        created: Option<(i64, DateTime<Utc>)>,
    },
    /// Still to create (nothing reached JDMA, or JDMA says it holds nothing).
    Pending {
        error: String,
        next_attempt_at: DateTime<Utc>,
    },
    Ambiguous {
        error: String,
        at: DateTime<Utc>,
    },
    Failed {
        error: String,
        at: DateTime<Utc>,
    },
    /// Not attempted: back in the queue as it was.
    Release,
}

/// A site's reviews by state, as `jdma status` and the console show them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct JdmaCounts {
    pub site_id: String,
    pub forwarded: u64,
    /// Pending, and unsure ones still being resolved.
    pub pending: u64,
    pub unsure: u64,
    pub ambiguous: u64,
    pub failed: u64,
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// One day of one form: the reviews JDMA counts, and those forwarded to it (by JDMA's UTC day).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reconciled {
    pub form_id: i64,
    pub day: NaiveDate,
    pub jdma: u64,
    pub forwarded: u64,
    pub checked_at: DateTime<Utc>,
}

/// Which reviews a JDMA export holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JdmaExportFilter {
    pub site: Option<String>,
    /// The JDMA form (as forwarded, else the site's binding).
    pub form: Option<i64>,
    /// `[since, until)` on the review's instant in JDMA (its creation there), else the kiosk's.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A review as JDMA's export shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct JdmaExportRow {
    /// Borne's id, and JDMA's once forwarded.
    pub id: i64,
    pub jdma_id: Option<i64>,
    /// JDMA's `created_at` once forwarded, else the kiosk's instant.
    pub at: DateTime<Utc>,
    pub form_title: Option<String>,
    pub button_title: Option<String>,
    pub device_id: String,
    pub answers: Vec<super::model::ExportAnswer>,
}

/// What each engine implements for forwarding.
pub trait Forwarding {
    /// Up to `limit` due reviews, unsure ones first, claimed by `holder` until `until` (if its
    /// instance dies, another takes them over after).
    fn jdma_claim(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        holder: String,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Claimed>>> + Send;
    /// Records what became of a review, if `holder` still holds it (false otherwise: its claim
    /// ran out and another instance may have taken it over).
    fn jdma_settle(&self, review_id: i64, holder: String, settle: Settle) -> impl Future<Output = Result<bool>> + Send;
    /// Records a create call at `now` if fewer than `max` were made since `now - window`;
    /// otherwise, when the oldest of them leaves the window.
    fn jdma_take_call(
        &self,
        now: DateTime<Utc>,
        window: Duration,
        max: u32,
    ) -> impl Future<Output = Result<std::result::Result<(), DateTime<Utc>>>> + Send;
    /// Creates whose outcome is unknown (not those known created, answers to confirm) and that
    /// no live instance is resolving: past a few, nothing new is created.
    fn jdma_unsure(&self, now: DateTime<Utc>) -> impl Future<Output = Result<u64>> + Send;
    fn jdma_counts(&self) -> impl Future<Output = Result<Vec<JdmaCounts>>> + Send;
    /// Reviews forwarded to `form`, by UTC day of their creation in JDMA, over `[from, to]`.
    fn jdma_forwarded_by_day(
        &self,
        form: i64,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<(NaiveDate, u64)>>> + Send;
    fn set_device_button(
        &self,
        device: String,
        button: Option<i64>,
        title: Option<String>,
    ) -> impl Future<Output = Result<usize>> + Send;
    fn set_form_title(&self, site: String, title: Option<String>) -> impl Future<Output = Result<usize>> + Send;
    /// Up to `limit` reviews from `offset` on, by instant, then JDMA's id (Borne's before forwarding).
    fn jdma_export_page(
        &self,
        filter: JdmaExportFilter,
        offset: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<JdmaExportRow>>> + Send;
    /// The (product, form) pairs sites are bound to.
    fn jdma_bindings(&self) -> impl Future<Output = Result<Vec<(i64, i64)>>> + Send;
    fn jdma_record_reconciliation(&self, days: Vec<Reconciled>) -> impl Future<Output = Result<()>> + Send;
    /// The days checked since `since`, by form and day.
    fn jdma_reconciliation(&self, since: NaiveDate) -> impl Future<Output = Result<Vec<Reconciled>>> + Send;
}

/// Per-site counts from `(site, state, count, oldest waiting, last error)` rows.
pub(crate) fn gather(
    rows: impl Iterator<Item = (String, String, u64, Option<DateTime<Utc>>, Option<String>)>,
) -> Vec<JdmaCounts> {
    let mut sites: Vec<JdmaCounts> = Vec::new();
    for (site, state, n, oldest, error) in rows {
        if sites.last().is_none_or(|s| s.site_id != site) {
            sites.push(JdmaCounts { site_id: site, ..JdmaCounts::default() });
        }
        let Some(counts) = sites.last_mut() else { continue };
        match JdmaState::parse(&state) {
            Some(JdmaState::Forwarded) => counts.forwarded += n,
            Some(JdmaState::Pending) => counts.pending += n,
            Some(JdmaState::Unsure) => {
                counts.pending += n;
                counts.unsure += n;
            }
            Some(JdmaState::Ambiguous) => counts.ambiguous += n,
            Some(JdmaState::Failed) => counts.failed += n,
            None => {}
        }
        if let Some(oldest) = oldest {
            counts.oldest_pending_at = Some(counts.oldest_pending_at.map_or(oldest, |o| o.min(oldest)));
        }
        if error.is_some() && counts.last_error.is_none() {
            counts.last_error = error;
        }
    }
    sites
}
