//! The touchscreen, driven through Slint's testing backend with mocked time: real window code,
//! real taps on elements found by their accessible labels, a real SQLite store on disk.

use crate::common::Scratch;
use borne::app::App;
use borne::config::Config;
use borne::health;
use borne::store::{DayRange, Integrity, StatusFilter, Store};
use borne::ui::{Kiosk, KioskParts, Screen, Theme};
use borne_model::review::Review;
use i_slint_backend_testing::{ElementHandle, ElementRoot};
use slint::platform::PointerEventButton;
use slint::{ComponentHandle, Model};
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

struct Rig {
    kiosk: Rc<Kiosk>,
    dir: Scratch,
    config: Config,
    commits: Rc<Cell<u32>>,
    quit: Rc<Cell<bool>>,
}

fn rig(name: &str) -> Rig {
    rig_with(name, Config::embedded())
}

fn rig_with(name: &str, config: Config) -> Rig {
    rig_speaking(name, config, Rc::new(borne::kiosk::speech::Silent))
}

fn rig_speaking(name: &str, config: Config, speaker: Rc<dyn borne::kiosk::speech::Speaker>) -> Rig {
    i_slint_backend_testing::init_no_event_loop();
    let dir = Scratch::new(name);
    let (store, _) = Store::open(dir.path(), Integrity::CheckAndRecover).unwrap();
    let base = Instant::now();
    let commits = Rc::new(Cell::new(0));
    let quit = Rc::new(Cell::new(false));
    let app = App { config: config.clone(), data_dir: dir.path().to_path_buf() };
    let (c, q) = (commits.clone(), quit.clone());
    let parts = KioskParts {
        on_commit: Box::new(move || c.set(c.get() + 1)),
        admin_status: Box::new(move |store| health::admin_status(&app, store)),
        on_quit: Box::new(move || q.set(true)),
        speaker,
        ..KioskParts::new(
            store,
            &config,
            Rc::new(move || base + Duration::from_millis(i_slint_backend_testing::get_mocked_time())),
        )
    };
    let kiosk = Kiosk::new(parts).unwrap();
    kiosk.window().window().set_size(slint::LogicalSize::new(800.0, 480.0));
    kiosk.window().show().unwrap();
    Rig { kiosk, dir, config, commits, quit }
}

impl Rig {
    fn find(&self, label: &str) -> Vec<ElementHandle> {
        ElementHandle::find_by_accessible_label(self.kiosk.window(), label).collect()
    }

    fn tap(&self, label: &str) {
        let found = self.find(label);
        assert_eq!(found.len(), 1, "one element labelled « {label} » on {:?}", self.screen());
        found[0].mock_single_click(PointerEventButton::Left);
    }

    fn screen(&self) -> Screen {
        self.kiosk.window().get_screen()
    }

    fn wait(&self, seconds: f64) {
        i_slint_backend_testing::mock_elapsed_time(Duration::from_secs_f64(seconds));
    }

    /// Types on the on-screen keyboard, switching layers and shift as a visitor would.
    fn type_text(&self, text: &str) {
        for c in text.chars() {
            match c {
                ' ' => self.tap("Espace"),
                'a'..='z' | '\'' | ',' | '.' | '?' | '!' => self.tap(&c.to_string()),
                'A'..='Z' => {
                    self.tap("Majuscule");
                    self.tap(&c.to_string());
                }
                'é' | 'è' | 'ê' | 'à' | 'ç' | 'ù' | 'ô' | 'œ' | '«' | '»' => {
                    self.tap("Lettres accentuées");
                    self.tap(&c.to_string());
                    self.tap("Lettres");
                }
                '0'..='9' | '-' | '+' | '/' | '(' | ')' | '€' | '%' | '@' | ';' | ':' => {
                    self.tap("Chiffres et ponctuation");
                    self.tap(&c.to_string());
                    self.tap("Lettres");
                }
                other => panic!("no key for {other:?} in this test"),
            }
        }
    }

    fn shown_comment(&self) -> String {
        let field = self.find("Votre commentaire");
        assert_eq!(field.len(), 1);
        field[0].accessible_value().unwrap().to_string()
    }

    fn reviews(&self) -> Vec<Review> {
        let (store, _) = Store::open(self.dir.path(), Integrity::Trust).unwrap();
        let mut out = Vec::new();
        store
            .for_each_review(StatusFilter::All, DayRange::default(), |r| {
                out.push(r.review);
                Ok(())
            })
            .unwrap();
        out
    }
}

fn answers_of(review: &Review, code: &str) -> Vec<i64> {
    review.answers.iter().filter(|a| a.field_code == code).map(|a| a.answer_item_id).collect()
}

#[test]
fn smiley_chip_comment_on_the_keyboard_then_thanks_and_exactly_those_answers_stored() {
    let r = rig("ui-path");
    assert_eq!(r.screen(), Screen::Home);
    r.tap("Pas bien");
    assert_eq!(r.screen(), Screen::FollowUp);
    r.tap("L'attente");
    r.tap("Les locaux");
    r.tap("L'accueil");
    r.tap("L'accueil");
    let checked: Vec<bool> =
        ["L'attente", "L'accueil", "Les locaux"].iter().map(|l| r.find(l)[0].accessible_checked().unwrap()).collect();
    assert_eq!(checked, [true, false, true]);
    r.tap("Suivant");
    assert_eq!(r.screen(), Screen::Comment);
    assert!(!r.find("Envoyer")[0].accessible_enabled().unwrap(), "nothing to send yet");
    r.type_text("Trop d'attente, guichet 3 fermx");
    r.tap("Effacer");
    r.type_text("é à 10h. Merci !");
    assert_eq!(r.shown_comment(), "Trop d'attente, guichet 3 fermé à 10h. Merci !");
    assert!(r.reviews().is_empty(), "nothing stored before « Envoyer »");
    r.tap("Envoyer");
    assert_eq!(r.screen(), Screen::Thanks);
    assert_eq!(r.find("Merci !").len(), 1);

    let stored = r.reviews();
    assert_eq!(stored.len(), 1, "« Merci » only once the review is in the store");
    let review = &stored[0];
    assert_eq!(answers_of(review, "satisfaction"), [1]);
    assert_eq!(answers_of(review, "kiosk_motif"), [1, 5]);
    assert_eq!(review.comment(), Some("Trop d'attente, guichet 3 fermé à 10h. Merci !"));
    assert_eq!(review.language, "fr");
    assert_eq!(r.commits.get(), 1, "the uploader was nudged");

    r.wait(4.1);
    assert_eq!(r.screen(), Screen::Home, "thanks returns home by itself");
    assert_eq!(r.kiosk.window().get_comment(), "", "the next visitor never sees the text");
}

