//! Speech for visitors who cannot see the screen (EN 301 549 5.1.3): what is handed to a
//! speaker, and the speakers that need no device. The words come from the window's own texts
//! (`ui`); the voice itself is a part of its own (`speech`).

use std::cell::RefCell;

/// One thing to say: its words, their language (a kiosk language code) and the volume, in
/// percent of the voice's full scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utterance {
    pub text: String,
    pub language: String,
    pub volume: u8,
}

/// Speaks. `say` interrupts whatever was being said; neither call waits for the voice.
pub trait Speaker {
    fn say(&self, utterance: Utterance);
    /// Silence now (the visitor acted, unplugged the headset, or the visit ended).
    fn stop(&self);
    /// A sentence for the administration panel: the voice, the output, or why there is none.
    fn describe(&self) -> String;
}

/// A kiosk without speech (`accessibility.speech = false`).
pub struct Silent;

impl Speaker for Silent {
    fn say(&self, _: Utterance) {}
    fn stop(&self) {}
    fn describe(&self) -> String {
        "désactivée (accessibility.speech)".into()
    }
}

/// Keeps what was said, in order, with the silences asked for: `borne speech` and the tests
/// read it.
#[derive(Debug, Default)]
pub struct Transcript {
    said: RefCell<Vec<Said>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Words(Utterance),
    Stop,
}

impl Transcript {
    /// Everything said since the last call, leaving the transcript empty.
    pub fn take(&self) -> Vec<Utterance> {
        self.said
            .take()
            .into_iter()
            .filter_map(|s| match s {
                Said::Words(u) => Some(u),
                Said::Stop => None,
            })
            .collect()
    }

    /// Everything said and every silence since the last call.
    pub fn take_all(&self) -> Vec<Said> {
        self.said.take()
    }
}

impl Speaker for Transcript {
    fn say(&self, utterance: Utterance) {
        self.said.borrow_mut().push(Said::Words(utterance));
    }
    fn stop(&self) {
        self.said.borrow_mut().push(Said::Stop);
    }
    fn describe(&self) -> String {
        "transcription (sans voix)".into()
    }
}

/// The volume of one visit: it starts at the site's level and goes back to it after each visit
/// (EN 301 549 5.1.3.12), within 10–100 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Volume {
    pub level: u8,
    pub start: u8,
    pub step: u8,
}

impl Volume {
    pub const MIN: u8 = 10;
    pub const MAX: u8 = 100;

    pub fn new(start: u8, step: u8) -> Volume {
        let start = start.clamp(Volume::MIN, Volume::MAX);
        Volume { level: start, start, step }
    }

    pub fn up(&mut self) {
        self.level = self.level.saturating_add(self.step).min(Volume::MAX);
    }

    pub fn down(&mut self) {
        self.level = self.level.saturating_sub(self.step).max(Volume::MIN);
    }

    pub fn reset(&mut self) {
        self.level = self.start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_stays_within_bounds_and_returns_to_the_sites_level() {
        let mut v = Volume::new(60, 15);
        v.up();
        assert_eq!(v.level, 75);
        v.up();
        v.up();
        v.up();
        assert_eq!(v.level, 100, "never above full scale");
        for _ in 0..10 {
            v.down();
        }
        assert_eq!(v.level, 10, "never silent");
        v.reset();
        assert_eq!(v.level, 60);
    }

    #[test]
    fn a_transcript_gives_back_what_was_said_once() {
        let t = Transcript::default();
        t.say(Utterance { text: "Bonjour".into(), language: "fr".into(), volume: 60 });
        t.stop();
        assert_eq!(t.take().iter().map(|u| u.text.as_str()).collect::<Vec<_>>(), ["Bonjour"]);
        assert!(t.take_all().is_empty());
    }
}
