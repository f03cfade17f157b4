//! The platform's storage: one interface, two engines. PostgreSQL for a real deployment (several
//! stateless instances on one database, reviews partitioned by month); an embedded SQLite file
//! as the no-setup default. The HTTP layer and the commands only see [`Storage`]; the same test
//! suite runs against both engines.
//!
//! Invariants, on both engines:
//! - one batch is one transaction: its idempotency record, its new reviews and answers and the
//!   per-site counts commit together or not at all;
//! - a review is held once per `(device_id, client_review_id)`, forever, whatever the batch or
//!   the instance that brought it;
//! - statistics read the per-site counts (hour, day, month), never the review rows.
//!
//! Dependencies run one way: this file (the front) → the engines (`postgres/`, `sqlite/`) →
//! the features' plain types and interfaces (`model`, `reviews`, `console`, `alerting`,
//! `actions`, `guard`). Each engine owns its schema (numbered files in `migrations/`) and its
//! SQL, one file per interface; nothing below the front names it (`tests/it/layering.rs`).

/// Dispatches to the engine; `$engine` is bound to the engine's store in `$body`.
macro_rules! on_engine {
    ($storage:expr, $engine:ident => $body:expr) => {
        match $storage {
            Storage::Sqlite($engine) => $body,
            Storage::Postgres($engine) => $body,
        }
    };
}

pub mod actions;
pub mod admin;
pub mod alerting;
pub mod console;
mod fleet;
pub mod forwarding;
pub mod guard;
pub mod model;
pub mod postgres;
pub mod reviews;
pub mod rollouts;
pub mod sqlite;
pub mod surveys;

pub use model::*;

use crate::validate::{ParsedBatch, ValidReview};
use actions::Actions;
use alerting::{AbandonedMail, Alerting, Digest, Incident, MailOutcome, OutboxMail, Subscriber, TickOutcome};
use borne_model::actions::Action;
use borne_model::review::{SATISFACTION, VERBATIM};
use borne_model::wire::Heartbeat;
use borne_web::auth::{FailureLog, Failures};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use console::{Account, AccountChange, Accounts, Comment, CommentQuery, ConsoleSession, Opened, checked};
use forwarding::{Claimed, Forwarding, JdmaCounts, JdmaExportFilter, JdmaExportRow, Reconciled, Settle};
use guard::{Catalogue, CatalogueEntry, Guard, questions_of};
use reviews::Reviews;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::SystemTime;
use surveys::{SurveyScope, SurveyVersion, Surveys};

/// Which database, and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Sqlite(PathBuf),
    Postgres { url: String, pool_size: usize },
}

/// The storage, whichever engine holds it (a handle: clones share the pool or connection).
#[derive(Clone)]
pub enum Storage {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Storage {
    /// Opens the database and brings its schema up to date (migrations run once, whichever
    /// instance gets there first).
    pub async fn open(target: &Target) -> Result<Storage> {
        match target {
            Target::Sqlite(path) => Ok(Storage::Sqlite(sqlite::SqliteStore::open(path).await?)),
            Target::Postgres { url, pool_size } => {
                Ok(Storage::Postgres(postgres::PgStore::open(url, *pool_size).await?))
            }
        }
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Storage::Sqlite(_) => "sqlite",
            Storage::Postgres(_) => "postgresql",
        }
    }

