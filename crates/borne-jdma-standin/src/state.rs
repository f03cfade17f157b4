//! The stand-in's shared state: JDMA's tables, its clock, the limiter's memory store, and the
//! faults a test turned on.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The stand-in's clock: the real one, or an instant a test sets.
#[derive(Clone, Default)]
pub struct Clock(Arc<Mutex<Option<DateTime<Utc>>>>);

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).unwrap_or_else(Utc::now)
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(at);
    }
}

/// What the stand-in does besides JDMA's normal behaviour.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `LIMITER_ALLOWED_IPS`.
    pub allowed_ips: String,
    /// The limiter's `max` (JDMA: 5 per hour).
    pub max_creates: u32,
    /// Share of write calls committed, then left without an answer (the connection dropped).
    pub drop_rate: f64,
    /// Share of answers `review.create` fails to store while still answering success.
    pub lose_answer_rate: f64,
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { allowed_ips: String::new(), max_creates: 5, drop_rate: 0.0, lose_answer_rate: 0.0, seed: 1 }
    }
}

/// One call to `review.create`, as the limiter saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateCall {
    pub at: DateTime<Utc>,
    pub ip: String,
    pub blocked: bool,
}

pub(crate) struct Shared {
    pub(crate) db: Mutex<rusqlite::Connection>,
    pub(crate) clock: Clock,
    pub(crate) settings: Mutex<Settings>,
    pub(crate) rng: Mutex<fastrand::Rng>,
    /// The limiter's memory store: fingerprint → (hits, window's end).
    pub(crate) hits: Mutex<HashMap<String, (u32, DateTime<Utc>)>>,
    pub(crate) calls: Mutex<Vec<CreateCall>>,
    /// Faults that fired: answers dropped after committing, answers lost by `review.create`.
    pub(crate) dropped: std::sync::atomic::AtomicU32,
    pub(crate) lost: std::sync::atomic::AtomicU32,
}

/// What a handler decided: an answer, or committing and dropping the connection.
pub(crate) enum Verdict {
    Answer((StatusCode, Value)),
    Drop,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(crate) fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    pub(crate) fn chance(&self, rate: f64) -> bool {
        rate > 0.0 && lock(&self.rng).f64() < rate
    }

    /// A committed write's answer, or nothing (the connection dropped) at the configured rate.
    pub(crate) fn after_commit(&self, body: Value) -> Verdict {
        if self.chance(self.settings().drop_rate) {
            self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Verdict::Drop
        } else {
            Verdict::Answer((StatusCode::OK, body))
        }
    }
}
