//! Runs the devices beside the touchscreen, on the UI thread: a smiley button press becomes the tap on
//! its smiley, presence (or a tap on the screen) wakes the backlight, opening hours close and open the kiosk, and the
//! LED shows the kiosk's health, and the speech mode's buttons and headset socket reach the
//! kiosk as `Input::Speech`. One timer, armed for the next thing due.

use crate::config::Behaviour;
use crate::hw::logic::LedPattern;
use crate::hw::{Backlight, Buttons, Devices, Key, Presence, StatusLed, Switch};
use crate::ui::{Input, Kiosk, Screen, SpeechKey};
use chrono::NaiveDateTime;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How often the LED's inputs (store health, age of the oldest pending review) are read.
pub const HEALTH_CHECK: Duration = Duration::from_secs(60);

enum Event {
    Press(Key),
    Presence,
    Headset(bool),
}

thread_local! {
    static RUNNING: RefCell<Weak<Controller>> = const { RefCell::new(Weak::new()) };
}

pub struct Controller {
    kiosk: Weak<Kiosk>,
    behaviour: Behaviour,
    now: Rc<dyn Fn() -> Instant>,
    wall: Rc<dyn Fn() -> NaiveDateTime>,
    events: mpsc::Receiver<Event>,
    // Kept alive: they hold the interrupt threads.
    _buttons: Option<Box<dyn Buttons>>,
    _presence: Option<Box<dyn Presence>>,
    _headset: Option<Box<dyn Switch>>,
    state: RefCell<State>,
    timer: slint::Timer,
}

struct State {
    led: Option<Box<dyn StatusLed>>,
    backlight: Option<Box<dyn Backlight>>,
    last_presence: Instant,
    open: Option<bool>,
    level: Option<u8>,
    pattern: LedPattern,
    pattern_since: Instant,
    lit: Option<bool>,
    checked_at: Option<Instant>,
    oldest_pending: Option<Duration>,
}

impl Controller {
    /// Starts the devices and drives `kiosk` with them. `now` is the monotonic time, `wall` the
    /// local wall-clock time (both mocked in tests).
    pub fn start(
        kiosk: &Rc<Kiosk>,
        mut devices: Devices,
        behaviour: Behaviour,
        now: Rc<dyn Fn() -> Instant>,
        wall: Rc<dyn Fn() -> NaiveDateTime>,
    ) -> Result<Rc<Controller>, crate::hw::HwError> {
        let (tx, rx) = mpsc::channel();
        if let Some(buttons) = devices.buttons.as_mut() {
            let tx = std::sync::Mutex::new(tx.clone());
            buttons.start(Box::new(move |s| {
                let _ = tx.lock().map(|tx| tx.send(Event::Press(s)));
                wake();
            }))?;
        }
        if let Some(presence) = devices.presence.as_mut() {
            let tx = std::sync::Mutex::new(tx.clone());
            presence.start(Box::new(move || {
                let _ = tx.lock().map(|tx| tx.send(Event::Presence));
                wake();
            }))?;
        }
        if let Some(headset) = devices.headset.as_mut() {
            let tx = std::sync::Mutex::new(tx.clone());
            headset.start(Box::new(move |plugged| {
                let _ = tx.lock().map(|tx| tx.send(Event::Headset(plugged)));
                wake();
            }))?;
        }
        let t0 = now();
        let controller = Rc::new(Controller {
            kiosk: Rc::downgrade(kiosk),
            behaviour,
            now,
            wall,
            events: rx,
            _buttons: devices.buttons,
            _presence: devices.presence,
            _headset: devices.headset,
            state: RefCell::new(State {
                led: devices.led,
                backlight: devices.backlight,
                last_presence: t0,
                open: None,
                level: None,
                pattern: LedPattern::Steady,
                pattern_since: t0,
                lit: None,
                checked_at: None,
                oldest_pending: None,
            }),
            timer: slint::Timer::default(),
        });
        RUNNING.with(|r| *r.borrow_mut() = Rc::downgrade(&controller));
        // A tap on the screen is a presence too: a visitor at a dimmed screen gets full light.
        let weak = Rc::downgrade(&controller);
        kiosk.set_on_input(Box::new(move || {
            if let Some(controller) = weak.upgrade() {
                controller.state.borrow_mut().last_presence = (controller.now)();
                controller.update();
            }
        }));
        controller.update();
        Ok(controller)
    }

