//! The devices beside the real touchscreen (Slint's testing backend, mocked time), with
//! simulated pins: a button press records a review through the smiley's path, the LED shows
//! the kiosk's health, and the backlight and opening hours follow a simulated week.

use crate::common::Scratch;
use borne::clock::{SyncSource, SystemClock};
use borne::config::Config;
use borne::config::{BacklightPolicy, Behaviour};
use borne::hours::{OpeningHours, parse_day};
use borne::hw::Devices;
use borne::hw::logic::LedPattern;
use borne::hw::sim::{Board, SimBacklight, SimButtons, SimLed, SimPresence, SimSwitch};
use borne::hw::{ButtonPins, Edge, Key};
use borne::kiosk::speech::Transcript;
use borne::run::controller::Controller;
use borne::store::{Integrity, Store};
use borne::ui::{Kiosk, KioskParts, Screen};
use chrono::{NaiveDate, NaiveDateTime};
use slint::ComponentHandle;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const PINS: ButtonPins = ButtonPins([5, 6, 13]);
pub const PIR: u8 = 17;
/// The speech mode's buttons and the headset socket.
pub const SPEAK: u8 = 26;
pub const VOLUME_UP: u8 = 22;
pub const VOLUME_DOWN: u8 = 23;
pub const HEADSET: u8 = 12;

/// Buttons, presence sensor, LED and backlight, all simulated on `board`.
pub fn simulated_devices(board: &Arc<Board>) -> Devices {
    Devices {
        buttons: Some(Box::new(SimButtons { board: board.clone(), keys: keys(), debounce: Duration::from_millis(30) })),
        headset: Some(Box::new(SimSwitch { board: board.clone(), pin: HEADSET })),
        presence: Some(Box::new(SimPresence { board: board.clone(), pin: PIR })),
        led: Some(Box::new(SimLed(board.clone()))),
        backlight: Some(Box::new(SimBacklight(board.clone()))),
    }
}

/// The three smileys' buttons and the speech mode's, as `hw::keys` wires them from a configuration.
fn keys() -> Vec<(u8, Key)> {
    let mut config = Config::embedded();
    config.accessibility.speak_pin = Some(SPEAK);
    config.accessibility.volume_up_pin = Some(VOLUME_UP);
    config.accessibility.volume_down_pin = Some(VOLUME_DOWN);
    borne::hw::keys(Some(PINS), &config.accessibility)
}

struct Rig {
    transcript: Rc<Transcript>,
    kiosk: Rc<Kiosk>,
    controller: Rc<Controller>,
    board: Arc<Board>,
    base: Instant,
    dir: Scratch,
}

fn ms() -> u64 {
    i_slint_backend_testing::get_mocked_time()
}

/// Monday 2026-12-21 07:00 plus the mocked time.
fn start_wall() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 12, 21).unwrap().and_hms_opt(7, 0, 0).unwrap()
}

fn hours() -> OpeningHours {
    let office = parse_day("08:30-12:00, 13:30-17:00").unwrap();
    let mut week: [borne::hours::Day; 7] = std::array::from_fn(|_| office.clone());
    week[2] = parse_day("08:30-12:00").unwrap();
    week[5] = parse_day("").unwrap();
    week[6] = parse_day("").unwrap();
    OpeningHours { week, closed_dates: vec![NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()] }
}

fn rig(name: &str, hours: OpeningHours) -> Rig {
    i_slint_backend_testing::init_no_event_loop();
    let config = Config::embedded();
    let dir = Scratch::new(name);
    let (store, _) = Store::open(dir.path(), Integrity::CheckAndRecover).unwrap();
    let base = Instant::now();
    let now: Rc<dyn Fn() -> Instant> = Rc::new(move || base + Duration::from_millis(ms()));
    let transcript = Rc::new(Transcript::default());
    let parts = KioskParts { speaker: transcript.clone(), ..KioskParts::new(store, &config, now.clone()) };
    let kiosk = Kiosk::new(parts).unwrap();
    kiosk.window().window().set_size(slint::LogicalSize::new(800.0, 480.0));
    kiosk.window().show().unwrap();
    let board = Board::new();
    let devices = simulated_devices(&board);
    let behaviour = Behaviour {
        backlight: BacklightPolicy { dim_after: Duration::from_secs(300), dim_percent: 20, off_when_closed: true },
        hours,
        pending_alert: Some(Duration::from_secs(3600)),
    };
    let wall = Rc::new(|| start_wall() + chrono::Duration::milliseconds(ms() as i64));
    let controller = Controller::start(&kiosk, devices, behaviour, now, wall).unwrap();
    Rig { transcript, kiosk, controller, board, base, dir }
}

