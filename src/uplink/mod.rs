//! Upload to the national platform, exactly once (docs/upload-contract.md).
//!
//! The uploader owns its own store connection and runs on its own thread (or as
//! `borne upload`), so it never blocks the visitor's screen. Each step:
//! 1. the oldest open batch is sent again, or a new one is built from the oldest pending
//!    reviews and committed (id, members, exact gzip body) before it is sent;
//! 2. the answer is classified (`plan::Outcome`) and turned into an `Action` by a pure function;
//! 3. the action is applied to the store in one transaction.
//!
//! Invariant: a review leaves `pending` only through an `accepted`, `duplicate` or `rejected`
//! result, and a retry always resends the same key with the same bytes.

pub mod http;
pub mod plan;

use crate::clock::Clock;
use crate::config::UploadConfig;
use crate::store::{OpenBatch, Store, StoreError, StoredReview, UplinkStatus};
use borne_model::wire::{self, BatchBody, MAX_BATCH_BYTES, MAX_BATCH_REVIEWS, SCHEMA_VERSION, Source, WireReview};
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
pub use http::app_version;
use http::{ActionsOutcome, SurveyOutcome, Transport};
use plan::{Action, RetryPolicy, plan};
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing to send.
    Idle,
    /// A batch was answered (or split, or re-keyed): go on at once.
    Progress { uploaded: usize, rejected: usize },
    /// The batch will be sent again after this delay.
    Wait { after: Duration, error: String, auth_refused: bool },
}

/// Why `run` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Shutdown,
    /// The configuration file changed while the platform refused the kiosk's identity.
    ConfigChanged,
}

/// What `drain` did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DrainReport {
    pub uploaded: usize,
    pub rejected: usize,
    /// Set when draining stopped on an error before the outbox was empty.
    pub stopped_on: Option<String>,
}

/// The French text of each kiosk-only question, by code, sent with its answers (contract 1.2).
pub type Labels = std::collections::BTreeMap<String, String>;

pub struct Uploader<T: Transport> {
    store: Store,
    transport: T,
    source: Source,
    labels: Labels,
    batch_limit: usize,
    max_batch: usize,
    policy: RetryPolicy,
    clock: Box<dyn Clock>,
    failures: u32,
    status: UplinkStatus,
    /// When the list of actions may next be sent (after a failure, or to a platform that does
    /// not know them).
    actions_after: Option<tokio::time::Instant>,
    /// The kiosk's file configuration, which a survey the platform publishes overlays; `None`:
    /// the survey is not asked for.
    file_config: Option<crate::config::Config>,
    /// When the survey may next be asked for.
    survey_after: Option<tokio::time::Instant>,
}

/// A platform of contract 1.0 is asked again about actions after this long (it may have been
/// upgraded); after another failure, sooner.
const ACTIONS_UNSUPPORTED_RETRY: Duration = Duration::from_secs(24 * 3600);
const ACTIONS_FAILED_RETRY: Duration = Duration::from_secs(300);

impl<T: Transport> Uploader<T> {
    pub fn new(
        store: Store,
        transport: T,
        config: &UploadConfig,
        device_id: &str,
        clock: Box<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let status = store.uplink_status()?;
        let max_batch = config.batch_size.clamp(1, MAX_BATCH_REVIEWS);
        Ok(Uploader {
            store,
            transport,
            labels: Labels::new(),
            source: Source {
                device_id: device_id.to_string(),
                product_id: config.product_id,
                form_id: config.form_id,
                button_id: config.button_id,
                app_version: app_version(),
            },
            batch_limit: max_batch,
            max_batch,
            policy: RetryPolicy {
                base: Duration::from_secs(2),
                cap: config.max_backoff,
                auth_retry: Duration::from_secs(3600),
            },
            clock,
            failures: status.consecutive_failures,
            status,
            actions_after: None,
            file_config: None,
            survey_after: None,
        })
    }

    /// Asks for the survey the platform publishes (contract 1.2), checked against `config`,
    /// the kiosk's file configuration. The labels are those of the survey held, else the file's.
    pub fn with_published_survey(mut self, config: crate::config::Config) -> Self {
        let held = self.store.published_survey().ok().and_then(|p| p.held);
        let effective = held.and_then(|(_, text)| config.with_published(&text).ok());
        self.labels = labels_of(&effective.as_ref().unwrap_or(&config).survey);
        self.file_config = Some(config);
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.read().now_utc
    }

