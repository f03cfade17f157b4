//! « Vous nous l'avez dit, on l'a fait »: each kiosk's list of its site's improvement actions
//! (`PUT /v1/actions`, contract 1.1), replaced whole at each send. A site's actions are the
//! union of its kiosks' lists (a site with two kiosks may have them written on either).
//! Kiosks of a tokens file, not registered, keep theirs too; they belong to no site.

use super::model::Result;
use borne_model::actions::{Action, newest_first};
use chrono::{DateTime, Utc};
use std::future::Future;

/// Two kiosks may carry the same action (one id): kept once, newest first.
pub(crate) fn distinct_newest_first(mut actions: Vec<Action>) -> Vec<Action> {
    let mut seen = std::collections::HashSet::new();
    actions.retain(|a| seen.insert(a.id));
    newest_first(&mut actions);
    actions
}

/// What each engine implements for what each kiosk says it did about its results.
pub trait Actions {
    fn replace_actions(
        &self,
        device: String,
        actions: Vec<Action>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn site_actions(&self, site: String) -> impl Future<Output = Result<Vec<Action>>> + Send;
}
