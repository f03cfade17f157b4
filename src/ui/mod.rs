//! The visitor's touchscreen: the Slint window (`ui/*.slint`) driven by the visit's state
//! machine (`kiosk::flow`).
//!
//! The window shows; `Kiosk` decides. Every tap arrives as an `Input`, goes through the flow,
//! and the window is then set from the state. Nothing typed is kept anywhere but in the flow,
//! which wipes it at every reset. Time is read through `now` so tests can mock it, and the
//! single timer is armed only for the next deadline: an idle kiosk wakes up for nothing.

slint::include_modules!();

pub mod headless;
pub mod screenshots;
pub mod speech;
mod state;
pub mod voice;

pub use voice::SpeechKey;

use crate::clock::Clock;
use crate::config::{AccessibilityConfig, ScreenConfig};
use crate::kiosk::flow::{Effect, Event, Flow};
use crate::kiosk::speech::{Silent, Speaker, Volume};
use crate::kiosk::{self, flow};
use crate::store::{DayRange, Store};
use borne_model::indicators::{Band, Score, indicators};
use borne_model::review::{AnswerKind, Review, ReviewDraft, Satisfaction, Survey};
use slint::{ComponentHandle, Model, ModelRc, SharedString, VecModel};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

/// Taps in the hidden corner that open the PIN pad, and the time they must fit in.
pub const ADMIN_TAPS: usize = 5;
pub const ADMIN_TAPS_WITHIN: Duration = Duration::from_secs(3);
/// Wrong PINs before the pad locks, and for how long.
pub const PIN_ATTEMPTS: u32 = 3;
pub const PIN_LOCKOUT: Duration = Duration::from_secs(60);
/// The PIN pad and the admin panel close by themselves after this long untouched.
pub const ADMIN_IDLE: Duration = Duration::from_secs(60);
/// While out of service, how often the store is tried again.
pub const RECOVERY_PROBE: Duration = Duration::from_secs(5);
/// How often the home screen's result is recomputed when nobody rates (day changes, etc.).
pub const RESULT_REFRESH: Duration = Duration::from_secs(3600);
/// How often the home screen reads the manager's latest « on l'a fait » action again.
pub const ACTIONS_REFRESH: Duration = Duration::from_secs(300);
/// How often an idle home screen looks for a survey version the platform published.
pub const SURVEY_REFRESH: Duration = Duration::from_secs(30);
/// The languages written right to left, among those the kiosk offers.
pub const RTL_LANGUAGES: [&str; 1] = ["ar"];
/// Reviews kept in memory while the store cannot write, committed when it can again.
pub const HELD_MAX: usize = 1000;

/// The native names of the languages the kiosk offers.
pub fn language_name(code: &str) -> &'static str {
    match code {
        "fr" => "Français",
        "en" => "English",
        "es" => "Español",
        "de" => "Deutsch",
        "it" => "Italiano",
        "pt" => "Português",
        "ar" => "العربية",
        _ => "?",
    }
}

/// A tap (or key) from the window.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Rate(i32),
    OpenLanguages,
    ChooseLanguage(String),
    CloseLanguages,
    ToggleContrast,
    Toggle(i64),
    Next,
    Skip,
    Key(String),
    Backspace,
    Send,
    AdminTap,
    PinDigit(String),
    PinErase,
    PinSubmit,
    PinCancel,
    AdminClose,
    AdminQuit,
    /// A button of the speech mode, or the headset socket.
    Speech(SpeechKey),
}

/// The manager's status lines (label, value) for the administration panel.
pub type StatusLines = Box<dyn Fn(&Store) -> Vec<(String, String)>>;

/// What the touchscreen needs from the rest of the kiosk.
pub struct KioskParts {
    pub store: Store,
    /// The survey the screen starts with: its file's.
    pub survey: Survey,
    /// The file's survey, which a version the platform publishes overlays (contract 1.2).
    pub file_survey: FileSurvey,
    pub screen: ScreenConfig,
    pub min_reviews_for_score: u64,
    pub clock: Box<dyn Clock>,
    /// The monotonic time the flow runs on (mocked in tests).
    pub now: Rc<dyn Fn() -> Instant>,
    /// Called after each committed review (wakes the uploader).
    pub on_commit: Box<dyn Fn()>,
    /// The manager's status lines for the administration panel.
    pub admin_status: StatusLines,
    /// Called when the manager quits from the administration panel.
    pub on_quit: Box<dyn Fn()>,
    /// The voice of the speech mode.
    pub speaker: Rc<dyn Speaker>,
    pub accessibility: AccessibilityConfig,
}

