//! `borne screenshots DIR`: every screen, drawn by the real UI code through the software
//! renderer, reached by the same taps a visitor makes, on a throw-away in-memory store.

use super::headless::Headless;
use super::{Input, Kiosk, KioskParts};
use crate::clock::{SyncSource, SystemClock};
use crate::config::Config;
use crate::kiosk;
use crate::store::Store;
use anyhow::{Context, Result};
use borne_model::review::ReviewDraft;
use slint::ComponentHandle;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The panel sizes drawn: the 7" official panel and a 10" HD one.
pub const SIZES: [(u32, u32); 2] = [(800, 480), (1280, 720)];
/// Small SPI panels (2.8" ILI9341 / ST7789, 3.5" ILI9486), as `[panel]` drives them.
pub const PANEL_SIZES: [(u32, u32); 2] = [(320, 240), (480, 320)];

/// A kiosk on a store holding 312 reviews of today (8,4/10), with a time that only moves
/// when told.
pub struct Scene {
    pub kiosk: Rc<Kiosk>,
    time: Rc<Cell<Instant>>,
}

impl Scene {
    /// A scene on `store`, first seeded with the 312 reviews.
    pub fn new(config: &Config, store: Store, status: super::StatusLines) -> Result<Scene> {
        Scene::speaking(config, store, status, Rc::new(crate::kiosk::speech::Silent))
    }

    /// A scene whose voice is `speaker`.
    pub fn speaking(
        config: &Config,
        mut store: Store,
        status: super::StatusLines,
        speaker: Rc<dyn crate::kiosk::speech::Speaker>,
    ) -> Result<Scene> {
        seed(&mut store, config)?;
        let time = Rc::new(Cell::new(Instant::now()));
        let clock_time = time.clone();
        let parts = KioskParts {
            admin_status: status,
            speaker,
            ..KioskParts::new(store, config, Rc::new(move || clock_time.get()))
        };
        let kiosk = Kiosk::new(parts).context("la fenêtre de la borne n'a pas pu être créée")?;
        Ok(Scene { kiosk, time })
    }

    pub fn advance(&self, by: Duration) {
        self.time.set(self.time.get() + by);
        self.kiosk.tick();
    }

    pub fn taps(&self, inputs: impl IntoIterator<Item = Input>) {
        for input in inputs {
            self.kiosk.input(input);
        }
    }

    pub fn type_text(&self, text: &str) {
        for c in text.chars() {
            self.kiosk.input(Input::Key(c.to_string()));
        }
    }
}

/// 312 reviews: 240 « Très bien », 44 « Moyen », 28 « Pas bien » → 8,4/10.
fn seed(store: &mut Store, config: &Config) -> Result<()> {
    let clock = SystemClock { source: SyncSource::AssumeSynced };
    let mut reviews = Vec::new();
    for (satisfaction, count) in [(3, 240), (2, 44), (1, 28)] {
        for _ in 0..count {
            let draft = ReviewDraft {
                channel_answers: Vec::new(),
                satisfaction,
                answers: vec![],
                comment: None,
                language: "fr".into(),
            };
            reviews.push(kiosk::build_review(&config.survey, &clock, &draft)?);
        }
    }
    store.import_reviews(&reviews)?;
    Ok(())
}

