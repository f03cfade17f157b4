//! The speech mode on the window (EN 301 549 5.1.3): what the speak, volume and smiley buttons
//! do while it is on, which target has the focus, and the words said, taken from the window's
//! own translated texts (`ui/speech.slint`) so the voice says what the screen shows, in the
//! visitor's language.
//!
//! Started by the speak button or a headset plugged in; ended, and the volume set back to the
//! site's level, when the visit ends. While it is on, the three smiley buttons browse the
//! follow-up's choices and the comment's buttons (left: previous, middle: choose, right:
//! next); on the home screen they rate, as always. Every press silences what was being said,
//! then says what it did; the speak button says the screen again (on the home screen: the next
//! language).

use super::voice::{Announce, SpeechKey, Target};
use super::{Input, Kiosk, Known, Overlay, Screen, Spoken, State};
use crate::kiosk::flow::{self, Event};
use crate::kiosk::speech::{Speaker, Utterance};
use borne_model::review::{AnswerKind, Satisfaction};
use slint::ComponentHandle;
use std::time::Instant;

/// What the visitor was shown before an input, to tell what changed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Seen {
    screen: Screen,
    flow: flow::Screen,
    language: String,
}

impl State {
    pub(super) fn seen(&self) -> Seen {
        Seen { screen: self.shown_screen(), flow: self.flow.screen().clone(), language: self.flow.language().into() }
    }

    /// The smiley buttons browse while speech is on, except on the home screen where they rate.
    pub(super) fn speech_input(&self, input: Input) -> Input {
        let browsing = self.voice.active
            && self.overlay == Overlay::None
            && matches!(self.flow.screen(), flow::Screen::FollowUp(_) | flow::Screen::Comment);
        match input {
            Input::Rate(n) if browsing => Input::Speech(match n {
                1 => SpeechKey::Previous,
                2 => SpeechKey::Activate,
                _ => SpeechKey::Next,
            }),
            other => other,
        }
    }

    pub(super) fn targets(&self) -> Vec<Target> {
        match (self.overlay, self.flow.screen()) {
            (Overlay::None, flow::Screen::FollowUp(_)) => {
                let items = self.flow.current_question().map(|q| q.items.iter().map(|i| Target::Item(i.id)).collect());
                let mut targets: Vec<Target> = items.unwrap_or_default();
                targets.extend([Target::Next, Target::Skip]);
                targets
            }
            (Overlay::None, flow::Screen::Comment) => vec![Target::Send, Target::Skip],
            _ => Vec::new(),
        }
    }

    fn focused(&self) -> Option<Target> {
        let targets = self.targets();
        targets.get(self.voice.focus.min(targets.len().saturating_sub(1))).copied()
    }

    /// Applies a speech key; returns the input it stands for, if any (« choose » on a target).
    pub(super) fn speech_key(&mut self, key: SpeechKey, now: Instant) -> Option<Input> {
        if !self.parts.accessibility.speech {
            return None;
        }
        self.voice.last_input = now;
        match key {
            SpeechKey::Speak | SpeechKey::Headset(true) if !self.voice.active => self.set_voice(true),
            SpeechKey::Speak if self.home() => {
                // On the home screen, the speak button goes through the languages.
                let languages = &self.parts.survey.languages;
                let at = languages.iter().position(|l| l == self.flow.language()).unwrap_or(0);
                if let Some(next) = languages.get((at + 1) % languages.len().max(1)).cloned() {
                    let effects = self.flow.handle(Event::Language(next), now);
                    self.run(effects, now);
                }
            }
            SpeechKey::Speak | SpeechKey::Headset(true) => {}
            SpeechKey::Headset(false) => self.set_voice(false),
            SpeechKey::Previous | SpeechKey::Next => {
                let count = self.targets().len().max(1);
                let step = if key == SpeechKey::Next { 1 } else { count - 1 };
                self.voice.focus = (self.voice.focus.min(count - 1) + step) % count;
            }
            SpeechKey::Activate => {
                return self.focused().map(|target| match target {
                    Target::Item(id) => Input::Toggle(id),
                    Target::Next => Input::Next,
                    Target::Skip => Input::Skip,
                    Target::Send => Input::Send,
                });
            }
            SpeechKey::VolumeUp => self.voice.volume.up(),
            SpeechKey::VolumeDown => self.voice.volume.down(),
        }
        None
    }

    /// Starts or ends the speech mode; either way at the first target and the site's volume.
    pub(super) fn set_voice(&mut self, active: bool) {
        if self.voice.active != active {
            tracing::info!(active, "speech mode");
        }
        self.voice.active = active;
        self.voice.focus = 0;
        self.voice.volume.reset();
    }

