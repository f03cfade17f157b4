//! Published surveys on PostgreSQL.

use super::{PgStore, classify};
use crate::storage::model::Result;
use crate::storage::surveys::*;
use chrono::{DateTime, Utc};

impl Surveys for PgStore {
    async fn publish_survey(
        &self,
        scope: SurveyScope,
        body: String,
        author: String,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let (org, site) = scope.columns();
        let client = self.client().await?;
        let row = client
            .query_one(
                "INSERT INTO survey_versions (organisation_id, site_id, body, author, published_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING version",
                &[&org, &site, &body, &author, &now],
            )
            .await
            .map_err(classify)?;
        Ok(row.get(0))
    }

    async fn withdraw_survey(&self, scope: SurveyScope, by: String, now: DateTime<Utc>) -> Result<Option<i64>> {
        let (org, site) = scope.columns();
        let client = self.client().await?;
        // One statement: two managers rolling back at once withdraw two versions, one each.
        let row = client
            .query_opt(
                "UPDATE survey_versions SET withdrawn_at = $3, withdrawn_by = $4
                 WHERE version = (SELECT max(version) FROM survey_versions
                                  WHERE organisation_id IS NOT DISTINCT FROM $1 AND site_id IS NOT DISTINCT FROM $2
                                    AND withdrawn_at IS NULL)
                 RETURNING version",
                &[&org, &site, &now, &by],
            )
            .await
            .map_err(classify)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn survey_versions(&self, scope: SurveyScope) -> Result<Vec<SurveyVersion>> {
        let (org, site) = scope.columns();
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT version, body, author, published_at, withdrawn_at, withdrawn_by FROM survey_versions
                 WHERE organisation_id IS NOT DISTINCT FROM $1 AND site_id IS NOT DISTINCT FROM $2
                 ORDER BY version DESC",
                &[&org, &site],
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|r| SurveyVersion {
                version: r.get(0),
                body: r.get(1),
                author: r.get(2),
                published_at: r.get(3),
                withdrawn: r.get::<_, Option<DateTime<Utc>>>(4).zip(r.get::<_, Option<String>>(5)),
            })
            .collect())
    }

    async fn survey_for_site(&self, site: String) -> Result<Option<(i64, String)>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT v.version, v.body FROM survey_versions v JOIN sites s ON s.id = $1
                 WHERE v.withdrawn_at IS NULL AND (v.site_id = s.id OR v.organisation_id = s.organisation_id)
                 ORDER BY v.site_id IS NULL, v.version DESC LIMIT 1",
                &[&site],
            )
            .await
            .map_err(classify)?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }
}
