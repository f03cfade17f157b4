//! What keeps clients from turning the platform against its users: sign-in failures counted
//! per account and per address in the database (every instance sees the same, so a balancer
//! spreading attempts changes nothing), and each site's catalogue of the kiosk-only questions
//! and answer items it counts (a kiosk's token cannot invent thousands of count rows).

use super::postgres::{PgStore, classify};
use super::sqlite::{SqliteStore, ms};
use super::{Result, Storage, StorageError};
use borne_web::auth::{FAILURES_FORGOTTEN_AFTER, FailureLog, Failures};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};
use std::net::IpAddr;
use std::time::SystemTime;

/// Migration 7 of the PostgreSQL schema.
pub(super) const POSTGRES_SCHEMA: &str = r#"
CREATE TABLE login_failures (
    scope     text NOT NULL CHECK (scope IN ('account', 'address')),
    key       text NOT NULL,
    failures  integer NOT NULL,
    last_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE site_questions (
    site_id         text NOT NULL,
    field_code      text NOT NULL,
    answer_item_id  bigint NOT NULL,
    first_day       date NOT NULL,
    PRIMARY KEY (site_id, field_code, answer_item_id)
);
"#;

/// Migration 8 of the SQLite schema.
pub(super) const SQLITE_SCHEMA: &str = r#"
CREATE TABLE login_failures (
    scope       TEXT NOT NULL CHECK (scope IN ('account', 'address')),
    key         TEXT NOT NULL,
    failures    INTEGER NOT NULL,
    last_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE site_questions (
    site_id         TEXT NOT NULL,
    field_code      TEXT NOT NULL,
    answer_item_id  INTEGER NOT NULL,
    first_day       TEXT NOT NULL,
    PRIMARY KEY (site_id, field_code, answer_item_id)
);
"#;

/// A site counts at most this many kiosk-only (question, answer item) pairs in all…
pub const MAX_SITE_ITEMS: i64 = 300;
/// …and takes at most this many new ones a day (a new survey published to its kiosks).
pub const NEW_SITE_ITEMS_PER_DAY: i64 = 60;

/// What the catalogue says of a site's kiosk-only pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    /// The pairs asked about that the site already counts.
    pub known: Vec<(String, i64)>,
    /// Pairs the site counts in all.
    pub total: i64,
    /// Pairs first seen on `day`.
    pub new_today: i64,
}

fn forgotten_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::from_std(FAILURES_FORGOTTEN_AFTER).unwrap_or_default()
}

fn system_time(t: DateTime<Utc>) -> SystemTime {
    SystemTime::from(t)
}

