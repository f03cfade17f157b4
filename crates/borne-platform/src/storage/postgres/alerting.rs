//! Alerts: subscribers, the evaluation round, the mail outbox, incidents on PostgreSQL.

use super::{PgStore, classify};
use crate::storage::alerting::*;
use crate::storage::console::Role;
use crate::storage::model::Result;
use chrono::{DateTime, Duration, Utc};

impl Alerting for PgStore {
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
                    role: Role::parse(&role).unwrap_or(Role::Site),
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
                 WHERE id = (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= $1
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

    async fn mail_done(&self, id: i64, outcome: MailOutcome) -> Result<()> {
        let client = self.client().await?;
        match outcome {
            MailOutcome::Sent(at) => {
                client
                    .execute("UPDATE mail_outbox SET sent_at = $2, claimed_until = NULL WHERE id = $1", &[&id, &at])
                    .await
            }
            MailOutcome::Retry { error, at } => client
                .execute(
                    "UPDATE mail_outbox SET last_error = $2, next_attempt_at = $3, claimed_until = NULL WHERE id = $1",
                    &[&id, &error, &at],
                )
                .await,
            MailOutcome::Abandoned { error, at } => {
                client
                    .execute(
                        "UPDATE mail_outbox SET last_error = $2, abandoned_at = $3, claimed_until = NULL WHERE id = $1",
                        &[&id, &error, &at],
                    )
                    .await
            }
        }
        .map_err(classify)?;
        Ok(())
    }

    async fn abandoned_mails(&self, limit: u32) -> Result<Vec<AbandonedMail>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, recipient, subject, attempts::bigint, last_error, created_at, abandoned_at FROM mail_outbox
                 WHERE abandoned_at IS NOT NULL ORDER BY abandoned_at DESC, id DESC LIMIT $1",
                &[&i64::from(limit)],
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|r| AbandonedMail {
                id: r.get(0),
                recipient: r.get(1),
                subject: r.get(2),
                attempts: r.get(3),
                last_error: r.get(4),
                created_at: r.get(5),
                abandoned_at: r.get(6),
            })
            .collect())
    }

    async fn incidents(&self, sites: Vec<String>, limit: u32) -> Result<Vec<Incident>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT rule, scope_kind, scope_id, site_id, detail, opened_at, resolved_at,
                        id, acknowledged_by, closed_by, note FROM incidents
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
                id: r.get(7),
                acknowledged_by: r.get(8),
                closed_by: r.get(9),
                note: r.get(10),
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
