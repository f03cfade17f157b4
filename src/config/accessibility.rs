//! `[accessibility]`: the speech mode for visitors who cannot see the screen (EN 301 549
//! 5.1.3): its audio output, its volume, and the buttons and headset socket that start it.

use super::check::{Invalid, bcm_pin, invalid, repeats};
use super::raw::RawAccessibility;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessibilityConfig {
    /// Whether a visitor can start speech at all.
    pub speech: bool,
    /// The ALSA device the voice is played on (`aplay -D`).
    pub audio_device: String,
    /// The volume each visit starts at, in percent of the voice's full scale.
    pub volume: u8,
    /// How much a volume button changes it, in percent.
    pub volume_step: u8,
    /// Words per minute.
    pub speed: u16,
    pub speak_pin: Option<u8>,
    pub volume_up_pin: Option<u8>,
    pub volume_down_pin: Option<u8>,
    /// The headset socket's switch, closed to ground while a plug is in.
    pub headset_pin: Option<u8>,
}

impl AccessibilityConfig {
    /// The pins this section takes, to check no other device uses them.
    pub fn pins(&self) -> impl Iterator<Item = u8> {
        [self.speak_pin, self.volume_up_pin, self.volume_down_pin, self.headset_pin].into_iter().flatten()
    }
}

pub(super) fn validate_accessibility(raw: RawAccessibility) -> Result<AccessibilityConfig, Invalid> {
    let audio_device = raw.audio_device.unwrap_or_else(|| "default".to_string());
    if audio_device.trim().is_empty() || audio_device.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid("accessibility.audio_device", "un nom de périphérique ALSA, par exemple « default »"));
    }
    let volume = raw.volume.unwrap_or(60);
    if !(10..=100).contains(&volume) {
        return Err(invalid("accessibility.volume", "de 10 à 100 %"));
    }
    let volume_step = raw.volume_step.unwrap_or(10);
    if !(1..=50).contains(&volume_step) {
        return Err(invalid("accessibility.volume_step", "de 1 à 50 %"));
    }
    let speed = raw.speed.unwrap_or(150);
    if !(80..=450).contains(&speed) {
        return Err(invalid("accessibility.speed", "de 80 à 450 mots par minute"));
    }
    let pin = |key: &str, pin: Option<u8>| pin.map(|p| bcm_pin(&format!("accessibility.{key}"), p)).transpose();
    let cfg = AccessibilityConfig {
        speech: raw.speech.unwrap_or(true),
        audio_device,
        volume,
        volume_step,
        speed,
        speak_pin: pin("speak_pin", raw.speak_pin)?,
        volume_up_pin: pin("volume_up_pin", raw.volume_up_pin)?,
        volume_down_pin: pin("volume_down_pin", raw.volume_down_pin)?,
        headset_pin: pin("headset_pin", raw.headset_pin)?,
    };
    if repeats(cfg.pins()) {
        return Err(invalid("accessibility", "une même broche sert à deux appareils"));
    }
    Ok(cfg)
}
