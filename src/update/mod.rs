//! Updates of the whole system in the field: the decisions, pure and clock-free. The agent that
//! acts on them (HTTP, RAUC, systemd, reboots) is `agent`; the design is in ARCHITECTURE.md
//! (« Mises à jour »).
//!
//! A kiosk has two system slots, A and B (boot partition + read-only root each) and one data
//! partition that no update writes. The running slot installs a signed RAUC bundle into the
//! other, then reboots into it *once* (the Pi's tryboot). The new slot becomes the default only
//! when `confirm` has seen it reach READY and commit a probe to the review store; any other end
//! (a hang, a crash, a watchdog reset, a power cut, READY never reached) boots the old slot
//! again, which records the version as rejected so that it is not retried every night.
//!
//! Updates only go forward: a version is installed only when it is newer (as dpkg orders
//! versions) than the running one and than every version this kiosk ever confirmed, and the
//! version that counts is the one inside the signed bundle (`rauc info`), not the manifest's
//! word: someone on the site's network who serves an older signed bundle, under its own name or
//! another, is refused and the refusal is logged.

pub mod agent;

use crate::config::UpdateConfig;
use crate::hours::OpeningHours;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

pub use borne_model::release::{Manifest, newer};

/// A system slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Slot::A => "A",
            Slot::B => "B",
        }
    }

    /// The slot the kernel was booted from: `rauc.slot=A` on its command line.
    pub fn booted(cmdline: &str) -> Option<Slot> {
        match cmdline.split_whitespace().rev().find_map(|word| word.strip_prefix("rauc.slot="))? {
            "A" => Some(Slot::A),
            "B" => Some(Slot::B),
            _ => None,
        }
    }
}

/// A version installed in the other slot and not yet confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Pending {
    pub version: String,
    pub slot: Slot,
}

/// The agent's memory, on the data partition (`state.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct State {
    pub pending: Option<Pending>,
    /// The newest version this kiosk ever confirmed: nothing older is installed again, even
    /// once the slot that held it is overwritten.
    #[serde(default)]
    pub confirmed: Option<String>,
    /// Versions that failed their trial boot: not installed again.
    #[serde(default)]
    pub rejected: Vec<String>,
}

/// Why nothing is installed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// The offered version is the one running.
    UpToDate,
    /// The offered version failed its trial boot before.
    Rejected,
    /// The offered version is not newer than the running one or one confirmed before (or
    /// cannot be ordered): going back is refused.
    Older { newest: String },
    /// Outside the night window.
    OutsideWindow,
    /// Inside the window but the site is open (opening hours).
    Open,
    /// An installed version waits for its trial boot.
    Pending,
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Wait::Older { newest } = self {
            return write!(
                f,
                "version plus ancienne que la {newest} déjà en service sur cette borne (ou illisible) : \
                 un retour en arrière est refusé"
            );
        }
        f.write_str(match self {
            Wait::Older { .. } => unreachable!("written above"),
            Wait::UpToDate => "la borne a déjà cette version",
            Wait::Rejected => "cette version a déjà échoué sur cette borne : elle ne sera pas réinstallée",
            Wait::OutsideWindow => "hors de la plage d'installation de la nuit (update.window)",
            Wait::Open => "le lieu est ouvert (heures d'ouverture)",
            Wait::Pending => "une version installée attend son redémarrage d'essai",
        })
    }
}

/// Whether `offered` should be installed at local time `now`.
pub fn should_install(
    offered: &str,
    running: &str,
    state: &State,
    now: NaiveDateTime,
    config: &UpdateConfig,
    hours: &OpeningHours,
) -> Result<(), Wait> {
    if offered == running {
        return Err(Wait::UpToDate);
    }
    let newest = state.newest(running);
    if !newer(offered, &newest) {
        return Err(Wait::Older { newest });
    }
    if state.rejected.iter().any(|v| v == offered) {
        return Err(Wait::Rejected);
    }
    if state.pending.is_some() {
        return Err(Wait::Pending);
    }
    in_window(now, config, hours)
}

/// Inside the night window, and closed when the site has opening hours (a site without them,
/// or open around the clock, is never closed: the window alone decides, or it would never be
/// updated).
pub fn in_window(now: NaiveDateTime, config: &UpdateConfig, hours: &OpeningHours) -> Result<(), Wait> {
    let (from, to) = config.window;
    if now.time() < from || now.time() >= to {
        return Err(Wait::OutsideWindow);
    }
    if *hours != OpeningHours::always() && hours.is_open(now) {
        return Err(Wait::Open);
    }
    Ok(())
}

/// What the boot that just happened means for a pending update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterBoot {
    /// No update pending: an ordinary boot.
    Ordinary,
    /// Booted into the new version: confirm it or give it up.
    Trial(Pending),
    /// A new version was pending but the old slot booted: its trial failed (hang, crash, power
    /// cut, watchdog reset, or given up). It is rejected.
    FellBack(Pending),
}

pub fn after_boot(state: &State, booted: Slot) -> AfterBoot {
    match &state.pending {
        None => AfterBoot::Ordinary,
        Some(pending) if pending.slot == booted => AfterBoot::Trial(pending.clone()),
        Some(pending) => AfterBoot::FellBack(pending.clone()),
    }
}

impl State {
    /// The newest of the running version and the versions confirmed here.
    pub fn newest(&self, running: &str) -> String {
        match &self.confirmed {
            Some(confirmed) if newer(confirmed, running) => confirmed.clone(),
            _ => running.to_string(),
        }
    }

    /// The pending version passed its trial: it is kept, and nothing older comes back.
    pub fn confirm_pending(&mut self) {
        if let Some(pending) = self.pending.take() {
            let newest = self.newest(&pending.version);
            self.confirmed = Some(newest);
        }
    }

    /// The trial of the pending version failed: forget it, remember the version.
    pub fn reject_pending(&mut self) {
        if let Some(pending) = self.pending.take()
            && !self.rejected.contains(&pending.version)
        {
            self.rejected.push(pending.version);
        }
    }
}

#[cfg(test)]
mod tests;
