//! Alerts: subscribers, the evaluation round, the mail outbox, incidents on SQLite.

use super::{SqliteStore, ms};
use crate::storage::alerting::*;
use crate::storage::console::Role;
use crate::storage::model::Result;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};

impl Alerting for SqliteStore {
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
                 WHERE id = (SELECT id FROM mail_outbox WHERE sent_at_ms IS NULL AND abandoned_at_ms IS NULL AND next_attempt_at_ms <= ?1
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

    async fn mail_done(&self, id: i64, outcome: MailOutcome) -> Result<()> {
        self.with(move |c| match outcome {
            MailOutcome::Sent(at) => c.execute(
                "UPDATE mail_outbox SET sent_at_ms = ?2, claimed_until_ms = NULL WHERE id = ?1",
                params![id, ms(at)],
            ),
            MailOutcome::Retry { error, at } => c.execute(
                "UPDATE mail_outbox SET last_error = ?2, next_attempt_at_ms = ?3, claimed_until_ms = NULL WHERE id = ?1",
                params![id, error, ms(at)],
            ),
            MailOutcome::Abandoned { error, at } => c.execute(
                "UPDATE mail_outbox SET last_error = ?2, abandoned_at_ms = ?3, claimed_until_ms = NULL WHERE id = ?1",
                params![id, error, ms(at)],
            ),
        })
        .await?;
        Ok(())
    }

    async fn abandoned_mails(&self, limit: u32) -> Result<Vec<AbandonedMail>> {
        self.with(move |c| {
            c.prepare(
                "SELECT id, recipient, subject, attempts, last_error, created_at_ms, abandoned_at_ms FROM mail_outbox
                 WHERE abandoned_at_ms IS NOT NULL ORDER BY abandoned_at_ms DESC, id DESC LIMIT ?1",
            )?
            .query_map([limit], |r| {
                Ok(AbandonedMail {
                    id: r.get(0)?,
                    recipient: r.get(1)?,
                    subject: r.get(2)?,
                    attempts: r.get(3)?,
                    last_error: r.get(4)?,
                    created_at: DateTime::from_timestamp_millis(r.get(5)?).unwrap_or_default(),
                    abandoned_at: DateTime::from_timestamp_millis(r.get(6)?).unwrap_or_default(),
                })
            })?
            .collect()
        })
        .await
    }

    async fn incidents(&self, sites: Vec<String>, limit: u32) -> Result<Vec<Incident>> {
        self.with(move |c| {
            let sites = serde_json::to_string(&sites).unwrap_or_else(|_| "[]".into());
            c.prepare(
                "SELECT rule, scope_kind, scope_id, site_id, detail, opened_at_ms, resolved_at_ms,
                        id, acknowledged_by, closed_by, note FROM incidents
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
                    id: r.get(7)?,
                    acknowledged_by: r.get(8)?,
                    closed_by: r.get(9)?,
                    note: r.get(10)?,
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

fn subscriber_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Subscriber> {
    let role: String = r.get(1)?;
    let digest: String = r.get(5)?;
    Ok(Subscriber {
        email: r.get(0)?,
        role: Role::parse(&role).unwrap_or(Role::Site),
        organisation: r.get(2)?,
        site: r.get(3)?,
        alerts: r.get::<_, i64>(4)? != 0,
        digest: Digest::parse(&digest).unwrap_or(Digest::None),
        digest_sent_at: r.get::<_, Option<i64>>(6)?.and_then(DateTime::from_timestamp_millis),
        unsubscribe_token: r.get(7)?,
    })
}