    /// The oldest open batch, or a new one built from the oldest unbatched pending reviews. An
    /// open batch made with another identity (device_id, JDMA ids) than the kiosk's now is made
    /// again under a new key when the platform cannot have taken it: never sent, or refused for
    /// its identity (a typo fixed in the configuration). Otherwise it is sent as it was: its
    /// key and bytes never change while the platform may hold it.
    fn next_batch(&mut self) -> Result<Option<OpenBatch>, StoreError> {
        if let Some(open) = self.store.open_batch()? {
            // The body is read only for a batch that may be made again (a retried batch keeps
            // its key and bytes whatever its identity).
            if !(open.attempts == 0 || open.identity_refused) {
                return Ok(Some(open));
            }
            let made_with = batch_source(&open.body_gzip);
            if made_with.as_ref() == Some(&self.source) {
                return Ok(Some(open));
            }
            let was = made_with.map(|s| identity_words(&s)).unwrap_or_else(|| "illisible".into());
            tracing::warn!(batch_id = %open.batch_id, was = %was, now = %identity_words(&self.source), "batch made again with the kiosk's identity now");
            self.store.abandon_batch(
                open.batch_id,
                &format!("refait avec l'identité corrigée (était : {was})"),
                self.now(),
            )?;
            self.batch_limit = self.max_batch;
        }
        prepare_batch(&mut self.store, &self.source, &self.labels, self.batch_limit, self.clock.as_ref())
    }

    /// One send and its consequences.
    pub async fn step(&mut self) -> Result<Step, StoreError> {
        let Some(batch) = self.next_batch()? else {
            return Ok(Step::Idle);
        };
        self.store.count_attempt(batch.batch_id)?;
        tracing::debug!(batch_id = %batch.batch_id, "batch sending");
        let attempt_at = self.now();
        // While a fresh batch is in flight, the next one is built and persisted, so that the
        // store's work overlaps the platform's (on a multi-threaded runtime the request goes out
        // while this thread works). Only one batch ahead: a retried batch prepares nothing.
        let look_ahead = batch.attempts == 0;
        let (outcome, ahead) = {
            let Uploader { store, transport, source, labels, batch_limit, clock, .. } = self;
            let prepare = async {
                if look_ahead { prepare_batch(store, source, labels, *batch_limit, clock.as_ref()) } else { Ok(None) }
            };
            tokio::join!(transport.send(&batch), prepare)
        };
        if let Err(e) = ahead {
            // Not fatal: the next step builds it again.
            tracing::warn!(error = %e, "could not prepare the next batch");
        }
        let now = self.now();
        self.status.last_attempt_at = Some(attempt_at);
        let action = plan(&batch.review_ids, outcome, self.failures, &self.policy, fastrand::f64());
        let decision = match &action {
            Action::Complete { .. } => "complete",
            Action::Split { .. } => "split",
            Action::RejectOnly { .. } => "reject one",
            Action::Rekey(_) => "rekey",
            Action::Retry { .. } => "retry",
        };
        tracing::debug!(batch_id = %batch.batch_id, decision, "batch answered");
        let step = match action {
            Action::Complete { uploaded, rejected } => {
                self.store.complete_batch(batch.batch_id, &uploaded, &rejected, now)?;
                self.succeeded(now);
                if self.batch_limit < self.max_batch {
                    self.batch_limit = (self.batch_limit * 2).min(self.max_batch);
                }
                for (id, reason) in &rejected {
                    tracing::warn!(client_review_id = %id, %reason, "review rejected by the platform");
                }
                Step::Progress { uploaded: uploaded.len(), rejected: rejected.len() }
            }
            Action::Split { reason, shrink_batches } => {
                tracing::warn!(batch_id = %batch.batch_id, %reason, reviews = batch.review_ids.len(), "splitting batch");
                self.store.abandon_batch(batch.batch_id, &reason, now)?;
                if shrink_batches {
                    self.batch_limit = (batch.review_ids.len() / 2).max(1);
                }
                let (first, second) = batch.review_ids.split_at(batch.review_ids.len() / 2);
                for half in [first, second] {
                    let reviews = self.store.reviews_by_ids(half)?;
                    if !reviews.is_empty() {
                        persist_batch(&mut self.store, &self.source, &self.labels, &reviews, now)?;
                    }
                }
                self.succeeded(now);
                Step::Progress { uploaded: 0, rejected: 0 }
            }
            Action::RejectOnly { review, reason } => {
                tracing::warn!(client_review_id = %review, %reason, "review rejected by the platform");
                self.store.complete_batch(batch.batch_id, &[], &[(review, reason)], now)?;
                self.succeeded(now);
                Step::Progress { uploaded: 0, rejected: 1 }
            }
            Action::Rekey(message) => {
                tracing::error!(batch_id = %batch.batch_id, %message, "idempotency key conflict: batching again under a new key");
                self.store.abandon_batch(batch.batch_id, &format!("conflit de clé : {message}"), now)?;
                Step::Progress { uploaded: 0, rejected: 0 }
            }
            Action::Retry { after, error, auth_refused } => {
                self.store.note_identity_refusal(batch.batch_id, auth_refused)?;
                let error = if auth_refused {
                    format!(
                        "{error} — identité envoyée : {} ; corrigez-la dans la configuration (ou le jeton s'il est celui \
                         d'une autre borne) : les avis en attente repartent alors avec la bonne identité, sans redémarrer",
                        identity_words(&self.source)
                    )
                } else {
                    error
                };
                self.failures = self.failures.saturating_add(1);
                self.status.last_error = Some(error.clone());
                self.status.last_error_at = Some(now);
                self.status.auth_refused = auth_refused;
                self.status.consecutive_failures = self.failures;
                self.status.next_attempt_at = chrono::Duration::from_std(after).ok().map(|d| now + d);
                tracing::warn!(batch_id = %batch.batch_id, %error, retry_in_s = after.as_secs_f64(), "upload failed");
                Step::Wait { after, error, auth_refused }
            }
        };
        self.store.set_uplink_status(&self.status)?;
        tracing::debug!(batch_id = %batch.batch_id, "batch applied");
        Ok(step)
    }