/// The survey as the kiosk's file describes it, and the keys the site keeps from it.
#[derive(Debug, Clone)]
pub struct FileSurvey {
    pub survey: Survey,
    pub min_reviews_for_score: u64,
    pub keep_local: Vec<String>,
}

impl FileSurvey {
    pub fn of(config: &crate::config::Config) -> FileSurvey {
        FileSurvey {
            survey: config.survey.clone(),
            min_reviews_for_score: config.min_reviews_for_score,
            keep_local: config.survey_keep_local.clone(),
        }
    }
}

impl KioskParts {
    /// The parts for `config` on `store`, with hooks that do nothing (set them after).
    pub fn new(store: Store, config: &crate::config::Config, now: Rc<dyn Fn() -> Instant>) -> KioskParts {
        KioskParts {
            store,
            survey: config.survey.clone(),
            file_survey: FileSurvey::of(config),
            screen: config.screen.clone(),
            min_reviews_for_score: config.min_reviews_for_score,
            clock: Box::new(crate::clock::SystemClock { source: config.clock_source }),
            now,
            on_commit: Box::new(|| {}),
            admin_status: Box::new(|_| Vec::new()),
            on_quit: Box::new(|| {}),
            speaker: Rc::new(Silent),
            accessibility: config.accessibility.clone(),
        }
    }
}

/// Screens the flow does not know about: they sit on top of its home screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overlay {
    None,
    Languages,
    Pin,
    Admin,
}

struct State {
    parts: KioskParts,
    flow: Flow,
    overlay: Overlay,
    overlay_input: Instant,
    admin_taps: VecDeque<Instant>,
    pin: String,
    pin_failures: u32,
    pin_locked_until: Option<Instant>,
    pin_message: String,
    held: VecDeque<Review>,
    last_probe: Instant,
    result_at: Option<Instant>,
    result: Option<(u32, u64, Band)>,
    /// The latest « on l'a fait » action (day, text), read at `actions_at`.
    action: Option<(String, String)>,
    actions_at: Instant,
    /// The platform's survey version the screen runs (`None`: the file's), looked for at
    /// `survey_at`.
    survey_version: Option<u64>,
    survey_at: Instant,
    /// The question whose choices the window shows, to rebuild them only when it changes.
    shown_question: Option<(usize, Vec<i64>)>,
    /// The language the window's translations are set to.
    shown_language: String,
    voice: voice::Voice,
}

pub struct Kiosk {
    window: KioskWindow,
    state: RefCell<State>,
    timer: slint::Timer,
    now: Rc<dyn Fn() -> Instant>,
    /// Told of every tap after it was handled (the devices: a touch is a presence).
    on_input: RefCell<Option<Box<dyn Fn()>>>,
}

impl Kiosk {
    /// Builds the kiosk on a new window (the Slint platform must be set, or the default one is).
    pub fn new(parts: KioskParts) -> Result<Rc<Kiosk>, slint::PlatformError> {
        let window = KioskWindow::new()?;
        Ok(Kiosk::with_window(window, parts))
    }