#[test]
fn walking_away_at_each_step_stores_what_was_given_and_wipes_the_rest() {
    let r = rig("ui-walk");
    // Away on the follow-up, one chip ticked.
    r.tap("Moyen");
    r.tap("Les informations reçues");
    r.wait(29.0);
    assert_eq!(r.screen(), Screen::FollowUp, "still there before the timeout");
    r.wait(1.2);
    assert_eq!(r.screen(), Screen::Thanks);
    r.wait(5.0);
    // Away on the comment, text typed but not sent.
    r.tap("Très bien");
    assert_eq!(r.screen(), Screen::Comment);
    r.type_text("mon nom est dupont");
    r.wait(30.2);
    assert_eq!(r.screen(), Screen::Thanks);
    assert_eq!(r.kiosk.window().get_comment(), "");
    r.wait(5.0);
    // Away on the follow-up with nothing chosen: the rating alone.
    r.tap("Pas bien");
    r.wait(30.2);
    r.wait(5.0);
    assert_eq!(r.screen(), Screen::Home);
    // The next visitor's comment starts empty.
    r.tap("Très bien");
    assert_eq!(r.shown_comment(), "");

    let stored = r.reviews();
    assert_eq!(stored.len(), 3);
    assert_eq!((answers_of(&stored[0], "satisfaction"), answers_of(&stored[0], "kiosk_motif")), (vec![2], vec![3]));
    assert_eq!((answers_of(&stored[1], "satisfaction"), stored[1].comment()), (vec![3], None));
    assert_eq!((answers_of(&stored[2], "satisfaction"), answers_of(&stored[2], "kiosk_motif")), (vec![1], vec![]));
    let bytes = std::fs::read(r.dir.path().join("borne.db-wal")).unwrap_or_default();
    assert!(!bytes.windows(6).any(|w| w == b"dupont"), "an unsent comment never reaches the disk");
}

#[test]
fn taps_inside_the_response_interval_are_suppressed_not_stored_not_thanked() {
    let r = rig("ui-suppress");
    r.tap("Très bien");
    r.tap("Passer");
    assert_eq!(r.screen(), Screen::Thanks);
    r.wait(4.1);
    assert_eq!(r.screen(), Screen::Home);
    r.tap("Pas bien");
    r.tap("Très bien");
    assert_eq!(r.screen(), Screen::Home, "inside 5 s: no follow-up, no thanks");
    assert_eq!(r.kiosk.suppressed(), 2);
    assert_eq!(r.reviews().len(), 1);
    r.wait(1.0);
    r.tap("Moyen");
    assert_eq!(r.screen(), Screen::FollowUp, "after the interval, a new visit");
}

#[test]
fn language_switch_applies_to_the_visit_and_resets_to_french() {
    let r = rig("ui-lang");
    r.tap("Langue · Language");
    assert_eq!(r.screen(), Screen::Languages);
    r.tap("English");
    assert_eq!(r.screen(), Screen::Home);
    assert_eq!(r.find("Overall, how did it go?").len(), 1);
    r.tap("Not good");
    assert_eq!(r.find("What went wrong?").len(), 1, "the shipped follow-up is translated");
    r.tap("The wait");
    r.tap("Next");
    r.tap("Skip");
    assert_eq!(r.find("Thank you!").len(), 1);
    assert_eq!(r.reviews()[0].language, "en");
    r.wait(4.1);
    assert_eq!(r.find("De façon générale, comment ça s’est passé ?").len(), 1, "back to French");

    // Arabic chosen, then the visitor leaves without rating.
    r.tap("Langue · Language");
    r.tap("العربية");
    assert_eq!(r.find("سيئة").len(), 1);
    r.wait(30.2);
    assert_eq!(r.find("Pas bien").len(), 1, "French again after the visitor left");

    // Large text is part of the visit too.
    r.tap("Grand texte / contraste élevé");
    assert!(r.kiosk.window().global::<Theme>().get_high_contrast());
    r.tap("Très bien");
    r.tap("Passer");
    r.wait(4.1);
    assert!(!r.kiosk.window().global::<Theme>().get_high_contrast());
}

#[test]
fn the_store_failing_shows_out_of_service_and_the_kiosk_recovers_by_itself() {
    let r = rig("ui-store");
    r.kiosk.with_store(|s| s.refuse_writes(true)).unwrap();
    r.tap("Très bien");
    r.type_text("bien");
    r.tap("Envoyer");
    assert_eq!(r.screen(), Screen::OutOfService, "no « Merci » for a review not stored");
    assert!(r.find("Merci !").is_empty());
    assert!(r.reviews().is_empty());
    assert!(r.find("Très bien").is_empty(), "no rating taken while out of service");
    r.wait(6.0);
    assert_eq!(r.screen(), Screen::OutOfService, "still failing");

    r.kiosk.with_store(|s| s.refuse_writes(false)).unwrap();
    r.wait(5.1);
    assert_eq!(r.screen(), Screen::Home, "back in service without a restart");
    let stored = r.reviews();
    assert_eq!(stored.len(), 1, "the review given during the failure is kept and stored");
    assert_eq!(stored[0].comment(), Some("bien"));
    r.tap("Moyen");
    r.tap("Passer");
    r.tap("Passer");
    assert_eq!(r.screen(), Screen::Thanks);
    assert_eq!(r.reviews().len(), 2);
}

