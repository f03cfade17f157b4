//! What keeps clients from turning the platform against its users: sign-in failures counted
//! per account and per address in the database (every instance sees the same, so a balancer
//! spreading attempts changes nothing), and each site's catalogue of the kiosk-only questions
//! and answer items it counts (a kiosk's token cannot invent thousands of count rows).

use super::model::Result;
use borne_web::auth::{FAILURES_FORGOTTEN_AFTER, Failures};
use chrono::{DateTime, NaiveDate, Utc};
use std::future::Future;
use std::time::SystemTime;

/// A site counts at most this many kiosk-only (question, answer item) pairs in all…
pub const MAX_SITE_ITEMS: i64 = 300;
/// …and takes at most this many new ones a day (a new survey published to its kiosks).
pub const NEW_SITE_ITEMS_PER_DAY: i64 = 60;

/// What the catalogue says of a site's kiosk-only pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    /// The pairs asked about that the site already counts.
    pub known: Vec<(String, i64)>,
    /// Those of them whose texts are not all known yet (counted before kiosks sent them).
    pub untexted: Vec<(String, i64)>,
    /// Pairs the site counts in all.
    pub total: i64,
    /// Pairs first seen on `day`.
    pub new_today: i64,
}

/// A kiosk-only (question, item) pair with what people read of it: the question's French text
/// (when the kiosk sent it, contract 1.2) and the item's, its intention and the question's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEntry {
    pub field_code: String,
    pub answer_item_id: i64,
    pub field_label: Option<String>,
    pub answer_text: String,
    pub intention: String,
    pub kind: String,
}

/// Failures older than this are forgotten.
pub(crate) fn forgotten_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - chrono::Duration::from_std(FAILURES_FORGOTTEN_AFTER).unwrap_or_default()
}

pub(crate) fn system_time(t: DateTime<Utc>) -> SystemTime {
    SystemTime::from(t)
}

/// What each engine implements for failed sign-ins and the per-site catalogue of questions.
pub trait Guard {
    fn login_failures(
        &self,
        keys: [(&'static str, String); 2],
    ) -> impl Future<Output = Result<[Option<Failures>; 2]>> + Send;
    fn login_failed(
        &self,
        keys: [(&'static str, String); 2],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<[u32; 2]>> + Send;
    fn login_cleared(&self, keys: [(&'static str, String); 2]) -> impl Future<Output = Result<()>> + Send;
    fn catalogue(
        &self,
        site: String,
        pairs: Vec<(String, i64)>,
        day: NaiveDate,
    ) -> impl Future<Output = Result<Catalogue>> + Send;
    /// Adds the entries not yet there, first seen on `day`, and completes the texts missing from
    /// those that are.
    fn add_to_catalogue(
        &self,
        site: String,
        entries: Vec<CatalogueEntry>,
        day: NaiveDate,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Every entry of the catalogues of `sites`, with its site, by site, code and item (one
    /// query, whatever the number of sites).
    fn catalogue_entries(
        &self,
        sites: Vec<String>,
    ) -> impl Future<Output = Result<Vec<(String, CatalogueEntry)>>> + Send;
}

/// Questions from catalogue entries (ordered by code and item): the question's label is the
/// first text a kiosk sent, else its code; an item without text is « Réponse N ».
pub(crate) fn questions_of(entries: Vec<CatalogueEntry>) -> Vec<borne_model::review::Question> {
    use borne_model::review::{AnswerKind, Intention, Item, Question};
    let mut questions: Vec<Question> = Vec::new();
    for e in entries {
        if questions.last().is_none_or(|q| q.code != e.field_code) {
            questions.push(Question {
                code: e.field_code.clone(),
                label: String::new(),
                kind: AnswerKind::parse(&e.kind).unwrap_or(AnswerKind::Radio),
                items: Vec::new(),
                show_after: Vec::new(),
            });
        }
        let Some(q) = questions.last_mut() else { continue };
        if q.label.is_empty()
            && let Some(label) = e.field_label
        {
            q.label = label;
        }
        let text = if e.answer_text.is_empty() { format!("Réponse {}", e.answer_item_id) } else { e.answer_text };
        q.items.push(Item {
            id: e.answer_item_id,
            text,
            intention: Intention::parse(&e.intention).unwrap_or(Intention::Neutral),
            exclusive: false,
        });
    }
    for q in &mut questions {
        if q.label.is_empty() {
            q.label = q.code.clone();
        }
    }
    questions
}
