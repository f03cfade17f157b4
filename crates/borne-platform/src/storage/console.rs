//! What the managers' console keeps: accounts (national, network, site), their sessions, and
//! the comments read across a network (full-text search: PostgreSQL's `french` configuration,
//! SQLite's FTS5). Both engines side by side, so that one query's two dialects are read
//! together.

use super::postgres::{PgStore, classify};
use super::sqlite::{SqliteStore, ms};
use super::{Result, Storage, StorageError};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

/// Migration 2 of the PostgreSQL schema.
pub(super) const POSTGRES_SCHEMA: &str = r#"
CREATE TABLE accounts (
    id               text PRIMARY KEY,
    name             text NOT NULL,
    role             text NOT NULL CHECK (role IN ('national', 'network', 'site')),
    organisation_id  text REFERENCES organisations (id),
    site_id          text REFERENCES sites (id),
    password_hash    text,
    oidc_subject     text UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    disabled_at      timestamptz,
    CHECK ((role = 'network') = (organisation_id IS NOT NULL)),
    CHECK ((role = 'site') = (site_id IS NOT NULL))
);
CREATE TABLE console_sessions (
    id_sha256     text PRIMARY KEY,
    account_id    text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf          text NOT NULL,
    created_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL
);
CREATE INDEX console_sessions_account ON console_sessions (account_id);
CREATE INDEX answers_comment_search ON answers USING gin (to_tsvector('french', answer_text))
    WHERE field_code = 'verbatim';
CREATE INDEX answers_comments ON answers (review_created_at) WHERE field_code = 'verbatim';
-- Every site's counts over a period (the console's comparison) read by day or by month.
CREATE INDEX site_daily_day ON site_daily (day);
CREATE INDEX site_monthly_month ON site_monthly (month);
"#;

/// Migration 3 of the SQLite schema. Comments are indexed by FTS5 (accents folded, words
/// matched by prefix: SQLite has no French stemmer), kept in step by a trigger.
pub(super) const SQLITE_SCHEMA: &str = r#"
CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('national', 'network', 'site')),
    organisation_id  TEXT REFERENCES organisations (id),
    site_id          TEXT REFERENCES sites (id),
    password_hash    TEXT,
    oidc_subject     TEXT UNIQUE,
    created_at_ms    INTEGER NOT NULL,
    disabled_at_ms   INTEGER,
    CHECK ((role = 'network') = (organisation_id IS NOT NULL)),
    CHECK ((role = 'site') = (site_id IS NOT NULL))
);
CREATE TABLE console_sessions (
    id_sha256        TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf             TEXT NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    last_seen_at_ms  INTEGER NOT NULL
);
CREATE INDEX console_sessions_account ON console_sessions (account_id);
CREATE INDEX reviews_site_created ON reviews (site_id, created_at_ms);
CREATE INDEX site_daily_day ON site_daily (day);
CREATE INDEX site_monthly_month ON site_monthly (month);
CREATE VIRTUAL TABLE comments_fts USING fts5 (
    answer_text, content = 'answers', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO comments_fts (rowid, answer_text) SELECT rowid, answer_text FROM answers WHERE field_code = 'verbatim';
CREATE TRIGGER answers_comment_indexed AFTER INSERT ON answers WHEN new.field_code = 'verbatim' BEGIN
    INSERT INTO comments_fts (rowid, answer_text) VALUES (new.rowid, new.answer_text);
END;
"#;

/// Migration 4 (PostgreSQL) and 5 (SQLite): a session opened through ProConnect keeps its ID
/// token, which signing out hands back to ProConnect (`id_token_hint`).
pub(super) const POSTGRES_ID_TOKEN: &str = "ALTER TABLE console_sessions ADD COLUMN id_token text;";
pub(super) const SQLITE_ID_TOKEN: &str = "ALTER TABLE console_sessions ADD COLUMN id_token TEXT;";

/// A session ends after this long without a request…
pub const SESSION_IDLE: Duration = Duration::minutes(30);
/// …and after this long whatever the activity.
pub const SESSION_MAX: Duration = Duration::hours(12);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every organisation, every site.
    National,
    /// One organisation (a network: a prefecture and its sub-prefectures, a CAF…) and its sites.
    Network,
    /// One site.
    Site,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::National => "national",
            Role::Network => "network",
            Role::Site => "site",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "national" => Some(Role::National),
            "network" => Some(Role::Network),
            "site" => Some(Role::Site),
            _ => None,
        }
    }

    /// Whether an account of this role, with its organisation and site, may read `site` (of
    /// `organisation`): national everything, network its organisation's sites, site its own.
    pub fn covers(
        self,
        own_organisation: Option<&str>,
        own_site: Option<&str>,
        site: &str,
        organisation: Option<&str>,
    ) -> bool {
        match self {
            Role::National => true,
            Role::Network => own_organisation.is_some() && own_organisation == organisation,
            Role::Site => own_site == Some(site),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::National => "administration nationale",
            Role::Network => "responsable de réseau",
            Role::Site => "responsable de site",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The e-mail address, lower-cased: what a manager types, and what ProConnect gives.
    pub id: String,
    pub name: String,
    pub role: Role,
    pub organisation: Option<String>,
    pub site: Option<String>,
    /// argon2id PHC string; none for an account that signs in with ProConnect only.
    pub password_hash: Option<String>,
    pub oidc_subject: Option<String>,
    pub disabled: bool,
}

impl Account {
    /// Whether this account may read `site` (of `organisation`).
    pub fn sees(&self, site: &str, organisation: Option<&str>) -> bool {
        self.role.covers(self.organisation.as_deref(), self.site.as_deref(), site, organisation)
    }
}

#[derive(Debug, Clone)]
enum AccountChange {
    Subject(String),
    Password(String),
    Disable,
}

/// A live session: whose, and the token its forms carry.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub account: Account,
    pub csrf: String,
    /// The ProConnect ID token the session was opened with, if it was.
    pub id_token: Option<String>,
}