    /// Answers only when the database does.
    pub async fn health(&self) -> Result<()> {
        on_engine!(self, s => s.health().await)
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<i64> {
        on_engine!(self, s => s.schema_version().await)
    }

    pub async fn authenticate(&self, token: &str) -> Result<Option<DeviceAuth>> {
        let hash = token_hash(token);
        on_engine!(self, s => s.authenticate(&hash).await)
    }

    /// Stores a validated batch once (see the module's invariants). `site_id` is the sending
    /// device's site, for the counts.
    pub async fn store_batch(
        &self,
        batch: &ParsedBatch,
        site_id: Option<&str>,
        body_sha256: &str,
        received_at: DateTime<Utc>,
    ) -> Result<Stored> {
        let checked;
        let batch = match site_id {
            Some(site) => {
                checked = self.within_catalogue(batch, site, received_at.date_naive()).await?;
                &checked
            }
            None => batch,
        };
        on_engine!(self, s => s.store_batch(batch, site_id, body_sha256, received_at).await)
    }

    /// The batch with each review that would add a kiosk-only (question, item) pair past the
    /// site's catalogue allowance rejected (the kiosk keeps it, and says so): a kiosk's token
    /// cannot grow the site's counts without bound. The new pairs allowed are added.
    async fn within_catalogue(&self, batch: &ParsedBatch, site: &str, day: NaiveDate) -> Result<ParsedBatch> {
        use guard::{MAX_SITE_ITEMS, NEW_SITE_ITEMS_PER_DAY};
        let kiosk_only = |r: &ValidReview| -> Vec<(String, i64)> {
            r.answers
                .iter()
                .filter(|a| borne_model::review::jdma_question(&a.field_code).is_none())
                .filter(|a| a.field_code != SATISFACTION && a.field_code != VERBATIM)
                .map(|a| (a.field_code.clone(), a.answer_item_id))
                .collect()
        };
        let mut pairs: Vec<(String, i64)> =
            batch.reviews.iter().filter_map(|r| r.as_ref().ok()).flat_map(kiosk_only).collect();
        pairs.sort();
        pairs.dedup();
        if pairs.is_empty() {
            return Ok(batch.clone());
        }
        let catalogue = self.catalogue(site, pairs.clone(), day).await?;
        let known: std::collections::HashSet<(String, i64)> = catalogue.known.into_iter().collect();
        let room = (MAX_SITE_ITEMS - catalogue.total).min(NEW_SITE_ITEMS_PER_DAY - catalogue.new_today).max(0);
        let mut allowed = known.clone();
        let mut added = Vec::new();
        let mut checked = batch.clone();
        let mut refused = 0;
        for review in checked.reviews.iter_mut() {
            let Ok(valid) = review else { continue };
            let new: Vec<(String, i64)> = kiosk_only(valid).into_iter().filter(|p| !allowed.contains(p)).collect();
            if new.len() as i64 <= room - added.len() as i64 {
                for pair in new {
                    allowed.insert(pair.clone());
                    added.push(pair);
                }
            } else {
                let (code, item) = &new[0];
                refused += 1;
                *review = Err(crate::validate::Rejected {
                    client_review_id: valid.client_review_id.to_string(),
                    message: format!(
                        "question {code} item {item} is new for this site and its allowance is spent \
                         ({MAX_SITE_ITEMS} question items in all, {NEW_SITE_ITEMS_PER_DAY} new a day)"
                    ),
                });
            }
        }
        if refused > 0 {
            tracing::warn!(site, device = %batch.source.device_id, refused, "reviews refused: the site's catalogue of questions is full");
        }
        // The pairs added, and the known ones whose texts this batch brings, with those texts.
        let mut wanted: std::collections::HashSet<(String, i64)> = added.into_iter().collect();
        wanted.extend(catalogue.untexted);
        let mut entries: Vec<CatalogueEntry> = Vec::new();
        for valid in checked.reviews.iter().filter_map(|r| r.as_ref().ok()) {
            for a in &valid.answers {
                if wanted.remove(&(a.field_code.clone(), a.answer_item_id)) {
                    entries.push(CatalogueEntry {
                        field_code: a.field_code.clone(),
                        answer_item_id: a.answer_item_id,
                        field_label: label_of(a),
                        answer_text: a.answer_text.clone(),
                        intention: a.intention.clone(),
                        kind: a.kind.clone(),
                    });
                }
            }
        }
        self.add_to_catalogue(site, entries, day).await?;
        Ok(checked)
    }

    pub async fn store_heartbeat(&self, heartbeat: &Heartbeat, received_at: DateTime<Utc>) -> Result<()> {
        on_engine!(self, s => s.store_heartbeat(heartbeat, received_at).await)
    }

    /// Creates the months ahead (PostgreSQL) and purges expired idempotency records.
    pub async fn maintain(&self, now: DateTime<Utc>) -> Result<()> {
        on_engine!(self, s => s.maintain(now).await)
    }

    pub async fn add_site(&self, site: &Site) -> Result<()> {
        check_id("site", &site.id)?;
        if let Some(org) = &site.organisation {
            check_id("organisation", org)?;
        }
        if site.name.trim().is_empty() || site.name.chars().count() > 200 {
            return Err(StorageError::Refused("le nom du site doit faire de 1 à 200 caractères".into()));
        }
        crate::local::check(&site.time_zone).map_err(StorageError::Refused)?;
        on_engine!(self, s => s.add_site(site).await)
    }

    pub async fn sites(&self) -> Result<Vec<Site>> {
        on_engine!(self, s => s.sites().await)
    }

    /// Registers a device of a site with a new token, and returns the token (shown once; only
    /// its hash is kept).
    pub async fn add_device(&self, device_id: &str, site_id: &str) -> Result<String> {
        check_id("kiosk", device_id)?;
        let token = borne_web::auth::random_token();
        on_engine!(self, s => s.add_device(device_id, site_id, &token_hash(&token)).await?);
        Ok(token)
    }

    pub async fn devices(&self) -> Result<Vec<Device>> {
        on_engine!(self, s => s.devices().await)
    }

    /// Revokes a device's token: every instance refuses it from its next request on.
    pub async fn revoke_device(&self, device_id: &str) -> Result<()> {
        on_engine!(self, s => s.revoke_device(device_id).await)
    }

    /// Gives a device a new token (the old one stops working at once) and returns it. A
    /// revoked device is refused unless `reactivate`: a rotation must not quietly undo a
    /// revocation.
    pub async fn rotate_device(&self, device_id: &str, reactivate: bool) -> Result<String> {
        if !reactivate && self.devices().await?.iter().any(|d| d.id == device_id && d.revoked_at.is_some()) {
            return Err(StorageError::Refused(format!(
                "la borne {device_id} est révoquée : ajoutez --reactiver pour lui rendre un jeton"
            )));
        }
        let token = borne_web::auth::random_token();
        on_engine!(self, s => s.rotate_device(device_id, &token_hash(&token)).await?);
        Ok(token)
    }

    pub async fn totals(&self) -> Result<Totals> {
        on_engine!(self, s => s.totals().await)
    }

    /// Answer counts per site over the kiosks' local days `[from, to]`, from the per-site
    /// counts (whole months from the monthly counts, the rest from the daily ones). `site`
    /// `None` gives every site.
    pub async fn site_counts(&self, site: Option<&str>, from: NaiveDate, to: NaiveDate) -> Result<Vec<SiteCounts>> {
        let sites = site.map(|s| vec![s.to_string()]);
        let rows = on_engine!(self, s => s.site_counts(sites, from, to).await?);
        Ok(group_counts(rows))
    }

    /// The same counts for `sites` only, in one read: what a page costs grows with its scope,
    /// not with the whole database.
    pub async fn counts_of_sites(&self, sites: &[String], from: NaiveDate, to: NaiveDate) -> Result<Vec<SiteCounts>> {
        let rows = on_engine!(self, s => s.site_counts(Some(sites.to_vec()), from, to).await?);
        Ok(group_counts(rows))
    }

    /// One site's counts day by day over the kiosks' local days `[from, to]`, in one read:
    /// what a chart of many periods adds up in memory.
    pub async fn site_days(&self, site: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<(NaiveDate, ItemCount)>> {
        let rows = on_engine!(self, s => s.site_days(site.to_string(), from, to).await?);
        Ok(rows
            .into_iter()
            .map(|(day, field_code, answer_item_id, count)| (day, ItemCount { field_code, answer_item_id, count }))
            .collect())
    }

    /// A site's indicators over the kiosks' local days `[from, to]`, computed as the kiosk's own
    /// dashboard computes them (the State's rules, `minimum` reviews for a score) from the same
    /// kind of counts: the satisfaction, the comments, JDMA's follow-up questions and the site's
    /// own (kiosk-only) questions answered in the period.
    pub async fn site_indicators(
        &self,
        site: &str,
        from: NaiveDate,
        to: NaiveDate,
        minimum: u64,
    ) -> Result<borne_model::indicators::Indicators> {
        let items: Vec<ItemCount> =
            self.site_counts(Some(site), from, to).await?.into_iter().flat_map(|c| c.items).collect();
        Ok(period_indicators(items, minimum, self.kiosk_questions(site).await?))
    }

    /// Reviews received since `since` (all when `None`), oldest first, in pages, each page handed
    /// to `sink`.
    pub async fn export(
        &self,
        since: Option<DateTime<Utc>>,
        sink: &mut (dyn FnMut(Vec<ExportReview>) -> std::io::Result<()> + Send),
    ) -> Result<u64> {
        on_engine!(self, s => s.export(since, sink).await)
    }

    /// The connection pool's state, for `/metrics`: (size, available, waiting).
    /// How the database is reached, for the operator: the engine's file, or PostgreSQL's link
    /// as asked (`sslmode`) and as the server sees it.
    pub async fn link(&self) -> Result<String> {
        match self {
            Storage::Sqlite(_) => Ok("fichier SQLite local".into()),
            Storage::Postgres(s) => {
                let (mode, encrypted) = s.link().await?;
                Ok(format!(
                    "PostgreSQL, sslmode={}, lien {}",
                    mode.as_str(),
                    if encrypted { "chiffré (TLS)" } else { "en clair" }
                ))
            }
        }
    }

    pub fn pool_status(&self) -> (usize, usize, usize) {
        match self {
            Storage::Sqlite(_) => (1, 1, 0),
            Storage::Postgres(s) => s.pool_status(),
        }
    }
}

impl Storage {
    /// Adds an account after checking it (a valid address, a name, the scope its role needs).
    pub async fn add_account(&self, mut account: Account) -> Result<()> {
        account.id = account.id.trim().to_lowercase();
        checked(&account)?;
        // The key of the unsubscribe link in every mail it will receive.
        let token = borne_web::auth::random_token();
        let digest = Digest::default_for(account.role).as_str();
        on_engine!(self, s => s.add_account(account, token, digest).await)
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        on_engine!(self, s => s.accounts().await)
    }

    /// The account of this e-mail address (any case), if any.
    pub async fn account(&self, email: &str) -> Result<Option<Account>> {
        let id = email.trim().to_lowercase();
        on_engine!(self, s => s.account_where("id", id).await)
    }

    /// The account ProConnect's subject `sub` was linked to, if any.
    pub async fn account_by_subject(&self, sub: &str) -> Result<Option<Account>> {
        on_engine!(self, s => s.account_where("oidc_subject", sub.to_string()).await)
    }

    /// Links an account to an OpenID subject (at its first sign-in with ProConnect), in one
    /// conditional write: only an enabled account bound to nobody yet. False when it was not
    /// (bound meanwhile, disabled, or gone).
    pub async fn link_subject(&self, email: &str, sub: &str) -> Result<bool> {
        let id = email.trim().to_lowercase();
        let change = AccountChange::Subject(sub.to_string());
        match on_engine!(self, s => s.update_account(id.clone(), change.clone()).await) {
            Ok(n) => Ok(n > 0),
            // The subject is already another account's (unique): not bound.
            Err(StorageError::Refused(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A new password; the account's sessions end (whoever knew the old one is signed out).
    pub async fn set_password(&self, email: &str, phc: &str) -> Result<()> {
        self.change_account(email, AccountChange::Password(phc.to_string())).await?;
        let id = email.trim().to_lowercase();
        on_engine!(self, s => s.close_sessions("account_id", id).await)
    }

    /// Disables an account (its password forgotten) and ends its sessions at once.
    pub async fn disable_account(&self, email: &str) -> Result<()> {
        self.change_account(email, AccountChange::Disable).await?;
        let id = email.trim().to_lowercase();
        on_engine!(self, s => s.close_sessions("account_id", id).await)
    }

    async fn change_account(&self, email: &str, change: AccountChange) -> Result<()> {
        let id = email.trim().to_lowercase();
        let n = on_engine!(self, s => s.update_account(id.clone(), change.clone()).await)?;
        if n == 0 { Err(StorageError::Refused(format!("compte inconnu : {email}"))) } else { Ok(()) }
    }

    /// Opens a session for `account`; only the hash of its cookie value is kept.
    pub async fn open_session(&self, cookie: &str, account: &str, opened: Opened, now: DateTime<Utc>) -> Result<()> {
        let (hash, account) = (token_hash(cookie), account.to_string());
        on_engine!(self, s => s.open_session(hash, account, opened.clone(), now).await)
    }

    /// The live session of this cookie value (its idle time reset), or none: unknown, idle for
    /// [`SESSION_IDLE`], older than [`SESSION_MAX`], or its account disabled.
    pub async fn session(&self, cookie: &str, now: DateTime<Utc>) -> Result<Option<ConsoleSession>> {
        let hash = token_hash(cookie);
        on_engine!(self, s => s.session(hash, now).await)
    }

    pub async fn close_session(&self, cookie: &str) -> Result<()> {
        let hash = token_hash(cookie);
        on_engine!(self, s => s.close_sessions("id_sha256", hash).await)
    }

    /// Comments as asked (`q.sites` is the caller's scope, already checked).
    pub async fn comments(&self, q: CommentQuery) -> Result<Vec<Comment>> {
        if q.sites.is_empty() || q.from > q.to {
            return Ok(Vec::new());
        }
        on_engine!(self, s => s.comments(q).await)
    }
}

impl Storage {
    /// The managers the alerts may write to (accounts not disabled), each with its unsubscribe token.
    pub async fn subscribers(&self) -> Result<Vec<Subscriber>> {
        on_engine!(self, s => s.subscribers().await)
    }

    /// Claims this round of evaluation for `holder` when none ran within `every`: the
    /// evaluator's memory, or `None` (another instance has it).
    pub async fn claim_alert_tick(&self, holder: &str, now: DateTime<Utc>, every: Duration) -> Result<Option<String>> {
        on_engine!(self, s => s.claim_tick(holder.to_string(), now, every).await)
    }

    /// Commits an evaluation: memory, incidents, mails and digests together; `false` when
    /// another instance has claimed the round since (nothing is written).
    pub async fn commit_alert_tick(&self, holder: &str, outcome: TickOutcome, now: DateTime<Utc>) -> Result<bool> {
        on_engine!(self, s => s.commit_tick(holder.to_string(), outcome, now).await)
    }

    /// The next mail due, claimed for a while (its attempt counted).
    pub async fn claim_mail(&self, now: DateTime<Utc>) -> Result<Option<OutboxMail>> {
        on_engine!(self, s => s.claim_mail(now).await)
    }

    pub async fn mail_sent(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        on_engine!(self, s => s.mail_done(id, MailOutcome::Sent(at)).await)
    }

    pub async fn mail_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<()> {
        let error: String = error.chars().take(500).collect();
        on_engine!(self, s => s.mail_done(id, MailOutcome::Retry { error, at: retry_at }).await)
    }

    /// Gives a mail up for good: it stays in the outbox, shown by `abandoned_mails`.
    pub async fn mail_abandoned(&self, id: i64, error: &str, at: DateTime<Utc>) -> Result<()> {
        let error: String = error.chars().take(500).collect();
        on_engine!(self, s => s.mail_done(id, MailOutcome::Abandoned { error, at }).await)
    }

    /// The mails given up, newest first.
    pub async fn abandoned_mails(&self, limit: u32) -> Result<Vec<AbandonedMail>> {
        on_engine!(self, s => s.abandoned_mails(limit).await)
    }

    /// The latest incidents of `sites`, newest first.
    pub async fn incidents(&self, sites: &[String], limit: u32) -> Result<Vec<Incident>> {
        on_engine!(self, s => s.incidents(sites.to_vec(), limit).await)
    }

    /// An organisation's alert rules (JSON), if it has its own.
    pub async fn alert_rules(&self, organisation: &str) -> Result<Option<String>> {
        let sql = "SELECT rules FROM alert_rules WHERE organisation_id = ?1";
        on_engine!(self, s => s.get_text(sql, organisation.to_string()).await)
    }

    pub async fn set_alert_rules(&self, organisation: &str, rules: &str) -> Result<()> {
        let known = self.sites().await?.iter().any(|s| s.organisation.as_deref() == Some(organisation));
        if !known {
            return Err(StorageError::Refused(format!("organisation inconnue (aucun site) : {organisation}")));
        }
        let sql = "INSERT INTO alert_rules (organisation_id, rules) VALUES (?1, ?2)
                   ON CONFLICT (organisation_id) DO UPDATE SET rules = excluded.rules";
        on_engine!(self, s => s.set_text(sql, organisation.to_string(), rules.to_string()).await)?;
        Ok(())
    }

    /// Sets how often `email` receives a summary.
    pub async fn set_digest(&self, email: &str, digest: Digest) -> Result<()> {
        let sql = "UPDATE accounts SET digest = ?2 WHERE id = ?1";
        let n = on_engine!(self, s => s.set_text(sql, email.trim().to_lowercase(), digest.as_str().to_string()).await)?;
        if n == 0 { Err(StorageError::Refused(format!("compte inconnu : {email}"))) } else { Ok(()) }
    }

    /// The account of an unsubscribe link's token, if any.
    pub async fn unsubscribe_account(&self, token: &str) -> Result<Option<String>> {
        let sql = "SELECT id FROM accounts WHERE unsubscribe_token = ?1";
        on_engine!(self, s => s.get_text(sql, token.to_string()).await)
    }

    /// No more alerts nor summaries for the account of this token; `false` for an unknown token.
    pub async fn unsubscribe(&self, token: &str) -> Result<bool> {
        let n = on_engine!(self, s => s.unsubscribe(token.to_string()).await)?;
        Ok(n > 0)
    }
}

impl Storage {
    /// Replaces the list of actions `device` holds (already checked with
    /// `borne_model::actions::check_list`), in one transaction.
    pub async fn replace_actions(&self, device: &str, actions: &[Action], now: DateTime<Utc>) -> Result<()> {
        let (device, actions) = (device.to_string(), actions.to_vec());
        on_engine!(self, s => s.replace_actions(device, actions, now).await)
    }

    /// Publishes a survey version (its text checked by the kiosk's rules) to a network or a
    /// site that exists; returns its number.
    pub async fn publish_survey(&self, scope: SurveyScope, body: &str, author: &str) -> Result<i64> {
        let (body, author) = (body.to_string(), author.to_string());
        let published = on_engine!(self, s => s.publish_survey(scope.clone(), body, author, Utc::now()).await);
        // An unknown scope is the foreign key's refusal, said in the person's words.
        match published {
            Err(StorageError::Refused(_)) => Err(self
                .unknown_scope(&scope)
                .await?
                .unwrap_or_else(|| StorageError::Refused("version refusée par la base de données".into()))),
            other => other,
        }
    }

    /// Withdraws the scope's current version (the one before it is current again).
    pub async fn withdraw_survey(&self, scope: SurveyScope, by: &str) -> Result<Option<i64>> {
        let by = by.to_string();
        let withdrawn = on_engine!(self, s => s.withdraw_survey(scope.clone(), by, Utc::now()).await)?;
        // Nothing withdrawn: an unknown scope is said as such.
        if withdrawn.is_none()
            && let Some(unknown) = self.unknown_scope(&scope).await?
        {
            return Err(unknown);
        }
        Ok(withdrawn)
    }

    pub async fn survey_versions(&self, scope: SurveyScope) -> Result<Vec<SurveyVersion>> {
        on_engine!(self, s => s.survey_versions(scope).await)
    }

    /// The version a kiosk of `site` runs: its site's current one, else its network's.
    pub async fn survey_for_site(&self, site: &str) -> Result<Option<(i64, String)>> {
        let site = site.to_string();
        on_engine!(self, s => s.survey_for_site(site).await)
    }

    /// The refusal for a scope that does not exist (`None`: it does). Read only on a failure's
    /// path: the network's or the site's list.
    async fn unknown_scope(&self, scope: &SurveyScope) -> Result<Option<StorageError>> {
        let unknown = match scope {
            SurveyScope::Organisation(org) => {
                use admin::Administration;
                let known = on_engine!(self, s => s.organisations().await)?.iter().any(|o| &o.id == org);
                (!known).then(|| format!("réseau « {org} » inconnu"))
            }
            SurveyScope::Site(site) => {
                (!self.sites().await?.iter().any(|s| &s.id == site)).then(|| format!("site « {site} » inconnu"))
            }
        };
        Ok(unknown.map(StorageError::Refused))
    }

    /// The site's actions, from all its kiosks not revoked (a revoked kiosk's words are no
    /// longer published), newest first.
    pub async fn site_actions(&self, site: &str) -> Result<Vec<Action>> {
        let site = site.to_string();
        on_engine!(self, s => s.site_actions(site).await)
    }
}

impl Storage {
    /// What `site`'s catalogue holds of `pairs`, and its size (all, and first seen on `day`).
    pub async fn catalogue(&self, site: &str, pairs: Vec<(String, i64)>, day: NaiveDate) -> Result<Catalogue> {
        let site = site.to_string();
        on_engine!(self, s => s.catalogue(site, pairs, day).await)
    }

    /// Adds `entries` to `site`'s catalogue, first seen on `day` (completing the texts of those
    /// already there).
    pub async fn add_to_catalogue(&self, site: &str, entries: Vec<CatalogueEntry>, day: NaiveDate) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let site = site.to_string();
        on_engine!(self, s => s.add_to_catalogue(site, entries, day).await)
    }

    /// `site`'s kiosk-only questions as people read them, from its catalogue: each with its
    /// French text (its code when no kiosk sent one) and its items in id order.
    pub async fn kiosk_questions(&self, site: &str) -> Result<Vec<borne_model::review::Question>> {
        Ok(self.kiosk_questions_of(&[site.to_string()]).await?.remove(site).unwrap_or_default())
    }

    /// The kiosk-only questions of each of `sites` (those with none are absent), in one read.
    pub async fn kiosk_questions_of(
        &self,
        sites: &[String],
    ) -> Result<HashMap<String, Vec<borne_model::review::Question>>> {
        let entries = on_engine!(self, s => s.catalogue_entries(sites.to_vec()).await)?;
        let mut by_site: HashMap<String, Vec<CatalogueEntry>> = HashMap::new();
        for (site, entry) in entries {
            by_site.entry(site).or_default().push(entry);
        }
        Ok(by_site.into_iter().map(|(site, entries)| (site, questions_of(entries))).collect())
    }
}

impl Storage {
    /// Up to `limit` reviews due for JDMA, claimed by `holder` until `until` (see `forwarding`).
    pub async fn jdma_claim(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        holder: &str,
        limit: u32,
    ) -> Result<Vec<Claimed>> {
        let holder = holder.to_string();
        on_engine!(self, s => s.jdma_claim(now, until, holder, limit).await)
    }

    /// Records what became of a review `holder` holds; false when it no longer does.
    pub async fn jdma_settle(&self, review_id: i64, holder: &str, settle: Settle) -> Result<bool> {
        let holder = holder.to_string();
        on_engine!(self, s => s.jdma_settle(review_id, holder, settle).await)
    }

    /// A create call may be made now (it is counted), or from the instant returned.
    pub async fn jdma_take_call(
        &self,
        now: DateTime<Utc>,
        window: Duration,
        max: u32,
    ) -> Result<std::result::Result<(), DateTime<Utc>>> {
        on_engine!(self, s => s.jdma_take_call(now, window, max).await)
    }

    /// How many creates' outcomes are unknown, not being resolved by a live instance.
    pub async fn jdma_unsure(&self, now: DateTime<Utc>) -> Result<u64> {
        on_engine!(self, s => s.jdma_unsure(now).await)
    }

    /// Each site's reviews by state on their way to JDMA.
    pub async fn jdma_counts(&self) -> Result<Vec<JdmaCounts>> {
        on_engine!(self, s => s.jdma_counts().await)
    }

    /// Reviews forwarded to `form`, by UTC day of their creation in JDMA.
    pub async fn jdma_forwarded_by_day(
        &self,
        form: i64,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, u64)>> {
        on_engine!(self, s => s.jdma_forwarded_by_day(form, from, to).await)
    }

    /// The title of the site's JDMA form, as JDMA's export shows it.
    pub async fn set_form_title(&self, site: &str, title: Option<&str>) -> Result<()> {
        let title = title.map(str::to_string);
        on_engine!(self, s => s.set_form_title(site.to_string(), title).await)?;
        Ok(())
    }

    /// Reviews as JDMA's export shows them, by their instant in JDMA, in pages to `sink`.
    pub async fn jdma_export(
        &self,
        filter: &JdmaExportFilter,
        sink: &mut (dyn FnMut(Vec<JdmaExportRow>) -> std::io::Result<()> + Send),
    ) -> Result<u64> {
        let mut total = 0;
        loop {
            let page = on_engine!(self, s => s.jdma_export_page(filter.clone(), total, 1000).await)?;
            if page.is_empty() {
                break;
            }
            total += page.len() as u64;
            sink(page).map_err(|e| StorageError::Refused(format!("écriture impossible : {e}")))?;
        }
        Ok(total)
    }

    /// The (product, form) pairs sites are bound to.
    pub async fn jdma_bindings(&self) -> Result<Vec<(i64, i64)>> {
        on_engine!(self, s => s.jdma_bindings().await)
    }

    pub async fn jdma_record_reconciliation(&self, days: Vec<Reconciled>) -> Result<()> {
        on_engine!(self, s => s.jdma_record_reconciliation(days).await)
    }

    /// The days compared with JDMA's counts since `since`.
    pub async fn jdma_reconciliation(&self, since: NaiveDate) -> Result<Vec<Reconciled>> {
        on_engine!(self, s => s.jdma_reconciliation(since).await)
    }

    /// Sets (or clears) the JDMA button of a kiosk and its title in JDMA; refused for an unknown kiosk.
    pub async fn set_device_button(&self, device: &str, button: Option<i64>, title: Option<&str>) -> Result<()> {
        let title = title.map(str::to_string);
        let n = on_engine!(self, s => s.set_device_button(device.to_string(), button, title).await)?;
        if n == 0 {
            return Err(StorageError::Refused(format!("borne inconnue : {device}")));
        }
        Ok(())
    }
}

/// The keys of one attempt: the account as typed (trimmed, lower-cased, bounded) and the
/// client's address.
fn keys(account: &str, ip: IpAddr) -> [(&'static str, String); 2] {
    let account: String = account.trim().to_lowercase().chars().take(254).collect();
    [("account", account), ("address", ip.to_string())]
}

/// The console's sign-in failures, in the database.
pub struct LoginFailures<'a>(pub &'a Storage);

impl FailureLog for LoginFailures<'_> {
    type Error = StorageError;

    async fn recent(&self, account: &str, ip: IpAddr) -> Result<(Option<Failures>, Option<Failures>)> {
        let keys = keys(account, ip);
        let [a, b] = on_engine!(self.0, s => s.login_failures(keys).await)?;
        Ok((a, b))
    }

    async fn failed(&self, account: &str, ip: IpAddr, now: SystemTime) -> Result<(u32, u32)> {
        let keys = keys(account, ip);
        let now = DateTime::<Utc>::from(now);
        let [a, b] = on_engine!(self.0, s => s.login_failed(keys, now).await)?;
        Ok((a, b))
    }

    async fn succeeded(&self, account: &str, ip: IpAddr) -> Result<()> {
        let keys = keys(account, ip);
        on_engine!(self.0, s => s.login_cleared(keys).await)
    }
}

#[cfg(test)]
mod tests {
    /// Each engine's migrations are the files of its `migrations/` directory, all of them, in
    /// the order of their numbers, numbered from 1 without a gap: a new file cannot be
    /// forgotten, and a shipped one cannot be renumbered.
    #[test]
    fn migrations_are_the_numbered_files_in_order() {
        let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/storage");
        for (engine, listed) in [("sqlite", super::sqlite::MIGRATIONS), ("postgres", super::postgres::MIGRATIONS)] {
            let dir = here.join(engine).join("migrations");
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            let names: Vec<String> = listed.iter().map(|(name, _)| name.to_string()).collect();
            assert_eq!(names, files, "{engine}: the list must be the directory's files");
            for (n, (name, sql)) in listed.iter().enumerate() {
                assert!(name.starts_with(&format!("{:04}_", n + 1)) && name.ends_with(".sql"), "{engine}: {name}");
                let on_disk = std::fs::read_to_string(dir.join(name)).unwrap();
                assert_eq!(&on_disk, sql, "{engine}: {name} is embedded as it is on disk");
            }
        }
    }
}
