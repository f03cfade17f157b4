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

pub mod agent;

use crate::config::UpdateConfig;
use crate::hours::OpeningHours;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// What the update server publishes next to the bundles: `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The version of the system in the bundle (`/etc/borne-release` once installed).
    pub version: String,
    /// The bundle's file name, next to the manifest.
    pub bundle: String,
    /// SHA-256 of the bundle, hexadecimal: a truncated download is never handed to RAUC.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl Manifest {
    /// Parses and checks a manifest; the error says what is wrong, in French.
    pub fn parse(body: &[u8]) -> Result<Manifest, String> {
        let manifest: Manifest = serde_json::from_slice(body).map_err(|e| format!("manifest.json illisible : {e}"))?;
        let version_ok = !manifest.version.is_empty()
            && manifest.version.len() <= 64
            && manifest.version.chars().all(|c| c.is_ascii_alphanumeric() || "._+~-".contains(c));
        if !version_ok {
            return Err(format!("manifest.json : version « {} » invalide", manifest.version));
        }
        let name_ok = manifest.bundle.ends_with(".raucb")
            && !manifest.bundle.starts_with('.')
            && manifest.bundle.chars().all(|c| c.is_ascii_alphanumeric() || "._+~-".contains(c));
        if !name_ok {
            return Err(format!("manifest.json : nom de paquet « {} » invalide (un fichier .raucb)", manifest.bundle));
        }
        if manifest.sha256.len() != 64 || !manifest.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("manifest.json : sha256 invalide (64 chiffres hexadécimaux)".into());
        }
        if manifest.size == 0 {
            return Err("manifest.json : taille nulle".into());
        }
        Ok(manifest)
    }
}

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
    /// Outside the night window.
    OutsideWindow,
    /// Inside the window but the site is open (opening hours).
    Open,
    /// An installed version waits for its trial boot.
    Pending,
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
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
