//! Forwarding to « Je donne mon avis » (JDMA): every review of a site bound to a JDMA product and
//! form is created in JDMA once, with its kiosk's button, through JDMA's own write path.
//!
//! JDMA's `review.create` has no idempotency, so the rule is: never create a review whose earlier
//! create may have succeeded. A create without a clear answer makes the review `unsure`; it is
//! resolved through `review.insertOrUpdate`, which finds a review created within the hour by
//! `(product, button, user_id)` (the kiosk's review id): found, its answers are completed and it is
//! `forwarded`; not found, it is created again. Past the hour nothing can tell, and the review is
//! `ambiguous`: counted, shown, never resent. While a create's outcome is unknown, nothing new is
//! created (JDMA is failing; each new create could add to the unknown).
//!
//! A success of `review.create` can hide answers JDMA failed to store, so each create is
//! followed by `review.insertOrUpdate` with every answer (JDMA updates them in place).
//!
//! JDMA limits creates to 5 per client address and per hour unless the address is allow-listed:
//! the instances count their create calls in the database and stay under `creates_per_hour`
//! over any hour (plus a margin for clocks).

pub mod client;

use crate::config::JdmaConfig;
use crate::storage::forwarding::{Claimed, JdmaState, Reconciled, Settle};
use crate::storage::{Storage, StorageError};
use borne_model::review::{PER_CHANNEL, SATISFACTION, VERBATIM, jdma_question};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use client::{Client, Created, Found, Outgoing};
use serde_json::json;

/// The codes JDMA's root form holds at its top level; the per-channel help answers go as children
/// of their channel's `contact_tried` answer (and, without a channel, contract 1.0's, not at all);
/// the kiosk's other questions stay in Borne.
pub const FORWARDED_CODES: [&str; 4] = [SATISFACTION, "comprehension", "contact_tried", VERBATIM];

/// JDMA finds a review again through `insertOrUpdate` for an hour after its creation; past
/// this (a margin for clocks), an unknown create is given up as ambiguous.
pub const RESOLVE_WITHIN: Duration = Duration::minutes(55);
/// JDMA's limiter window, with a margin for clocks.
pub const LIMIT_WINDOW: Duration = Duration::minutes(62);
/// Reviews claimed at once by an instance.
const CLAIM_BATCH: u32 = 4;
/// Creates whose outcome is unknown, over all instances, past which nothing new is created:
/// JDMA is failing, and each new create could add to what can only end ambiguous.
pub const MAX_UNSURE: u64 = 8;

/// The review as JDMA's form app would send it, or why it cannot be sent yet.
pub fn outgoing(claim: &Claimed) -> Result<Outgoing, String> {
    let (Some(product), Some(form)) = (claim.product, claim.form) else {
        return Err(format!("le site {} n'est plus lié à un service et un formulaire JDMA", claim.site_id));
    };
    let Some(button) = claim.button else {
        return Err(format!("la borne {} n'a pas de bouton JDMA (devices add … --jdma-button)", claim.device_id));
    };
    let label = |code: &str| jdma_question(code).map(|q| q.label);
    let answers = claim
        .answers
        .iter()
        .filter(|a| a.parent.is_none() && FORWARDED_CODES.contains(&a.field_code.as_str()))
        .filter_map(|a| {
            let mut answer = json!({
                "field_code": a.field_code, "field_label": label(&a.field_code)?, "kind": a.kind.as_str(),
                "answer_text": a.answer_text, "intention": a.intention.as_str(),
                "answer_item_id": a.answer_item_id, "review": {},
            });
            // The channel's help answers go as its children, as JDMA's form sends them.
            let children: Vec<serde_json::Value> = claim
                .answers
                .iter()
                .filter(|c| a.field_code == "contact_tried" && c.parent == Some(a.answer_item_id))
                .filter(|c| PER_CHANNEL.contains(&c.field_code.as_str()))
                .filter_map(|c| {
                    Some(json!({
                        "field_code": c.field_code, "field_label": label(&c.field_code)?, "kind": c.kind.as_str(),
                        "review_id": -1, "answer_text": c.answer_text, "intention": c.intention.as_str(),
                        "answer_item_id": c.answer_item_id,
                    }))
                })
                .collect();
            if !children.is_empty() {
                answer["child_answers"] = json!({"createMany": {"data": children}});
            }
            Some(answer)
        })
        .collect();
    Ok(Outgoing { product, form, button, user_id: claim.client_review_id.to_string(), answers })
}