    pub fn with_window(window: KioskWindow, parts: KioskParts) -> Rc<Kiosk> {
        let now = parts.now.clone();
        let t0 = now();
        let flow = Flow::new(parts.survey.clone(), parts.screen.timing, t0);
        window.global::<Theme>().set_kiosk(parts.screen.fullscreen);
        let languages: Vec<LanguageItem> = parts
            .survey
            .languages
            .iter()
            .map(|code| LanguageItem { code: code.into(), name: language_name(code).into() })
            .collect();
        window.set_languages(ModelRc::new(VecModel::from(languages)));
        window.set_comment_max(parts.survey.comment_max_chars.min(i32::MAX as usize) as i32);
        let volume = Volume::new(parts.accessibility.volume, parts.accessibility.volume_step);
        let state = State {
            voice: voice::Voice { active: false, focus: 0, volume, last_input: t0 },
            parts,
            flow,
            overlay: Overlay::None,
            overlay_input: t0,
            admin_taps: VecDeque::new(),
            pin: String::new(),
            pin_failures: 0,
            pin_locked_until: None,
            pin_message: String::new(),
            held: VecDeque::new(),
            last_probe: t0,
            result_at: None,
            result: None,
            action: None,
            actions_at: t0,
            survey_version: None,
            survey_at: t0,
            shown_question: None,
            shown_language: String::new(),
        };
        let kiosk = Rc::new(Kiosk {
            window,
            state: RefCell::new(state),
            timer: slint::Timer::default(),
            now,
            on_input: RefCell::new(None),
        });
        kiosk.connect();
        kiosk.state.borrow_mut().refresh_result(t0);
        kiosk.state.borrow_mut().refresh_action(t0);
        kiosk.state.borrow_mut().refresh_survey(t0);
        kiosk.render();
        kiosk.arm();
        kiosk
    }

    pub fn window(&self) -> &KioskWindow {
        &self.window
    }

    /// Feeds one tap, as the window's callbacks do.
    pub fn input(self: &Rc<Self>, input: Input) {
        let quit = self.change(|st, now| {
            let input = st.speech_input(input);
            (st.input(input.clone(), now), Some(input))
        });
        if let Some(on_input) = self.on_input.borrow().as_ref() {
            on_input();
        }
        if quit {
            (self.state.borrow().parts.on_quit)();
        }
    }

    /// Sets what is told of every tap, once it was handled (replaces any earlier one).
    pub fn set_on_input(&self, on_input: Box<dyn Fn()>) {
        *self.on_input.borrow_mut() = Some(on_input);
    }

    /// Opening hours: closes (true) or opens (false) the kiosk.
    pub fn set_closed(self: &Rc<Self>, closed: bool, message: &str) {
        self.window.set_closed_message(message.into());
        self.change(|st, now| {
            st.overlay = Overlay::None;
            let effects = st.flow.handle(Event::SetClosed(closed), now);
            st.run(effects, now);
            if closed && *st.flow.screen() != flow::Screen::Closed {
                // A visit was in progress: it is stored first, then the kiosk closes.
                let effects = st.flow.handle(Event::SetClosed(true), now);
                st.run(effects, now);
            }
            ((), None)
        });
    }

    /// Acts on whatever time has made due.
    pub fn tick(self: &Rc<Self>) {
        self.change(|st, now| (st.tick(now), None));
    }

    /// Applies `change` to the state at the current time, then brings the window up to date,
    /// says what changed (speech mode) and arms the timer. `change` also returns the visitor's
    /// input it handled, if any: what is said depends on it.
    fn change<R>(self: &Rc<Self>, change: impl FnOnce(&mut State, Instant) -> (R, Option<Input>)) -> R {
        let now = (self.now)();
        let (result, say, acted) = {
            let mut st = self.state.borrow_mut();
            let before = st.seen();
            let (result, input) = change(&mut st, now);
            let say = st.announce(&before, input.as_ref());
            (result, say, input.is_some())
        };
        self.render();
        self.speak(&say, acted);
        self.arm();
        result
    }

    /// The kiosk is stopping (SIGTERM, the manager's « Quitter »): a visit in progress is stored
    /// as a walk-away would be, the reviews held in memory get one last try, and the number that
    /// could still not be written is returned (and logged: they are lost with the process).
    pub fn shutdown(self: &Rc<Self>) -> usize {
        let now = (self.now)();
        let mut st = self.state.borrow_mut();
        let effects = st.flow.handle(Event::SetClosed(true), now);
        st.run(effects, now);
        if !st.held.is_empty() {
            st.recover();
        }
        let lost = st.held.len();
        if lost > 0 {
            tracing::error!(reviews = lost, "the store still refuses writes at shutdown: these reviews are lost");
        } else {
            tracing::info!("shutdown: every review is on disk");
        }
        lost
    }

    /// Reviews refused by the store and held in memory, waiting for it to write again.
    pub fn held(&self) -> usize {
        self.state.borrow().held.len()
    }

