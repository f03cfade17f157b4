//! The console's administration on SQLite.

use super::{SqliteStore, ms};
use crate::storage::admin::*;
use crate::storage::model::Result;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

fn valid_row(kind: String, account: Option<String>) -> Option<ValidLink> {
    LinkKind::parse(&kind).map(|kind| ValidLink { kind, account })
}

impl Administration for SqliteStore {
    async fn organisations(&self) -> Result<Vec<Organisation>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT id, name FROM organisations ORDER BY name, id")?;
            stmt.query_map([], |r| Ok(Organisation { id: r.get(0)?, name: r.get(1)? }))?.collect()
        })
        .await
    }

    async fn name_organisation(&self, id: String, name: String) -> Result<()> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO organisations (id, name, created_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                params![id, name, ms(Utc::now())],
            )
        })
        .await?;
        Ok(())
    }

    async fn move_device(&self, device: String, site: String) -> Result<usize> {
        self.with(move |c| {
            c.execute(
                "UPDATE devices SET site_id = ?2 WHERE id = ?1 AND EXISTS (SELECT 1 FROM sites WHERE id = ?2)",
                params![device, site],
            )
        })
        .await
    }

    async fn save_link(&self, link: NewLink, now: DateTime<Utc>) -> Result<()> {
        self.with(move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO account_links (token_sha256, kind, account_id, created_at_ms, expires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![link.token_sha256, link.kind.as_str(), link.account, ms(now), ms(link.expires_at)],
            )?;
            if let Some(mail) = &link.mail {
                tx.execute(
                    "INSERT INTO mail_outbox (recipient, subject, body, unsubscribe_url, created_at_ms, next_attempt_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    params![mail.recipient, mail.subject, mail.body, mail.unsubscribe_url, ms(now)],
                )?;
            }
            tx.commit()
        })
        .await
    }

    async fn valid_link(&self, token_sha256: String, now: DateTime<Utc>) -> Result<Option<ValidLink>> {
        let found = self
            .with(move |c| {
                c.query_row(
                    "SELECT kind, account_id FROM account_links
                     WHERE token_sha256 = ?1 AND used_at_ms IS NULL AND expires_at_ms > ?2",
                    params![token_sha256, ms(now)],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
                )
                .optional()
            })
            .await?;
        Ok(found.and_then(|(kind, account)| valid_row(kind, account)))
    }

    async fn use_link(
        &self,
        token_sha256: String,
        password_hash: String,
        now: DateTime<Utc>,
    ) -> Result<Option<ValidLink>> {
        let found = self
            .with(move |c| {
                let tx = c.transaction()?;
                let taken = tx
                    .query_row(
                        "UPDATE account_links SET used_at_ms = ?2
                         WHERE token_sha256 = ?1 AND used_at_ms IS NULL AND expires_at_ms > ?2
                         RETURNING kind, account_id",
                        params![token_sha256, ms(now)],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
                    )
                    .optional()?;
                if let Some((_, Some(account))) = &taken {
                    tx.execute(
                        "UPDATE accounts SET password_hash = ?2 WHERE id = ?1 AND disabled_at_ms IS NULL",
                        params![account, password_hash],
                    )?;
                    tx.execute(
                        "UPDATE account_links SET used_at_ms = ?2 WHERE account_id = ?1 AND used_at_ms IS NULL",
                        params![account, ms(now)],
                    )?;
                    tx.execute("DELETE FROM console_sessions WHERE account_id = ?1", params![account])?;
                }
                tx.commit()?;
                Ok(taken)
            })
            .await?;
        Ok(found.and_then(|(kind, account)| valid_row(kind, account)))
    }

    async fn handle_incident(
        &self,
        id: i64,
        sites: Vec<String>,
        handling: Handling,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let sites = serde_json::to_string(&sites).unwrap_or_else(|_| "[]".into());
        self.with(move |c| match handling {
            Handling::Acknowledge { by, note } => c.execute(
                "UPDATE incidents SET acknowledged_at_ms = ?3, acknowledged_by = ?4, note = coalesce(?5, note)
                 WHERE id = ?1 AND site_id IN (SELECT value FROM json_each(?2))
                   AND acknowledged_at_ms IS NULL AND closed_by IS NULL",
                params![id, sites, ms(now), by, note],
            ),
            Handling::Close { by, note } => c.execute(
                "UPDATE incidents SET resolved_at_ms = coalesce(resolved_at_ms, ?3), closed_by = ?4, note = ?5
                 WHERE id = ?1 AND site_id IN (SELECT value FROM json_each(?2)) AND closed_by IS NULL",
                params![id, sites, ms(now), by, note],
            ),
        })
        .await
    }

    async fn review(&self, id: i64, sites: Vec<String>) -> Result<Option<FullReview>> {
        let sites = serde_json::to_string(&sites).unwrap_or_else(|_| "[]".into());
        self.with(move |c| {
            let head = c
                .query_row(
                    "SELECT r.site_id, r.device_id, r.submitted_at, f.handled_by, coalesce(f.tags, '')
                     FROM reviews r LEFT JOIN comment_follow_up f ON f.review_id = r.id
                     WHERE r.id = ?1 AND r.site_id IN (SELECT value FROM json_each(?2))",
                    params![id, sites],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get(3)?,
                            r.get(4)?,
                        ))
                    },
                )
                .optional()?;
            let Some((site_id, device_id, submitted_at, handled_by, tags)) = head else { return Ok(None) };
            let answers = c
                .prepare(
                    "SELECT field_code, field_label, answer_text FROM answers WHERE review_id = ?1 ORDER BY rowid",
                )?
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(FullReview { id, site_id, device_id, submitted_at, answers, handled_by, tags }))
        })
        .await
    }

    async fn follow_up_comment(
        &self,
        id: i64,
        sites: Vec<String>,
        handled_by: Option<String>,
        tags: String,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let sites = serde_json::to_string(&sites).unwrap_or_else(|_| "[]".into());
        let at = handled_by.as_ref().map(|_| ms(now));
        self.with(move |c| {
            c.execute(
                "INSERT INTO comment_follow_up (review_id, handled_by, handled_at_ms, tags)
                 SELECT ?1, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM reviews WHERE id = ?1
                     AND site_id IN (SELECT value FROM json_each(?2)))
                 ON CONFLICT (review_id) DO UPDATE SET handled_by = excluded.handled_by,
                     handled_at_ms = excluded.handled_at_ms, tags = excluded.tags",
                params![id, sites, handled_by, at, tags],
            )
        })
        .await
    }

    async fn set_alerts(&self, account: String, on: bool) -> Result<usize> {
        self.with(move |c| c.execute("UPDATE accounts SET alerts = ?2 WHERE id = ?1", params![account, on])).await
    }

    async fn recent_links(&self, account: String, since: DateTime<Utc>) -> Result<u64> {
        let n: i64 = self
            .with(move |c| {
                c.query_row(
                    "SELECT count(*) FROM account_links WHERE account_id = ?1 AND created_at_ms >= ?2",
                    params![account, ms(since)],
                    |r| r.get(0),
                )
            })
            .await?;
        Ok(n.max(0) as u64)
    }
}