    /// What to say now that `input` was handled, seeing `before`; also ends the speech mode when
    /// the visit is over (back on the home screen).
    pub(super) fn announce(&mut self, before: &Seen, input: Option<&Input>) -> Vec<Announce> {
        let after = self.seen();
        if after.flow == flow::Screen::Home && before.flow != flow::Screen::Home {
            // The visit is over: the next visitor starts without speech, at the site's volume.
            self.set_voice(false);
        }
        if !self.voice.active {
            return Vec::new();
        }
        if after.screen != before.screen {
            self.voice.focus = 0;
        }
        match input {
            Some(Input::Speech(SpeechKey::Speak | SpeechKey::Headset(true))) => vec![Announce::Screen],
            Some(Input::Speech(SpeechKey::VolumeUp | SpeechKey::VolumeDown)) => vec![Announce::Volume],
            Some(Input::Speech(SpeechKey::Previous | SpeechKey::Next)) => vec![Announce::Focus],
            _ if after != *before => match input {
                Some(Input::Rate(n)) if before.screen == Screen::Home => {
                    match Satisfaction::from_item_id((*n).into()) {
                        Some(s) => vec![Announce::Chosen(s), Announce::Screen],
                        None => vec![Announce::Screen],
                    }
                }
                _ => vec![Announce::Screen],
            },
            Some(Input::Toggle(id)) => {
                if let Some(at) = self.targets().iter().position(|t| *t == Target::Item(*id)) {
                    self.voice.focus = at;
                }
                vec![Announce::Focus]
            }
            Some(Input::Speech(SpeechKey::Activate)) => vec![Announce::Focus],
            _ => Vec::new(),
        }
    }

    /// When the speech mode, left alone on the home screen, ends by itself.
    pub(super) fn voice_deadline(&self) -> Option<Instant> {
        (self.voice.active && self.home()).then(|| self.voice.last_input + self.parts.screen.timing.inactivity_timeout)
    }

    pub(super) fn voice_tick(&mut self, now: Instant) {
        if self.voice_deadline().is_some_and(|at| now >= at) {
            self.set_voice(false);
        }
    }
}

impl Kiosk {
    /// Says `what` (or, with nothing to say while speech is on, falls silent: the visitor acted).
    pub(super) fn speak(&self, what: &[Announce], acted: bool) {
        let st = self.state.borrow();
        let speaker = st.parts.speaker.clone();
        if what.is_empty() {
            if acted && st.parts.accessibility.speech {
                speaker.stop();
            }
            return;
        }
        let text = what.iter().map(|a| self.words(&st, *a)).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ");
        let utterance = Utterance { text, language: st.flow.language().into(), volume: st.voice.volume.level };
        drop(st);
        if utterance.text.is_empty() {
            speaker.stop();
        } else {
            speaker.say(utterance);
        }
    }

    fn words(&self, st: &State, what: Announce) -> String {
        let spoken = self.window.global::<Spoken>();
        match what {
            Announce::Chosen(s) => spoken.invoke_chosen(spoken.invoke_smiley(s.item_id() as i32)).into(),
            Announce::Volume => spoken.invoke_volume(st.voice.volume.level.into()).into(),
            Announce::Focus => self.focus_words(st),
            Announce::Screen => match st.shown_screen() {
                Screen::Home => spoken.invoke_home().into(),
                Screen::Languages => {
                    let names: Vec<&str> = st.parts.survey.languages.iter().map(|c| super::language_name(c)).collect();
                    format!("{}. {}. {}.", spoken.invoke_languages(), names.join(", "), spoken.invoke_back())
                }
                Screen::FollowUp => {
                    let Some(q) = st.flow.current_question() else { return String::new() };
                    let known = self.window.global::<Known>();
                    // A help question asked for one channel says that channel first, as shown above it.
                    let channel = st
                        .flow
                        .current_channel()
                        .map(|(_, label)| format!("{}. ", known.invoke_tr(label.as_str().into())))
                        .unwrap_or_default();
                    format!(
                        "{channel}{} {}. {} {}",
                        known.invoke_tr(q.label.as_str().into()),
                        spoken.invoke_how_many(q.kind == AnswerKind::Checkbox),
                        spoken.invoke_how_to_browse(),
                        self.focus_words(st)
                    )
                }
                Screen::Comment => {
                    format!("{} {} {}", spoken.invoke_comment(), spoken.invoke_how_to_browse(), self.focus_words(st))
                }
                Screen::Thanks => spoken.invoke_thanks().into(),
                Screen::OutOfService => spoken.invoke_out_of_service().into(),
                Screen::Closed => spoken.invoke_closed(self.window.get_closed_message()).into(),
                Screen::Saving | Screen::AdminPin | Screen::Admin => String::new(),
            },
        }
    }