    fn succeeded(&mut self, now: DateTime<Utc>) {
        self.failures = 0;
        self.status.last_success_at = Some(now);
        self.status.auth_refused = false;
        self.status.consecutive_failures = 0;
        self.status.next_attempt_at = None;
    }

    /// Sends the list of « on l'a fait » actions when it changed since the platform last
    /// acknowledged it (never, for a kiosk that has none). Returns what the platform said, if
    /// anything was sent.
    pub async fn sync_actions(&mut self) -> Result<Option<ActionsOutcome>, StoreError> {
        if self.actions_after.is_some_and(|after| tokio::time::Instant::now() < after) {
            return Ok(None);
        }
        let Some((actions, json)) = self.store.actions_to_send()? else { return Ok(None) };
        let update = wire::ActionsUpdate { device_id: self.source.device_id.clone(), actions };
        let outcome = self.transport.put_actions(&update).await;
        match &outcome {
            ActionsOutcome::Accepted => {
                self.store.actions_sent(&json)?;
                self.actions_after = None;
                tracing::info!(actions = update.actions.len(), "actions sent to the platform");
            }
            ActionsOutcome::Unsupported => {
                self.actions_after = Some(tokio::time::Instant::now() + ACTIONS_UNSUPPORTED_RETRY);
                tracing::info!("the platform does not take actions (contract 1.0): asking again in a day");
            }
            ActionsOutcome::Failed(error) => {
                self.actions_after = Some(tokio::time::Instant::now() + ACTIONS_FAILED_RETRY);
                tracing::warn!(%error, "actions not sent");
            }
        }
        Ok(Some(outcome))
    }

    /// Asks for the survey the platform publishes for this kiosk, when it is time to: a new
    /// version is checked by the kiosk's own rules against its file, then held in the store
    /// (the screen runs it at its next idle moment), or refused and reported (the version held
    /// stays). Returns what the platform said, if it was asked.
    pub async fn sync_survey(&mut self) -> Result<Option<SurveyOutcome>, StoreError> {
        let Some(file) = &self.file_config else { return Ok(None) };
        let Some(every) = file.upload.as_ref().and_then(|u| u.survey_poll) else { return Ok(None) };
        if self.survey_after.is_some_and(|after| tokio::time::Instant::now() < after) {
            return Ok(None);
        }
        let published = self.store.published_survey()?;
        let known: Vec<u64> =
            published.held.iter().map(|(v, _)| *v).chain(published.refused.iter().map(|(v, _)| *v)).collect();
        let outcome = self.transport.get_survey(&self.source.device_id, &known).await;
        let mut wait = every;
        match &outcome {
            SurveyOutcome::Unchanged => {}
            SurveyOutcome::Published(new) => match file.with_published(&new.survey) {
                Ok(effective) => {
                    self.store.hold_published(Some((new.version, &new.survey)), self.now())?;
                    self.labels = labels_of(&effective.survey);
                    tracing::info!(
                        version = new.version,
                        "survey version held: the screen runs it at its next idle moment"
                    );
                }
                Err(message) => {
                    self.store.refuse_published(new.version, &message)?;
                    tracing::warn!(version = new.version, %message, "survey version refused");
                }
            },
            SurveyOutcome::NoneForThisKiosk => {
                if published.held.is_some() || published.refused.is_some() {
                    self.store.hold_published(None, self.now())?;
                    self.labels = labels_of(&file.survey);
                    tracing::info!("the platform publishes no survey for this kiosk: its file's runs again");
                }
            }
            SurveyOutcome::Unsupported => {
                wait = wait.max(ACTIONS_UNSUPPORTED_RETRY);
                tracing::info!("the platform does not publish surveys (contract 1.1): asking again in a day");
            }
            SurveyOutcome::Failed(error) => tracing::warn!(%error, "survey not asked for"),
        }
        self.survey_after = Some(tokio::time::Instant::now() + wait);
        Ok(Some(outcome))
    }

