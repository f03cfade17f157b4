//! The visitor's side: turning what a visitor gave into a committed review.
//!
//! `commit_review` is the one code path from a visitor's answers to the store: the touchscreen,
//! the physical buttons and `borne rate` all go through it.
//!
//! Invariant: no SQL and no HTTP here; the store is reached through its API only.

pub mod flow;
pub mod speech;

use crate::clock::Clock;
use crate::redact;
use crate::store::{Store, StoreError};
use borne_model::review::{Answer, AnswerKind, Intention, InvalidReview, Review, ReviewDraft, Survey, VERBATIM};
use uuid::Uuid;

/// Why a review was not committed.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("avis refusé : {0}")]
    Invalid(#[from] InvalidReview),
    #[error("avis non enregistré : {0}")]
    Store(#[from] StoreError),
}

/// Validates a draft, cleans and redacts its comment, stamps it with the clock, and builds the
/// review. Pure but for the clock reading and the fresh id.
pub fn build_review(survey: &Survey, clock: &dyn Clock, draft: &ReviewDraft) -> Result<Review, InvalidReview> {
    let cleaned = draft.comment.as_deref().map(redact::normalise).filter(|c| !c.is_empty());
    let checked = ReviewDraft { comment: cleaned.clone(), ..draft.clone() };
    let mut answers = survey.answers_for(&checked)?;
    if let Some(comment) = cleaned {
        answers.push(Answer {
            parent: None,
            field_code: VERBATIM.to_string(),
            kind: AnswerKind::Text,
            answer_item_id: 0,
            answer_text: redact::redact(&comment),
            intention: Intention::Neutral,
        });
    }
    let reading = clock.read();
    let offset = clock.offset_at(reading.now_utc);
    Ok(Review {
        client_review_id: Uuid::now_v7(),
        submitted_at: reading.now_utc.with_timezone(&offset),
        clock: if reading.synced {
            borne_model::review::ClockState::Synced
        } else {
            borne_model::review::ClockState::Unsynced
        },
        boot: reading.boot,
        language: draft.language.clone(),
        answers,
    })
}

/// Builds and durably commits a review. When this returns `Ok`, and only then, the visitor may
/// be thanked.
pub fn commit_review(
    store: &mut Store,
    survey: &Survey,
    clock: &dyn Clock,
    draft: &ReviewDraft,
) -> Result<Review, SubmitError> {
    let review = build_review(survey, clock, draft)?;
    commit_built(store, review)
}

/// The second half of `commit_review`, for a caller that validates before it opens the store.
pub fn commit_built(store: &mut Store, review: Review) -> Result<Review, SubmitError> {
    store.insert_review(&review)?;
    tracing::info!(
        client_review_id = %review.client_review_id,
        clock = review.clock.as_str(),
        answers = review.answers.len(),
        "review committed"
    );
    Ok(review)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ClockReading, SyncSource, SystemClock};
    use crate::config::Config;
    use chrono::{DateTime, FixedOffset, Utc};

    struct FixedClock(ClockReading);

    impl Clock for FixedClock {
        fn read(&self) -> ClockReading {
            self.0.clone()
        }
        fn offset_at(&self, _: DateTime<Utc>) -> FixedOffset {
            FixedOffset::east_opt(3600).unwrap()
        }
    }

    fn draft(comment: &str) -> ReviewDraft {
        ReviewDraft {
            channel_answers: Vec::new(),
            satisfaction: 1,
            answers: vec![("kiosk_motif".into(), 1)],
            comment: Some(comment.into()),
            language: "fr".into(),
        }
    }

    #[test]
    fn commit_cleans_redacts_and_stamps() {
        let config = Config::embedded();
        let mut store = Store::open_in_memory().unwrap();
        let clock =
            FixedClock(ClockReading { now_utc: "2026-03-14T09:42:17Z".parse().unwrap(), synced: false, boot: None });
        let review =
            commit_review(&mut store, &config.survey, &clock, &draft("  Appelez-moi au 06 12 34 56 78\u{7} ")).unwrap();
        assert_eq!(review.comment(), Some("Appelez-moi au [téléphone]"));
        assert_eq!(review.submitted_at.to_rfc3339(), "2026-03-14T10:42:17+01:00");
        assert_eq!(review.clock, borne_model::review::ClockState::Unsynced);
        let stored = store.review(review.client_review_id).unwrap().unwrap();
        assert_eq!(stored.review, review);
    }

    #[test]
    fn blank_comment_is_no_comment_and_length_counts_typed_text() {
        let config = Config::embedded();
        let mut store = Store::open_in_memory().unwrap();
        let clock = SystemClock { source: SyncSource::AssumeSynced };
        let review = commit_review(&mut store, &config.survey, &clock, &draft(" \n\t ")).unwrap();
        assert_eq!(review.comment(), None);
        assert_eq!(review.answers.len(), 2);
        // 500 characters of phone numbers redact to something longer; still accepted.
        let long = "0612345678 ".repeat(45);
        assert!(commit_review(&mut store, &config.survey, &clock, &draft(&long)).is_ok());
        let too_long = "a".repeat(501);
        assert!(matches!(
            commit_review(&mut store, &config.survey, &clock, &draft(&too_long)),
            Err(SubmitError::Invalid(InvalidReview::CommentTooLong { len: 501, max: 500 }))
        ));
    }
}
