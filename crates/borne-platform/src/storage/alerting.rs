//! What the alerts keep: each organisation's rules, the evaluator's memory (one row, claimed by
//! one instance a minute), the incidents, and the mails to send (an outbox: a mail decided is
//! committed with the decision, then sent, retried until the SMTP server takes it).

use super::postgres::{PgStore, classify};
use super::sqlite::{SqliteStore, ms};
use super::{Result, Storage, StorageError};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};

/// Migration 3 of the PostgreSQL schema.
pub(super) const POSTGRES_SCHEMA: &str = r#"
ALTER TABLE accounts ADD COLUMN alerts boolean NOT NULL DEFAULT true;
ALTER TABLE accounts ADD COLUMN digest text NOT NULL DEFAULT 'weekly' CHECK (digest IN ('none', 'daily', 'weekly'));
ALTER TABLE accounts ADD COLUMN digest_sent_at timestamptz;
ALTER TABLE accounts ADD COLUMN unsubscribe_token text UNIQUE;
-- Accounts made before: their unsubscribe key (new accounts get one when created).
UPDATE accounts SET unsubscribe_token = encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex');
CREATE TABLE alert_rules (
    organisation_id  text PRIMARY KEY REFERENCES organisations (id),
    rules            text NOT NULL
);
CREATE TABLE alert_state (
    id            integer PRIMARY KEY CHECK (id = 1),
    tracks        text NOT NULL,
    evaluated_at  timestamptz,
    holder        text
);
INSERT INTO alert_state (id, tracks) VALUES (1, '[]');
CREATE TABLE incidents (
    id           bigserial PRIMARY KEY,
    rule         text NOT NULL,
    scope_kind   text NOT NULL,
    scope_id     text NOT NULL,
    site_id      text,
    detail       text NOT NULL,
    opened_at    timestamptz NOT NULL,
    resolved_at  timestamptz
);
CREATE INDEX incidents_site ON incidents (site_id, opened_at);
CREATE TABLE mail_outbox (
    id               bigserial PRIMARY KEY,
    recipient        text NOT NULL,
    subject          text NOT NULL,
    body             text NOT NULL,
    unsubscribe_url  text,
    created_at       timestamptz NOT NULL,
    next_attempt_at  timestamptz NOT NULL,
    claimed_until    timestamptz,
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    sent_at          timestamptz
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL;
"#;

/// Migration 4 of the SQLite schema.
pub(super) const SQLITE_SCHEMA: &str = r#"
ALTER TABLE accounts ADD COLUMN alerts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN digest TEXT NOT NULL DEFAULT 'weekly' CHECK (digest IN ('none', 'daily', 'weekly'));
ALTER TABLE accounts ADD COLUMN digest_sent_at_ms INTEGER;
ALTER TABLE accounts ADD COLUMN unsubscribe_token TEXT;
CREATE UNIQUE INDEX accounts_unsubscribe ON accounts (unsubscribe_token);
-- Accounts made before: their unsubscribe key (new accounts get one when created).
UPDATE accounts SET unsubscribe_token = lower(hex(randomblob(32)));
CREATE TABLE alert_rules (
    organisation_id  TEXT PRIMARY KEY REFERENCES organisations (id),
    rules            TEXT NOT NULL
);
CREATE TABLE alert_state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    tracks           TEXT NOT NULL,
    evaluated_at_ms  INTEGER,
    holder           TEXT
);
INSERT INTO alert_state (id, tracks) VALUES (1, '[]');
CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    rule            TEXT NOT NULL,
    scope_kind      TEXT NOT NULL,
    scope_id        TEXT NOT NULL,
    site_id         TEXT,
    detail          TEXT NOT NULL,
    opened_at_ms    INTEGER NOT NULL,
    resolved_at_ms  INTEGER
);
CREATE INDEX incidents_site ON incidents (site_id, opened_at_ms);
CREATE TABLE mail_outbox (
    id                  INTEGER PRIMARY KEY,
    recipient           TEXT NOT NULL,
    subject             TEXT NOT NULL,
    body                TEXT NOT NULL,
    unsubscribe_url     TEXT,
    created_at_ms       INTEGER NOT NULL,
    next_attempt_at_ms  INTEGER NOT NULL,
    claimed_until_ms    INTEGER,
    attempts            INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT,
    sent_at_ms          INTEGER
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at_ms) WHERE sent_at_ms IS NULL;
"#;

/// How often a manager receives a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Digest {
    None,
    Daily,
    Weekly,
}

impl Digest {
    pub fn as_str(self) -> &'static str {
        match self {
            Digest::None => "none",
            Digest::Daily => "daily",
            Digest::Weekly => "weekly",
        }
    }

    pub fn parse(text: &str) -> Option<Digest> {
        match text {
            "none" => Some(Digest::None),
            "daily" => Some(Digest::Daily),
            "weekly" => Some(Digest::Weekly),
            _ => None,
        }
    }
}

