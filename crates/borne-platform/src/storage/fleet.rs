//! The front's part for system rollouts (kept apart from `mod.rs`, which is read whole): each
//! method dispatches to the engine's `Rollouts`.

use super::Storage;
use super::alerting::NewMail;
use super::model::Result;
use super::rollouts::{NewRollout, Release, Rollout, RolloutStep, Rollouts};
use chrono::{DateTime, Utc};

impl Storage {
    /// Adds a release; refused when its version is known.
    pub async fn add_release(&self, release: Release) -> Result<()> {
        on_engine!(self, s => s.add_release(release).await)
    }

    /// Every release, newest added first.
    pub async fn releases(&self) -> Result<Vec<Release>> {
        on_engine!(self, s => s.releases().await)
    }

    /// Begins a rollout at its first ring (checked by `crate::rollout::start`).
    pub async fn start_rollout(&self, rollout: NewRollout, now: DateTime<Utc>) -> Result<i64> {
        on_engine!(self, s => s.start_rollout(rollout, now).await)
    }

    /// Every rollout with its kiosks and their rings, newest first.
    pub async fn rollouts(&self) -> Result<Vec<Rollout>> {
        on_engine!(self, s => s.rollouts().await)
    }

    /// Applies a step, with the mails it sends, if the rollout is still where the step expects it.
    pub async fn step_rollout(
        &self,
        id: i64,
        step: RolloutStep,
        mails: Vec<NewMail>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        on_engine!(self, s => s.step_rollout(id, step, mails, now).await)
    }

    /// The release offered now to `device` of `site`, if any.
    pub async fn offered_release(&self, device: &str, site: &str) -> Result<Option<Release>> {
        let (device, site) = (device.to_string(), site.to_string());
        on_engine!(self, s => s.offered_release(device, site).await)
    }
}
