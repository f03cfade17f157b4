//! `[kiosk]`: who the kiosk is, its languages, and how the touchscreen behaves.

use super::check::{Invalid, invalid};
use super::raw::RawKiosk;
use super::upload::Secret;
use std::time::Duration;

/// Languages the kiosk's interface is translated into.
pub const SUPPORTED_LANGUAGES: [&str; 7] = ["fr", "en", "es", "de", "it", "pt", "ar"];

/// The identity the embedded configuration ships with: for demonstrations only.
pub const DEMO_DEVICE_ID: &str = "borne-demo-01";

/// The PIN the embedded configuration ships with; `borne config check` warns about it.
pub const DEFAULT_ADMIN_PIN: &str = "1234";

/// The visitor flow's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Taps on smileys this long after an accepted review are suppressed.
    pub response_interval: Duration,
    /// A visitor idle this long on a follow-up or the comment has walked away.
    pub inactivity_timeout: Duration,
    /// « Merci » stays this long.
    pub thanks_duration: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            response_interval: Duration::from_secs(5),
            inactivity_timeout: Duration::from_secs(30),
            thanks_duration: Duration::from_secs(4),
        }
    }
}

/// How the touchscreen behaves.
#[derive(Debug, Clone)]
pub struct ScreenConfig {
    /// Response interval, walk-away timeout and how long « Merci » stays.
    pub timing: Timing,
    /// Full screen with no cursor (the console backend is always full screen).
    pub fullscreen: bool,
    /// Show the site's 30-day result on the home screen (engagement 6).
    pub show_result: bool,
    /// The PIN of the on-screen administration panel.
    pub admin_pin: Secret,
}

pub(super) struct Identity {
    pub device_id: String,
    pub site_name: String,
}

pub(super) fn validate_identity(raw: &RawKiosk) -> Result<Identity, Invalid> {
    let device_id = raw.device_id.clone().unwrap_or_else(|| DEMO_DEVICE_ID.into());
    if device_id.is_empty()
        || device_id.len() > 64
        || !device_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(invalid(
            "kiosk.device_id",
            "1 à 64 caractères parmi lettres sans accent, chiffres, « - », « _ » et « . »",
        ));
    }
    let site_name = raw.site_name.clone().unwrap_or_else(|| "Accueil du public".into());
    if site_name.trim().is_empty() || site_name.chars().count() > 120 {
        return Err(invalid("kiosk.site_name", "un nom de 1 à 120 caractères"));
    }
    Ok(Identity { device_id, site_name })
}

pub(super) fn validate_languages(languages: Option<Vec<String>>) -> Result<Vec<String>, Invalid> {
    let languages = languages.unwrap_or_else(|| SUPPORTED_LANGUAGES.iter().map(|s| s.to_string()).collect());
    for (i, lang) in languages.iter().enumerate() {
        if !SUPPORTED_LANGUAGES.contains(&lang.as_str()) {
            return Err(invalid(
                format!("kiosk.languages[{i}]"),
                format!("langue « {lang} » non prise en charge (possibles : {})", SUPPORTED_LANGUAGES.join(", ")),
            ));
        }
        if languages[..i].contains(lang) {
            return Err(invalid(format!("kiosk.languages[{i}]"), format!("langue « {lang} » en double")));
        }
    }
    if !languages.iter().any(|l| l == "fr") {
        return Err(invalid("kiosk.languages", "le français (« fr ») est obligatoire : c'est la langue par défaut"));
    }
    Ok(languages)
}

pub(super) fn validate_screen(raw: &RawKiosk) -> Result<ScreenConfig, Invalid> {
    Ok(ScreenConfig {
        timing: validate_timing(raw)?,
        fullscreen: raw.fullscreen.unwrap_or(false),
        show_result: raw.show_result.unwrap_or(true),
        admin_pin: validate_admin_pin(raw.admin_pin.clone())?,
    })
}

fn validate_timing(raw: &RawKiosk) -> Result<Timing, Invalid> {
    let response_interval_s = raw.response_interval_s.unwrap_or(5);
    if response_interval_s > 600 {
        return Err(invalid("kiosk.response_interval_s", "au plus 600 secondes"));
    }
    let inactivity_timeout_s = raw.inactivity_timeout_s.unwrap_or(30);
    if !(10..=600).contains(&inactivity_timeout_s) {
        return Err(invalid("kiosk.inactivity_timeout_s", "entre 10 et 600 secondes"));
    }
    let thanks_duration_s = raw.thanks_duration_s.unwrap_or(4);
    if !(1..=30).contains(&thanks_duration_s) {
        return Err(invalid("kiosk.thanks_duration_s", "entre 1 et 30 secondes"));
    }
    Ok(Timing {
        response_interval: Duration::from_secs(response_interval_s),
        inactivity_timeout: Duration::from_secs(inactivity_timeout_s),
        thanks_duration: Duration::from_secs(thanks_duration_s),
    })
}

fn validate_admin_pin(pin: Option<String>) -> Result<Secret, Invalid> {
    let pin = pin.unwrap_or_else(|| DEFAULT_ADMIN_PIN.to_string());
    if !(4..=12).contains(&pin.len()) || !pin.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid("kiosk.admin_pin", "de 4 à 12 chiffres"));
    }
    Ok(Secret::new(pin))
}
