//! System updates rolled out in rings (contract 1.2, `GET /v1/update`): the releases a network
//! may install, each rollout of one to a network or a site, and the ring each kiosk was put in
//! when it began. The decisions (ring sizes, when a ring is confirmed, when a rollout halts) are
//! `crate::rollout`'s; the engines only keep the facts.

use super::alerting::NewMail;
use super::model::Result;
use super::surveys::SurveyScope;
use chrono::{DateTime, Utc};
use std::future::Future;

/// A signed RAUC bundle on the network's server, known by its address, digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub version: String,
    pub bundle_url: String,
    pub sha256: String,
    pub size: i64,
    pub added_by: String,
    pub added_at: DateTime<Utc>,
}

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutState {
    /// Its current ring is offered the version and watched.
    Running,
    /// Stopped by itself (a ring failed to confirm) or by a manager: nothing more is offered.
    Halted,
    /// Every ring confirmed: every kiosk of the scope is offered the version.
    Done,
    /// Ended by a manager for good.
    Stopped,
}

impl RolloutState {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Running => "running",
            RolloutState::Halted => "halted",
            RolloutState::Done => "done",
            RolloutState::Stopped => "stopped",
        }
    }

    pub fn parse(text: &str) -> RolloutState {
        match text {
            "running" => RolloutState::Running,
            "done" => RolloutState::Done,
            "stopped" => RolloutState::Stopped,
            _ => RolloutState::Halted,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RolloutState::Running => "en cours",
            RolloutState::Halted => "arrêté",
            RolloutState::Done => "terminé",
            RolloutState::Stopped => "abandonné",
        }
    }
}

/// One rollout, with its kiosks and their rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    pub id: i64,
    pub scope: SurveyScope,
    pub version: String,
    /// As the manager wrote them: « 1,10%,100% ».
    pub rings: String,
    /// How long a ring has to confirm, in seconds.
    pub wait_s: i64,
    pub state: RolloutState,
    /// The current ring, from 0.
    pub ring: i64,
    pub ring_started_at: DateTime<Utc>,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it halted or stopped, or who resumed it (French).
    pub reason: Option<String>,
    /// (kiosk, ring), in ring order.
    pub members: Vec<(String, i64)>,
}

/// A rollout to begin.
#[derive(Debug, Clone)]
pub struct NewRollout {
    pub scope: SurveyScope,
    pub version: String,
    pub rings: String,
    pub wait_s: i64,
    pub by: String,
    pub members: Vec<(String, i64)>,
}

/// A change of a running or halted rollout, made only if it is still at `from_ring` in
/// `from_state` (two instances deciding at once change it once).
#[derive(Debug, Clone)]
pub struct RolloutStep {
    pub from_state: RolloutState,
    pub from_ring: i64,
    pub state: RolloutState,
    pub ring: i64,
    pub reason: Option<String>,
}

/// What each engine implements for rollouts.
pub trait Rollouts {
    /// Adds a release; refused when its version is known.
    fn add_release(&self, release: Release) -> impl Future<Output = Result<()>> + Send;
    /// Every release, newest added first.
    fn releases(&self) -> impl Future<Output = Result<Vec<Release>>> + Send;
    /// Begins a rollout at ring 0; returns its id.
    fn start_rollout(&self, rollout: NewRollout, now: DateTime<Utc>) -> impl Future<Output = Result<i64>> + Send;
    /// Every rollout with its kiosks, newest first.
    fn rollouts(&self) -> impl Future<Output = Result<Vec<Rollout>>> + Send;
    /// Applies a step and queues `mails` with it, in one transaction; `false` (and no mail)
    /// when the rollout was no longer where the step expected it.
    fn step_rollout(
        &self,
        id: i64,
        step: RolloutStep,
        mails: Vec<NewMail>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// The release offered now to `device` of `site`: the newest rollout covering the site that
    /// is done, or running with the kiosk in a ring already reached.
    fn offered_release(&self, device: String, site: String) -> impl Future<Output = Result<Option<Release>>> + Send;
}
