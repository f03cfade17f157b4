//! Failed sign-ins and the per-site catalogue of questions on PostgreSQL.

use super::{PgStore, classify};
use crate::storage::guard::*;
use crate::storage::model::Result;
use borne_web::auth::Failures;
use chrono::{DateTime, NaiveDate, Utc};

impl Guard for PgStore {
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
                "SELECT q.field_code, q.answer_item_id, q.answer_text IS NULL OR q.field_label IS NULL FROM site_questions q
                 JOIN unnest($2::text[], $3::bigint[]) AS p (code, item)
                   ON q.field_code = p.code AND q.answer_item_id = p.item
                 WHERE q.site_id = $1",
                &[&site, &codes, &items],
            )
            .await
            .map_err(classify)?;
        let known = rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1))).collect();
        let untexted =
            rows.iter().filter(|r| r.get::<_, bool>(2)).map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1))).collect();
        let row = client
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE first_day = $2) FROM site_questions WHERE site_id = $1",
                &[&site, &day],
            )
            .await
            .map_err(classify)?;
        Ok(Catalogue { known, untexted, total: row.get(0), new_today: row.get(1) })
    }

    async fn add_to_catalogue(&self, site: String, entries: Vec<CatalogueEntry>, day: NaiveDate) -> Result<()> {
        let client = self.client().await?;
        let codes: Vec<&str> = entries.iter().map(|e| e.field_code.as_str()).collect();
        let items: Vec<i64> = entries.iter().map(|e| e.answer_item_id).collect();
        let labels: Vec<Option<&str>> = entries.iter().map(|e| e.field_label.as_deref()).collect();
        let texts: Vec<&str> = entries.iter().map(|e| e.answer_text.as_str()).collect();
        let intentions: Vec<&str> = entries.iter().map(|e| e.intention.as_str()).collect();
        let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
        client
            .execute(
                "INSERT INTO site_questions (site_id, field_code, answer_item_id, first_day, field_label, answer_text,
                    intention, kind)
                 SELECT $1, code, item, $4, label, text, intention, kind
                 FROM unnest($2::text[], $3::bigint[], $5::text[], $6::text[], $7::text[], $8::text[])
                    AS p (code, item, label, text, intention, kind)
                 ORDER BY code, item
                 ON CONFLICT (site_id, field_code, answer_item_id) DO UPDATE SET
                    field_label = coalesce(site_questions.field_label, excluded.field_label),
                    answer_text = coalesce(site_questions.answer_text, excluded.answer_text),
                    intention = coalesce(site_questions.intention, excluded.intention),
                    kind = coalesce(site_questions.kind, excluded.kind)
                 WHERE site_questions.answer_text IS NULL OR site_questions.field_label IS NULL",
                &[&site, &codes, &items, &day, &labels, &texts, &intentions, &kinds],
            )
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn catalogue_entries(&self, sites: Vec<String>) -> Result<Vec<(String, CatalogueEntry)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT field_code, answer_item_id, field_label, answer_text, intention, kind, site_id FROM site_questions
                 WHERE site_id = ANY($1) ORDER BY site_id, field_code, answer_item_id",
                &[&sites],
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|r| {
                let entry = CatalogueEntry {
                    field_code: r.get(0),
                    answer_item_id: r.get(1),
                    field_label: r.get(2),
                    answer_text: r.get::<_, Option<String>>(3).unwrap_or_default(),
                    intention: r.get::<_, Option<String>>(4).unwrap_or_default(),
                    kind: r.get::<_, Option<String>>(5).unwrap_or_default(),
                };
                (r.get(6), entry)
            })
            .collect())
    }
}