    fn focus_words(&self, st: &State) -> String {
        let spoken = self.window.global::<Spoken>();
        match st.focused() {
            Some(Target::Item(id)) => {
                let Some(item) = st.flow.current_question().and_then(|q| q.item(id)) else { return String::new() };
                let label = self.window.global::<Known>().invoke_tr(item.text.as_str().into());
                spoken.invoke_choice(label, st.flow.ticked().contains(&id)).into()
            }
            Some(Target::Next) => format!("{}.", spoken.invoke_next()),
            Some(Target::Skip) => format!("{}.", spoken.invoke_skip()),
            Some(Target::Send) => format!("{}.", spoken.invoke_send()),
            None => String::new(),
        }
    }
}

/// What was said on each screen, in order: the screen's name and its utterances.
pub type Walked = Vec<(String, Vec<Utterance>)>;

/// Walks a fresh kiosk through every screen a visitor reaches with speech on, by the buttons
/// alone (speak, the three smileys, volume), in `language`, and returns what was said on each
/// screen, in order. `at` is called on each screen while it is shown; `advance` moves time on.
/// The kiosk's speaker must be `transcript`. `borne speech` and the tests walk this way.
pub fn walk_spoken(
    kiosk: &std::rc::Rc<Kiosk>,
    transcript: &crate::kiosk::speech::Transcript,
    language: &str,
    advance: &dyn Fn(std::time::Duration),
    at: &mut dyn FnMut(&str),
) -> Result<Walked, crate::store::StoreError> {
    use std::time::Duration;
    let press = |key: SpeechKey| kiosk.input(Input::Speech(key));
    let button = |n: i32| kiosk.input(Input::Rate(n));
    let mut screens: Vec<(String, Vec<Utterance>)> = Vec::new();
    let done = |name: &str, screens: &mut Vec<(String, Vec<Utterance>)>| {
        screens.push((name.to_string(), transcript.take()));
    };
    // Speech on, then the speak button until the visitor's language.
    let to_language = || {
        press(SpeechKey::Speak);
        let count = kiosk.state.borrow().parts.survey.languages.len();
        for _ in 0..count {
            if kiosk.state.borrow().flow.language() == language {
                break;
            }
            press(SpeechKey::Speak);
        }
        // Only the reading in the visitor's language belongs to the screen.
        let last = transcript.take().pop();
        if let Some(u) = last {
            transcript.say(u);
        }
    };
    let settle = || advance(Duration::from_secs(10));

    to_language();
    at("01-accueil");
    done("01-accueil", &mut screens);

    // « Pas bien » (left button): the follow-up. Choose the first choice, go through every
    // target, turn the volume up and down, then « Suivant ».
    button(1);
    at("02-question");
    press(SpeechKey::Activate);
    let count = kiosk.state.borrow().targets().len();
    for _ in 1..count {
        press(SpeechKey::Next);
    }
    press(SpeechKey::VolumeUp);
    press(SpeechKey::VolumeDown);
    press(SpeechKey::Speak);
    // From « Passer » (last), back to « Suivant » and choose it.
    press(SpeechKey::Previous);
    done("02-question", &mut screens);
    press(SpeechKey::Activate);
    // The comment: its reading, then each button, and « Envoyer ».
    at("03-commentaire");
    press(SpeechKey::Next);
    press(SpeechKey::Previous);
    done("03-commentaire", &mut screens);
    press(SpeechKey::Activate);
    at("04-merci");
    done("04-merci", &mut screens);
    settle();
    transcript.take();

    // The store cannot write: « hors service », said as shown.
    to_language();
    transcript.take();
    kiosk.with_store(|s| s.refuse_writes(true))?;
    button(3);
    transcript.take();
    press(SpeechKey::Activate);
    at("05-hors-service");
    done("05-hors-service", &mut screens);
    kiosk.with_store(|s| s.refuse_writes(false))?;
    settle();
    transcript.take();

    // Opening hours end while speech is on.
    to_language();
    transcript.take();
    kiosk.set_closed(true, "");
    at("06-ferme");
    done("06-ferme", &mut screens);
    kiosk.set_closed(false, "");
    settle();
    transcript.take();

    // A sighted companion opens the languages.
    to_language();
    transcript.take();
    kiosk.input(Input::OpenLanguages);
    at("07-langues");
    done("07-langues", &mut screens);
    kiosk.input(Input::CloseLanguages);
    // Left alone, speech ends by itself and the language goes back to French.
    advance(Duration::from_secs(60));
    transcript.take();
    Ok(screens)
}
