//! The survey a network or a site publishes to its kiosks (contract 1.2, `GET /v1/survey`):
//! numbered versions (one sequence for the whole platform), each kept with who published it.
//! A rollback withdraws the scope's current version, so the one before it is current again. A
//! kiosk gets its site's current version, else its network's, else none (its file's survey).

use super::model::Result;
use chrono::{DateTime, Utc};
use std::future::Future;

/// Where a version applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SurveyScope {
    Organisation(String),
    Site(String),
}

impl SurveyScope {
    /// (organisation, site): exactly one is set.
    pub fn columns(&self) -> (Option<String>, Option<String>) {
        match self {
            SurveyScope::Organisation(org) => (Some(org.clone()), None),
            SurveyScope::Site(site) => (None, Some(site.clone())),
        }
    }
}

/// One version, as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyVersion {
    pub version: i64,
    pub body: String,
    pub author: String,
    pub published_at: DateTime<Utc>,
    /// When and by whom it was withdrawn (rolled back).
    pub withdrawn: Option<(DateTime<Utc>, String)>,
}

/// What each engine implements for published surveys.
pub trait Surveys {
    /// Publishes a version (its text already checked); returns its number.
    fn publish_survey(
        &self,
        scope: SurveyScope,
        body: String,
        author: String,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<i64>> + Send;
    /// Withdraws the scope's current version; returns it, or `None` when it had none.
    fn withdraw_survey(
        &self,
        scope: SurveyScope,
        by: String,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// The scope's versions, newest first.
    fn survey_versions(&self, scope: SurveyScope) -> impl Future<Output = Result<Vec<SurveyVersion>>> + Send;
    /// The current version for a kiosk of `site` (the site's, else its network's): number and text.
    fn survey_for_site(&self, site: String) -> impl Future<Output = Result<Option<(i64, String)>>> + Send;
}
