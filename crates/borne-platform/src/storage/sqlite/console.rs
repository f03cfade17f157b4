//! The managers' console: accounts, sessions, comments on SQLite.

use super::{SqliteStore, ms};
use crate::storage::console::*;
use crate::storage::model::Result;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};

impl Accounts for SqliteStore {
    async fn add_account(&self, account: Account, unsubscribe_token: String, digest: &'static str) -> Result<()> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO accounts (id, name, role, organisation_id, site_id, password_hash, oidc_subject, created_at_ms,
                                       unsubscribe_token, digest)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    account.id,
                    account.name,
                    account.role.as_str(),
                    account.organisation,
                    account.site,
                    account.password_hash,
                    account.oidc_subject,
                    ms(Utc::now()),
                    unsubscribe_token,
                    digest
                ],
            )
        })
        .await
        .map_err(refused_account)?;
        Ok(())
    }

    async fn accounts(&self) -> Result<Vec<Account>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!("{SQLITE_ACCOUNT} ORDER BY id"))?;
            stmt.query_map([], account_row_sqlite)?.collect()
        })
        .await
    }

    async fn account_where(&self, column: &'static str, value: String) -> Result<Option<Account>> {
        self.with(move |c| {
            c.query_row(&format!("{SQLITE_ACCOUNT} WHERE {column} = ?1"), [value], account_row_sqlite).optional()
        })
        .await
    }

    async fn update_account(&self, id: String, change: AccountChange) -> Result<usize> {
        self.with(move |c| match change {
            AccountChange::Subject(sub) => c.execute(
                "UPDATE accounts SET oidc_subject = ?2
                 WHERE id = ?1 AND oidc_subject IS NULL AND disabled_at_ms IS NULL",
                params![id, sub],
            ),
            AccountChange::Password(phc) => {
                c.execute("UPDATE accounts SET password_hash = ?2 WHERE id = ?1", params![id, phc])
            }
            AccountChange::Disable => c.execute(
                "UPDATE accounts SET disabled_at_ms = coalesce(disabled_at_ms, ?2), password_hash = NULL WHERE id = ?1",
                params![id, ms(Utc::now())],
            ),
        })
        .await
    }

    async fn open_session(&self, id_sha256: String, account: String, opened: Opened, now: DateTime<Utc>) -> Result<()> {
        self.with(move |c| {
            c.execute(
                "DELETE FROM console_sessions WHERE last_seen_at_ms < ?1 OR created_at_ms < ?2",
                params![ms(now - SESSION_IDLE), ms(now - SESSION_MAX)],
            )?;
            c.execute(
                "INSERT INTO console_sessions (id_sha256, account_id, csrf, id_token, created_at_ms, last_seen_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![id_sha256, account, opened.csrf, opened.id_token, ms(now)],
            )
        })
        .await?;
        Ok(())
    }

    async fn session(&self, id_sha256: String, now: DateTime<Utc>) -> Result<Option<ConsoleSession>> {
        self.with(move |c| {
            let found = c
                .query_row(
                    "UPDATE console_sessions SET last_seen_at_ms = ?2
                     WHERE id_sha256 = ?1 AND last_seen_at_ms >= ?3 AND created_at_ms >= ?4
                     RETURNING account_id, csrf, id_token",
                    params![id_sha256, ms(now), ms(now - SESSION_IDLE), ms(now - SESSION_MAX)],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)),
                )
                .optional()?;
            let Some((account, csrf, id_token)) = found else { return Ok(None) };
            let account = c
                .query_row(
                    &format!("{SQLITE_ACCOUNT} WHERE id = ?1 AND disabled_at_ms IS NULL"),
                    [account],
                    account_row_sqlite,
                )
                .optional()?;
            Ok(account.map(|account| ConsoleSession { account, csrf, id_token }))
        })
        .await
    }

    async fn close_sessions(&self, column: &'static str, value: String) -> Result<()> {
        self.with(move |c| c.execute(&format!("DELETE FROM console_sessions WHERE {column} = ?1"), [value])).await?;
        Ok(())
    }

    async fn comments(&self, q: CommentQuery) -> Result<Vec<Comment>> {
        self.with(move |c| {
            let sites = serde_json::to_string(&q.sites).unwrap_or_else(|_| "[]".into());
            let search = fts5_query(&q.text);
            // The kiosk's local day is the first ten characters of its local time; the instant
            // bounds (two days wider) let the index on (site, instant) do the work.
            let from_ms = ms(q.from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() - Duration::days(2));
            let to_ms = ms(q.to.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + Duration::days(3));
            let mut stmt = c.prepare_cached(
                "SELECT r.id, r.site_id, r.device_id, r.submitted_at,
                        (SELECT s.answer_item_id FROM answers s WHERE s.review_id = r.id AND s.field_code = 'satisfaction'),
                        a.answer_text, f.handled_by, coalesce(f.tags, '')
                 FROM reviews r JOIN answers a ON a.review_id = r.id AND a.field_code = 'verbatim'
                 LEFT JOIN comment_follow_up f ON f.review_id = r.id
                 WHERE r.site_id IN (SELECT value FROM json_each(?1))
                   AND r.created_at_ms >= ?2 AND r.created_at_ms < ?3
                   AND substr(r.submitted_at, 1, 10) BETWEEN ?4 AND ?5
                   AND (?6 IS NULL OR EXISTS (SELECT 1 FROM answers s WHERE s.review_id = r.id
                        AND s.field_code = 'satisfaction' AND s.answer_item_id = ?6))
                   AND (?7 = '' OR a.rowid IN (SELECT rowid FROM comments_fts WHERE comments_fts MATCH ?7))
                   AND (?10 IS NULL OR (f.handled_by IS NOT NULL) = ?10)
                   AND (?11 = '' OR instr(', ' || coalesce(f.tags, '') || ',', ', ' || ?11 || ',') > 0)
                 ORDER BY r.created_at_ms DESC, r.id DESC LIMIT ?8 OFFSET ?9",
            )?;
            stmt.query_map(
                params![
                    sites,
                    from_ms,
                    to_ms,
                    q.from.to_string(),
                    q.to.to_string(),
                    q.rating,
                    search,
                    q.limit,
                    q.offset,
                    q.handled,
                    q.theme
                ],
                |r| {
                    Ok(Comment {
                        review_id: r.get(0)?,
                        site_id: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        device_id: r.get(2)?,
                        submitted_at: r.get(3)?,
                        rating: r.get(4)?,
                        text: r.get(5)?,
                        handled_by: r.get(6)?,
                        tags: r.get(7)?,
                    })
                },
            )?
            .collect()
        })
        .await
    }
}