    /// Handles what the devices reported, then brings outputs up to date. Called on the UI
    /// thread: by the event loop when a device wakes it, or directly by tests.
    pub fn poll(self: &Rc<Self>) {
        while let Ok(event) = self.events.try_recv() {
            let now = (self.now)();
            match event {
                Event::Press(key) => {
                    if let Some(kiosk) = self.kiosk.upgrade() {
                        // A smiley's is exactly the tap on it (whose hook records the presence);
                        // with speech on, away from the home screen, the kiosk makes it browse.
                        kiosk.input(match key {
                            Key::Smiley(s) => Input::Rate(s.item_id() as i32),
                            Key::Speak => Input::Speech(SpeechKey::Speak),
                            Key::VolumeUp => Input::Speech(SpeechKey::VolumeUp),
                            Key::VolumeDown => Input::Speech(SpeechKey::VolumeDown),
                        });
                    }
                }
                Event::Headset(plugged) => {
                    if let Some(kiosk) = self.kiosk.upgrade() {
                        kiosk.input(Input::Speech(SpeechKey::Headset(plugged)));
                    }
                }
                Event::Presence => self.state.borrow_mut().last_presence = now,
            }
        }
        self.update();
    }

    fn update(self: &Rc<Self>) {
        let now = (self.now)();
        let wall = (self.wall)();
        let Some(kiosk) = self.kiosk.upgrade() else { return };
        let mut st = self.state.borrow_mut();

        // Opening hours.
        let open = self.behaviour.hours.is_open(wall);
        if st.open != Some(open) {
            tracing::info!(open, "opening hours");
            kiosk.set_closed(!open, "");
            st.open = Some(open);
            if open {
                st.last_presence = now;
            }
        }

        // Backlight.
        let level = self.behaviour.backlight.level(open, now.duration_since(st.last_presence));
        if st.level != Some(level) {
            if let Some(backlight) = st.backlight.as_mut()
                && let Err(e) = backlight.set_percent(level)
            {
                tracing::warn!("{e}");
            }
            st.level = Some(level);
        }

        // LED: the store's health and the age of the oldest pending review.
        if self.behaviour.pending_alert.is_some()
            && st.checked_at.is_none_or(|at| now.duration_since(at) >= HEALTH_CHECK)
        {
            st.checked_at = Some(now);
            st.oldest_pending = kiosk.with_store(|s| s.outbox_summary()).ok().and_then(|summary| {
                summary.oldest_pending_at.map(|t| (chrono::Utc::now() - t).to_std().unwrap_or_default())
            });
        }
        let writes = kiosk.window().get_screen() != Screen::OutOfService;
        let pattern = LedPattern::for_state(writes, st.oldest_pending, self.behaviour.pending_alert);
        if pattern != st.pattern {
            st.pattern = pattern;
            st.pattern_since = now;
        }
        let lit = pattern.lit(now.duration_since(st.pattern_since));
        if st.lit != Some(lit) {
            if let Some(led) = st.led.as_mut() {
                led.set(lit);
            }
            st.lit = Some(lit);
        }

        // The next thing due.
        let mut next: Vec<Instant> = Vec::new();
        if let Some(half) = pattern.half_period() {
            let since = now.duration_since(st.pattern_since).as_millis();
            let half_ms = half.as_millis().max(1);
            let to_edge = half_ms - since % half_ms;
            next.push(now + Duration::from_millis(to_edge as u64));
        }
        if open && level == 100 {
            next.push(st.last_presence + self.behaviour.backlight.dim_after);
        }
        if let Some(change) = self.behaviour.hours.next_change(wall) {
            let wait = (change - wall).to_std().unwrap_or_default();
            next.push(now + wait);
        }
        if st.led.is_some() {
            next.push(st.checked_at.unwrap_or(now) + HEALTH_CHECK);
        }
        drop(st);
        match next.into_iter().min() {
            Some(at) => {
                let weak = Rc::downgrade(self);
                let wait = at.saturating_duration_since(now) + Duration::from_millis(1);
                self.timer.start(slint::TimerMode::SingleShot, wait, move || {
                    if let Some(c) = weak.upgrade() {
                        c.poll();
                    }
                });
            }
            None => self.timer.stop(),
        }
    }

    /// The backlight level last set, in percent.
    pub fn backlight_level(&self) -> Option<u8> {
        self.state.borrow().level
    }

    pub fn led_pattern(&self) -> LedPattern {
        self.state.borrow().pattern
    }
}

/// Wakes the UI thread to handle device events (from an interrupt thread).
fn wake() {
    let _ = slint::invoke_from_event_loop(|| {
        RUNNING.with(|r| {
            if let Some(c) = r.borrow().upgrade() {
                c.poll();
            }
        })
    });
}