/// What a new session carries besides its account.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The token its forms carry.
    pub csrf: String,
    /// The ProConnect ID token, when it was opened through ProConnect.
    pub id_token: Option<String>,
}

/// Comments wanted: among `sites`, on the kiosks' local days `[from, to]`, optionally of one
/// satisfaction answer and matching words; newest first.
#[derive(Debug, Clone)]
pub struct CommentQuery {
    pub sites: Vec<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rating: Option<i64>,
    pub text: String,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comment {
    pub review_id: i64,
    pub site_id: String,
    pub device_id: String,
    /// The kiosk's local time, as it sent it.
    pub submitted_at: String,
    pub rating: Option<i64>,
    pub text: String,
}

/// The words of a search, each matched as a prefix, all required: an FTS5 query that no input
/// can break (only letters and digits reach it).
fn fts5_query(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{w}\"*"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn valid_email(id: &str) -> bool {
    let Some((local, domain)) = id.split_once('@') else { return false };
    !local.is_empty() && domain.contains('.') && id.len() <= 254 && !id.chars().any(|c| c.is_whitespace() || c == '<')
}

fn checked(account: &Account) -> Result<()> {
    if !valid_email(&account.id) {
        return Err(StorageError::Refused(format!("adresse électronique invalide : {}", account.id)));
    }
    if account.name.trim().is_empty() {
        return Err(StorageError::Refused("le nom est obligatoire".into()));
    }
    match (account.role, &account.organisation, &account.site) {
        (Role::National, None, None) | (Role::Network, Some(_), None) | (Role::Site, None, Some(_)) => Ok(()),
        (Role::Network, ..) => {
            Err(StorageError::Refused("un compte de réseau a une organisation (--org), seule".into()))
        }
        (Role::Site, ..) => Err(StorageError::Refused("un compte de site a un site (--site), seul".into())),
        (Role::National, ..) => Err(StorageError::Refused("un compte national n'a ni organisation ni site".into())),
    }
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

const SQLITE_ACCOUNT: &str =
    "SELECT id, name, role, organisation_id, site_id, password_hash, oidc_subject, disabled_at_ms FROM accounts";
const PG_ACCOUNT: &str =
    "SELECT id, name, role, organisation_id, site_id, password_hash, oidc_subject, disabled_at FROM accounts";

fn refused_account(e: StorageError) -> StorageError {
    match e {
        StorageError::Refused(detail) if detail.contains("UNIQUE") || detail.contains("unique") => {
            StorageError::Refused("ce compte existe déjà".into())
        }
        StorageError::Refused(_) => StorageError::Refused("organisation ou site inconnu".into()),
        other => other,
    }
}

impl SqliteStore {
    async fn add_account(&self, account: Account, unsubscribe_token: String) -> Result<()> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO accounts (id, name, role, organisation_id, site_id, password_hash, oidc_subject, created_at_ms,
                                       unsubscribe_token)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    account.id,
                    account.name,
                    account.role.as_str(),
                    account.organisation,
                    account.site,
                    account.password_hash,
                    account.oidc_subject,
                    ms(Utc::now()),
                    unsubscribe_token
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
                        a.answer_text
                 FROM reviews r JOIN answers a ON a.review_id = r.id AND a.field_code = 'verbatim'
                 WHERE r.site_id IN (SELECT value FROM json_each(?1))
                   AND r.created_at_ms >= ?2 AND r.created_at_ms < ?3
                   AND substr(r.submitted_at, 1, 10) BETWEEN ?4 AND ?5
                   AND (?6 IS NULL OR EXISTS (SELECT 1 FROM answers s WHERE s.review_id = r.id
                        AND s.field_code = 'satisfaction' AND s.answer_item_id = ?6))
                   AND (?7 = '' OR a.rowid IN (SELECT rowid FROM comments_fts WHERE comments_fts MATCH ?7))
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
                    q.offset
                ],
                |r| {
                    Ok(Comment {
                        review_id: r.get(0)?,
                        site_id: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        device_id: r.get(2)?,
                        submitted_at: r.get(3)?,
                        rating: r.get(4)?,
                        text: r.get(5)?,
                    })
                },
            )?
            .collect()
        })
        .await
    }
}