#[test]
fn admin_gesture_then_a_wrong_pin_then_the_right_one() {
    let r = rig("ui-admin");
    // Four taps are not the gesture; nor are five spread over too long.
    for _ in 0..4 {
        r.tap("Administration");
    }
    r.wait(4.0);
    r.tap("Administration");
    assert_eq!(r.screen(), Screen::Home);
    for _ in 0..4 {
        r.tap("Administration");
    }
    assert_eq!(r.screen(), Screen::AdminPin);

    for d in ["9", "9", "9", "9", "Valider"] {
        r.tap(d);
    }
    assert_eq!(r.screen(), Screen::AdminPin);
    assert_eq!(r.kiosk.window().get_pin_message(), "Code incorrect.");
    for d in ["1", "2", "3", "4", "Valider"] {
        r.tap(d);
    }
    assert_eq!(r.screen(), Screen::Admin);
    let lines: Vec<String> = r.kiosk.window().get_admin_lines().iter().map(|l| l.label.to_string()).collect();
    for wanted in ["Version", "En attente d'envoi", "Envoi à la plateforme", "Tableau de bord"] {
        assert!(lines.iter().any(|l| l == wanted), "{wanted} in {lines:?}");
    }
    r.tap("Retour à l'accueil");
    assert_eq!(r.screen(), Screen::Home);

    // Three wrong PINs lock the pad for a minute, even for the right PIN.
    for _ in 0..5 {
        r.tap("Administration");
    }
    for _ in 0..3 {
        for d in ["0", "0", "0", "0", "Valider"] {
            r.tap(d);
        }
    }
    assert!(r.kiosk.window().get_pin_locked());
    for d in ["1", "2", "3", "4", "Valider"] {
        r.tap(d);
    }
    assert_eq!(r.screen(), Screen::AdminPin, "locked");
    r.wait(61.0);
    assert_eq!(r.screen(), Screen::Home, "the pad closed by itself");
    for _ in 0..5 {
        r.tap("Administration");
    }
    assert!(!r.kiosk.window().get_pin_locked(), "the lock is over");
    for d in ["1", "2", "3", "4", "Valider"] {
        r.tap(d);
    }
    assert_eq!(r.screen(), Screen::Admin);
    r.tap("Quitter l'application");
    assert!(r.quit.get());

    // Left open, the panel closes by itself.
    for _ in 0..5 {
        r.tap("Administration");
    }
    r.wait(61.0);
    assert_eq!(r.screen(), Screen::Home);
    let _ = &r.config;
}

#[test]
fn closed_takes_no_review_and_a_visit_in_progress_is_kept() {
    let r = rig("ui-closed");
    r.tap("Pas bien");
    r.tap("Autre chose");
    r.kiosk.set_closed(true, "");
    let stored = r.reviews();
    assert_eq!(answers_of(&stored[0], "kiosk_motif"), [6]);
    assert_eq!(r.screen(), Screen::Closed);
    assert!(r.find("Très bien").is_empty());
    r.kiosk.set_closed(false, "");
    assert_eq!(r.screen(), Screen::Home);
}

/// Every screen a visitor can reach, and the taps that reach it.
fn each_screen(r: &Rig, mut visit: impl FnMut(&Rig, &str)) {
    visit(r, "accueil");
    r.tap("Langue · Language");
    visit(r, "langues");
    r.tap("Retour");
    r.tap("Pas bien");
    visit(r, "question");
    r.tap("Suivant");
    visit(r, "commentaire");
    r.tap("Chiffres et ponctuation");
    visit(r, "commentaire (chiffres)");
    r.tap("Lettres");
    r.tap("Lettres accentuées");
    visit(r, "commentaire (accents)");
    r.tap("Passer");
    visit(r, "merci");
    r.wait(6.0);
    r.kiosk.set_closed(true, "");
    visit(r, "fermé");
    r.kiosk.set_closed(false, "");
    r.kiosk.with_store(|s| s.refuse_writes(true)).unwrap();
    r.tap("Très bien");
    r.tap("Passer");
    visit(r, "hors service");
    r.kiosk.with_store(|s| s.refuse_writes(false)).unwrap();
    r.wait(6.0);
    for _ in 0..5 {
        r.tap("Administration");
    }
    visit(r, "code");
    for d in ["1", "2", "3", "4", "Valider"] {
        r.tap(d);
    }
    visit(r, "administration");
}

#[test]
fn every_interactive_element_has_a_label_and_touch_targets_are_two_centimetres() {
    use i_slint_backend_testing::AccessibleRole;
    let r = rig("ui-a11y");
    // 7" 800×480 panel: 800 px over 154 mm.
    let px_per_cm = 800.0 / 15.4;
    let mut checked = 0;
    each_screen(&r, |r, screen| {
        let interactive = r
            .kiosk
            .window()
            .root_element()
            .query_descendants()
            .match_predicate(|e| {
                matches!(
                    e.accessible_role(),
                    Some(AccessibleRole::Button | AccessibleRole::Checkbox | AccessibleRole::Switch)
                )
            })
            .find_all();
        for e in interactive {
            let label = e.accessible_label().unwrap_or_default();
            assert!(!label.trim().is_empty(), "{screen}: an element without accessible label");
            let size = e.size();
            let small = size.width.min(size.height) / px_per_cm;
            let is_key = e.type_name().is_some_and(|t| t == "Key");
            // Keyboard keys (11 to a row) and the staff's hidden corner are the exceptions.
            if !is_key && label != "Administration" {
                assert!(small >= 2.0, "{screen}: « {label} » is {small:.2} cm");
            }
            checked += 1;
        }
    });
    assert!(checked > 60, "{checked} elements checked");
}

fn luminance(c: slint::Color) -> f64 {
    let lin = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
    };
    0.2126 * lin(c.red()) + 0.7152 * lin(c.green()) + 0.0722 * lin(c.blue())
}

fn contrast(a: slint::Color, b: slint::Color) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[test]
fn text_contrast_is_at_least_4_5_to_1_in_both_modes() {
    let r = rig("ui-contrast");
    assert!(
        (contrast(slint::Color::from_rgb_u8(0, 0, 0), slint::Color::from_rgb_u8(255, 255, 255)) - 21.0).abs() < 0.01
    );
    let theme = r.kiosk.window().global::<Theme>();
    for high in [false, true] {
        theme.set_high_contrast(high);
        let pairs = theme.get_text_pairs();
        assert!(pairs.row_count() >= 15);
        for pair in pairs.iter() {
            let ratio = contrast(pair.fg, pair.bg);
            assert!(ratio >= 4.5, "{} (contraste élevé : {high}) : {ratio:.2}:1", pair.name);
            if high {
                assert!(ratio >= 7.0, "high contrast mode reaches AAA: {} is {ratio:.2}:1", pair.name);
            }
        }
    }
}

