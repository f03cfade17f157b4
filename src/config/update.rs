//! `[update]`: where the kiosk looks for new versions of its system, and when it may install
//! them (the installing itself: `crate::update`).

use super::check::{Invalid, invalid};
use super::raw::RawUpdate;
use crate::hours::parse_day;
use chrono::NaiveTime;
use std::time::Duration;

/// Updates in the field; present only when enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateConfig {
    /// Where `manifest.json` and the bundles are, ending with « / ».
    pub url: String,
    /// The nightly span when an update may be installed (start, end, within one day).
    pub window: (NaiveTime, NaiveTime),
    /// How long a new version has, after its first boot, to reach READY and commit a probe.
    pub confirm_timeout: Duration,
}

pub(super) fn validate_update(raw: RawUpdate) -> Result<Option<UpdateConfig>, Invalid> {
    if !raw.enabled.unwrap_or(false) {
        return Ok(None);
    }
    let Some(url) = raw.url else {
        return Err(invalid("update.url", "requis quand update.enabled = true"));
    };
    let url = url.trim().to_string();
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(char::is_whitespace) {
        return Err(invalid(
            "update.url",
            format!(
                "« {url} » : adresse http:// ou https:// attendue (les paquets sont signés, l'adresse peut être en clair)"
            ),
        ));
    }
    let url = if url.ends_with('/') { url } else { format!("{url}/") };
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
    Ok(Some(UpdateConfig { url, window, confirm_timeout: Duration::from_secs(confirm) }))
}