    /// Sends until the outbox is empty, or stops at the first failure (`borne upload --once`);
    /// the actions' list too, when it changed, and asks for the survey.
    pub async fn drain(&mut self) -> Result<DrainReport, StoreError> {
        self.sync_actions().await?;
        self.sync_survey().await?;
        let mut report = DrainReport::default();
        loop {
            match self.step().await? {
                Step::Idle => return Ok(report),
                Step::Progress { uploaded, rejected } => {
                    report.uploaded += uploaded;
                    report.rejected += rejected;
                }
                Step::Wait { error, .. } => {
                    report.stopped_on = Some(error);
                    return Ok(report);
                }
            }
        }
    }

    /// Runs until `shutdown` turns true: sends whenever there is something to send, waits as the
    /// contract says after failures, wakes early when `nudge` is notified (a new review) or the
    /// token file changes after a refusal, and sends a heartbeat every `heartbeat` if set. While
    /// the platform refuses the kiosk's identity, a change of `config_file` ends the run
    /// (`Ended::ConfigChanged`): the caller starts again with the file as it is now.
    pub async fn run(
        mut self,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        nudge: std::sync::Arc<tokio::sync::Notify>,
        token_file: std::path::PathBuf,
        config_file: Option<std::path::PathBuf>,
        heartbeat: Option<Duration>,
    ) -> Ended {
        const IDLE_POLL: Duration = Duration::from_secs(30);
        let mut next_heartbeat = tokio::time::Instant::now();
        loop {
            if *shutdown.borrow() {
                return Ended::Shutdown;
            }
            if let Some(every) = heartbeat
                && tokio::time::Instant::now() >= next_heartbeat
            {
                next_heartbeat = tokio::time::Instant::now() + every;
                if let Err(e) = self.transport.heartbeat(&self.heartbeat_body()).await {
                    tracing::info!(error = %e, "heartbeat not sent");
                }
            }
            if let Err(e) = self.sync_actions().await {
                tracing::error!(error = %e, "uploader cannot read the actions");
            }
            if let Err(e) = self.sync_survey().await {
                tracing::error!(error = %e, "uploader cannot keep the survey");
            }
            let (wait, watch_token) = match self.step().await {
                Ok(Step::Progress { .. }) => continue,
                Ok(Step::Idle) => (IDLE_POLL, false),
                Ok(Step::Wait { after, auth_refused, .. }) => (after, auth_refused),
                Err(e) => {
                    // The store may be full or busy: try again later, lose nothing.
                    tracing::error!(error = %e, "uploader cannot use the store");
                    (Duration::from_secs(60), false)
                }
            };
            let token_before = file_stamp(&token_file);
            let config_before = config_file.as_deref().and_then(file_stamp);
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                let slice = deadline.saturating_duration_since(tokio::time::Instant::now()).min(Duration::from_secs(5));
                if slice.is_zero() {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(slice) => {}
                    _ = nudge.notified(), if !watch_token && self.failures == 0 => break,
                    _ = shutdown.changed() => return Ended::Shutdown,
                }
                if watch_token && file_stamp(&token_file) != token_before {
                    tracing::info!("token file changed: trying again now");
                    break;
                }
                if watch_token && config_file.as_deref().and_then(file_stamp) != config_before {
                    tracing::info!(
                        "configuration changed while the platform refuses the kiosk: starting again with it"
                    );
                    return Ended::ConfigChanged;
                }
            }
        }
    }

    fn heartbeat_body(&self) -> wire::Heartbeat {
        let summary = self.store.outbox_summary().unwrap_or_default();
        let published = self.store.published_survey().unwrap_or_default();
        let rfc = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        wire::Heartbeat {
            device_id: self.source.device_id.clone(),
            app_version: self.source.app_version.clone(),
            pending: summary.pending,
            oldest_pending_at: rfc(summary.oldest_pending_at),
            last_upload_at: rfc(self.status.last_success_at),
            disk_free_bytes: self.store.path().parent().and_then(crate::sys::disk_free_bytes),
            uptime_s: crate::sys::uptime_s(),
            config_version: published.running,
            config_refused: published.refused.map(|(version, message)| wire::ConfigRefused {
                version,
                message: message
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .take(wire::MAX_REFUSAL_CHARS)
                    .collect(),
            }),
            system: crate::update::agent::system_state(
                Path::new(crate::update::agent::RELEASE_FILE),
                Path::new(crate::update::agent::STATE_DIR),
            ),
        }
    }
}