/// The words of a search, each matched as a prefix, all required: an FTS5 query that no input
/// can break (only letters and digits reach it). Each word loses its French plural and
/// feminine endings first, so that « attentes » finds « attente » (PostgreSQL's French
/// stemmer does the same on its side).
fn fts5_query(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{}\"*", french_root(w)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A word without its plural (-s, -x) and then feminine (-e) ending, when enough is left.
fn french_root(word: &str) -> &str {
    let chars = word.chars().count();
    let mut root = word;
    if chars > 3 && (root.ends_with('s') || root.ends_with('x') || root.ends_with('S') || root.ends_with('X')) {
        root = &root[..root.len() - 1];
    }
    if root.chars().count() > 4 && (root.ends_with('e') || root.ends_with('E')) {
        root = &root[..root.len() - 1];
    }
    root
}

fn account_row_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    let role: String = r.get(2)?;
    Ok(Account {
        id: r.get(0)?,
        name: r.get(1)?,
        role: Role::parse(&role).unwrap_or(Role::Site),
        organisation: r.get(3)?,
        site: r.get(4)?,
        password_hash: r.get(5)?,
        oidc_subject: r.get(6)?,
        disabled: r.get::<_, Option<i64>>(7)?.is_some(),
    })
}

const SQLITE_ACCOUNT: &str =
    "SELECT id, name, role, organisation_id, site_id, password_hash, oidc_subject, disabled_at_ms FROM accounts";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_reach_fts5_quoted() {
        assert_eq!(fts5_query("  attente  trop-longue "), "\"attent\"* \"trop\"* \"longu\"*");
        assert_eq!(fts5_query("attentes longues"), "\"attent\"* \"longu\"*");
        assert_eq!(fts5_query("\"; DROP TABLE x; -- NEAR("), "\"DROP\"* \"TABL\"* \"x\"* \"NEAR\"*");
        assert_eq!(fts5_query("guichet ouvert à 8h"), "\"guichet\"* \"ouvert\"* \"à\"* \"8h\"*");
        assert_eq!(fts5_query("bureaux locaux"), "\"bureau\"* \"locau\"*");
        assert_eq!(fts5_query("*()"), "");
    }
}