impl Rig {
    fn at(&self) -> Instant {
        self.base + Duration::from_millis(ms())
    }

    /// A push with contact bounce, then the release.
    fn push(&self, pin: u8) {
        for (active, after) in [(true, 0), (false, 2), (true, 4), (false, 60)] {
            if after > 0 {
                i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(after));
            }
            self.board.edge(Edge { pin, active, at: self.at() });
        }
        self.controller.poll();
    }

    fn wait(&self, d: Duration) {
        i_slint_backend_testing::mock_elapsed_time(d);
    }

    fn reviews(&self) -> u64 {
        let (store, _) = Store::open(self.dir.path(), Integrity::Trust).unwrap();
        store.outbox_summary().unwrap().total
    }
}

#[test]
fn a_button_press_records_a_review_through_the_smiley_path() {
    let r = rig("hw-button", OpeningHours::always());
    r.push(13);
    assert_eq!(r.kiosk.window().get_screen(), Screen::Comment, "« Très bien » then the comment, as a tap");
    r.kiosk.input(borne::ui::Input::Skip);
    assert_eq!(r.kiosk.window().get_screen(), Screen::Thanks);
    assert_eq!(r.reviews(), 1, "one push with bounce is one review");
    // Inside the response interval, a button is suppressed like a tap.
    r.wait(Duration::from_millis(4100));
    r.push(5);
    assert_eq!(r.kiosk.window().get_screen(), Screen::Home);
    assert_eq!(r.kiosk.suppressed(), 1);
    r.wait(Duration::from_secs(1));
    r.push(5);
    assert_eq!(r.kiosk.window().get_screen(), Screen::FollowUp, "« Pas bien » asks what went wrong");
}

#[test]
fn the_led_shows_health() {
    let r = rig("hw-led", OpeningHours::always());
    assert_eq!(r.controller.led_pattern(), LedPattern::Steady);
    assert_eq!(r.board.led_now(), Some(true), "steady: lit");

    // A review has waited two hours for upload (threshold 1 h): slow blink at the next check.
    let config = Config::embedded();
    let clock = SystemClock { source: SyncSource::AssumeSynced };
    let draft = borne_model::review::ReviewDraft {
        channel_answers: Vec::new(),
        satisfaction: 3,
        answers: vec![],
        comment: None,
        language: "fr".into(),
    };
    let mut old = borne::kiosk::build_review(&config.survey, &clock, &draft).unwrap();
    old.submitted_at -= chrono::Duration::hours(2);
    r.kiosk.with_store(|s| s.insert_review(&old)).unwrap();
    r.wait(borne::run::controller::HEALTH_CHECK + Duration::from_millis(10));
    assert_eq!(r.controller.led_pattern(), LedPattern::SlowBlink);
    let lit = |r: &Rig| r.board.led_now().unwrap();
    let first = lit(&r);
    r.wait(Duration::from_millis(1001));
    assert_ne!(lit(&r), first, "slow blink: toggles each second");

    // The store refuses writes: a visitor's review puts the kiosk out of service → fast blink.
    r.kiosk.with_store(|s| s.refuse_writes(true)).unwrap();
    r.push(13);
    r.kiosk.input(borne::ui::Input::Skip);
    assert_eq!(r.kiosk.window().get_screen(), Screen::OutOfService);
    r.controller.poll();
    assert_eq!(r.controller.led_pattern(), LedPattern::FastBlink);
    let before = lit(&r);
    r.wait(Duration::from_millis(201));
    assert_ne!(lit(&r), before, "fast blink: toggles every 200 ms");

    // Writes again: back in service by itself; the old review still waits → slow blink.
    r.kiosk.with_store(|s| s.refuse_writes(false)).unwrap();
    r.wait(Duration::from_secs(6));
    r.controller.poll();
    assert_eq!(r.kiosk.window().get_screen(), Screen::Home);
    assert_eq!(r.controller.led_pattern(), LedPattern::SlowBlink);
    assert_eq!(r.reviews(), 2, "the review given while out of service was kept");
}