/// What a round did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Round {
    pub claimed: u32,
    pub forwarded: u32,
    pub unsure: u32,
    pub ambiguous: u32,
    pub failed: u32,
    /// Still to create (JDMA unreachable or refusing for now, no button yet).
    pub pending: u32,
    /// Why the round stopped early, if it did.
    pub stopped: Option<String>,
    /// When creating may resume (JDMA's limit).
    pub limited_until: Option<DateTime<Utc>>,
    /// Reviews left for later: too many unknown creates to resolve first.
    pub waiting: bool,
}

/// A clock: the real one, or a test's.
pub type Clock = std::sync::Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub struct Forwarder {
    storage: Storage,
    client: Client,
    creates_per_hour: u32,
    /// Before an unknown create is looked up: the call may still be running in JDMA.
    resolve_after: Duration,
    /// How long a claim holds: every call of a batch may take the whole timeout.
    claim_for: Duration,
    /// This instance's name in the claims.
    holder: String,
    clock: Clock,
}

fn backoff(attempts: i64) -> Duration {
    let step = attempts.clamp(1, 7) - 1;
    let base = Duration::seconds(30) * (1 << step);
    let capped = base.min(Duration::minutes(30));
    // ±10 %, so that reviews failed together do not return together.
    capped + Duration::milliseconds((capped.num_milliseconds() as f64 * (fastrand::f64() - 0.5) * 0.2) as i64)
}

impl Forwarder {
    pub fn new(storage: Storage, config: &JdmaConfig) -> Result<Forwarder, String> {
        let timeout = Duration::from_std(config.timeout).unwrap_or(Duration::seconds(30));
        Ok(Forwarder {
            storage,
            client: Client::new(config)?,
            creates_per_hour: config.creates_per_hour,
            resolve_after: timeout * 2,
            claim_for: (timeout * 2 + Duration::seconds(5)) * CLAIM_BATCH as i32 + Duration::seconds(10),
            holder: borne_web::auth::random_token(),
            clock: std::sync::Arc::new(Utc::now),
        })
    }

