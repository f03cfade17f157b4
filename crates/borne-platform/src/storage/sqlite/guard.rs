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
            let mut untexted = Vec::new();
            for (code, item) in pairs {
                let hit: Option<bool> = c
                    .prepare_cached(
                        "SELECT answer_text IS NULL OR field_label IS NULL FROM site_questions
                         WHERE site_id = ?1 AND field_code = ?2 AND answer_item_id = ?3",
                    )?
                    .query_row(params![site, code, item], |r| r.get(0))
                    .optional()?;
                if let Some(missing) = hit {
                    if missing {
                        untexted.push((code.clone(), item));
                    }
                    known.push((code, item));
                }
            }
            let (total, new_today): (i64, i64) = c.query_row(
                "SELECT count(*), coalesce(sum(first_day = ?2), 0) FROM site_questions WHERE site_id = ?1",
                params![site, day.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(Catalogue { known, untexted, total, new_today })
        })
        .await
    }

    async fn add_to_catalogue(&self, site: String, entries: Vec<CatalogueEntry>, day: NaiveDate) -> Result<()> {
        self.with(move |c| {
            let tx = c.transaction()?;
            for e in entries {
                tx.prepare_cached(
                    "INSERT INTO site_questions (site_id, field_code, answer_item_id, first_day, field_label, answer_text,
                        intention, kind)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (site_id, field_code, answer_item_id) DO UPDATE SET
                        field_label = coalesce(site_questions.field_label, excluded.field_label),
                        answer_text = coalesce(site_questions.answer_text, excluded.answer_text),
                        intention = coalesce(site_questions.intention, excluded.intention),
                        kind = coalesce(site_questions.kind, excluded.kind)
                     WHERE site_questions.answer_text IS NULL OR site_questions.field_label IS NULL",
                )?
                .execute(params![
                    site,
                    e.field_code,
                    e.answer_item_id,
                    day.to_string(),
                    e.field_label,
                    e.answer_text,
                    e.intention,
                    e.kind
                ])?;
            }
            tx.commit()
        })
        .await
    }

    async fn catalogue_entries(&self, sites: Vec<String>) -> Result<Vec<(String, CatalogueEntry)>> {
        let sites = serde_json::to_string(&sites).unwrap_or_else(|_| "[]".into());
        self.with(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT field_code, answer_item_id, field_label, answer_text, intention, kind, site_id FROM site_questions
                 WHERE site_id IN (SELECT value FROM json_each(?1)) ORDER BY site_id, field_code, answer_item_id",
            )?;
            stmt.query_map([sites], |r| {
                let entry = CatalogueEntry {
                    field_code: r.get(0)?,
                    answer_item_id: r.get(1)?,
                    field_label: r.get(2)?,
                    answer_text: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    intention: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    kind: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                };
                Ok((r.get(6)?, entry))
            })?
            .collect()
        })
        .await
    }
}