/// Every text the interface actually draws, on every screen a visitor or the manager reaches
/// (normal and high contrast), read back from the rendered pixels: inside each `Text` element,
/// the most frequent colour is its background and the colour farthest from it is the text's
/// (anti-aliasing only blends between the two). No hand-kept list: a new colour pair in a
/// `.slint` file is measured as drawn.
#[test]
fn every_text_drawn_on_every_screen_has_at_least_4_5_to_1() {
    use borne::ui::headless::Headless;
    use borne::ui::screenshots::{Scene, walk};
    use i_slint_backend_testing::ElementQuery;
    use std::collections::HashMap;
    let headless = Headless::install().unwrap();
    let config = Config::embedded();
    let status: borne::ui::StatusLines = Box::new(|_| vec![("Version".into(), "0.1.0".into())]);
    let scene = Scene::new(&config, Store::open_in_memory().unwrap(), status).unwrap();
    headless.set_size(800, 480).unwrap();
    scene.kiosk.window().show().unwrap();
    let mut failures = Vec::new();
    let mut measured: Vec<(String, usize)> = Vec::new();
    walk(&scene, &config, false, |screen, scene| {
        let frame = headless.render()?;
        let scale = scene.kiosk.window().window().scale_factor();
        let texts = ElementQuery::from_root(scene.kiosk.window()).match_descendants().match_inherits("Text").find_all();
        let mut on_screen = 0;
        for text in texts {
            let (pos, size) = (text.absolute_position(), text.size());
            let x0 = ((pos.x * scale).floor().max(0.0) as u32).min(frame.width);
            let y0 = ((pos.y * scale).floor().max(0.0) as u32).min(frame.height);
            let x1 = (((pos.x + size.width) * scale).ceil().max(0.0) as u32).min(frame.width);
            let y1 = (((pos.y + size.height) * scale).ceil().max(0.0) as u32).min(frame.height);
            if x1 <= x0 || y1 <= y0 || text.computed_opacity() <= 0.0 {
                continue;
            }
            let mut counts: HashMap<(u8, u8, u8), u32> = HashMap::new();
            for y in y0..y1 {
                for x in x0..x1 {
                    let p = frame.pixels[(y * frame.width + x) as usize];
                    *counts.entry((p.r, p.g, p.b)).or_default() += 1;
                }
            }
            let color = |(r, g, b): (u8, u8, u8)| slint::Color::from_rgb_u8(r, g, b);
            let Some((&bg, _)) = counts.iter().max_by_key(|(c, n)| (**n, **c)) else { continue };
            // The text's own colour: the one farthest from the background, drawn on a few pixels.
            let Some(fg) = counts
                .iter()
                .filter(|(c, n)| **c != bg && **n >= 3)
                .map(|(c, _)| *c)
                .max_by(|a, b| contrast(color(*a), color(bg)).total_cmp(&contrast(color(*b), color(bg))))
            else {
                continue; // nothing drawn (an empty text)
            };
            on_screen += 1;
            let ratio = contrast(color(fg), color(bg));
            if ratio < 4.5 {
                let label = text.accessible_label().unwrap_or_default();
                failures.push(format!("{screen}: « {label} » {fg:?} on {bg:?} = {ratio:.2}:1"));
            }
        }
        measured.push((screen.to_string(), on_screen));
        Ok(())
    })
    .unwrap();
    assert!(failures.is_empty(), "text below 4.5:1:\n{}", failures.join("\n"));
    let blind: Vec<_> = measured.iter().filter(|(_, n)| *n == 0).collect();
    assert!(blind.is_empty(), "screens where no text was measured: {blind:?}");
    assert!(measured.iter().any(|(s, _)| s == "03-accueil-grand-texte"), "high contrast is among the screens");
}

#[test]
fn every_translatable_text_is_translated_in_every_language() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let tr = regex::Regex::new(r#"@tr\(\s*(?:"((?:[^"\\]|\\.)*)"\s*=>\s*)?"((?:[^"\\]|\\.)*)""#).unwrap();
    let mut wanted = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "slint") {
            let text = std::fs::read_to_string(&path).unwrap();
            for c in tr.captures_iter(&text) {
                wanted.insert((c.get(1).map(|m| m.as_str().to_string()), c[2].to_string()));
            }
        }
    }
    assert!(wanted.len() > 50, "{} texts", wanted.len());
    let placeholders = |s: &str| regex::Regex::new(r"\{\d*\}").unwrap().find_iter(s).count();
    for lang in ["en", "es", "de", "it", "pt", "ar"] {
        let po = std::fs::read_to_string(root.join(format!("translations/{lang}/LC_MESSAGES/borne.po"))).unwrap();
        let mut entries = std::collections::BTreeMap::new();
        let (mut ctx, mut id) = (None, None);
        for line in po.lines() {
            let quoted = |l: &str| l.split_once(' ').map(|(_, v)| v.trim().trim_matches('"').replace("\\\"", "\""));
            if line.starts_with("msgctxt ") {
                ctx = quoted(line);
            } else if line.starts_with("msgid ") {
                id = quoted(line);
            } else if line.starts_with("msgstr ")
                && let Some(id) = id.take()
            {
                entries.insert((ctx.take(), id), quoted(line).unwrap_or_default());
            }
        }
        for key in &wanted {
            let translated = entries.get(key).unwrap_or_else(|| panic!("{lang}: « {} » not translated", key.1));
            assert!(!translated.is_empty(), "{lang}: « {} » empty", key.1);
            assert_eq!(placeholders(translated), placeholders(&key.1), "{lang}: placeholders of « {} »", key.1);
        }
    }
}

