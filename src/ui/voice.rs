//! The speech mode's state and vocabulary: its buttons, what they go through on a screen,
//! and what to say after an input. Its behaviour on the window is `speech`.

use crate::kiosk::speech::Volume;
use borne_model::review::Satisfaction;
use std::time::Instant;

/// A button of the speech mode, or the headset socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechKey {
    /// Start speech; say the screen again; on the home screen, the next language.
    Speak,
    Previous,
    Activate,
    Next,
    VolumeUp,
    VolumeDown,
    /// A headset was plugged in (true) or out (false).
    Headset(bool),
}

/// What the buttons go through on a screen, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Item(i64),
    Next,
    Skip,
    Send,
}

pub struct Voice {
    pub active: bool,
    pub focus: usize,
    pub volume: Volume,
    pub last_input: Instant,
}

/// What to say after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    /// The whole screen, ending on the target with the focus.
    Screen,
    Chosen(Satisfaction),
    Focus,
    Volume,
}