#[test]
fn backlight_and_opening_hours_over_a_simulated_week_with_a_closed_date() {
    let h = hours();
    let r = rig("hw-week", h.clone());
    let step = Duration::from_secs(15 * 60);
    // 10:00 on Thursday 24 (open) and on Friday 25 (Christmas, a closed date): a visitor presses
    // « Très bien » each time.
    let press_at = [3 * 96 + 12, 4 * 96 + 12];
    // Monday 07:00 → next Monday 07:00, in 15-minute steps; presence every hour on the hour
    // while open, so the screen dims between them (after 5 min).
    for i in 0..(7 * 24 * 4) {
        if i > 0 {
            r.wait(step);
        }
        let wall = start_wall() + chrono::Duration::milliseconds(ms() as i64);
        let open = h.is_open(wall);
        if open && i % 4 == 0 {
            r.board.edge(Edge { pin: PIR, active: true, at: r.at() });
            r.board.edge(Edge { pin: PIR, active: false, at: r.at() });
            r.controller.poll();
        }
        let screen = r.kiosk.window().get_screen();
        assert_eq!(screen == Screen::Closed, !open, "{wall}: closed screen iff outside opening hours");
        let level = r.controller.backlight_level().unwrap();
        let expected = match (open, i % 4 == 0) {
            (false, _) => 0,
            (true, true) => 100,
            // 15 minutes after the last presence (or the opening): dimmed.
            (true, false) => 20,
        };
        // Right at an opening the screen is lit by the opening itself.
        let just_opened = open && !h.is_open(wall - chrono::Duration::minutes(15));
        if !just_opened {
            assert_eq!(level, expected, "{wall}: backlight");
        }
        assert_eq!(r.board.backlight_now(), Some(level));
        if press_at.contains(&i) {
            let before = r.reviews();
            r.push(13);
            if r.kiosk.window().get_screen() == Screen::Comment {
                r.kiosk.input(borne::ui::Input::Skip);
            }
            let taken = r.reviews() - before;
            if open {
                assert_eq!(taken, 1, "{wall}: open, the press is a review");
            } else {
                assert_eq!(taken, 0, "{wall}: closed, the press is not taken");
                assert_eq!(r.kiosk.window().get_screen(), Screen::Closed, "{wall}: still « Fermé »");
            }
        }
    }
    // Christmas (Friday 2026-12-25) stayed closed: only Thursday's press became a review.
    assert!(!h.is_open(NaiveDate::from_ymd_opt(2026, 12, 25).unwrap().and_hms_opt(10, 0, 0).unwrap()));
    assert_eq!(r.reviews(), 1);
}

#[test]
fn a_tap_on_a_dimmed_screen_lights_it_up() {
    let r = rig("hw-tap-wakes", OpeningHours::always());
    assert_eq!(r.controller.backlight_level(), Some(100));
    r.wait(Duration::from_secs(6 * 60));
    r.controller.poll();
    assert_eq!(r.controller.backlight_level(), Some(20), "dimmed after 5 minutes without presence");
    r.kiosk.input(borne::ui::Input::Rate(3));
    assert_eq!(r.controller.backlight_level(), Some(100), "a tap is a presence");
    assert_eq!(r.board.backlight_now(), Some(100));
    assert_eq!(r.kiosk.window().get_screen(), Screen::Comment, "and the tap did what it says");
}