impl PgStore {
    async fn add_account(&self, account: Account, unsubscribe_token: String) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO accounts (id, name, role, organisation_id, site_id, password_hash, oidc_subject,
                                       unsubscribe_token)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &account.id,
                    &account.name,
                    &account.role.as_str(),
                    &account.organisation,
                    &account.site,
                    &account.password_hash,
                    &account.oidc_subject,
                    &unsubscribe_token,
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
                        a.answer_text
                 FROM answers a JOIN reviews r ON r.id = a.review_id AND r.created_at = a.review_created_at
                 WHERE a.field_code = 'verbatim' AND a.review_created_at >= $2 AND a.review_created_at < $3
                   AND r.site_id = ANY($1) AND left(r.submitted_at, 10) BETWEEN $4 AND $5
                   AND ($6::bigint IS NULL OR EXISTS (SELECT 1 FROM answers s WHERE s.review_id = r.id
                        AND s.review_created_at = r.created_at AND s.field_code = 'satisfaction'
                        AND s.answer_item_id = $6))
                   AND ($7 = '' OR to_tsvector('french', a.answer_text) @@ plainto_tsquery('french', $7))
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
            })
            .collect())
    }
}

impl Storage {
    /// Adds an account after checking it (a valid address, a name, the scope its role needs).
    pub async fn add_account(&self, mut account: Account) -> Result<()> {
        account.id = account.id.trim().to_lowercase();
        checked(&account)?;
        // The key of the unsubscribe link in every mail it will receive.
        let token = borne_web::auth::random_token();
        on_engine!(self, s => s.add_account(account, token).await)
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
        let (hash, account) = (super::token_hash(cookie), account.to_string());
        on_engine!(self, s => s.open_session(hash, account, opened.clone(), now).await)
    }

    /// The live session of this cookie value (its idle time reset), or none: unknown, idle for
    /// [`SESSION_IDLE`], older than [`SESSION_MAX`], or its account disabled.
    pub async fn session(&self, cookie: &str, now: DateTime<Utc>) -> Result<Option<ConsoleSession>> {
        let hash = super::token_hash(cookie);
        on_engine!(self, s => s.session(hash, now).await)
    }

    pub async fn close_session(&self, cookie: &str) -> Result<()> {
        let hash = super::token_hash(cookie);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_reach_fts5_quoted() {
        assert_eq!(fts5_query("  attente  trop-longue "), "\"attente\"* \"trop\"* \"longue\"*");
        assert_eq!(fts5_query("\"; DROP TABLE x; -- NEAR("), "\"DROP\"* \"TABLE\"* \"x\"* \"NEAR\"*");
        assert_eq!(fts5_query("guichet ouvert à 8h"), "\"guichet\"* \"ouvert\"* \"à\"* \"8h\"*");
        assert_eq!(fts5_query("*()"), "");
    }

    #[test]
    fn a_role_sees_its_scope_only() {
        let account = |role, organisation: Option<&str>, site: Option<&str>| Account {
            id: "a@b.fr".into(),
            name: "A".into(),
            role,
            organisation: organisation.map(String::from),
            site: site.map(String::from),
            password_hash: None,
            oidc_subject: None,
            disabled: false,
        };
        assert!(account(Role::National, None, None).sees("s1", None));
        let network = account(Role::Network, Some("pref-69"), None);
        assert!(network.sees("lyon", Some("pref-69")));
        assert!(!network.sees("paris", Some("pref-75")));
        assert!(!network.sees("orphan", None));
        let site = account(Role::Site, None, Some("lyon"));
        assert!(site.sees("lyon", Some("pref-69")));
        assert!(!site.sees("villefranche", Some("pref-69")));
        assert!(checked(&account(Role::Network, None, None)).is_err());
        assert!(checked(&account(Role::Site, Some("pref-69"), Some("lyon"))).is_err());
        assert!(checked(&account(Role::Site, None, Some("lyon"))).is_ok());
        let mut bad = account(Role::National, None, None);
        bad.id = "pas une adresse".into();
        assert!(checked(&bad).is_err());
    }
}
