//! The devices' interfaces and the types they share: what each backend (Pi or simulated)
//! implements, and which button a pin is.

use crate::config::AccessibilityConfig;
pub use crate::config::ButtonPins;
use borne_model::review::Satisfaction;
use std::time::Instant;

/// Why a device backend could not start.
#[derive(Debug, thiserror::Error)]
pub enum HwError {
    #[error("pas de GPIO de Raspberry Pi sur cette machine ({0})")]
    NoPi(String),
    #[error("broche GPIO {pin} indisponible ({detail})")]
    PinBusy { pin: u8, detail: String },
    #[error("écran SPI {device} : {detail}")]
    Spi { device: String, detail: String },
    #[error("rétroéclairage {path} : {detail}")]
    Backlight { path: String, detail: String },
}

/// A physical button: one per smiley, and the speech mode's (EN 301 549 5.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Smiley(Satisfaction),
    /// Start speech, say the screen again (on the home screen: the next language).
    Speak,
    VolumeUp,
    VolumeDown,
}

/// Called from any thread with each debounced press.
pub type OnPress = Box<dyn Fn(Key) + Send + Sync>;
/// Called from any thread with a switch's new state (true: closed).
pub type OnSwitch = Box<dyn Fn(bool) + Send + Sync>;
/// Called from any thread with each detected presence.
pub type OnPresence = Box<dyn Fn() + Send + Sync>;

/// Arcade buttons: one per smiley (a press goes through the path of a tap on it), and the
/// speech mode's.
pub trait Buttons: Send {
    /// Starts reporting presses (from an interrupt thread, or the caller's for the simulation).
    fn start(&mut self, on_press: OnPress) -> Result<(), HwError>;
}

/// A PIR presence sensor, by interrupt (no polling loop).
pub trait Presence: Send {
    fn start(&mut self, on_presence: OnPresence) -> Result<(), HwError>;
}

/// A switch whose both edges matter: the headset socket's plug detection.
pub trait Switch: Send {
    fn start(&mut self, on_change: OnSwitch) -> Result<(), HwError>;
}

/// The status LED.
pub trait StatusLed: Send {
    fn set(&mut self, lit: bool);
}

/// The screen's backlight.
pub trait Backlight: Send {
    /// Sets the brightness in percent of the maximum (0: off).
    fn set_percent(&mut self, percent: u8) -> Result<(), HwError>;
}

/// The devices present, each optional.
#[derive(Default)]
pub struct Devices {
    pub buttons: Option<Box<dyn Buttons>>,
    pub presence: Option<Box<dyn Presence>>,
    pub led: Option<Box<dyn StatusLed>>,
    pub backlight: Option<Box<dyn Backlight>>,
    pub headset: Option<Box<dyn Switch>>,
}

/// The buttons wired, pin by pin: the smileys' (`hardware.buttons`) and the speech mode's
/// (`accessibility`).
pub fn keys(buttons: Option<ButtonPins>, access: &AccessibilityConfig) -> Vec<(u8, Key)> {
    let smileys = [Satisfaction::Bad, Satisfaction::Medium, Satisfaction::Good].map(Key::Smiley);
    let mut keys: Vec<(u8, Key)> = buttons.iter().flat_map(|b| b.0.into_iter().zip(smileys)).collect();
    keys.extend(access.speak_pin.map(|p| (p, Key::Speak)));
    keys.extend(access.volume_up_pin.map(|p| (p, Key::VolumeUp)));
    keys.extend(access.volume_down_pin.map(|p| (p, Key::VolumeDown)));
    keys
}

/// The button on `pin`, if any.
pub fn key_of(keys: &[(u8, Key)], pin: u8) -> Option<Key> {
    keys.iter().find(|(p, _)| *p == pin).map(|(_, k)| *k)
}

/// An edge seen on an input pin: its new level (true: active) and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub pin: u8,
    pub active: bool,
    pub at: Instant,
}