/// The identity a batch was made with, read from its body (`None`: unreadable).
fn batch_source(body_gzip: &[u8]) -> Option<Source> {
    #[derive(serde::Deserialize)]
    struct Head {
        source: Source,
    }
    let body = flate2::read::GzDecoder::new(body_gzip);
    serde_json::from_reader::<_, Head>(std::io::BufReader::new(body)).ok().map(|h| h.source)
}

/// « device_id « borne-lyon », product_id 3119, form_id 4521, button_id 98765 ».
fn identity_words(source: &Source) -> String {
    format!(
        "device_id « {} », product_id {}, form_id {}, button_id {}",
        source.device_id, source.product_id, source.form_id, source.button_id
    )
}

/// The French texts of the kiosk-only questions of `survey`, sent with their answers.
pub fn labels_of(survey: &borne_model::review::Survey) -> Labels {
    survey
        .follow_ups
        .iter()
        .filter(|q| borne_model::review::jdma_question(&q.code).is_none())
        .map(|q| (q.code.clone(), q.label.clone()))
        .collect()
}

/// Builds and persists a new batch from the oldest unbatched pending reviews, after fixing
/// the timestamps taken before the clock synchronised.
fn prepare_batch(
    store: &mut Store,
    source: &Source,
    labels: &Labels,
    limit: usize,
    clock: &dyn Clock,
) -> Result<Option<OpenBatch>, StoreError> {
    let reading = clock.read();
    store.correct_unsynced(&reading, |at| clock.offset_at(at))?;
    let reviews = store.unbatched_pending(limit)?;
    if reviews.is_empty() {
        return Ok(None);
    }
    persist_batch(store, source, labels, &reviews, reading.now_utc).map(Some)
}

/// Commits a batch of these reviews (as many as fit in the contract's size limit): its id, its
/// members and its exact gzip body, before anything is sent.
fn persist_batch(
    store: &mut Store,
    source: &Source,
    labels: &Labels,
    reviews: &[StoredReview],
    now: DateTime<Utc>,
) -> Result<OpenBatch, StoreError> {
    let batch_id = Uuid::now_v7();
    let (body, members) = encode_batch(batch_id, source, reviews, labels);
    let body_gzip = gzip(&body);
    if !store.create_batch(batch_id, &members, &body_gzip, body.len(), now)? {
        return Err(StoreError::Decode("a review changed while its batch was being built".into()));
    }
    tracing::info!(%batch_id, reviews = members.len(), bytes = body.len(), gzip_bytes = body_gzip.len(), "batch persisted");
    Ok(OpenBatch {
        batch_id,
        body_gzip,
        body_bytes: body.len(),
        review_ids: members,
        attempts: 0,
        identity_refused: false,
    })
}

fn file_stamp(path: &std::path::Path) -> Option<(std::time::SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The batch's JSON body and its members: reviews in order until the count or the contract's
/// 1 MiB limit is reached (always at least one review).
pub fn encode_batch(
    batch_id: Uuid,
    source: &Source,
    reviews: &[StoredReview],
    labels: &Labels,
) -> (Vec<u8>, Vec<Uuid>) {
    let mut body = BatchBody {
        schema_version: SCHEMA_VERSION,
        batch_id: batch_id.to_string(),
        source: source.clone(),
        reviews: Vec::with_capacity(reviews.len()),
    };
    let envelope = serde_json::to_vec(&body).map(|v| v.len()).unwrap_or(0);
    let mut size = envelope;
    let mut members = Vec::with_capacity(reviews.len());
    for stored in reviews.iter().take(MAX_BATCH_REVIEWS) {
        let wire = WireReview::labelled(&stored.review, labels);
        let review_size = serde_json::to_vec(&wire).map(|v| v.len() + 1).unwrap_or(0);
        if !members.is_empty() && size + review_size > MAX_BATCH_BYTES {
            break;
        }
        size += review_size;
        members.push(stored.review.client_review_id);
        body.reviews.push(wire);
    }
    // Serialising plain data cannot fail.
    (serde_json::to_vec(&body).unwrap_or_default(), members)
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests;
