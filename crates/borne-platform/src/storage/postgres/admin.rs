//! The console's administration on PostgreSQL.

use super::{PgStore, classify};
use crate::storage::admin::*;
use crate::storage::model::Result;
use chrono::{DateTime, Utc};

fn valid_row(row: &tokio_postgres::Row) -> Option<ValidLink> {
    LinkKind::parse(row.get::<_, &str>(0)).map(|kind| ValidLink { kind, account: row.get(1) })
}

impl Administration for PgStore {
    async fn organisations(&self) -> Result<Vec<Organisation>> {
        let client = self.client().await?;
        let rows = client.query("SELECT id, name FROM organisations ORDER BY name, id", &[]).await.map_err(classify)?;
        Ok(rows.iter().map(|r| Organisation { id: r.get(0), name: r.get(1) }).collect())
    }

    async fn name_organisation(&self, id: String, name: String) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO organisations (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                &[&id, &name],
            )
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn move_device(&self, device: String, site: String) -> Result<usize> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE devices SET site_id = $2 WHERE id = $1 AND EXISTS (SELECT 1 FROM sites WHERE id = $2)",
                &[&device, &site],
            )
            .await
            .map_err(classify)?;
        Ok(n as usize)
    }

    async fn save_link(&self, link: NewLink, now: DateTime<Utc>) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        tx.execute(
            "INSERT INTO account_links (token_sha256, kind, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[&link.token_sha256, &link.kind.as_str(), &link.account, &now, &link.expires_at],
        )
        .await
        .map_err(classify)?;
        if let Some(mail) = &link.mail {
            tx.execute(
                "INSERT INTO mail_outbox (recipient, subject, body, unsubscribe_url, created_at, next_attempt_at)
                 VALUES ($1, $2, $3, $4, $5, $5)",
                &[&mail.recipient, &mail.subject, &mail.body, &mail.unsubscribe_url, &now],
            )
            .await
            .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    async fn valid_link(&self, token_sha256: String, now: DateTime<Utc>) -> Result<Option<ValidLink>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT kind, account_id FROM account_links
                 WHERE token_sha256 = $1 AND used_at IS NULL AND expires_at > $2",
                &[&token_sha256, &now],
            )
            .await
            .map_err(classify)?;
        Ok(row.as_ref().and_then(valid_row))
    }

    async fn use_link(
        &self,
        token_sha256: String,
        password_hash: String,
        now: DateTime<Utc>,
    ) -> Result<Option<ValidLink>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        let row = tx
            .query_opt(
                "UPDATE account_links SET used_at = $2
                 WHERE token_sha256 = $1 AND used_at IS NULL AND expires_at > $2
                 RETURNING kind, account_id",
                &[&token_sha256, &now],
            )
            .await
            .map_err(classify)?;
        let taken = row.as_ref().and_then(valid_row);
        if let Some(ValidLink { account: Some(account), .. }) = &taken {
            tx.execute(
                "UPDATE accounts SET password_hash = $2 WHERE id = $1 AND disabled_at IS NULL",
                &[account, &password_hash],
            )
            .await
            .map_err(classify)?;
            tx.execute(
                "UPDATE account_links SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL",
                &[account, &now],
            )
            .await
            .map_err(classify)?;
            tx.execute("DELETE FROM console_sessions WHERE account_id = $1", &[account]).await.map_err(classify)?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(taken)
    }

    async fn handle_incident(
        &self,
        id: i64,
        sites: Vec<String>,
        handling: Handling,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let client = self.client().await?;
        let n = match handling {
            Handling::Acknowledge { by, note } => {
                client
                    .execute(
                        "UPDATE incidents SET acknowledged_at = $3, acknowledged_by = $4, note = coalesce($5, note)
                         WHERE id = $1 AND site_id = ANY($2) AND acknowledged_at IS NULL AND closed_by IS NULL",
                        &[&id, &sites, &now, &by, &note],
                    )
                    .await
            }
            Handling::Close { by, note } => {
                client
                    .execute(
                        "UPDATE incidents SET resolved_at = coalesce(resolved_at, $3), closed_by = $4, note = $5
                         WHERE id = $1 AND site_id = ANY($2) AND closed_by IS NULL",
                        &[&id, &sites, &now, &by, &note],
                    )
                    .await
            }
        };
        Ok(n.map_err(classify)? as usize)
    }

    async fn review(&self, id: i64, sites: Vec<String>) -> Result<Option<FullReview>> {
        let client = self.client().await?;
        let Some(head) = client
            .query_opt(
                "SELECT r.site_id, r.device_id, r.submitted_at, f.handled_by, coalesce(f.tags, ''), r.created_at
                 FROM reviews r LEFT JOIN comment_follow_up f ON f.review_id = r.id
                 WHERE r.id = $1 AND r.site_id = ANY($2)",
                &[&id, &sites],
            )
            .await
            .map_err(classify)?
        else {
            return Ok(None);
        };
        let created: DateTime<Utc> = head.get(5);
        let answers = client
            .query(
                "SELECT field_code, field_label, answer_text FROM answers
                 WHERE review_id = $1 AND review_created_at = $2 ORDER BY id",
                &[&id, &created],
            )
            .await
            .map_err(classify)?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        Ok(Some(FullReview {
            id,
            site_id: head.get(0),
            device_id: head.get(1),
            submitted_at: head.get(2),
            answers,
            handled_by: head.get(3),
            tags: head.get(4),
        }))
    }

    async fn follow_up_comment(
        &self,
        id: i64,
        sites: Vec<String>,
        handled_by: Option<String>,
        tags: String,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let client = self.client().await?;
        let at = handled_by.as_ref().map(|_| now);
        let n = client
            .execute(
                "INSERT INTO comment_follow_up (review_id, handled_by, handled_at, tags)
                 SELECT $1, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM reviews WHERE id = $1 AND site_id = ANY($2))
                 ON CONFLICT (review_id) DO UPDATE SET handled_by = excluded.handled_by,
                     handled_at = excluded.handled_at, tags = excluded.tags",
                &[&id, &sites, &handled_by, &at, &tags],
            )
            .await
            .map_err(classify)?;
        Ok(n as usize)
    }

    async fn set_alerts(&self, account: String, on: bool) -> Result<usize> {
        let client = self.client().await?;
        let n = client
            .execute("UPDATE accounts SET alerts = $2 WHERE id = $1", &[&account, &on])
            .await
            .map_err(classify)?;
        Ok(n as usize)
    }

    async fn recent_links(&self, account: String, since: DateTime<Utc>) -> Result<u64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM account_links WHERE account_id = $1 AND created_at >= $2",
                &[&account, &since],
            )
            .await
            .map_err(classify)?;
        Ok(row.get::<_, i64>(0) as u64)
    }
}