    /// The same, on a test's clock.
    pub fn with_clock(mut self, clock: Clock) -> Forwarder {
        self.clock = clock;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Claims the reviews due now and takes each one step further.
    pub async fn round(&self) -> Result<Round, StorageError> {
        let now = self.now();
        let claims = self.storage.jdma_claim(now, now + self.claim_for, &self.holder, CLAIM_BATCH).await?;
        let mut round = Round { claimed: claims.len() as u32, ..Round::default() };
        if claims.is_empty() {
            return Ok(round);
        }
        // Unknown creates no live instance is resolving, and this round's own.
        let mut unsure = self.storage.jdma_unsure(now).await?;
        for claim in claims {
            let settle = match claim.state {
                JdmaState::Unsure => {
                    let settle = self.resolve(&claim).await;
                    if matches!(settle, Settle::Unsure { created: None, .. }) {
                        unsure += 1;
                    }
                    settle
                }
                _ if unsure >= MAX_UNSURE || round.stopped.is_some() => {
                    round.waiting = true;
                    Settle::Release
                }
                _ => {
                    let settle = self.create(&claim, &mut round).await?;
                    if matches!(settle, Settle::Unsure { created: None, .. }) {
                        unsure += 1;
                    }
                    settle
                }
            };
            match &settle {
                Settle::Forwarded { .. } => round.forwarded += 1,
                Settle::Unsure { error, .. } => {
                    round.unsure += 1;
                    tracing::warn!(review = claim.review_id, %error, "JDMA: create outcome unknown, to resolve");
                }
                Settle::Pending { .. } => round.pending += 1,
                Settle::Ambiguous { error, .. } => {
                    round.ambiguous += 1;
                    tracing::error!(review = claim.review_id, %error, "JDMA: review ambiguous, not resent");
                }
                Settle::Failed { error, .. } => {
                    round.failed += 1;
                    tracing::error!(review = claim.review_id, %error, "JDMA: review refused");
                }
                Settle::Release | Settle::InFlight { .. } => {}
            }
            if !self.storage.jdma_settle(claim.review_id, &self.holder, settle).await? {
                tracing::warn!(review = claim.review_id, "JDMA: claim ran out before the review was settled");
            }
        }
        Ok(round)
    }

    async fn create(&self, claim: &Claimed, round: &mut Round) -> Result<Settle, StorageError> {
        let now = self.now();
        let out = match outgoing(claim) {
            Ok(out) => out,
            Err(error) => return Ok(Settle::Pending { error, next_attempt_at: now + Duration::minutes(10) }),
        };
        if self.creates_per_hour > 0
            && let Err(until) = self.storage.jdma_take_call(now, LIMIT_WINDOW, self.creates_per_hour).await?
        {
            round.limited_until = Some(until);
            round.stopped = Some(format!("limite de {} créations par heure atteinte", self.creates_per_hour));
            return Ok(Settle::Release);
        }
        // Written ahead: should this instance die during the call, the review is resolved, not recreated.
        let ahead = Settle::InFlight { tried_at: now, next_attempt_at: now + self.resolve_after };
        if !self.storage.jdma_settle(claim.review_id, &self.holder, ahead).await? {
            return Ok(Settle::Release);
        }
        Ok(match self.client.create(&out).await {
            Created::Yes { id, created_at } => match self.client.insert_or_update(&out).await {
                Found::Yes { id, created_at } => forwarded(&out, id, created_at, self.now()),
                // Created a moment ago, yet not found: what JDMA holds cannot be told.
                Found::No => Settle::Ambiguous {
                    error: "JDMA a créé l'avis mais ne le retrouve pas pour compléter ses réponses".into(),
                    at: self.now(),
                },
                Found::Unknown { error } => Settle::Unsure {
                    tried_at: now,
                    error: format!("avis créé, réponses à confirmer : {error}"),
                    next_attempt_at: self.now() + self.resolve_after,
                    created: Some((id, created_at)),
                },
            },
            Created::No { error, retry_after } => {
                round.stopped = Some(error.clone());
                let told = retry_after.and_then(|d| Duration::from_std(d).ok());
                if let Some(d) = told {
                    round.limited_until = Some(now + d);
                }
                Settle::Pending { error, next_attempt_at: now + told.unwrap_or_else(|| backoff(claim.attempts)) }
            }
            Created::Refused { error } => Settle::Failed { error, at: now },
            Created::Unknown { error } => {
                Settle::Unsure { tried_at: now, error, next_attempt_at: now + self.resolve_after, created: None }
            }
        })
    }

    async fn resolve(&self, claim: &Claimed) -> Settle {
        let now = self.now();
        let tried_at = claim.tried_at.unwrap_or(now);
        // Known created, its answers unconfirmed: in JDMA once, whatever happens next.
        let unconfirmed = |at| Settle::Ambiguous {
            error: format!(
                "créé dans JDMA (avis {}), ses réponses n'ont pas pu être confirmées dans l'heure",
                claim.created.map(|c| c.0).unwrap_or_default()
            ),
            at,
        };
        if now >= tried_at + RESOLVE_WITHIN {
            if claim.created.is_some() {
                return unconfirmed(now);
            }
            return Settle::Ambiguous {
                error: format!(
                    "création du {} sans réponse claire, invérifiable après une heure",
                    tried_at.format("%Y-%m-%d %H:%M UTC")
                ),
                at: now,
            };
        }
        let out = match outgoing(claim) {
            Ok(out) => out,
            Err(error) => return Settle::Ambiguous { error, at: now },
        };
        match self.client.insert_or_update(&out).await {
            Found::Yes { id, created_at } => forwarded(&out, id, created_at, self.now()),
            // Nothing was created: the review may be created (once) again.
            Found::No if claim.created.is_some() => unconfirmed(now),
            // Nothing was created: the review may be created (once) again.
            Found::No => {
                Settle::Pending { error: "JDMA ne détenait pas l'avis : à créer".into(), next_attempt_at: now }
            }
            // Not limited, and harmless to repeat: tried again soon.
            Found::Unknown { error } => Settle::Unsure {
                tried_at,
                error,
                next_attempt_at: (now + self.resolve_after).min(tried_at + RESOLVE_WITHIN),
                created: claim.created,
            },
        }
    }

    /// Compares JDMA's counts with what was forwarded, for each bound form, over the `days`
    /// complete UTC days before today; records and returns them.
    pub async fn reconcile(&self, days: u32) -> Result<Vec<Reconciled>, String> {
        let now = self.now();
        let to = now.date_naive() - Duration::days(1);
        let from = to - Duration::days(days.max(1) as i64 - 1);
        let mut out = Vec::new();
        for (product, form) in self.storage.jdma_bindings().await.map_err(|e| e.to_string())? {
            let theirs = self.client.daily_reviews(product, form, from, to).await?;
            let ours = self.storage.jdma_forwarded_by_day(form, from, to).await.map_err(|e| e.to_string())?;
            let mut day = from;
            while day <= to {
                let count = |list: &[(NaiveDate, u64)]| list.iter().filter(|(d, _)| *d == day).map(|(_, n)| n).sum();
                out.push(Reconciled {
                    form_id: form,
                    day,
                    jdma: count(&theirs),
                    forwarded: count(&ours),
                    checked_at: now,
                });
                day += Duration::days(1);
            }
        }
        self.storage.jdma_record_reconciliation(out.clone()).await.map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// Rounds until the process ends: at once while there is work, else every few seconds;
    /// later when JDMA is unreachable or its limit is reached. `on_round` sees each round,
    /// `on_counts` the outbox's counts each minute.
    pub async fn run(
        self: std::sync::Arc<Self>,
        on_round: impl Fn(&Round) + Send,
        on_counts: impl Fn(&[crate::storage::forwarding::JdmaCounts]) + Send,
    ) {
        let mut idle_wait = std::time::Duration::from_secs(2);
        let mut counted: Option<std::time::Instant> = None;
        let mut reconciled: Option<std::time::Instant> = None;
        loop {
            // At start, then each day, when the open API is configured.
            if self.client.has_api()
                && reconciled.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(86_400))
            {
                match self.reconcile(7).await {
                    Ok(days) => {
                        let apart = days.iter().filter(|d| d.jdma != d.forwarded).count();
                        tracing::info!(days = days.len(), apart, "JDMA counts compared");
                    }
                    Err(error) => tracing::warn!(%error, "JDMA counts not compared; tried again tomorrow"),
                }
                reconciled = Some(std::time::Instant::now());
            }
            if counted.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(60)) {
                if let Ok(counts) = self.storage.jdma_counts().await {
                    on_counts(&counts);
                }
                counted = Some(std::time::Instant::now());
            }
            let wait = match self.round().await {
                Ok(round) => {
                    on_round(&round);
                    if let Some(until) = round.limited_until {
                        // At most a minute: an unknown create elsewhere must still be resolved within its hour.
                        (until - self.now())
                            .to_std()
                            .unwrap_or_default()
                            .clamp(std::time::Duration::from_secs(1), std::time::Duration::from_secs(60))
                    } else if round.waiting && round.stopped.is_none() {
                        std::time::Duration::from_secs(1)
                    } else if round.stopped.is_some() {
                        idle_wait = (idle_wait * 2).min(std::time::Duration::from_secs(600));
                        idle_wait
                    } else if round.claimed > 0 {
                        idle_wait = std::time::Duration::from_secs(2);
                        std::time::Duration::ZERO
                    } else {
                        std::time::Duration::from_secs(2)
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "JDMA forwarding round failed; retried");
                    std::time::Duration::from_secs(10)
                }
            };
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
    }
}

fn forwarded(out: &Outgoing, id: i64, created_at: DateTime<Utc>, now: DateTime<Utc>) -> Settle {
    Settle::Forwarded {
        jdma_review_id: id,
        jdma_created_at: created_at,
        product: out.product,
        form: out.form,
        button: out.button,
        at: now,
    }
}

/// Checks, through the open API when a key is configured, that the key reaches `product` and
/// that `form` is one of its forms (JDMA's `/services` does not list buttons); the form's title.
pub async fn check_binding(config: &JdmaConfig, product: i64, form: i64) -> Result<Option<String>, String> {
    let client = Client::new(config)?;
    if !client.has_api() {
        return Ok(None);
    }
    let services = client.services().await?;
    let Some(service) = services.iter().find(|s| s.id == product) else {
        let known: Vec<String> = services.iter().map(|s| format!("{} ({})", s.id, s.title)).collect();
        return Err(format!(
            "le service JDMA {product} n'est pas accessible avec la clé configurée (services accessibles : {})",
            if known.is_empty() { "aucun".to_string() } else { known.join(", ") }
        ));
    };
    let Some(found) = service.forms.iter().find(|f| f.id == form) else {
        let known: Vec<String> = service.forms.iter().map(|f| format!("{} ({})", f.id, f.title)).collect();
        return Err(format!(
            "le formulaire JDMA {form} n'appartient pas au service {product} « {} » (formulaires : {})",
            service.title,
            known.join(", ")
        ));
    };
    Ok(Some(found.title.clone()))
}

/// What `borne-platform jdma status` prints: the totals, then each site.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Status {
    pub forwarded: u64,
    /// Not in JDMA yet, unsure ones included (a create whose outcome is being resolved).
    pub pending: u64,
    pub unsure: u64,
    pub ambiguous: u64,
    pub failed: u64,
    /// Age of the oldest review not yet forwarded, in seconds.
    pub oldest_pending_age_s: Option<i64>,
    pub sites: Vec<crate::storage::forwarding::JdmaCounts>,
    /// The days of the last week where JDMA's count and what was forwarded differ.
    pub reconciliation: Vec<Reconciled>,
}