/// Walks a fresh kiosk through every screen a visitor (or the manager) can reach, with the
/// taps that reach it, and calls `at` on each; with `languages`, also the home screen in every
/// language. The screenshots and the frame benchmarks both walk this way.
pub fn walk(
    scene: &Scene,
    config: &Config,
    languages: bool,
    mut at: impl FnMut(&str, &Scene) -> Result<()>,
) -> Result<()> {
    at("01-accueil", scene)?;
    if languages {
        for lang in config.survey.languages.iter().filter(|l| *l != "fr") {
            scene.taps([Input::OpenLanguages, Input::ChooseLanguage(lang.clone())]);
            at(&format!("01-accueil-{lang}"), scene)?;
        }
        scene.advance(config.screen.timing.inactivity_timeout);
        // Right to left: the screens of a visit in Arabic, mirrored.
        for lang in config.survey.languages.iter().filter(|l| super::RTL_LANGUAGES.contains(&l.as_str())) {
            scene.taps([Input::OpenLanguages, Input::ChooseLanguage(lang.clone())]);
            scene.taps([Input::Rate(1), Input::Toggle(1)]);
            at(&format!("04-question-{lang}"), scene)?;
            scene.taps([Input::Next]);
            scene.type_text("Merci");
            at(&format!("05-commentaire-{lang}"), scene)?;
            scene.taps([Input::Skip]);
            scene.advance(Duration::from_secs(10));
        }
    }
    scene.taps([Input::OpenLanguages]);
    at("02-langues", scene)?;
    scene.taps([Input::CloseLanguages, Input::ToggleContrast]);
    at("03-accueil-grand-texte", scene)?;
    scene.taps([Input::ToggleContrast, Input::Rate(1), Input::Toggle(1), Input::Toggle(3)]);
    at("04-question", scene)?;
    scene.taps([Input::Next]);
    scene.type_text("Trop d'attente au guichet, mais accueil très aimable.");
    at("05-commentaire", scene)?;
    scene.taps([Input::ToggleContrast]);
    at("06-commentaire-grand-texte", scene)?;
    // « Merci » as most visitors see it (normal contrast): the whole-machine test
    // (image/test-boot.sh) compares the emulated kiosk's screen with this picture.
    scene.taps([Input::ToggleContrast, Input::Send]);
    at("07-merci", scene)?;
    scene.advance(Duration::from_secs(10));

    scene.kiosk.with_store(|s| s.refuse_writes(true))?;
    scene.taps([Input::Rate(3), Input::Skip]);
    at("08-hors-service", scene)?;
    scene.kiosk.with_store(|s| s.refuse_writes(false))?;
    scene.advance(Duration::from_secs(10));

    scene.kiosk.set_closed(true, "");
    at("09-ferme", scene)?;
    scene.kiosk.set_closed(false, "");

    scene.taps(std::iter::repeat_n(Input::AdminTap, super::ADMIN_TAPS));
    scene.taps([Input::PinDigit("1".into()), Input::PinDigit("2".into())]);
    at("10-code-administration", scene)?;
    scene.taps([Input::PinErase, Input::PinErase]);
    let pin = config.screen.admin_pin.expose().to_string();
    scene.taps(pin.chars().map(|c| Input::PinDigit(c.to_string())));
    scene.taps([Input::PinSubmit]);
    at("11-administration", scene)?;
    scene.taps([Input::AdminClose]);

    // The manager wrote what the site changed (dashboard, « On l'a fait »): the home screen
    // shows the latest at its next look.
    // A fixed day, so that the picture does not change with the date it is drawn on.
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 16).context("a valid date")?;
    scene.kiosk.with_store(|s| {
        s.add_action("Un guichet de plus le lundi matin, et les rendez-vous en ligne pour les titres de séjour.", day)
    })?;
    scene.advance(super::ACTIONS_REFRESH);
    at("12-accueil-on-l-a-fait", scene)?;
    Ok(())
}

/// Every screen at every size, and the home screen in every language. Returns the files written.
pub fn write_all(config: &Config, status: &dyn Fn() -> super::StatusLines, dir: &Path) -> Result<Vec<PathBuf>> {
    let headless = Headless::install().map_err(|e| anyhow::anyhow!("rendu sans écran impossible : {e}"))?;
    let mut written = Vec::new();
    for (width, height) in SIZES.into_iter().chain(PANEL_SIZES) {
        let sub = dir.join(format!("{width}x{height}"));
        std::fs::create_dir_all(&sub).with_context(|| format!("{} : dossier impossible à créer", sub.display()))?;
        let scene = Scene::new(config, Store::open_in_memory()?, status())?;
        headless.set_size(width, height)?;
        scene.kiosk.window().show()?;
        walk(&scene, config, width == SIZES[0].0, |name, _| {
            let frame = headless.render()?;
            let path = sub.join(format!("{name}.png"));
            frame.write_png(&path).with_context(|| format!("{} : écriture impossible", path.display()))?;
            written.push(path);
            Ok(())
        })?;
    }
    Ok(written)
}

/// For every language, what the voice says on each screen of a visit made by the buttons
/// alone, through the real window and flow (`borne speech` writes it out and voices it).
pub fn speech_transcripts(config: &Config) -> Result<Vec<(String, super::speech::Walked)>> {
    let _headless = Headless::install().map_err(|e| anyhow::anyhow!("rendu sans écran impossible : {e}"))?;
    let mut all = Vec::new();
    for language in &config.survey.languages {
        let transcript = Rc::new(crate::kiosk::speech::Transcript::default());
        let scene = Scene::speaking(config, Store::open_in_memory()?, Box::new(|_| Vec::new()), transcript.clone())?;
        scene.kiosk.window().show()?;
        let screens =
            super::speech::walk_spoken(&scene.kiosk, &transcript, language, &|by| scene.advance(by), &mut |_| {})?;
        scene.kiosk.window().hide()?;
        all.push((language.clone(), screens));
    }
    Ok(all)
}
