//! Published surveys on SQLite.

use super::{SqliteStore, from_ms, ms};
use crate::storage::model::Result;
use crate::storage::surveys::*;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

impl Surveys for SqliteStore {
    async fn publish_survey(
        &self,
        scope: SurveyScope,
        body: String,
        author: String,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let (org, site) = scope.columns();
        self.with(move |c| {
            c.execute(
                "INSERT INTO survey_versions (organisation_id, site_id, body, author, published_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![org, site, body, author, ms(now)],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn withdraw_survey(&self, scope: SurveyScope, by: String, now: DateTime<Utc>) -> Result<Option<i64>> {
        let (org, site) = scope.columns();
        self.with(move |c| {
            let tx = c.transaction()?;
            let current: Option<i64> = tx
                .query_row(
                    "SELECT max(version) FROM survey_versions
                     WHERE organisation_id IS ?1 AND site_id IS ?2 AND withdrawn_at_ms IS NULL",
                    params![org, site],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            if let Some(version) = current {
                tx.execute(
                    "UPDATE survey_versions SET withdrawn_at_ms = ?2, withdrawn_by = ?3 WHERE version = ?1",
                    params![version, ms(now), by],
                )?;
            }
            tx.commit()?;
            Ok(current)
        })
        .await
    }

    async fn survey_versions(&self, scope: SurveyScope) -> Result<Vec<SurveyVersion>> {
        let (org, site) = scope.columns();
        self.with(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT version, body, author, published_at_ms, withdrawn_at_ms, withdrawn_by FROM survey_versions
                 WHERE organisation_id IS ?1 AND site_id IS ?2 ORDER BY version DESC",
            )?;
            stmt.query_map(params![org, site], |r| {
                Ok(SurveyVersion {
                    version: r.get(0)?,
                    body: r.get(1)?,
                    author: r.get(2)?,
                    published_at: from_ms(r.get(3)?),
                    withdrawn: r.get::<_, Option<i64>>(4)?.map(from_ms).zip(r.get::<_, Option<String>>(5)?),
                })
            })?
            .collect()
        })
        .await
    }

    async fn survey_for_site(&self, site: String) -> Result<Option<(i64, String)>> {
        self.with(move |c| {
            c.query_row(
                "SELECT v.version, v.body FROM survey_versions v, sites s
                 WHERE s.id = ?1 AND v.withdrawn_at_ms IS NULL
                   AND (v.site_id = s.id OR v.organisation_id = s.organisation_id)
                 ORDER BY v.site_id IS NULL, v.version DESC LIMIT 1",
                [site],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
        .await
    }
}
