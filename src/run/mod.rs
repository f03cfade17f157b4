//! The running kiosk's wiring: the store, the uploader on its own thread, the dashboard on its
//! own runtime, the SPI panel, the window, the devices' controller and the housekeeping, put
//! together and torn down in order. `commands` calls `kiosk`; nothing else imports this module
//! but the commands.
//!
//! Invariant: this is the only module that knows every part; the parts know none of it.

pub mod controller;
pub mod dashboard;
pub mod housekeeping;
mod runtime;
pub mod uploader;

use crate::app::App;
use crate::health::{Health, admin_status};
use crate::store::Integrity;
use anyhow::{Context, Result};
pub use runtime::{two_worker_runtime, until_interrupted};
use std::io::Write;
use std::rc::Rc;
use std::time::Instant;

/// `borne` with no command: the kiosk. Opens the store as a kiosk must (integrity check),
/// starts the housekeeping (its first look corrects clocks and applies retention at once), the
/// uploader when enabled and the dashboard, and shows the touchscreen until the manager quits
/// or the service is stopped.
pub fn kiosk(app: &App, out: &mut dyn Write) -> Result<()> {
    let store = app.open_store(Integrity::CheckAndRecover)?;
    crate::redact::warm_up();
    writeln!(out, "Borne {} — {}", crate::health::VERSION, app.config.site_name)?;
    writeln!(out, "Configuration : {}", app.config.source)?;
    for (label, value) in Health::gather(app, &store).admin_lines() {
        writeln!(out, "{label} : {value}")?;
    }
    out.flush()?;
    let uploader = match app.config.upload {
        Some(_) => Some(uploader::spawn(app)?),
        None => None,
    };
    let nudge = uploader.as_ref().map(|u| u.nudge.clone());
    let housekeeping = housekeeping::spawn(app)?;
    // The dashboard runs beside the screen, on its own runtime; a busy port does not stop the
    // kiosk. Without a password yet, it opens as soon as one is set (`borne passwd`).
    let dashboard_runtime = two_worker_runtime("dashboard")?;
    let dashboard = if store.manager_password_is_set()? {
        match dashboard::start(app, app.config.dashboard.listen, &dashboard_runtime) {
            Ok((bound, served)) => {
                writeln!(out, "Tableau de bord servi sur {bound}")?;
                Some(served)
            }
            Err(e) => {
                tracing::error!("dashboard not served: {e:#}");
                writeln!(out, "Tableau de bord non servi : {e:#}")?;
                None
            }
        }
    } else {
        Some(dashboard::start_once_password_set(app, &dashboard_runtime))
    };
    // An SPI panel becomes Slint's platform before the window is created.
    let mut panel = match &app.config.panel {
        Some(cfg) => crate::hw::start_panel(cfg, &app.config.hardware)?,
        None => None,
    };
    if let (Some(_), Some(cfg)) = (&panel, &app.config.panel) {
        writeln!(out, "Écran SPI : {:?}, {}×{}", cfg.model, cfg.width, cfg.height)?;
    }
    let status_app = app.clone();
    let speaker: Rc<dyn crate::kiosk::speech::Speaker> = if app.config.accessibility.speech {
        Rc::new(crate::speech::Espeak::new(&app.config.accessibility))
    } else {
        Rc::new(crate::kiosk::speech::Silent)
    };
    let access = app.config.accessibility.clone();
    let described = speaker.clone();
    let speech_state = move || -> String {
        let mut parts = vec![described.describe()];
        parts.extend(access.speak_pin.map(|p| format!("bouton haut-parleur GPIO {p}")));
        parts.extend(access.headset_pin.map(|p| format!("prise casque GPIO {p}")));
        if access.speech && access.speak_pin.is_none() && access.headset_pin.is_none() {
            parts.push("ni bouton haut-parleur ni prise casque : il ne peut pas démarrer".into());
        }
        if access.speech {
            parts.push(format!("volume de départ {} %", access.volume));
        }
        parts.join(" ; ")
    };
    writeln!(out, "Mode vocal : {}", speech_state())?;
    let parts = crate::ui::KioskParts {
        store,
        survey: app.config.survey.clone(),
        file_survey: crate::ui::FileSurvey::of(&app.config),
        screen: app.config.screen.clone(),
        min_reviews_for_score: app.config.min_reviews_for_score,
        clock: Box::new(app.clock()),
        now: Rc::new(Instant::now),
        on_commit: Box::new(move || {
            if let Some(nudge) = &nudge {
                nudge.notify_one();
            }
        }),
        admin_status: Box::new(move |store| {
            let mut lines = admin_status(&status_app, store);
            lines.push(("Mode vocal".into(), speech_state()));
            lines
        }),
        on_quit: Box::new(|| {
            let _ = slint::quit_event_loop();
        }),
        speaker,
        accessibility: app.config.accessibility.clone(),
    };
    let kiosk = crate::ui::Kiosk::new(parts).context(
        "aucun écran utilisable (ni fenêtre de bureau, ni console graphique) ; \
         SLINT_BACKEND permet d'en choisir un (winit, linuxkms-software)",
    )?;
    let (mut devices, _simulated) = crate::hw::open_devices(&app.config.hardware, &app.config.accessibility)?;
    if let Some(backlight) = panel.as_mut().and_then(|p| p.backlight.take()) {
        devices.backlight = Some(backlight);
    }
    let wall: Rc<dyn Fn() -> chrono::NaiveDateTime> = Rc::new(|| chrono::Local::now().naive_local());
    let _controller = controller::Controller::start(
        &kiosk,
        devices,
        app.config.hardware.behaviour.clone(),
        Rc::new(Instant::now),
        wall,
    )?;
    quit_on_termination_signals()?;
    crate::ui::show(&kiosk)?;
    // SIGTERM (systemd stopping the service) or the manager's « Quitter »: a visit in progress is
    // kept as a walk-away would keep it, and held reviews get a last try before the process ends.
    let lost = kiosk.shutdown();
    if lost > 0 {
        writeln!(out, "ATTENTION : {lost} avis n'ont pas pu être écrits sur le disque et sont perdus")?;
    }
    if let Some(served) = dashboard {
        served.stop(&dashboard_runtime);
    }
    housekeeping.stop();
    if let Some(uploader) = uploader {
        uploader.stop();
    }
    Ok(())
}

/// SIGTERM and SIGINT end the event loop (whatever the platform: desktop, console, SPI panel),
/// so that the kiosk stops in order instead of dying with reviews in memory.
fn quit_on_termination_signals() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (mut term, mut int) = runtime.block_on(async {
        Ok::<_, std::io::Error>((signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?))
    })?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        let which = runtime.block_on(async {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        });
        tracing::info!(signal = which, "stopping the kiosk");
        let _ = slint::invoke_from_event_loop(|| {
            let _ = slint::quit_event_loop();
        });
    })?;
    Ok(())
}