impl SqliteStore {
    async fn login_failures(&self, keys: [(&'static str, String); 2]) -> Result<[Option<Failures>; 2]> {
        self.with(move |c| {
            let mut found = [None, None];
            for (slot, (scope, key)) in found.iter_mut().zip(keys) {
                *slot = c
                    .query_row(
                        "SELECT failures, last_at_ms FROM login_failures WHERE scope = ?1 AND key = ?2",
                        params![scope, key],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                    )
                    .optional()?
                    .map(|(n, at)| Failures {
                        count: n.clamp(0, u32::MAX as i64) as u32,
                        last: system_time(DateTime::from_timestamp_millis(at).unwrap_or_default()),
                    });
            }
            Ok(found)
        })
        .await
    }

    async fn login_failed(&self, keys: [(&'static str, String); 2], now: DateTime<Utc>) -> Result<[u32; 2]> {
        self.with(move |c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM login_failures WHERE last_at_ms < ?1", [ms(forgotten_before(now))])?;
            let mut counts = [0, 0];
            for (slot, (scope, key)) in counts.iter_mut().zip(keys) {
                let n: i64 = tx.query_row(
                    "INSERT INTO login_failures (scope, key, failures, last_at_ms) VALUES (?1, ?2, 1, ?3)
                     ON CONFLICT (scope, key) DO UPDATE SET failures = failures + 1, last_at_ms = ?3
                     RETURNING failures",
                    params![scope, key, ms(now)],
                    |r| r.get(0),
                )?;
                *slot = n.clamp(0, u32::MAX as i64) as u32;
            }
            tx.commit()?;
            Ok(counts)
        })
        .await
    }

    async fn login_cleared(&self, keys: [(&'static str, String); 2]) -> Result<()> {
        self.with(move |c| {
            for (scope, key) in keys {
                c.execute("DELETE FROM login_failures WHERE scope = ?1 AND key = ?2", params![scope, key])?;
            }
            Ok(())
        })
        .await
    }

    async fn catalogue(&self, site: String, pairs: Vec<(String, i64)>, day: NaiveDate) -> Result<Catalogue> {
        self.with(move |c| {
            let mut known = Vec::new();
            for (code, item) in pairs {
                let hit = c
                    .prepare_cached(
                        "SELECT 1 FROM site_questions WHERE site_id = ?1 AND field_code = ?2 AND answer_item_id = ?3",
                    )?
                    .query_row(params![site, code, item], |_| Ok(()))
                    .optional()?;
                if hit.is_some() {
                    known.push((code, item));
                }
            }
            let (total, new_today): (i64, i64) = c.query_row(
                "SELECT count(*), coalesce(sum(first_day = ?2), 0) FROM site_questions WHERE site_id = ?1",
                params![site, day.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(Catalogue { known, total, new_today })
        })
        .await
    }

    async fn add_to_catalogue(&self, site: String, pairs: Vec<(String, i64)>, day: NaiveDate) -> Result<()> {
        self.with(move |c| {
            let tx = c.transaction()?;
            for (code, item) in pairs {
                tx.execute(
                    "INSERT OR IGNORE INTO site_questions (site_id, field_code, answer_item_id, first_day)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![site, code, item, day.to_string()],
                )?;
            }
            tx.commit()
        })
        .await
    }
}

impl PgStore {
    async fn login_failures(&self, keys: [(&'static str, String); 2]) -> Result<[Option<Failures>; 2]> {
        let client = self.client().await?;
        let mut found = [None, None];
        for (slot, (scope, key)) in found.iter_mut().zip(keys) {
            let row = client
                .query_opt(
                    "SELECT failures, last_at FROM login_failures WHERE scope = $1 AND key = $2",
                    &[&scope, &key],
                )
                .await
                .map_err(classify)?;
            *slot = row.map(|r| Failures {
                count: r.get::<_, i32>(0).max(0) as u32,
                last: system_time(r.get::<_, DateTime<Utc>>(1)),
            });
        }
        Ok(found)
    }

    async fn login_failed(&self, keys: [(&'static str, String); 2], now: DateTime<Utc>) -> Result<[u32; 2]> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        tx.execute("DELETE FROM login_failures WHERE last_at < $1", &[&forgotten_before(now)])
            .await
            .map_err(classify)?;
        let mut counts = [0, 0];
        for (slot, (scope, key)) in counts.iter_mut().zip(keys) {
            let row = tx
                .query_one(
                    "INSERT INTO login_failures (scope, key, failures, last_at) VALUES ($1, $2, 1, $3)
                     ON CONFLICT (scope, key) DO UPDATE
                        SET failures = least(login_failures.failures, 1000000) + 1, last_at = $3
                     RETURNING failures",
                    &[&scope, &key, &now],
                )
                .await
                .map_err(classify)?;
            *slot = row.get::<_, i32>(0).max(0) as u32;
        }
        tx.commit().await.map_err(classify)?;
        Ok(counts)
    }

    async fn login_cleared(&self, keys: [(&'static str, String); 2]) -> Result<()> {
        let client = self.client().await?;
        for (scope, key) in keys {
            client
                .execute("DELETE FROM login_failures WHERE scope = $1 AND key = $2", &[&scope, &key])
                .await
                .map_err(classify)?;
        }
        Ok(())
    }

    async fn catalogue(&self, site: String, pairs: Vec<(String, i64)>, day: NaiveDate) -> Result<Catalogue> {
        let client = self.client().await?;
        let (codes, items): (Vec<String>, Vec<i64>) = pairs.into_iter().unzip();
        let rows = client
            .query(
                "SELECT q.field_code, q.answer_item_id FROM site_questions q
                 JOIN unnest($2::text[], $3::bigint[]) AS p (code, item)
                   ON q.field_code = p.code AND q.answer_item_id = p.item
                 WHERE q.site_id = $1",
                &[&site, &codes, &items],
            )
            .await
            .map_err(classify)?;
        let known = rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1))).collect();
        let row = client
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE first_day = $2) FROM site_questions WHERE site_id = $1",
                &[&site, &day],
            )
            .await
            .map_err(classify)?;
        Ok(Catalogue { known, total: row.get(0), new_today: row.get(1) })
    }

    async fn add_to_catalogue(&self, site: String, pairs: Vec<(String, i64)>, day: NaiveDate) -> Result<()> {
        let client = self.client().await?;
        let (codes, items): (Vec<String>, Vec<i64>) = pairs.into_iter().unzip();
        client
            .execute(
                "INSERT INTO site_questions (site_id, field_code, answer_item_id, first_day)
                 SELECT $1, code, item, $4 FROM unnest($2::text[], $3::bigint[]) AS p (code, item)
                 ON CONFLICT DO NOTHING",
                &[&site, &codes, &items, &day],
            )
            .await
            .map_err(classify)?;
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

impl Storage {
    /// What `site`'s catalogue holds of `pairs`, and its size (all, and first seen on `day`).
    pub async fn catalogue(&self, site: &str, pairs: Vec<(String, i64)>, day: NaiveDate) -> Result<Catalogue> {
        let site = site.to_string();
        on_engine!(self, s => s.catalogue(site, pairs, day).await)
    }

    /// Adds `pairs` to `site`'s catalogue, first seen on `day`.
    pub async fn add_to_catalogue(&self, site: &str, pairs: Vec<(String, i64)>, day: NaiveDate) -> Result<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        let site = site.to_string();
        on_engine!(self, s => s.add_to_catalogue(site, pairs, day).await)
    }
}
