//! The managers' console: accounts, sessions, comments on PostgreSQL.

use super::{PgStore, classify};
use crate::storage::console::*;
use crate::storage::model::Result;
use chrono::{DateTime, Duration, Utc};

impl Accounts for PgStore {
    async fn add_account(&self, account: Account, unsubscribe_token: String, digest: &'static str) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO accounts (id, name, role, organisation_id, site_id, password_hash, oidc_subject,
                                       unsubscribe_token, digest)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &account.id,
                    &account.name,
                    &account.role.as_str(),
                    &account.organisation,
                    &account.site,
                    &account.password_hash,
                    &account.oidc_subject,
                    &unsubscribe_token,
                    &digest,
                ],
            )
            .await
            .map_err(|e| refused_account(classify(e)))?;
        Ok(())
    }

    async fn accounts(&self) -> Result<Vec<Account>> {
        let client = self.client().await?;
        let rows = client.query(&format!("{PG_ACCOUNT} ORDER BY id"), &[]).await.map_err(classify)?;
        Ok(rows.iter().map(account_row_pg).collect())
    }

    async fn account_where(&self, column: &'static str, value: String) -> Result<Option<Account>> {
        let client = self.client().await?;
        let row = client.query_opt(&format!("{PG_ACCOUNT} WHERE {column} = $1"), &[&value]).await.map_err(classify)?;
        Ok(row.as_ref().map(account_row_pg))
    }

    async fn update_account(&self, id: String, change: AccountChange) -> Result<usize> {
        let client = self.client().await?;
        let n = match change {
            AccountChange::Subject(sub) => {
                client
                    .execute(
                        "UPDATE accounts SET oidc_subject = $2
                         WHERE id = $1 AND oidc_subject IS NULL AND disabled_at IS NULL",
                        &[&id, &sub],
                    )
                    .await
            }
            AccountChange::Password(phc) => {
                client.execute("UPDATE accounts SET password_hash = $2 WHERE id = $1", &[&id, &phc]).await
            }
            AccountChange::Disable => {
                client
                    .execute(
                        "UPDATE accounts SET disabled_at = coalesce(disabled_at, now()), password_hash = NULL WHERE id = $1",
                        &[&id],
                    )
                    .await
            }
        }
        .map_err(classify)?;
        Ok(n as usize)
    }

    async fn open_session(&self, id_sha256: String, account: String, opened: Opened, now: DateTime<Utc>) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM console_sessions WHERE last_seen_at < $1 OR created_at < $2",
                &[&(now - SESSION_IDLE), &(now - SESSION_MAX)],
            )
            .await
            .map_err(classify)?;
        client
            .execute(
                "INSERT INTO console_sessions (id_sha256, account_id, csrf, id_token, created_at, last_seen_at)
                 VALUES ($1, $2, $3, $4, $5, $5)",
                &[&id_sha256, &account, &opened.csrf, &opened.id_token, &now],
            )
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn session(&self, id_sha256: String, now: DateTime<Utc>) -> Result<Option<ConsoleSession>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "WITH s AS (UPDATE console_sessions SET last_seen_at = $2
                    WHERE id_sha256 = $1 AND last_seen_at >= $3 AND created_at >= $4 RETURNING account_id, csrf, id_token)
                 SELECT a.id, a.name, a.role, a.organisation_id, a.site_id, a.password_hash, a.oidc_subject,
                        a.disabled_at, s.csrf, s.id_token
                 FROM s JOIN accounts a ON a.id = s.account_id WHERE a.disabled_at IS NULL",
                &[&id_sha256, &now, &(now - SESSION_IDLE), &(now - SESSION_MAX)],
            )
            .await
            .map_err(classify)?;
        Ok(row.map(|r| ConsoleSession { account: account_row_pg(&r), csrf: r.get(8), id_token: r.get(9) }))
    }

    async fn close_sessions(&self, column: &'static str, value: String) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(&format!("DELETE FROM console_sessions WHERE {column} = $1"), &[&value])
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn comments(&self, q: CommentQuery) -> Result<Vec<Comment>> {
        let client = self.client().await?;
        let from = q.from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() - Duration::days(2);
        let to = q.to.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + Duration::days(3);
        let words: Vec<&str> =
            q.text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).take(16).collect();
        let search = words.join(" ");
        let stmt = client
            .prepare_cached(
                "SELECT r.id, r.site_id, r.device_id, r.submitted_at,
                        (SELECT s.answer_item_id::bigint FROM answers s WHERE s.review_id = r.id
                            AND s.review_created_at = r.created_at AND s.field_code = 'satisfaction' LIMIT 1),
                        a.answer_text, f.handled_by, coalesce(f.tags, '')
                 FROM answers a JOIN reviews r ON r.id = a.review_id AND r.created_at = a.review_created_at
                 LEFT JOIN comment_follow_up f ON f.review_id = r.id
                 WHERE a.field_code = 'verbatim' AND a.review_created_at >= $2 AND a.review_created_at < $3
                   AND r.site_id = ANY($1) AND left(r.submitted_at, 10) BETWEEN $4 AND $5
                   AND ($6::bigint IS NULL OR EXISTS (SELECT 1 FROM answers s WHERE s.review_id = r.id
                        AND s.review_created_at = r.created_at AND s.field_code = 'satisfaction'
                        AND s.answer_item_id = $6))
                   AND ($7 = '' OR to_tsvector('french', a.answer_text) @@ plainto_tsquery('french', $7))
                   AND ($10::boolean IS NULL OR (f.handled_by IS NOT NULL) = $10)
                   AND ($11 = '' OR strpos(', ' || coalesce(f.tags, '') || ',', ', ' || $11 || ',') > 0)
                 ORDER BY r.created_at DESC, r.id DESC LIMIT $8 OFFSET $9",
            )
            .await
            .map_err(classify)?;
        let rows = client
            .query(
                &stmt,
                &[
                    &q.sites,
                    &from,
                    &to,
                    &q.from.to_string(),
                    &q.to.to_string(),
                    &q.rating,
                    &search,
                    &(q.limit as i64),
                    &(q.offset as i64),
                    &q.handled,
                    &q.theme,
                ],
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|r| Comment {
                review_id: r.get(0),
                site_id: r.get::<_, Option<String>>(1).unwrap_or_default(),
                device_id: r.get(2),
                submitted_at: r.get(3),
                rating: r.get(4),
                text: r.get(5),
                handled_by: r.get(6),
                tags: r.get(7),
            })
            .collect())
    }
}

fn account_row_pg(r: &tokio_postgres::Row) -> Account {
    let role: String = r.get(2);
    Account {
        id: r.get(0),
        name: r.get(1),
        role: Role::parse(&role).unwrap_or(Role::Site),
        organisation: r.get(3),
        site: r.get(4),
        password_hash: r.get(5),
        oidc_subject: r.get(6),
        disabled: r.get::<_, Option<DateTime<Utc>>>(7).is_some(),
    }
}

const PG_ACCOUNT: &str =
    "SELECT id, name, role, organisation_id, site_id, password_hash, oidc_subject, disabled_at FROM accounts";