/// A manager as the alerts see them.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscriber {
    pub email: String,
    pub role: super::console::Role,
    pub organisation: Option<String>,
    pub site: Option<String>,
    pub alerts: bool,
    pub digest: Digest,
    pub digest_sent_at: Option<DateTime<Utc>>,
    pub unsubscribe_token: String,
}

impl Subscriber {
    /// Whether this manager's scope holds `site` (as their console shows it).
    pub fn sees(&self, site: &super::Site) -> bool {
        self.role.covers(self.organisation.as_deref(), self.site.as_deref(), &site.id, site.organisation.as_deref())
    }
}

/// An incident that opens or resolves, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentChange {
    Opened {
        rule: String,
        scope_kind: String,
        scope_id: String,
        site_id: Option<String>,
        detail: String,
        at: DateTime<Utc>,
    },
    Resolved {
        rule: String,
        scope_kind: String,
        scope_id: String,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewMail {
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub unsubscribe_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub unsubscribe_url: Option<String>,
    pub attempts: i64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Incident {
    pub rule: String,
    pub scope_kind: String,
    pub scope_id: String,
    pub site_id: Option<String>,
    pub detail: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// What one evaluation decided, committed at once with the evaluator's memory.
#[derive(Debug, Clone, Default)]
pub struct TickOutcome {
    pub tracks: String,
    pub incidents: Vec<IncidentChange>,
    pub mails: Vec<NewMail>,
    pub digests_sent: Vec<String>,
}

/// A mail's claim lasts this long: if its sender dies, another sends it after.
const CLAIM: Duration = Duration::minutes(2);

fn subscriber_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Subscriber> {
    let role: String = r.get(1)?;
    let digest: String = r.get(5)?;
    Ok(Subscriber {
        email: r.get(0)?,
        role: super::console::Role::parse(&role).unwrap_or(super::console::Role::Site),
        organisation: r.get(2)?,
        site: r.get(3)?,
        alerts: r.get::<_, i64>(4)? != 0,
        digest: Digest::parse(&digest).unwrap_or(Digest::None),
        digest_sent_at: r.get::<_, Option<i64>>(6)?.and_then(DateTime::from_timestamp_millis),
        unsubscribe_token: r.get(7)?,
    })
}

impl SqliteStore {
    async fn subscribers(&self) -> Result<Vec<Subscriber>> {
        self.with(|c| {
            c.prepare(
                "SELECT id, role, organisation_id, site_id, alerts, digest, digest_sent_at_ms, unsubscribe_token
                 FROM accounts WHERE disabled_at_ms IS NULL ORDER BY id",
            )?
            .query_map([], subscriber_sqlite)?
            .collect()
        })
        .await
    }

    async fn claim_tick(&self, holder: String, now: DateTime<Utc>, every: Duration) -> Result<Option<String>> {
        self.with(move |c| {
            c.query_row(
                "UPDATE alert_state SET evaluated_at_ms = ?2, holder = ?1
                 WHERE id = 1 AND (evaluated_at_ms IS NULL OR evaluated_at_ms <= ?3) RETURNING tracks",
                params![holder, ms(now), ms(now - every)],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    async fn commit_tick(&self, holder: String, outcome: TickOutcome, now: DateTime<Utc>) -> Result<bool> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mine = tx.execute(
                "UPDATE alert_state SET tracks = ?2 WHERE id = 1 AND holder = ?1",
                params![holder, outcome.tracks],
            )?;
            if mine == 0 {
                return Ok(false);
            }
            for change in &outcome.incidents {
                match change {
                    IncidentChange::Opened { rule, scope_kind, scope_id, site_id, detail, at } => tx.execute(
                        "INSERT INTO incidents (rule, scope_kind, scope_id, site_id, detail, opened_at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![rule, scope_kind, scope_id, site_id, detail, ms(*at)],
                    )?,
                    IncidentChange::Resolved { rule, scope_kind, scope_id, at } => tx.execute(
                        "UPDATE incidents SET resolved_at_ms = ?4
                         WHERE rule = ?1 AND scope_kind = ?2 AND scope_id = ?3 AND resolved_at_ms IS NULL",
                        params![rule, scope_kind, scope_id, ms(*at)],
                    )?,
                };
            }
            for mail in &outcome.mails {
                tx.execute(
                    "INSERT INTO mail_outbox (recipient, subject, body, unsubscribe_url, created_at_ms, next_attempt_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    params![mail.recipient, mail.subject, mail.body, mail.unsubscribe_url, ms(now)],
                )?;
            }
            for email in &outcome.digests_sent {
                tx.execute("UPDATE accounts SET digest_sent_at_ms = ?2 WHERE id = ?1", params![email, ms(now)])?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn claim_mail(&self, now: DateTime<Utc>) -> Result<Option<OutboxMail>> {
        self.with(move |c| {
            c.query_row(
                "UPDATE mail_outbox SET claimed_until_ms = ?2, attempts = attempts + 1
                 WHERE id = (SELECT id FROM mail_outbox WHERE sent_at_ms IS NULL AND next_attempt_at_ms <= ?1
                             AND (claimed_until_ms IS NULL OR claimed_until_ms < ?1) ORDER BY id LIMIT 1)
                 RETURNING id, recipient, subject, body, unsubscribe_url, attempts",
                params![ms(now), ms(now + CLAIM)],
                |r| {
                    Ok(OutboxMail {
                        id: r.get(0)?,
                        recipient: r.get(1)?,
                        subject: r.get(2)?,
                        body: r.get(3)?,
                        unsubscribe_url: r.get(4)?,
                        attempts: r.get(5)?,
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn mail_done(
        &self,
        id: i64,
        outcome: std::result::Result<DateTime<Utc>, (String, DateTime<Utc>)>,
    ) -> Result<()> {
        self.with(move |c| match outcome {
            Ok(at) => c.execute("UPDATE mail_outbox SET sent_at_ms = ?2, claimed_until_ms = NULL WHERE id = ?1", params![id, ms(at)]),
            Err((error, retry_at)) => c.execute(
                "UPDATE mail_outbox SET last_error = ?2, next_attempt_at_ms = ?3, claimed_until_ms = NULL WHERE id = ?1",
                params![id, error, ms(retry_at)],
            ),
        })
        .await?;
        Ok(())
    }

    async fn incidents(&self, sites: Vec<String>, limit: u32) -> Result<Vec<Incident>> {
        self.with(move |c| {
            let sites = serde_json::to_string(&sites).unwrap_or_else(|_| "[]".into());
            c.prepare(
                "SELECT rule, scope_kind, scope_id, site_id, detail, opened_at_ms, resolved_at_ms FROM incidents
                 WHERE site_id IN (SELECT value FROM json_each(?1)) ORDER BY opened_at_ms DESC, id DESC LIMIT ?2",
            )?
            .query_map(params![sites, limit], |r| {
                Ok(Incident {
                    rule: r.get(0)?,
                    scope_kind: r.get(1)?,
                    scope_id: r.get(2)?,
                    site_id: r.get(3)?,
                    detail: r.get(4)?,
                    opened_at: DateTime::from_timestamp_millis(r.get(5)?).unwrap_or_default(),
                    resolved_at: r.get::<_, Option<i64>>(6)?.and_then(DateTime::from_timestamp_millis),
                })
            })?
            .collect()
        })
        .await
    }

    async fn unsubscribe(&self, token: String) -> Result<usize> {
        self.with(move |c| {
            c.execute("UPDATE accounts SET alerts = 0, digest = 'none' WHERE unsubscribe_token = ?1", [token])
        })
        .await
    }

    async fn set_text(&self, sql: &'static str, key: String, value: String) -> Result<usize> {
        self.with(move |c| c.execute(sql, params![key, value])).await
    }

    async fn get_text(&self, sql: &'static str, key: String) -> Result<Option<String>> {
        self.with(move |c| c.query_row(sql, [key], |r| r.get(0)).optional()).await
    }
}

impl PgStore {
    async fn subscribers(&self) -> Result<Vec<Subscriber>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, role, organisation_id, site_id, alerts, digest, digest_sent_at, unsubscribe_token
                 FROM accounts WHERE disabled_at IS NULL ORDER BY id",
                &[],
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|r| {
                let role: String = r.get(1);
                let digest: String = r.get(5);
                Subscriber {
                    email: r.get(0),
                    role: super::console::Role::parse(&role).unwrap_or(super::console::Role::Site),
                    organisation: r.get(2),
                    site: r.get(3),
                    alerts: r.get(4),
                    digest: Digest::parse(&digest).unwrap_or(Digest::None),
                    digest_sent_at: r.get(6),
                    unsubscribe_token: r.get(7),
                }
            })
            .collect())
    }

    async fn claim_tick(&self, holder: String, now: DateTime<Utc>, every: Duration) -> Result<Option<String>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE alert_state SET evaluated_at = $2, holder = $1
                 WHERE id = 1 AND (evaluated_at IS NULL OR evaluated_at <= $3) RETURNING tracks",
                &[&holder, &now, &(now - every)],
            )
            .await
            .map_err(classify)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn commit_tick(&self, holder: String, outcome: TickOutcome, now: DateTime<Utc>) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        let mine = tx
            .execute("UPDATE alert_state SET tracks = $2 WHERE id = 1 AND holder = $1", &[&holder, &outcome.tracks])
            .await
            .map_err(classify)?;
        if mine == 0 {
            return Ok(false);
        }
        for change in &outcome.incidents {
            match change {
                IncidentChange::Opened { rule, scope_kind, scope_id, site_id, detail, at } => tx
                    .execute(
                        "INSERT INTO incidents (rule, scope_kind, scope_id, site_id, detail, opened_at)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                        &[rule, scope_kind, scope_id, site_id, detail, at],
                    )
                    .await
                    .map_err(classify)?,
                IncidentChange::Resolved { rule, scope_kind, scope_id, at } => tx
                    .execute(
                        "UPDATE incidents SET resolved_at = $4
                         WHERE rule = $1 AND scope_kind = $2 AND scope_id = $3 AND resolved_at IS NULL",
                        &[rule, scope_kind, scope_id, at],
                    )
                    .await
                    .map_err(classify)?,
            };
        }
        for mail in &outcome.mails {
            tx.execute(
                "INSERT INTO mail_outbox (recipient, subject, body, unsubscribe_url, created_at, next_attempt_at)
                 VALUES ($1, $2, $3, $4, $5, $5)",
                &[&mail.recipient, &mail.subject, &mail.body, &mail.unsubscribe_url, &now],
            )
            .await
            .map_err(classify)?;
        }
        for email in &outcome.digests_sent {
            tx.execute("UPDATE accounts SET digest_sent_at = $2 WHERE id = $1", &[email, &now])
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(true)
    }

    async fn claim_mail(&self, now: DateTime<Utc>) -> Result<Option<OutboxMail>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE mail_outbox SET claimed_until = $2, attempts = attempts + 1
                 WHERE id = (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND next_attempt_at <= $1
                             AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY id LIMIT 1
                             FOR UPDATE SKIP LOCKED)
                 RETURNING id, recipient, subject, body, unsubscribe_url, attempts::bigint",
                &[&now, &(now + CLAIM)],
            )
            .await
            .map_err(classify)?;
        Ok(row.map(|r| OutboxMail {
            id: r.get(0),
            recipient: r.get(1),
            subject: r.get(2),
            body: r.get(3),
            unsubscribe_url: r.get(4),
            attempts: r.get(5),
        }))
    }

    async fn mail_done(
        &self,
        id: i64,
        outcome: std::result::Result<DateTime<Utc>, (String, DateTime<Utc>)>,
    ) -> Result<()> {
        let client = self.client().await?;
        match outcome {
            Ok(at) => {
                client
                    .execute("UPDATE mail_outbox SET sent_at = $2, claimed_until = NULL WHERE id = $1", &[&id, &at])
                    .await
            }
            Err((error, retry_at)) => client
                .execute(
                    "UPDATE mail_outbox SET last_error = $2, next_attempt_at = $3, claimed_until = NULL WHERE id = $1",
                    &[&id, &error, &retry_at],
                )
                .await,
        }
        .map_err(classify)?;
        Ok(())
    }

    async fn incidents(&self, sites: Vec<String>, limit: u32) -> Result<Vec<Incident>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT rule, scope_kind, scope_id, site_id, detail, opened_at, resolved_at FROM incidents
                 WHERE site_id = ANY($1) ORDER BY opened_at DESC, id DESC LIMIT $2",
                &[&sites, &(limit as i64)],
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|r| Incident {
                rule: r.get(0),
                scope_kind: r.get(1),
                scope_id: r.get(2),
                site_id: r.get(3),
                detail: r.get(4),
                opened_at: r.get(5),
                resolved_at: r.get(6),
            })
            .collect())
    }

    async fn unsubscribe(&self, token: String) -> Result<usize> {
        let client = self.client().await?;
        let sql = "UPDATE accounts SET alerts = false, digest = 'none' WHERE unsubscribe_token = $1";
        Ok(client.execute(sql, &[&token]).await.map_err(classify)? as usize)
    }

    async fn set_text(&self, sql: &'static str, key: String, value: String) -> Result<usize> {
        let client = self.client().await?;
        let sql = sql.replace("?1", "$1").replace("?2", "$2");
        Ok(client.execute(&sql, &[&key, &value]).await.map_err(classify)? as usize)
    }

    async fn get_text(&self, sql: &'static str, key: String) -> Result<Option<String>> {
        let client = self.client().await?;
        let sql = sql.replace("?1", "$1");
        Ok(client.query_opt(&sql, &[&key]).await.map_err(classify)?.map(|r| r.get(0)))
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
        on_engine!(self, s => s.mail_done(id, Ok(at)).await)
    }

    pub async fn mail_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<()> {
        let error: String = error.chars().take(500).collect();
        on_engine!(self, s => s.mail_done(id, Err((error, retry_at))).await)
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