/// `docs/screens/` shows the interface as it is: `borne screenshots` draws every screen again
/// and each picture must match the one committed, pixel for pixel (the administration panel
/// shows this machine's disk, so it is only checked to exist).
#[test]
fn the_screenshots_in_docs_are_those_of_the_current_interface() {
    let dir = Scratch::new("screens");
    let status =
        std::process::Command::new(env!("CARGO_BIN_EXE_borne")).arg("screenshots").arg(dir.path()).output().unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let decode = |path: &std::path::Path| -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        pixels.truncate(info.buffer_size());
        (info.width, info.height, pixels)
    };
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screens");
    let mut stale = Vec::new();
    let mut count = 0;
    for size in std::fs::read_dir(dir.path()).unwrap() {
        let size = size.unwrap().path();
        for picture in std::fs::read_dir(&size).unwrap() {
            let picture = picture.unwrap().path();
            let relative = picture.strip_prefix(dir.path()).unwrap().to_path_buf();
            let ours = committed.join(&relative);
            count += 1;
            if !ours.exists() {
                stale.push(format!("{} missing", relative.display()));
            } else if !relative.ends_with("11-administration.png") && decode(&picture) != decode(&ours) {
                stale.push(format!("{} differs", relative.display()));
            }
        }
    }
    assert!(count >= 50, "{count} pictures drawn");
    // And the other way: every picture committed for the kiosk's screens is still drawn (a
    // screen renamed or removed leaves no stale picture behind). The dashboard's pictures are
    // the browser's (tests/it/dashboard.rs compares them), and so are the platform's console
    // pages (crates/borne-platform/tests/console.rs).
    for size in std::fs::read_dir(&committed).unwrap() {
        let size = size.unwrap().path();
        if size.file_name().is_some_and(|n| n == "dashboard" || n == "console") || !size.is_dir() {
            continue;
        }
        for picture in std::fs::read_dir(&size).unwrap() {
            let relative = picture.unwrap().path().strip_prefix(&committed).unwrap().to_path_buf();
            if !dir.path().join(&relative).exists() {
                stale.push(format!("{} no longer drawn", relative.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "docs/screens is stale ({}); redraw it with `cargo run --release -- screenshots docs/screens`",
        stale.join(", ")
    );
}

#[test]
fn a_held_review_is_written_when_the_store_recovers_even_after_closing_time() {
    let r = rig("ui-held-closed");
    r.kiosk.with_store(|s| s.refuse_writes(true)).unwrap();
    r.tap("Pas bien");
    r.tap("Passer");
    r.tap("Passer");
    assert_eq!(r.screen(), Screen::OutOfService);
    assert_eq!(r.kiosk.held(), 1);
    // Closing time comes while the store still refuses: the screen says « Fermé ».
    r.kiosk.set_closed(true, "Fermé");
    assert_eq!(r.screen(), Screen::Closed);
    r.wait(6.0);
    assert!(r.reviews().is_empty(), "still refused");
    // The store writes again during the night: the held review is written, the kiosk stays closed.
    r.kiosk.with_store(|s| s.refuse_writes(false)).unwrap();
    r.wait(5.1);
    assert_eq!(r.screen(), Screen::Closed);
    assert_eq!(r.kiosk.held(), 0);
    let stored = r.reviews();
    assert_eq!(stored.len(), 1, "written while closed, not at the next restart");
    assert_eq!(answers_of(&stored[0], "satisfaction"), vec![1]);
}

#[test]
fn at_shutdown_held_reviews_get_a_last_try() {
    let r = rig("ui-shutdown");
    // A review held in memory, then the store writes again just before the service stops.
    r.kiosk.with_store(|s| s.refuse_writes(true)).unwrap();
    r.tap("Moyen");
    r.tap("Passer");
    r.tap("Passer");
    assert_eq!(r.kiosk.held(), 1);
    r.kiosk.with_store(|s| s.refuse_writes(false)).unwrap();
    assert_eq!(r.kiosk.shutdown(), 0, "nothing lost");
    let stored = r.reviews();
    assert_eq!(stored.len(), 1);
    assert_eq!(answers_of(&stored[0], "satisfaction"), vec![2]);
}

#[test]
fn at_shutdown_a_visit_in_progress_is_kept_as_on_a_walk_away() {
    // A visitor is on the comment screen when the service stops: the rating is kept.
    let r = rig("ui-shutdown-visit");
    r.tap("Très bien");
    assert_ne!(r.screen(), Screen::Home);
    assert_eq!(r.kiosk.shutdown(), 0);
    let stored = r.reviews();
    assert_eq!(stored.len(), 1);
    assert_eq!(answers_of(&stored[0], "satisfaction"), vec![3]);
}

#[test]
fn at_shutdown_the_reviews_the_store_still_refuses_are_counted() {
    let r = rig("ui-shutdown-lost");
    r.kiosk.with_store(|s| s.refuse_writes(true)).unwrap();
    r.tap("Pas bien");
    r.tap("Passer");
    r.tap("Passer");
    assert_eq!(r.kiosk.shutdown(), 1);
    assert!(r.reviews().is_empty());
}

/// « Vous nous l'avez dit, on l'a fait »: what the manager writes on the dashboard (another
/// connection to the store, as the dashboard's) reaches the home screen at its next look, the
/// latest first, readable by a screen reader; a removed one goes; a visit never shows it.
#[test]
fn the_home_screen_shows_the_managers_latest_action_within_five_minutes() {
    let r = rig("ui-actions");
    let labelled =
        |r: &Rig| r.find("Vous nous l'avez dit, on l'a fait : 16/11/2026 — Un guichet de plus le lundi matin").len();
    assert_eq!(r.kiosk.window().get_action_text(), "");
    let (mut dashboard, _) = Store::open(r.dir.path(), Integrity::Trust).unwrap();
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    dashboard.add_action("Des chaises en salle d'attente", day(2)).unwrap();
    let latest = dashboard.add_action("Un guichet de plus le lundi matin", day(16)).unwrap();
    // Not yet: the home screen looks every five minutes (and nothing is redrawn meanwhile).
    r.wait(240.0);
    r.kiosk.tick();
    assert_eq!(r.kiosk.window().get_action_text(), "");
    r.wait(61.0);
    r.kiosk.tick();
    assert_eq!(r.kiosk.window().get_action_text(), "Un guichet de plus le lundi matin");
    assert_eq!(r.kiosk.window().get_action_date(), "16/11/2026");
    assert_eq!(labelled(&r), 1, "the band is labelled for screen readers");
    // During a visit it is not on screen.
    r.tap("Pas bien");
    assert_eq!(labelled(&r), 0);
    for _ in 0..4 {
        r.wait(60.0);
        r.kiosk.tick();
    }
    assert_eq!(r.screen(), Screen::Home);
    assert_eq!(labelled(&r), 1);
    dashboard.remove_action(latest.id).unwrap();
    r.wait(300.0);
    r.kiosk.tick();
    assert_eq!(r.kiosk.window().get_action_text(), "Des chaises en salle d'attente");
}

/// Large text: the comment keyboard's keys are at least 2 cm on a 7" panel, on each of its
/// pages, and a comment typed through them, capitals and accents included, is stored as typed.
#[test]
fn in_large_text_every_key_is_two_centimetres_and_types_a_whole_comment() {
    let r = rig("ui-large-keys");
    let px_per_cm = 800.0 / 15.4;
    r.tap("Grand texte / contraste élevé");
    r.tap("Très bien");
    assert_eq!(r.screen(), Screen::Comment);
    let keys = |r: &Rig| {
        r.kiosk
            .window()
            .root_element()
            .query_descendants()
            .match_predicate(|e| e.type_name().is_some_and(|t| t == "Key" || t == "KButton"))
            .find_all()
    };
    let mut seen = std::collections::BTreeSet::new();
    for page in ["Lettres o à z", "Lettres accentuées", "Chiffres et ponctuation", "Lettres a à n"] {
        for key in keys(&r) {
            let label = key.accessible_label().unwrap_or_default().to_string();
            let size = key.size();
            let small = size.width.min(size.height) / px_per_cm;
            assert!(small >= 2.0, "« {label} » is {small:.2} cm ({} × {})", size.width, size.height);
            seen.insert(label);
        }
        r.tap(page);
    }
    for c in ["a", "n", "o", "z", "é", "ç", "1", "0", "@", "Espace", "Effacer", "Majuscule", "Passer", "Envoyer"] {
        assert!(seen.contains(c), "« {c} » on one of the pages: {seen:?}");
    }
    // « Bon accueil, 10! » — turning the pages as a visitor would (the page key shows the next).
    let next_page = |r: &Rig| {
        let page_key = ["Lettres o à z", "Lettres accentuées", "Chiffres et ponctuation", "Lettres a à n"]
            .into_iter()
            .find(|l| r.find(l).len() == 1)
            .expect("a page key");
        r.tap(page_key);
    };
    let taps = |r: &Rig, keys: &[&str]| keys.iter().for_each(|k| r.tap(k));
    taps(&r, &["Majuscule", "B"]);
    next_page(&r);
    taps(&r, &["o"]);
    (0..3).for_each(|_| next_page(&r));
    taps(&r, &["n", "Espace", "a", "c", "c"]);
    next_page(&r);
    taps(&r, &["u"]);
    next_page(&r);
    taps(&r, &["è", "Effacer"]);
    (0..2).for_each(|_| next_page(&r));
    taps(&r, &["e", "i", "l"]);
    next_page(&r);
    taps(&r, &[",", "Espace"]);
    (0..2).for_each(|_| next_page(&r));
    taps(&r, &["1", "0", "!"]);
    assert_eq!(r.shown_comment(), "Bon accueil, 10!");
    r.tap("Envoyer");
    assert_eq!(r.screen(), Screen::Thanks);
    assert_eq!(r.reviews()[0].comment(), Some("Bon accueil, 10!"));
}

/// Arabic reads right to left: the smileys, the follow-up's choices and buttons, and the comment
/// row are mirrored by the UI itself; the keyboard is not; French comes back left to right.
#[test]
fn arabic_is_laid_out_right_to_left_and_french_comes_back_left_to_right() {
    let r = rig("ui-rtl");
    let x_of = |r: &Rig, label: &str| {
        let found = r.find(label);
        assert_eq!(found.len(), 1, "« {label} »");
        found[0].absolute_position().x
    };
    assert!(x_of(&r, "Pas bien") < x_of(&r, "Très bien"), "left to right in French");
    let key_a = x_of(r.with_comment_screen(), "a");
    // Left alone: the review is kept, « Merci », then home (and past the response interval).
    r.wait(30.2);
    r.wait(30.0);
    r.tap("Langue · Language");
    r.tap("العربية");
    assert!(r.kiosk.window().global::<Theme>().get_rtl());
    assert!(x_of(&r, "سيئة") > x_of(&r, "جيدة جدًا"), "« Pas bien » on the right in Arabic");
    assert!(x_of(&r, "اللغة · Language") > 400.0, "the language button where reading starts");
    r.tap("سيئة");
    assert!(x_of(&r, "التالي") < x_of(&r, "تخطي"), "« Suivant » on the left");
    let first_choice = r.kiosk.window().get_choices().row_data(0).unwrap().label.to_string();
    let second_choice = r.kiosk.window().get_choices().row_data(1).unwrap().label.to_string();
    let (first, second) = (arabic(&first_choice), arabic(&second_choice));
    assert!(x_of(&r, &first) > x_of(&r, &second), "the first choice on the right");
    r.tap("التالي");
    assert!(x_of(&r, "إرسال") < x_of(&r, "تخطي"), "« Envoyer » on the left");
    assert_eq!(x_of(&r, "a"), key_a, "the keyboard is not mirrored");
    r.tap("تخطي");
    r.wait(4.1);
    assert!(!r.kiosk.window().global::<Theme>().get_rtl(), "French again, left to right");
    assert!(x_of(&r, "Pas bien") < x_of(&r, "Très bien"));
}

/// The Arabic of a shipped French text, from the translation file.
fn arabic(french: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/translations/ar/LC_MESSAGES/borne.po");
    let po = std::fs::read_to_string(root).unwrap();
    let wanted = format!("msgid \"{}\"", french.replace('"', "\\\""));
    let mut lines = po.lines();
    while let Some(line) = lines.next() {
        if line == wanted {
            return lines.next().unwrap().trim_start_matches("msgstr \"").trim_end_matches('"').to_string();
        }
    }
    panic!("no Arabic for « {french} »")
}

impl Rig {
    /// Goes from home to the comment screen (« Très bien » has no follow-up question).
    fn with_comment_screen(&self) -> &Rig {
        self.tap("Très bien");
        assert_eq!(self.screen(), Screen::Comment);
        self
    }
}

/// The height of the capital H of a font file, as a share of its size (the glyph's own box).
fn cap_height_ratio(ttf: &[u8]) -> f64 {
    let face = ttf_parser::Face::parse(ttf, 0).expect("a font");
    let h = face.glyph_index('H').expect("an H");
    let bbox = face.glyph_bounding_box(h).expect("its outline");
    f64::from(bbox.y_max) / f64::from(face.units_per_em())
}

/// EN 301 549 5.1.4: in large text, every text a visitor needs has a capital H that subtends at
/// least 0.7° at the viewing distance Borne states (300 mm), on the 7" 800×480 panel. Every
/// font size of the visitor's screens is read from `ui/`, and the capital H's height from the
/// embedded fonts themselves.
#[test]
fn in_large_text_a_capital_h_subtends_0_7_degrees_at_300_mm() {
    let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let viewing_distance_mm = 300.0_f64;
    let wanted_mm = viewing_distance_mm * 0.7_f64.to_radians().tan();
    let unit_mm = 154.0 / 800.0;
    let cap = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"]
        .iter()
        .map(|f| cap_height_ratio(&std::fs::read(ui.join("fonts").join(f)).unwrap()))
        .fold(f64::INFINITY, f64::min);
    assert!((0.7..0.75).contains(&cap), "DejaVu Sans draws H at {cap:.3} of its size");
    let wanted_units = wanted_mm / unit_mm / cap;
    let theme = std::fs::read_to_string(ui.join("theme.slint")).unwrap();
    let large_min: f64 =
        regex::Regex::new(r"large-min: ([\d.]+);").unwrap().captures(&theme).unwrap()[1].parse().unwrap();
    assert!(large_min >= wanted_units, "large-min {large_min} < {wanted_units:.1} units");
    // Every size on a visitor's screen: `Theme.size(n)` (n × 1.25, at least large-min), or a
    // button's size, which KButton raises the same way. The staff's PIN pad and panel are not a
    // visitor's.
    let sized = regex::Regex::new(r"font-size: Theme\.size\((\d+)\) \* (root\.|self\.)?u;").unwrap();
    let button_input = regex::Regex::new(r"^\s*(in property <length> )?font-size: \d+ \* ((root|self)\.)?u;$").unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in ["widgets.slint", "keyboard.slint", "screens.slint"] {
        let text = std::fs::read_to_string(ui.join(file)).unwrap();
        let visitor = text.split("export component PinScreen").next().unwrap();
        let lines: Vec<&str> = visitor.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.contains("font-size:") {
                continue;
            }
            checked += 1;
            if let Some(c) = sized.captures(line) {
                let large = (c[1].parse::<f64>().unwrap() * 1.25).max(large_min);
                if large < wanted_units {
                    failures.push(format!("{file}:{}: {large} units", i + 1));
                }
                continue;
            }
            // A button's size: the nearest element opened above is a KButton (or one of its kinds).
            let owner = lines[..i].iter().rev().find(|l| l.trim_end().ends_with('{') && !l.contains("=>")).unwrap();
            let is_button = owner.contains("KButton")
                || ["LanguageButton", "ContrastButton", "CommentSkip", "CommentSend"].iter().any(|b| owner.contains(b));
            let kbutton_rule = line.contains("max(root.font-size * 1.25, Theme.large-min * root.u)");
            if !(kbutton_rule || (is_button && button_input.is_match(line))) {
                failures.push(format!("{file}:{}: a size not raised in large text: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(checked > 15, "{checked} sizes read");
    assert!(
        failures.is_empty(),
        "capital H under {wanted_mm:.2} mm at {viewing_distance_mm} mm:\n{}",
        failures.join("\n")
    );
}

/// The speech mode says every screen a visitor reaches by the buttons, in the visitor's
/// language: every interactive element's accessible label on the screen is among the words
/// said there, and every utterance is in the screen's language. The on-screen keyboard's keys
/// are the exception: typing needs sight, and the voice says so and offers « Envoyer » and
/// « Passer »; so is the staff's hidden « Administration » corner.
#[test]
fn speech_says_every_interactive_label_of_every_screen_in_its_language() {
    use i_slint_backend_testing::AccessibleRole;
    let config = Config::embedded();
    let transcript = Rc::new(borne::kiosk::speech::Transcript::default());
    let r = rig_speaking("ui-speech", config.clone(), transcript.clone());
    for language in &config.survey.languages {
        // Each screen: its name, the language the window shows it in, its labels.
        let mut labels: Vec<(String, String, Vec<String>)> = Vec::new();
        let window = r.kiosk.window().clone_strong();
        let spoken = borne::ui::speech::walk_spoken(
            &r.kiosk,
            &transcript,
            language,
            &|d| i_slint_backend_testing::mock_elapsed_time(d),
            &mut |screen| {
                let found: Vec<String> = window
                    .root_element()
                    .query_descendants()
                    .match_predicate(|e| {
                        matches!(
                            e.accessible_role(),
                            Some(
                                AccessibleRole::Button
                                    | AccessibleRole::Checkbox
                                    | AccessibleRole::Switch
                                    | AccessibleRole::TextInput
                            )
                        ) && e.type_name().is_none_or(|t| t != "Key")
                    })
                    .find_all()
                    .into_iter()
                    .filter_map(|e| e.accessible_label().map(|l| l.to_string()))
                    .filter(|l| l != "Administration")
                    .collect();
                labels.push((screen.to_string(), window.get_language().to_string(), found));
            },
        )
        .unwrap();
        assert_eq!(
            spoken.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
            labels.iter().map(|(s, _, _)| s.as_str()).collect::<Vec<_>>()
        );
        // The walk went through every screen a visitor meets, in order.
        assert_eq!(
            spoken.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
            ["01-accueil", "02-question", "03-commentaire", "04-merci", "05-hors-service", "06-ferme", "07-langues"],
            "{language}"
        );
        for ((screen, said), (_, shown_in, wanted)) in spoken.iter().zip(&labels) {
            assert!(!said.is_empty(), "{language}, {screen}: nothing said");
            // The message screens (« Merci », « hors service », « Fermé ») have nothing to press.
            let message = ["04-merci", "05-hors-service", "06-ferme"].contains(&screen.as_str());
            assert_eq!(wanted.is_empty(), message, "{language}, {screen}: interactive elements {wanted:?}");
            let words: String = said.iter().map(|u| u.text.as_str()).collect::<Vec<_>>().join(" ");
            for u in said {
                assert_eq!(u.language, *shown_in, "{screen}: « {} » said in {}", u.text, u.language);
            }
            // The kiosk closing mid-visit starts the next day in French, on screen and aloud.
            let expected = if screen == "06-ferme" { "fr" } else { language.as_str() };
            assert_eq!(shown_in, expected, "{screen}");
            for label in wanted {
                assert!(words.contains(label.as_str()), "{language}, {screen}: « {label} » not said in « {words} »");
            }
            if shown_in != "fr" {
                for french in
                    ["De façon générale", "Bouton de gauche", "Vous avez choisi", "Votre commentaire", "Merci !"]
                {
                    assert!(!words.contains(french), "{language}, {screen}: French « {french} » in « {words} »");
                }
            }
        }
    }
}

/// A help question asked once per channel says, aloud, the channel it is asked for (as the
/// screen shows it above the question), in the visitor's language.
#[test]
fn speech_says_the_channel_a_help_question_is_asked_for() {
    use borne::ui::Input;
    let mut config = Config::embedded();
    let q = |code: &str| borne_model::review::jdma_question(code).unwrap();
    config.survey.follow_ups = vec![q("contact_tried"), q("contact_reached")];
    let transcript = Rc::new(borne::kiosk::speech::Transcript::default());
    let r = rig_speaking("ui-speech-channel", config, transcript.clone());
    r.kiosk.input(Input::Speech(borne::ui::voice::SpeechKey::Speak));
    r.kiosk.input(Input::Rate(2));
    // At the counter and by phone: « joindre » is asked for the counter first, then the phone.
    r.kiosk.input(Input::Toggle(10));
    r.kiosk.input(Input::Toggle(9));
    transcript.take();
    r.kiosk.input(Input::Next);
    let said: Vec<String> = transcript.take().into_iter().map(|u| u.text).collect();
    let words = said.join(" ");
    assert!(
        words.starts_with(
            "Au guichet avec l’administration. Quand vous avez cherché de l'aide, avez-vous réussi à joindre l'administration ?"
        ),
        "{words}"
    );
    r.kiosk.input(Input::Toggle(18));
    transcript.take();
    r.kiosk.input(Input::Next);
    let words = transcript.take().into_iter().map(|u| u.text).collect::<Vec<_>>().join(" ");
    assert!(words.starts_with("Par téléphone avec l’administration. "), "{words}");
}

/// Every WAV of `borne speech` holds speech: long enough, and loud enough by `sox`'s own
/// statistics (a silent or empty file fails); every transcript is there.
#[test]
#[ignore = "needs espeak-ng, alsa-utils and sox (Debian packages, installed by .ci/run)"]
fn borne_speech_writes_a_transcript_and_a_spoken_wav_for_every_screen_and_language() {
    let dir = Scratch::new("speech-files");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_borne")).arg("speech").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let config = Config::embedded();
    const SCREENS: [&str; 7] =
        ["01-accueil", "02-question", "03-commentaire", "04-merci", "05-hors-service", "06-ferme", "07-langues"];
    // The files the command wrote, as the directory lists them: one WAV and one transcript per
    // screen and language, and nothing else.
    let mut written: Vec<String> = Vec::new();
    for language in std::fs::read_dir(dir.path()).unwrap() {
        let language = language.unwrap();
        for file in std::fs::read_dir(language.path()).unwrap() {
            let name = file.unwrap().file_name().to_string_lossy().into_owned();
            written.push(format!("{}/{name}", language.file_name().to_string_lossy()));
        }
    }
    written.sort();
    let mut wanted: Vec<String> = config
        .survey
        .languages
        .iter()
        .flat_map(|l| SCREENS.iter().flat_map(move |s| [format!("{l}/{s}.txt"), format!("{l}/{s}.wav")]))
        .collect();
    wanted.sort();
    assert_eq!(written, wanted, "one spoken WAV and one transcript per screen and language");
    for language in &config.survey.languages {
        for screen in SCREENS {
            let base = dir.path().join(language).join(screen);
            let text = std::fs::read_to_string(base.with_extension("txt")).unwrap();
            assert!(text.trim().len() > 5, "{language}/{screen}: « {text} »");
            let stat = std::process::Command::new("sox")
                .arg(base.with_extension("wav"))
                .args(["-n", "stat"])
                .output()
                .expect("sox");
            let stat = String::from_utf8_lossy(&stat.stderr);
            let field = |name: &str| -> f64 {
                stat.lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.rsplit(':').next())
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or_else(|| panic!("{language}/{screen}: no « {name} » in {stat}"))
            };
            let (seconds, rms) = (field("Length (seconds)"), field("RMS     amplitude"));
            assert!(seconds > 0.8, "{language}/{screen}: {seconds} s");
            assert!(rms > 0.01, "{language}/{screen}: RMS {rms}, silent");
        }
    }
}

/// A survey version the platform published (held in the store by the uploader, another
/// connection) reaches the screen at the next idle moment: a visit in progress keeps the
/// questions it started with; the next visitor gets the new ones; a withdrawn version brings the
/// file's back. The store says which version the screen runs.
#[test]
fn a_published_survey_reaches_the_screen_at_an_idle_moment_never_during_a_visit() {
    let r = rig("ui-published");
    let (mut uploader_side, _) = Store::open(r.dir.path(), Integrity::Trust).unwrap();
    let text = "[survey]\n[[survey.follow_up]]\ncode = \"kiosk_attente\"\nlabel = \"Avez-vous attendu plus de 20 minutes ?\"\n\
                kind = \"radio\"\nshow_after = [\"pas_bien\"]\n\
                items = [{ id = 1, text = \"Oui, trop longtemps\", intention = \"bad\" }, { id = 2, text = \"Non\", intention = \"good\" }]\n";
    // A visit starts; the version arrives meanwhile.
    r.tap("Pas bien");
    uploader_side.hold_published(Some((7, text)), chrono::Utc::now()).unwrap();
    r.wait(20.0);
    r.tap("L'attente");
    r.wait(20.0);
    assert_eq!(r.find("Oui, trop longtemps").len(), 0, "not during a visit");
    r.tap("Suivant");
    r.tap("Envoyer");
    assert_eq!(r.screen(), Screen::Comment, "nothing typed: « Envoyer » is disabled");
    r.type_text("ok");
    r.tap("Envoyer");
    assert_eq!(r.screen(), Screen::Thanks);
    assert_eq!(uploader_side.published_survey().unwrap().running, None, "the file's survey still runs");
    r.wait(4.1);
    assert_eq!(r.screen(), Screen::Home);
    r.wait(31.0);
    assert_eq!(uploader_side.published_survey().unwrap().running, Some(7), "applied at home");
    r.tap("Pas bien");
    assert_eq!(r.screen(), Screen::FollowUp);
    assert_eq!(r.find("Avez-vous attendu plus de 20 minutes ?").len(), 1);
    assert_eq!(r.find("L'attente").len(), 0, "the file's question is replaced");
    r.tap("Oui, trop longtemps");
    r.tap("Suivant");
    r.type_text("long");
    r.tap("Envoyer");
    let stored = r.reviews();
    assert_eq!(answers_of(&stored[0], "kiosk_motif"), [1], "the first visitor answered the file's question");
    assert_eq!(answers_of(&stored[1], "kiosk_attente"), [1], "the next one the published question");
    // « Moyen » asks nothing now: the version replaced every follow-up (taps count again once
    // the response interval after a review is over).
    r.wait(6.0);
    r.tap("Moyen");
    assert_eq!(r.screen(), Screen::Comment);
    r.wait(31.0);
    assert_eq!(r.screen(), Screen::Thanks, "the visitor left");
    // Withdrawn while a visitor is choosing English on the home screen: a visit has begun, so
    // not yet; once the kiosk is back to French by itself, the file's survey again.
    r.wait(5.0);
    assert_eq!(r.screen(), Screen::Home);
    r.tap("Langue · Language");
    r.tap("English");
    uploader_side.hold_published(None, chrono::Utc::now()).unwrap();
    r.wait(25.0);
    assert_eq!(uploader_side.published_survey().unwrap().running, Some(7), "not while a visitor chose a language");
    r.wait(40.0);
    assert_eq!(r.screen(), Screen::Home);
    assert_eq!(uploader_side.published_survey().unwrap().running, None);
    r.tap("Pas bien");
    assert_eq!(r.find("L'attente").len(), 1);
}