impl Status {
    pub async fn read(storage: &Storage, now: DateTime<Utc>) -> Result<Status, StorageError> {
        let sites = storage.jdma_counts().await?;
        let sum = |f: fn(&crate::storage::forwarding::JdmaCounts) -> u64| sites.iter().map(f).sum::<u64>();
        let oldest = sites.iter().filter_map(|s| s.oldest_pending_at).min();
        let mut reconciliation = storage.jdma_reconciliation(now.date_naive() - Duration::days(8)).await?;
        reconciliation.retain(|d| d.jdma != d.forwarded);
        Ok(Status {
            forwarded: sum(|s| s.forwarded),
            pending: sum(|s| s.pending),
            unsure: sum(|s| s.unsure),
            ambiguous: sum(|s| s.ambiguous),
            failed: sum(|s| s.failed),
            oldest_pending_age_s: oldest.map(|o| (now - o).num_seconds().max(0)),
            sites,
            reconciliation,
        })
    }

    /// In French, for an operator.
    pub fn text(&self) -> String {
        let mut out = format!(
            "Remis à JDMA : {}\nEn attente : {} (dont {} en vérification)\nAmbigus (peut-être dans JDMA, jamais renvoyés) : {}\nRefusés par JDMA : {}\n",
            self.forwarded, self.pending, self.unsure, self.ambiguous, self.failed
        );
        if let Some(age) = self.oldest_pending_age_s {
            out.push_str(&format!("Plus ancien en attente : depuis {} min\n", age / 60));
        }
        for d in &self.reconciliation {
            out.push_str(&format!(
                "Écart le {} (jour UTC) sur le formulaire {} : JDMA compte {} avis, Borne en a remis {}\n",
                d.day, d.form_id, d.jdma, d.forwarded
            ));
        }
        for s in &self.sites {
            out.push_str(&format!(
                "- {} : {} remis, {} en attente, {} ambigus, {} refusés{}\n",
                s.site_id,
                s.forwarded,
                s.pending,
                s.ambiguous,
                s.failed,
                s.last_error.as_ref().map(|e| format!(" — dernière erreur : {e}")).unwrap_or_default()
            ));
        }
        out
    }
}