    /// Taps ignored inside the response interval since start.
    pub fn suppressed(&self) -> u64 {
        self.state.borrow().flow.suppressed()
    }

    /// The store, for whoever drives the kiosk (tests, screenshots, the hardware layer).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut self.state.borrow_mut().parts.store)
    }

    fn connect(self: &Rc<Self>) {
        let w = &self.window;
        let on = |input: fn() -> Input| {
            let weak: Weak<Kiosk> = Rc::downgrade(self);
            move || {
                if let Some(k) = weak.upgrade() {
                    k.input(input())
                }
            }
        };
        w.on_open_languages(on(|| Input::OpenLanguages));
        w.on_close_languages(on(|| Input::CloseLanguages));
        w.on_toggle_contrast(on(|| Input::ToggleContrast));
        w.on_next(on(|| Input::Next));
        w.on_skip(on(|| Input::Skip));
        w.on_backspace(on(|| Input::Backspace));
        w.on_send(on(|| Input::Send));
        w.on_admin_tap(on(|| Input::AdminTap));
        w.on_pin_erase(on(|| Input::PinErase));
        w.on_pin_submit(on(|| Input::PinSubmit));
        w.on_pin_cancel(on(|| Input::PinCancel));
        w.on_admin_close(on(|| Input::AdminClose));
        w.on_admin_quit(on(|| Input::AdminQuit));
        // Callbacks with an argument: the argument becomes the input.
        fn with<T>(kiosk: &Rc<Kiosk>, make: impl Fn(T) -> Input + 'static) -> impl Fn(T) + 'static {
            let weak = Rc::downgrade(kiosk);
            move |arg| {
                if let Some(k) = weak.upgrade() {
                    k.input(make(arg))
                }
            }
        }
        w.on_rate(with(self, Input::Rate));
        w.on_toggle(with(self, |id: i32| Input::Toggle(id.into())));
        w.on_choose_language(with(self, |code: SharedString| Input::ChooseLanguage(code.into())));
        w.on_key(with(self, |text: SharedString| Input::Key(text.into())));
        w.on_pin_digit(with(self, |d: SharedString| Input::PinDigit(d.into())));
    }

    /// Arms the one timer for the next deadline, or stops it when nothing waits on time.
    fn arm(self: &Rc<Self>) {
        let now = (self.now)();
        let Some(deadline) = self.state.borrow().next_deadline() else {
            self.timer.stop();
            return;
        };
        let weak = Rc::downgrade(self);
        // A little late rather than early: the deadline is then surely past when it fires.
        let wait = deadline.saturating_duration_since(now) + Duration::from_millis(1);
        self.timer.start(slint::TimerMode::SingleShot, wait, move || {
            if let Some(k) = weak.upgrade() {
                k.tick();
            }
        });
    }

    /// Sets the window from the state. Properties that did not change are left alone, so
    /// nothing is redrawn for nothing.
    fn render(&self) {
        let mut st = self.state.borrow_mut();
        let w = &self.window;
        let screen = st.shown_screen();
        if w.get_screen() != screen {
            w.set_screen(screen);
        }
        let comment_max = st.parts.survey.comment_max_chars.min(i32::MAX as usize) as i32;
        if w.get_comment_max() != comment_max {
            w.set_comment_max(comment_max);
        }
        let theme = w.global::<Theme>();
        if theme.get_high_contrast() != st.flow.large_text() {
            theme.set_high_contrast(st.flow.large_text());
        }
        if st.shown_language != st.flow.language() {
            let language = st.flow.language().to_string();
            // The source strings are French: French is the untranslated text.
            let code = if language == flow::DEFAULT_LANGUAGE { "" } else { language.as_str() };
            if let Err(e) = slint::select_bundled_translation(code) {
                tracing::warn!(language, "no translation: {e}");
            }
            w.set_language(language.as_str().into());
            // Arabic reads right to left: the screens mirror their rows.
            w.global::<Theme>().set_rtl(RTL_LANGUAGES.contains(&language.as_str()));
            st.shown_language = language;
        }
        if w.get_comment().as_str() != st.flow.comment() {
            w.set_comment(st.flow.comment().into());
        }
        // Follow-up question and its chips.
        if let (flow::Screen::FollowUp(i), Some(q)) = (st.flow.screen().clone(), st.flow.current_question()) {
            let ticked = st.flow.ticked();
            let key = (i, ticked.clone());
            if st.shown_question.as_ref() != Some(&key) {
                w.set_question(q.label.as_str().into());
                w.set_channel(st.flow.current_channel().map(|c| c.1).unwrap_or_default().as_str().into());
                w.set_multiple(q.kind == AnswerKind::Checkbox);
                let choices: Vec<ChoiceItem> = q
                    .items
                    .iter()
                    .map(|item| ChoiceItem {
                        id: item.id.clamp(i32::MIN.into(), i32::MAX.into()) as i32,
                        label: item.text.as_str().into(),
                        checked: ticked.contains(&item.id),
                    })
                    .collect();
                w.set_choices(ModelRc::new(VecModel::from(choices)));
                st.shown_question = Some(key);
            }
        } else {
            st.shown_question = None;
        }
        // The site's result.
        let show = st.parts.screen.show_result && st.result.is_some();
        if w.get_show_result() != show {
            w.set_show_result(show);
        }
        if let Some((tenths, count, band)) = st.result {
            w.set_result_tenths(tenths as i32);
            w.set_result_count(count.min(i32::MAX as u64) as i32);
            w.set_result_band(match band {
                Band::Bad => 1,
                Band::Medium => 2,
                Band::Good => 3,
            });
        }
        // « Vous nous l'avez dit, on l'a fait ».
        let (date, text) = st.action.clone().unwrap_or_default();
        if w.get_action_text().as_str() != text || w.get_action_date().as_str() != date {
            w.set_action_text(text.into());
            w.set_action_date(date.into());
        }
        // Administration.
        w.set_pin_entered(st.pin.chars().count() as i32);
        w.set_pin_dots(SharedString::from("●".repeat(st.pin.chars().count())));
        if w.get_pin_message().as_str() != st.pin_message {
            w.set_pin_message(st.pin_message.as_str().into());
        }
        let now = (self.now)();
        w.set_pin_locked(st.pin_locked_until.is_some_and(|until| now < until));
        if st.overlay == Overlay::Admin && w.get_admin_lines().row_count() == 0 {
            let mut lines = (st.parts.admin_status)(&st.parts.store);
            lines.push(("Appuis ignorés (intervalle entre avis)".into(), st.flow.suppressed().to_string()));
            if !st.held.is_empty() {
                lines.push(("Avis en mémoire, en attente du disque".into(), st.held.len().to_string()));
            }
            let lines: Vec<AdminLine> = lines
                .into_iter()
                .map(|(label, value)| AdminLine { label: label.into(), value: value.into() })
                .collect();
            w.set_admin_lines(ModelRc::new(VecModel::from(lines)));
        } else if st.overlay != Overlay::Admin && w.get_admin_lines().row_count() != 0 {
            w.set_admin_lines(ModelRc::default());
        }
    }
}