/// The SPI panel chain, without the panel: software renderer → line buffer → an
/// embedded-graphics framebuffer, compared pixel for pixel with the renderer's direct output.
#[test]
fn spi_bridge_draws_exactly_what_the_renderer_draws() {
    use borne::hw::spi::LineBridge;
    use borne::ui::headless::Headless;
    use borne::ui::screenshots::Scene;
    use embedded_graphics::framebuffer::{Framebuffer, buffer_size};
    use embedded_graphics::image::GetPixel;
    use embedded_graphics::pixelcolor::raw::{LittleEndian, RawU16};
    use embedded_graphics::pixelcolor::{IntoStorage, Rgb565};
    use embedded_graphics::prelude::*;
    use slint::platform::software_renderer::Rgb565Pixel;

    const W: usize = 320;
    const H: usize = 240;
    let headless = Headless::install().unwrap();
    let config = Config::embedded();
    let scene = Scene::new(&config, Store::open_in_memory().unwrap(), Box::new(|_| Vec::new())).unwrap();
    headless.set_size(W as u32, H as u32).unwrap();
    scene.kiosk.window().show().unwrap();
    for screen in ["accueil", "commentaire"] {
        if screen == "commentaire" {
            scene.taps([borne::ui::Input::Rate(3)]);
            scene.type_text("Très bien reçu");
        }
        // The renderer's direct output, and its line-by-line output into a plain buffer.
        let mut direct = vec![Rgb565Pixel(0); W * H];
        headless
            .draw_with(|r| {
                r.render(&mut direct, W);
            })
            .unwrap();
        let lines = crate::panel::lines(&headless, W, H);
        // The chain: line buffer → embedded-graphics DrawTarget (a framebuffer here, a mipidsi
        // panel on the device).
        let mut fb = Framebuffer::<Rgb565, RawU16, LittleEndian, W, H, { buffer_size::<Rgb565>(W, H) }>::new();
        let mut bridge = LineBridge::new(&mut fb, W);
        headless
            .draw_with(|r| {
                r.render_by_line(&mut bridge);
            })
            .unwrap();
        assert!(bridge.error.is_none());
        let (mut vs_lines, mut vs_direct, mut coloured) = (0, 0, 0);
        for y in 0..H {
            for x in 0..W {
                let bridged = fb.pixel(Point::new(x as i32, y as i32)).unwrap().into_storage();
                vs_lines += usize::from(bridged != lines[y * W + x].0);
                vs_direct += usize::from(bridged != direct[y * W + x].0);
                coloured += usize::from(bridged != 0xFFFF && bridged != 0);
            }
        }
        eprintln!("{screen}: {vs_direct} of {} pixels differ from the direct render", W * H);
        assert_eq!(vs_lines, 0, "{screen}: the bridge passes every rendered line unchanged");
        // Rendering line by line anti-aliases some glyph and path edges differently from the
        // whole-frame path: a few edge pixels, never the picture.
        assert!(vs_direct * 100 < W * H * 3, "{screen}: {vs_direct} pixels differ from the direct render");
        assert!(coloured > 1000, "{screen}: the frame has content ({coloured} coloured pixels)");
    }
}

