//! Plan, then act: a pure function turns "the batch we sent, what the platform answered" into
//! what to do with the outbox. Tested without any IO.

use borne_model::wire::{BatchResponse, ResultStatus};
use std::time::Duration;
use uuid::Uuid;

/// What came back from one send of a batch, classified as the contract's table does.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `200 OK` with a readable body.
    Answered(BatchResponse),
    /// `400`: the batch is malformed.
    BadRequest(String),
    /// `401`/`403`, or no usable token on our side.
    AuthRefused(String),
    /// `409`: the key was seen with another body.
    Conflict(String),
    /// `413`.
    TooLarge,
    /// `429` (or `503` with `Retry-After`).
    SlowDown { retry_after: Option<Duration>, message: String },
    /// `5xx`, timeout, reset, unreadable response, anything unexpected.
    Transient(String),
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Apply the answer: these reviews are held by the platform, these are refused for good; the
    /// batch's other members go back to the pool, still pending.
    Complete { uploaded: Vec<(Uuid, String)>, rejected: Vec<(Uuid, String)> },
    /// Give the batch up and send its members as two halves (400 or 413 on several reviews).
    Split { reason: String, shrink_batches: bool },
    /// The batch holds one review and the platform refuses it whole: that review is rejected.
    RejectOnly { review: Uuid, reason: String },
    /// Give the batch up and batch its members again under a new key (409).
    Rekey(String),
    /// Send the same batch (same key, same body) again later.
    Retry { after: Duration, error: String, auth_refused: bool },
}

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    /// How long to wait after the platform refused the token.
    pub auth_retry: Duration,
}

impl RetryPolicy {
    /// Exponential backoff with full jitter: uniform in [0, min(cap, base × 2^failures)], never
    /// below a quarter of a second so that a broken server is not hammered.
    pub fn backoff(&self, failures: u32, unit_random: f64) -> Duration {
        let ceiling = self.base.saturating_mul(2u32.saturating_pow(failures.min(30))).min(self.cap);
        ceiling.mul_f64(unit_random.clamp(0.0, 1.0)).max(Duration::from_millis(250).min(ceiling))
    }
}