/// Shows the kiosk and runs the UI until the manager quits. The window cannot be closed
/// (Alt+F4 and the like are refused) and, when configured, fills the screen with no cursor.
pub fn show(kiosk: &Rc<Kiosk>) -> Result<(), slint::PlatformError> {
    let window = kiosk.window().window();
    window.on_close_requested(|| slint::CloseRequestResponse::KeepWindowShown);
    if kiosk.state.borrow().parts.screen.fullscreen {
        window.set_fullscreen(true);
    }
    kiosk.window().show()?;
    // Under systemd: ready once the event loop runs (the first frame is drawn before any timer
    // fires), then a watchdog ping from the event loop itself, so a frozen UI is restarted.
    let ready = slint::Timer::default();
    ready.start(slint::TimerMode::SingleShot, Duration::from_millis(1), || {
        if crate::sys::sd_notify("READY=1\nSTATUS=Borne prête") {
            tracing::info!("systemd notified: ready");
        }
    });
    let watchdog = slint::Timer::default();
    if let Some(every) = crate::sys::watchdog_interval() {
        watchdog.start(slint::TimerMode::Repeated, every, || {
            crate::sys::sd_notify("WATCHDOG=1");
        });
    }
    slint::run_event_loop_until_quit()?;
    crate::sys::sd_notify("STOPPING=1");
    kiosk.window().hide()
}