/// `borne` with an SPI panel configured, on a machine that is not a Pi: it says so and stops
/// (`if_no_pi = "stop"`), or goes on with the usual screen (none here, so it stops on that).
#[test]
fn the_kiosk_says_when_its_spi_panel_cannot_open() {
    use crate::common::{borne, run_err};
    // On a Pi, the kiosk is told to do as if there were none (nothing is skipped there).
    let on_a_pi = std::path::Path::new("/dev/gpiomem").exists();
    let dir = Scratch::new("panel-no-pi");
    let config = dir.path().join("borne.toml");
    let kiosk = |text: &str| {
        std::fs::write(&config, text).unwrap();
        let out = run_err(
            borne(dir.path())
                .arg("--config")
                .arg(&config)
                .env_remove("DISPLAY")
                .env_remove("WAYLAND_DISPLAY")
                .env("SLINT_BACKEND", "winit")
                .envs(on_a_pi.then_some(("BORNE_NO_GPIO", "1"))),
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = kiosk("[hardware]\nif_no_pi = \"stop\"\n[panel]\nmodel = \"st7789\"\n");
    assert!(stderr.contains("pas de GPIO de Raspberry Pi"), "{stderr}");
    assert!(!stderr.contains("aucun écran utilisable"), "stopped before any screen: {stderr}");
    let stderr = kiosk("[panel]\nmodel = \"st7789\"\n");
    assert!(stderr.contains("la borne continue sur l'écran habituel"), "{stderr}");
    assert!(stderr.contains("aucun écran utilisable"), "{stderr}");
}

impl Rig {
    /// What the voice said since the last call, utterance by utterance.
    fn heard(&self) -> Vec<borne::kiosk::speech::Utterance> {
        self.transcript.take()
    }

    /// Presses `pin` (a moment after the last press) and returns the one thing the voice said.
    fn press_and_hear(&self, pin: u8) -> String {
        self.heard();
        self.wait(Duration::from_millis(300));
        self.push(pin);
        let said = self.heard();
        assert_eq!(
            said.len(),
            1,
            "one utterance per press of {pin}: {said:?} on {:?}",
            self.kiosk.window().get_screen()
        );
        said[0].text.clone()
    }
}

/// A blind visitor, by the buttons alone: everything the test decides comes from what the voice
/// said (which button is « Pas bien », where « Les locaux » is, where « Envoyer » is); the
/// screen is never read. What was chosen, and only that, is stored; « Merci » is said only
/// once the review is on disk; the next visitor starts without speech, at the site's volume.
#[test]
fn a_visit_by_the_buttons_alone_stores_exactly_what_was_chosen() {
    let r = rig("hw-speech-visit", OpeningHours::always());
    let config = Config::embedded();
    let home = r.press_and_hear(SPEAK);
    // « Bouton de gauche : Pas bien. » → the pin of that button, from the words heard.
    let position = ["gauche", "milieu", "droite"]
        .iter()
        .position(|side| home.contains(&format!("{side} : Pas bien")))
        .unwrap_or_else(|| panic!("which button is « Pas bien »? {home}"));
    let (previous, choose, next) = (PINS.0[0], PINS.0[1], PINS.0[2]);
    let said = r.press_and_hear(PINS.0[position]);
    assert!(said.starts_with("Vous avez choisi : Pas bien."), "{said}");
    assert!(said.contains("Qu'est-ce qui n'a pas été ?"), "the follow-up is read: {said}");
    assert_eq!(r.press_and_hear(VOLUME_UP), "Volume 70 %");
    // Browse to « Les locaux », by the words.
    let mut heard = String::new();
    for _ in 0..20 {
        heard = r.press_and_hear(next);
        if heard.starts_with("Les locaux") {
            break;
        }
    }
    assert_eq!(heard, "Les locaux, non coché.");
    assert_eq!(r.press_and_hear(choose), "Les locaux, coché.");
    for _ in 0..20 {
        heard = r.press_and_hear(previous);
        if heard == "Suivant." {
            break;
        }
    }
    assert_eq!(heard, "Suivant.");
    let comment = r.press_and_hear(choose);
    assert!(comment.contains("Votre commentaire (facultatif)") && comment.ends_with("Envoyer."), "{comment}");
    assert_eq!(r.reviews(), 0, "nothing stored before « Envoyer »");
    let thanks = r.press_and_hear(choose);
    assert!(thanks.starts_with("Merci !"), "{thanks}");
    assert_eq!(r.reviews(), 1, "« Merci » is said once the review is on disk");

    let (store, _) = Store::open(r.dir.path(), Integrity::Trust).unwrap();
    let mut stored = Vec::new();
    store
        .for_each_review(borne::store::StatusFilter::All, borne::store::DayRange::default(), |row| {
            stored.push(row.review);
            Ok(())
        })
        .unwrap();
    let locaux = config.survey.follow_ups[0].items.iter().find(|i| i.text == "Les locaux").unwrap().id;
    let answers: Vec<(String, i64)> =
        stored[0].answers.iter().map(|a| (a.field_code.clone(), a.answer_item_id)).collect();
    assert_eq!(
        answers,
        vec![("satisfaction".to_string(), 1), ("kiosk_motif".to_string(), locaux)],
        "exactly the chosen answers"
    );

    // The visit is over: the next visitor's buttons rate silently, and speech starts again at
    // the site's volume.
    r.wait(Duration::from_secs(10));
    r.heard();
    r.push(PINS.0[2]);
    assert!(r.heard().is_empty(), "no speech for the next visitor unless asked");
    r.kiosk.input(borne::ui::Input::Skip);
    r.wait(Duration::from_secs(10));
    r.push(SPEAK);
    let said = r.heard();
    assert_eq!(said.last().map(|u| u.volume), Some(config.accessibility.volume), "volume back to the site's level");
}

/// Plugging a headset starts speech; unplugging it silences it. A store that cannot write is
/// said as shown (« hors service »), and no « Merci » is ever said for it.
#[test]
fn a_headset_starts_speech_and_a_failed_commit_is_never_thanked() {
    let r = rig("hw-speech-headset", OpeningHours::always());
    r.heard();
    r.board.edge(Edge { pin: HEADSET, active: true, at: r.at() });
    r.controller.poll();
    let said = r.heard();
    assert!(said.iter().any(|u| u.text.starts_with("De façon générale")), "{said:?}");
    r.kiosk.with_store(|s| s.refuse_writes(true)).unwrap();
    r.push(PINS.0[2]);
    assert!(r.heard()[0].text.starts_with("Vous avez choisi : Très bien."));
    r.push(PINS.0[1]);
    let said: Vec<String> = r.heard().into_iter().map(|u| u.text).collect();
    assert!(said.iter().any(|t| t.starts_with("Borne momentanément hors service")), "{said:?}");
    assert!(!said.iter().any(|t| t.contains("Merci !")), "never thanked: {said:?}");
    r.board.edge(Edge { pin: HEADSET, active: false, at: r.at() });
    r.controller.poll();
    let all = r.transcript.take_all();
    assert_eq!(all, vec![borne::kiosk::speech::Said::Stop], "unplugged: silence");
}