/// Decides what to do with a batch after one send. `failures` counts consecutive failed sends
/// before this one; `unit_random` is in [0, 1) (the jitter).
pub fn plan(members: &[Uuid], outcome: Outcome, failures: u32, policy: &RetryPolicy, unit_random: f64) -> Action {
    let retry =
        |error: String| Action::Retry { after: policy.backoff(failures, unit_random), error, auth_refused: false };
    match outcome {
        Outcome::Answered(response) => {
            let mut uploaded = Vec::new();
            let mut rejected = Vec::new();
            for result in response.results {
                let Ok(id) = Uuid::parse_str(&result.client_review_id) else { continue };
                if !members.contains(&id) {
                    continue;
                }
                match result.status {
                    ResultStatus::Accepted | ResultStatus::Duplicate => {
                        uploaded.push((id, result.review_id.unwrap_or_default()));
                    }
                    // Only a final refusal takes a review out of the outbox; a retryable one
                    // goes back to the pool.
                    ResultStatus::Rejected if result.retryable == Some(false) => {
                        let reason = match result.error {
                            Some(e) => format!("{} ({})", e.message, e.code),
                            None => "refusé par la plateforme, sans motif".to_string(),
                        };
                        rejected.push((id, reason));
                    }
                    ResultStatus::Rejected => {}
                }
            }
            if uploaded.is_empty() && rejected.is_empty() && !members.is_empty() {
                return retry("la plateforme a répondu sans résultat pour les avis envoyés".to_string());
            }
            Action::Complete { uploaded, rejected }
        }
        Outcome::BadRequest(message) => match members {
            [only] => Action::RejectOnly { review: *only, reason: format!("{message} (BAD_REQUEST)") },
            _ => Action::Split { reason: format!("lot refusé comme mal formé : {message}"), shrink_batches: false },
        },
        Outcome::TooLarge => match members {
            [only] => Action::RejectOnly {
                review: *only,
                reason: "avis trop volumineux pour la plateforme (PAYLOAD_TOO_LARGE)".to_string(),
            },
            _ => Action::Split { reason: "lot trop volumineux pour la plateforme".to_string(), shrink_batches: true },
        },
        Outcome::AuthRefused(message) => Action::Retry { after: policy.auth_retry, error: message, auth_refused: true },
        Outcome::Conflict(message) => Action::Rekey(message),
        Outcome::SlowDown { retry_after, message } => {
            let backoff = policy.backoff(failures, unit_random);
            Action::Retry {
                after: retry_after.map_or(backoff, |ra| ra.max(backoff)),
                error: message,
                auth_refused: false,
            }
        }
        Outcome::Transient(message) => retry(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use borne_model::wire::{ErrorBody, ReviewResult};

    const POLICY: RetryPolicy = RetryPolicy {
        base: Duration::from_secs(2),
        cap: Duration::from_secs(1800),
        auth_retry: Duration::from_secs(3600),
    };

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::now_v7()).collect()
    }

    fn result(id: Uuid, status: ResultStatus, retryable: Option<bool>) -> ReviewResult {
        ReviewResult {
            client_review_id: id.to_string(),
            status,
            review_id: matches!(status, ResultStatus::Accepted | ResultStatus::Duplicate).then(|| format!("r-{id}")),
            retryable,
            error: (status == ResultStatus::Rejected).then(|| ErrorBody {
                message: "answer_item_id 4 is not valid".into(),
                code: "BAD_REQUEST".into(),
                issues: None,
            }),
        }
    }

    #[test]
    fn answered_batch_marks_each_review_by_its_result() {
        let m = ids(5);
        let response = BatchResponse {
            results: vec![
                result(m[0], ResultStatus::Accepted, None),
                result(m[1], ResultStatus::Duplicate, None),
                result(m[2], ResultStatus::Rejected, Some(false)),
                result(m[3], ResultStatus::Rejected, Some(true)),
                result(Uuid::now_v7(), ResultStatus::Accepted, None),
            ],
        };
        let Action::Complete { uploaded, rejected } = plan(&m, Outcome::Answered(response), 0, &POLICY, 0.5) else {
            panic!("expected Complete")
        };
        assert_eq!(uploaded.iter().map(|u| u.0).collect::<Vec<_>>(), vec![m[0], m[1]]);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].0, m[2]);
        assert!(rejected[0].1.contains("answer_item_id 4"));
    }

    #[test]
    fn empty_answer_is_retried_not_looped() {
        let m = ids(2);
        let action = plan(&m, Outcome::Answered(BatchResponse { results: vec![] }), 3, &POLICY, 0.5);
        assert!(matches!(action, Action::Retry { auth_refused: false, .. }));
    }

    #[test]
    fn bad_request_bisects_down_to_one_review() {
        assert!(matches!(
            plan(&ids(4), Outcome::BadRequest("x".into()), 0, &POLICY, 0.1),
            Action::Split { shrink_batches: false, .. }
        ));
        let one = ids(1);
        assert_eq!(
            plan(&one, Outcome::BadRequest("bad verbatim".into()), 0, &POLICY, 0.1),
            Action::RejectOnly { review: one[0], reason: "bad verbatim (BAD_REQUEST)".into() }
        );
        assert!(matches!(
            plan(&ids(4), Outcome::TooLarge, 0, &POLICY, 0.1),
            Action::Split { shrink_batches: true, .. }
        ));
        assert!(matches!(plan(&ids(1), Outcome::TooLarge, 0, &POLICY, 0.1), Action::RejectOnly { .. }));
    }

    #[test]
    fn auth_conflict_and_slow_down() {
        assert_eq!(
            plan(&ids(2), Outcome::AuthRefused("jeton refusé".into()), 9, &POLICY, 0.9),
            Action::Retry { after: Duration::from_secs(3600), error: "jeton refusé".into(), auth_refused: true }
        );
        assert!(matches!(plan(&ids(2), Outcome::Conflict("409".into()), 0, &POLICY, 0.1), Action::Rekey(_)));
        let slow = Outcome::SlowDown { retry_after: Some(Duration::from_secs(120)), message: "429".into() };
        let Action::Retry { after, .. } = plan(&ids(2), slow, 0, &POLICY, 0.99) else { panic!() };
        assert_eq!(after, Duration::from_secs(120), "Retry-After wins over a shorter backoff");
    }

    #[test]
    fn backoff_is_exponential_jittered_and_capped() {
        assert_eq!(POLICY.backoff(0, 1.0), Duration::from_secs(2));
        assert_eq!(POLICY.backoff(3, 1.0), Duration::from_secs(16));
        assert_eq!(POLICY.backoff(3, 0.5), Duration::from_secs(8));
        assert_eq!(POLICY.backoff(30, 1.0), Duration::from_secs(1800));
        assert_eq!(POLICY.backoff(u32::MAX, 1.0), Duration::from_secs(1800));
        assert_eq!(POLICY.backoff(5, 0.0), Duration::from_millis(250));
    }
}
