//! Failed sign-ins and the per-site catalogue of questions on SQLite.

use super::{SqliteStore, ms};
use crate::storage::guard::*;
use crate::storage::model::Result;
use borne_web::auth::Failures;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};

impl Guard for SqliteStore {
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
