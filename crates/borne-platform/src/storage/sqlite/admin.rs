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
