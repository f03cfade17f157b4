//! `[update]`: where the kiosk looks for new versions of its system, and when it may install
//! them (the installing itself: `crate::update`).

use super::check::{Invalid, invalid};
use super::raw::RawUpdate;
use crate::hours::parse_day;
use chrono::NaiveTime;
use std::time::Duration;

/// Where the kiosk learns which version to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateSource {
    /// A folder with `manifest.json` and the bundles, ending with « / ».
    Folder(String),
    /// The platform of `[upload]` (contract 1.2, `GET /v1/update`): the version its network
    /// rolls out to this kiosk, ring by ring.
    Platform,
}

/// Updates in the field; present only when enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateConfig {
    pub source: UpdateSource,
    /// The nightly span when an update may be installed (start, end, within one day).
    pub window: (NaiveTime, NaiveTime),
    /// How long a new version has, after its first boot, to reach READY and commit a probe.
    pub confirm_timeout: Duration,
}

/// `uploads`: whether `[upload]` is enabled (the platform is then known).
pub(super) fn validate_update(raw: RawUpdate, uploads: bool) -> Result<Option<UpdateConfig>, Invalid> {
    if !raw.enabled.unwrap_or(false) {
        return Ok(None);
    }
    let source = match (raw.url, raw.platform.unwrap_or(false)) {
        (Some(_), true) => {
            return Err(invalid("update.platform", "update.url ou update.platform = true, pas les deux"));
        }
        (None, true) if !uploads => {
            return Err(invalid(
                "update.platform",
                "la plateforme est celle de [upload], qui doit alors être activé (upload.enabled = true)",
            ));
        }
        (None, true) => UpdateSource::Platform,
        (None, false) => {
            return Err(invalid("update.url", "requis quand update.enabled = true (ou update.platform = true)"));
        }
        (Some(url), false) => UpdateSource::Folder(folder(url)?),
    };
    let window_text = raw.window.unwrap_or_else(|| "01:00-05:00".into());
    let window = match parse_day(&window_text).map(|day| day.0) {
        Ok(spans) if spans.len() == 1 => spans[0],
        _ => {
            return Err(invalid(
                "update.window",
                format!("« {window_text} » : une plage « HH:MM-HH:MM » attendue, par exemple « 01:00-05:00 »"),
            ));
        }
    };
    let confirm = raw.confirm_timeout_s.unwrap_or(600);
    if !(60..=3600).contains(&confirm) {
        return Err(invalid("update.confirm_timeout_s", "entre 60 et 3600 secondes"));
    }
    Ok(Some(UpdateConfig { source, window, confirm_timeout: Duration::from_secs(confirm) }))
}

fn folder(url: String) -> Result<String, Invalid> {
    let url = url.trim().to_string();
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(char::is_whitespace) {
        return Err(invalid(
            "update.url",
            format!(
                "« {url} » : adresse http:// ou https:// attendue (les paquets sont signés, l'adresse peut être en clair)"
            ),
        ));
    }
    Ok(if url.ends_with('/') { url } else { format!("{url}/") })
}
