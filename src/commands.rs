//! What each command does, behind the command line's parsing. Output meant for people is in
//! French; `--json` output is for scripts.

use crate::cli::{ConfigAction, DbAction, ExportArgs, ExportFormat, Period, RateArgs, ReviewsWhich, StatsArgs};
use crate::clock::SystemClock;
use crate::config::{self, Config, DEFAULT_CONFIG};
use crate::export;
use crate::kiosk;
use crate::review::{Indicators, QuestionIndicator, ReviewDraft, Score, french_decimal, indicators};
use crate::store::{DayRange, Integrity, Outbox, StatusFilter, Store};
use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What every command needs: the validated configuration and where the data lives.
pub struct App {
    pub config: Config,
    pub data_dir: PathBuf,
}

impl App {
    pub fn new(config: Config, data_dir_override: Option<&Path>) -> App {
        let data_dir = config.resolve_data_dir(data_dir_override);
        App { config, data_dir }
    }

    pub fn open_store(&self, integrity: Integrity) -> Result<Store> {
        let (store, report) = Store::open(&self.data_dir, integrity)?;
        if let Some(aside) = report.moved_aside {
            eprintln!(
                "ATTENTION : la base était endommagée ; elle a été mise de côté sous {} et une base neuve a été créée.",
                aside.display()
            );
        }
        Ok(store)
    }

    fn clock(&self) -> SystemClock {
        SystemClock { source: self.config.clock_source }
    }
}

/// `borne` with no command: the kiosk. Opens the store as a kiosk must (integrity check, clock
/// correction, retention), starts the uploader when enabled, and shows the touchscreen until
/// the manager quits from the administration panel.
pub fn run(app: &App, out: &mut dyn Write) -> Result<()> {
    let mut store = app.open_store(Integrity::CheckAndRecover)?;
    maintain(app, &mut store)?;
    crate::redact::warm_up();
    writeln!(out, "Borne {} — {}", env!("CARGO_PKG_VERSION"), app.config.site_name)?;
    writeln!(out, "Configuration : {}", app.config.source)?;
    for (label, value) in admin_status(app, &store) {
        writeln!(out, "{label} : {value}")?;
    }
    out.flush()?;
    let uploader = match app.config.upload {
        Some(_) => Some(spawn_uploader(app)?),
        None => None,
    };
    let nudge = uploader.as_ref().map(|u| u.nudge.clone());
    // The dashboard runs beside the screen, on its own runtime; a busy port does not stop the kiosk.
    let dashboard_runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mut dashboard = None;
    if crate::dashboard::password_is_set(&store)? {
        match start_dashboard(app, app.config.dashboard.listen, &dashboard_runtime) {
            Ok((bound, task, stop)) => {
                writeln!(out, "Tableau de bord servi sur {bound}")?;
                dashboard = Some((task, stop));
            }
            Err(e) => {
                tracing::error!("dashboard not served: {e:#}");
                writeln!(out, "Tableau de bord non servi : {e:#}")?;
            }
        }
    }
    // An SPI panel becomes Slint's platform before the window is created.
    let mut panel = match &app.config.panel {
        Some(cfg) => crate::hw::start_panel(cfg, &app.config.hardware)?,
        None => None,
    };
    if let (Some(_), Some(cfg)) = (&panel, &app.config.panel) {
        writeln!(out, "Écran SPI : {:?}, {}×{}", cfg.model, cfg.width, cfg.height)?;
    }
    let status_app = App { config: app.config.clone(), data_dir: app.data_dir.clone() };
    let parts = crate::ui::KioskParts {
        store,
        survey: app.config.survey.clone(),
        screen: app.config.screen.clone(),
        min_reviews_for_score: app.config.min_reviews_for_score,
        clock: Box::new(app.clock()),
        now: std::rc::Rc::new(std::time::Instant::now),
        on_commit: Box::new(move || {
            if let Some(nudge) = &nudge {
                nudge.notify_one();
            }
        }),
        admin_status: Box::new(move |store| admin_status(&status_app, store)),
        on_quit: Box::new(|| {
            let _ = slint::quit_event_loop();
        }),
    };
    let kiosk = crate::ui::Kiosk::new(parts).context(
        "aucun écran utilisable (ni fenêtre de bureau, ni console graphique) ; \
         SLINT_BACKEND permet d'en choisir un (winit, linuxkms-software)",
    )?;
    let (mut devices, _simulated) = crate::hw::open_devices(&app.config.hardware)?;
    if let Some(backlight) = panel.as_mut().and_then(|p| p.backlight.take()) {
        devices.backlight = Some(backlight);
    }
    let wall: std::rc::Rc<dyn Fn() -> chrono::NaiveDateTime> = std::rc::Rc::new(|| chrono::Local::now().naive_local());
    let _controller = crate::hw::controller::Controller::start(
        &kiosk,
        devices,
        app.config.hardware.behaviour.clone(),
        std::rc::Rc::new(std::time::Instant::now),
        wall,
    )?;
    crate::ui::show(&kiosk)?;
    if let Some((task, stop)) = dashboard {
        let _ = stop.send(());
        let _ = dashboard_runtime.block_on(task);
    }
    if let Some(uploader) = uploader {
        uploader.stop();
    }
    Ok(())
}

/// Where the manager finds the dashboard, in words.
pub fn dashboard_address(app: &App, store: &Store) -> String {
    match crate::dashboard::password_is_set(store) {
        Ok(true) => {
            let listen = app.config.dashboard.listen;
            let scheme = if app.config.dashboard.tls.is_some() { "https" } else { "http" };
            if listen.ip().is_unspecified() {
                match local_address() {
                    Some(ip) => format!("{scheme}://{ip}:{}/", listen.port()),
                    None => format!("port {} de cette borne ({scheme})", listen.port()),
                }
            } else {
                format!("{scheme}://{listen}/")
            }
        }
        Ok(false) => "fermé : aucun mot de passe (borne passwd)".into(),
        Err(e) => format!("état inconnu : {e}"),
    }
}

/// The address this machine uses on its network (no packet is sent).
fn local_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    socket.local_addr().ok().map(|a| a.ip()).filter(|ip| !ip.is_unspecified())
}

/// `borne passwd`: the manager's password, read from the terminal (twice, not echoed) or from
/// standard input; only its argon2id hash is stored.
pub fn passwd(app: &App, out: &mut dyn Write) -> Result<()> {
    use std::io::IsTerminal;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Nouveau mot de passe du responsable : ")?;
        let again = rpassword::prompt_password("Encore une fois : ")?;
        if first != again {
            bail!("les deux saisies diffèrent : rien n'a changé");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    let hash = crate::dashboard::auth::hash_password(&password).map_err(anyhow::Error::msg)?;
    let mut store = app.open_store(Integrity::Trust)?;
    store.set_meta(crate::dashboard::auth::PASSWORD_KEY, &hash)?;
    writeln!(
        out,
        "mot de passe enregistré (haché avec argon2id) ; le tableau de bord est ouvert : {}",
        dashboard_address(app, &store)
    )?;
    Ok(())
}

/// Binds the dashboard and serves it on `runtime` until `shutdown`.
fn start_dashboard(
    app: &App,
    listen: std::net::SocketAddr,
    runtime: &tokio::runtime::Runtime,
) -> Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>, tokio::sync::oneshot::Sender<()>)> {
    let tls = match &app.config.dashboard.tls {
        Some((cert, key)) => Some(crate::dashboard::tls_acceptor(cert, key)?),
        None => None,
    };
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(listen))
        .with_context(|| format!("tableau de bord : impossible d'écouter sur {listen}"))?;
    let bound = listener.local_addr()?;
    let state = crate::dashboard::Dashboard::new(
        App { config: app.config.clone(), data_dir: app.data_dir.clone() },
        app.config.dashboard.session_idle,
        tls.is_some(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = runtime.spawn(crate::dashboard::serve(listener, state, tls, async {
        let _ = stopped.await;
    }));
    Ok((bound, task, stop))
}

/// `borne dashboard`: the dashboard alone, until Ctrl+C.
pub fn dashboard(app: &App, listen: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let store = app.open_store(Integrity::Trust)?;
    if !crate::dashboard::password_is_set(&store)? {
        bail!(
            "le tableau de bord reste fermé tant qu'aucun mot de passe n'est défini : lancez d'abord « borne passwd »"
        );
    }
    drop(store);
    let listen = match listen {
        Some(text) => text.parse().with_context(|| format!("--listen « {text} » : adresse et port attendus"))?,
        None => app.config.dashboard.listen,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (bound, task, stop) = start_dashboard(app, listen, &runtime)?;
    let scheme = if app.config.dashboard.tls.is_some() { "https" } else { "http" };
    writeln!(out, "Tableau de bord : {scheme}://{bound}/ (Ctrl+C pour arrêter)")?;
    out.flush()?;
    runtime.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    let _ = stop.send(());
    let _ = runtime.block_on(task);
    Ok(())
}

/// `borne screenshots DIR`.
pub fn screenshots(app: &App, dir: &Path, out: &mut dyn Write) -> Result<()> {
    // The pictures show the kiosk as installed, not this machine's paths.
    let shown = App { config: app.config.clone(), data_dir: PathBuf::from("/var/lib/borne") };
    let status = move || -> crate::ui::StatusLines {
        let app = App { config: shown.config.clone(), data_dir: shown.data_dir.clone() };
        Box::new(move |store| admin_status(&app, store))
    };
    let written = crate::ui::screenshots::write_all(&app.config, &status, dir)?;
    writeln!(out, "{} images écrites dans {}", written.len(), dir.display())?;
    Ok(())
}

/// The kiosk's state in a few lines, for the administration panel and `borne run`.
pub fn admin_status(app: &App, store: &Store) -> Vec<(String, String)> {
    let mut lines = vec![
        ("Version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("Borne".to_string(), format!("{} — {}", app.config.device_id, app.config.site_name)),
    ];
    match store.outbox_summary() {
        Ok(summary) => {
            lines.push(("Avis enregistrés".into(), summary.total.to_string()));
            let oldest =
                summary.oldest_pending_at.map(|t| format!(" (le plus ancien : {})", local_time(t))).unwrap_or_default();
            lines.push(("En attente d'envoi".into(), format!("{}{oldest}", summary.pending)));
            if summary.rejected > 0 {
                lines.push(("Rejetés par la plateforme".into(), summary.rejected.to_string()));
            }
        }
        Err(e) => lines.push(("Base de données".into(), format!("illisible : {e}"))),
    }
    let upload = match &app.config.upload {
        None => "désactivé".to_string(),
        Some(_) => match store.uplink_status() {
            Ok(status) if status.auth_refused => "jeton refusé par la plateforme".to_string(),
            Ok(status) => match (status.last_success_at, &status.last_error) {
                (_, Some(error)) if status.last_error_at > status.last_success_at => format!("en erreur : {error}"),
                (Some(at), _) => format!("dernier envoi réussi le {}", local_time(at)),
                (None, _) => "aucun envoi réussi pour l'instant".to_string(),
            },
            Err(e) => format!("état illisible : {e}"),
        },
    };
    lines.push(("Envoi à la plateforme".into(), upload));
    lines.push(("Tableau de bord".into(), dashboard_address(app, store)));
    let free = crate::sys::disk_free_bytes(&app.data_dir)
        .map(|b| format!("{} Mo libres", b / 1_000_000))
        .unwrap_or_else(|| "espace libre inconnu".into());
    lines.push((
        "Données".into(),
        format!("{} ({} Mo), {free}", app.data_dir.display(), store.size_bytes() / 1_000_000),
    ));
    lines
}

/// The uploader running on its own thread, with its own store connection and runtime.
pub struct UploaderHandle {
    shutdown: tokio::sync::watch::Sender<bool>,
    pub nudge: std::sync::Arc<tokio::sync::Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl UploaderHandle {
    pub fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Two workers: the HTTP connection progresses on one while the uploader builds the next batch
/// on the other.
fn uploader_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("uploader").enable_all().build()
}

pub fn spawn_uploader(app: &App) -> Result<UploaderHandle> {
    let upload = app.config.upload.clone().context("l'envoi n'est pas activé (upload.enabled)")?;
    let transport = crate::uplink::http::HttpTransport::new(&upload).map_err(anyhow::Error::msg)?;
    let store = app.open_store(Integrity::Trust)?;
    let uploader =
        crate::uplink::Uploader::new(store, transport, &upload, &app.config.device_id, Box::new(app.clock()))?;
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let nudge = std::sync::Arc::new(tokio::sync::Notify::new());
    let thread_nudge = nudge.clone();
    let thread = std::thread::Builder::new().name("uploader".into()).spawn(move || {
        let runtime = match uploader_runtime() {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "uploader runtime");
                return;
            }
        };
        runtime.block_on(uploader.run(shutdown_rx, thread_nudge, upload.token_file.clone(), upload.heartbeat_interval));
    })?;
    Ok(UploaderHandle { shutdown, nudge, thread: Some(thread) })
}

/// `borne upload`: drains once, or runs until interrupted.
pub fn upload(app: &App, once: bool, out: &mut dyn Write) -> Result<()> {
    let upload = app.config.upload.clone().context(
        "l'envoi n'est pas activé : mettez upload.enabled = true et renseignez base_url, token_file et les identifiants",
    )?;
    if !once {
        let handle = spawn_uploader(app)?;
        writeln!(out, "Envoi vers {} ; Ctrl+C pour arrêter.", upload.base_url)?;
        out.flush()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async {
            let _ = tokio::signal::ctrl_c().await;
        });
        handle.stop();
        return Ok(());
    }
    let transport = crate::uplink::http::HttpTransport::new(&upload).map_err(anyhow::Error::msg)?;
    let store = app.open_store(Integrity::Trust)?;
    let mut uploader =
        crate::uplink::Uploader::new(store, transport, &upload, &app.config.device_id, Box::new(app.clock()))?;
    let report = uploader_runtime()?.block_on(uploader.drain())?;
    let pending = uploader.store().outbox_summary()?.pending;
    writeln!(
        out,
        "{} avis envoyé(s), {} rejeté(s) par la plateforme, {} en attente",
        report.uploaded, report.rejected, pending
    )?;
    if let Some(error) = report.stopped_on {
        bail!("envoi interrompu : {error}");
    }
    Ok(())
}

/// `borne status`: the outbox and the uploader's last word.
pub fn status_command(app: &App, json: bool, out: &mut dyn Write) -> Result<()> {
    let store = app.open_store(Integrity::Trust)?;
    let summary = store.outbox_summary()?;
    let uplink = store.uplink_status()?;
    let now = chrono::Utc::now();
    let oldest_age_s = summary.oldest_pending_at.map(|t| (now - t).num_seconds().max(0));
    if json {
        let value = serde_json::json!({
            "device_id": app.config.device_id,
            "version": env!("CARGO_PKG_VERSION"),
            "data_dir": app.data_dir,
            "upload_enabled": app.config.upload.is_some(),
            "outbox": summary,
            "oldest_pending_age_s": oldest_age_s,
            "uplink": uplink,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    status(app, &store, out)?;
    if let Some(age) = oldest_age_s {
        writeln!(out, "Âge du plus ancien avis en attente : {}", human_duration(age))?;
    }
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(local_time).unwrap_or_else(|| "jamais".into());
    writeln!(out, "Dernière tentative d'envoi : {}", when(uplink.last_attempt_at))?;
    writeln!(out, "Dernier envoi réussi : {}", when(uplink.last_success_at))?;
    if let Some(error) = &uplink.last_error {
        writeln!(out, "Dernière erreur ({}) : {error}", when(uplink.last_error_at))?;
    }
    if uplink.auth_refused {
        writeln!(out, "ATTENTION : la plateforme refuse le jeton de cette borne ; les avis restent en attente.")?;
    }
    if let Some(next) = uplink.next_attempt_at {
        writeln!(out, "Prochain essai : {}", local_time(next))?;
    }
    Ok(())
}

pub fn human_duration(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} jours", s / 86_400),
    }
}

/// Periodic housekeeping the kiosk does: timestamps corrected once the clock is synchronised,
/// old comments erased.
pub fn maintain(app: &App, store: &mut Store) -> Result<()> {
    let clock = app.clock();
    let reading = crate::clock::Clock::read(&clock);
    let corrected = store.correct_unsynced(&reading, |at| crate::clock::Clock::offset_at(&clock, at))?;
    if corrected > 0 {
        tracing::info!(corrected, "timestamps corrected after clock synchronisation");
    }
    let erased = store.erase_old_comments(reading.now_utc, app.config.comment_retention_days)?;
    if erased > 0 {
        tracing::info!(erased, "old comments erased");
    }
    Ok(())
}

fn status(app: &App, store: &Store, out: &mut dyn Write) -> Result<()> {
    let summary = store.outbox_summary()?;
    writeln!(out, "Données : {} ({} Mo)", app.data_dir.display(), store.size_bytes() / 1_000_000)?;
    writeln!(
        out,
        "Avis enregistrés : {} — en attente d'envoi : {}, envoyés : {}, rejetés : {}",
        summary.total, summary.pending, summary.uploaded, summary.rejected
    )?;
    if let Some(oldest) = summary.oldest_pending_at {
        writeln!(out, "Plus ancien avis en attente : {}", local_time(oldest))?;
    }
    if summary.unsynced_clock > 0 {
        writeln!(out, "Avis en attente horodatés sans horloge synchronisée : {}", summary.unsynced_clock)?;
    }
    let upload = match &app.config.upload {
        Some(upload) => format!("activé vers {}", upload.base_url),
        None => "désactivé (upload.enabled = false)".to_string(),
    };
    writeln!(out, "Envoi à la plateforme : {upload}")?;
    Ok(())
}

fn local_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&chrono::Local).format("%d/%m/%Y %H:%M").to_string()
}

pub fn rate(app: &App, args: &RateArgs, out: &mut dyn Write) -> Result<()> {
    let mut answers = Vec::with_capacity(args.answers.len());
    for given in &args.answers {
        let (code, item) = given
            .split_once('=')
            .with_context(|| format!("--answer « {given} » : la forme attendue est CODE=NUMÉRO"))?;
        let item: i64 = item
            .trim()
            .parse()
            .with_context(|| format!("--answer « {given} » : « {item} » n'est pas un numéro de réponse"))?;
        answers.push((code.trim().to_string(), item));
    }
    let draft = ReviewDraft {
        satisfaction: args.satisfaction,
        answers,
        comment: args.comment.clone(),
        language: args.lang.clone(),
    };
    // Validate before touching the disk: a bad invocation must not create a store.
    let review = kiosk::build_review(&app.config.survey, &app.clock(), &draft)?;
    let mut store = app.open_store(Integrity::Trust).context("avis non enregistré")?;
    let review = kiosk::commit_built(&mut store, review)?;
    writeln!(out, "{}", review.client_review_id)?;
    Ok(())
}

pub fn parse_period(period: &Period) -> Result<DayRange> {
    let day = |flag: &str, value: &Option<String>| -> Result<Option<NaiveDate>> {
        value
            .as_deref()
            .map(|v| {
                NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                    .with_context(|| format!("{flag} « {v} » : date attendue sous la forme AAAA-MM-JJ"))
            })
            .transpose()
    };
    let range = DayRange { since: day("--since", &period.since)?, until: day("--until", &period.until)? };
    if let (Some(since), Some(until)) = (range.since, range.until)
        && since > until
    {
        bail!("--since {since} est après --until {until}");
    }
    Ok(range)
}

pub fn indicators_for(app: &App, store: &Store, range: DayRange) -> Result<Indicators> {
    let counts = store.question_counts(range)?;
    Ok(indicators(&app.config.survey, &counts, app.config.min_reviews_for_score))
}

pub fn stats(app: &App, args: &StatsArgs, out: &mut dyn Write) -> Result<()> {
    let range = parse_period(&args.period)?;
    let store = app.open_store(Integrity::Trust)?;
    let ind = indicators_for(app, &store, range)?;
    if args.json {
        let value = serde_json::json!({
            "since": range.since,
            "until": range.until,
            "indicators": ind,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        let period = match (range.since, range.until) {
            (None, None) => "depuis le début".to_string(),
            (Some(s), None) => format!("depuis le {}", s.format("%d/%m/%Y")),
            (None, Some(u)) => format!("jusqu'au {}", u.format("%d/%m/%Y")),
            (Some(s), Some(u)) => format!("du {} au {}", s.format("%d/%m/%Y"), u.format("%d/%m/%Y")),
        };
        writeln!(out, "Période : {period}")?;
        print_indicators(&ind, out)?;
    }
    Ok(())
}

fn print_indicators(ind: &Indicators, out: &mut dyn Write) -> Result<()> {
    write!(out, "Satisfaction usager : ")?;
    print_score(&ind.satisfaction.score, out)?;
    writeln!(out, " — {} avis, {} commentaires", ind.reviews, ind.comments)?;
    print_distribution(&ind.satisfaction, out)?;
    for q in &ind.follow_ups {
        writeln!(out)?;
        writeln!(out, "« {} » ({}) — {} réponses", q.label, q.field_code, q.respondents)?;
        if !matches!(q.score, Score::NotScored) {
            write!(out, "  Note : ")?;
            print_score(&q.score, out)?;
            writeln!(out)?;
        }
        if let Some(share) = q.share_percent {
            writeln!(out, "  Part de « Oui » : {} %", french_decimal(share))?;
        }
        print_distribution(q, out)?;
    }
    Ok(())
}

fn print_score(score: &Score, out: &mut dyn Write) -> Result<()> {
    match score {
        Score::Ok { value, band_label, .. } => write!(out, "{} / 10 ({band_label})", french_decimal(*value))?,
        Score::Insufficient { count, minimum } => {
            write!(out, "nombre d'avis insuffisant ({count} sur les {minimum} nécessaires)")?
        }
        Score::NotScored => write!(out, "sans note")?,
    }
    Ok(())
}

fn print_distribution(q: &QuestionIndicator, out: &mut dyn Write) -> Result<()> {
    let width = q.distribution.iter().map(|d| d.answer_text.chars().count()).max().unwrap_or(0);
    for d in q.distribution.iter().rev() {
        let pad = " ".repeat(width - d.answer_text.chars().count());
        writeln!(out, "  {}{pad}  {:>7}  {:>5} %", d.answer_text, d.count, french_decimal(d.percent))?;
    }
    Ok(())
}

pub fn export(app: &App, args: &ExportArgs, stdout: &mut dyn Write) -> Result<()> {
    let range = parse_period(&args.period)?;
    if !args.separator.is_ascii() || args.separator.is_ascii_alphanumeric() || args.separator == '"' {
        bail!(
            "--separator « {} » : un caractère ASCII de ponctuation (par exemple ; , ou une tabulation)",
            args.separator
        );
    }
    let store = app.open_store(Integrity::Trust)?;
    let mut file;
    let sink: &mut dyn Write = match &args.output {
        Some(path) => {
            file = std::io::BufWriter::new(
                std::fs::File::create(path).with_context(|| format!("impossible de créer {}", path.display()))?,
            );
            &mut file
        }
        None => stdout,
    };
    let rows = match args.format {
        ExportFormat::Csv => export::csv(&store, &app.config.survey, range, args.separator as u8, sink)?,
        ExportFormat::Jsonl => export::jsonl(&store, range, sink)?,
    };
    sink.flush()?;
    if let Some(path) = &args.output {
        eprintln!("{rows} avis exportés dans {}", path.display());
    }
    Ok(())
}

pub fn reviews(app: &App, which: ReviewsWhich, json: bool, out: &mut dyn Write) -> Result<()> {
    let store = app.open_store(Integrity::Trust)?;
    let filter = match which {
        ReviewsWhich::Pending => StatusFilter::Pending,
        ReviewsWhich::Rejected => StatusFilter::Rejected,
        ReviewsWhich::RetryRejected => {
            let mut store = store;
            let n = store.retry_rejected(None)?;
            writeln!(out, "{n} avis rejeté(s) remis en attente d'envoi")?;
            return Ok(());
        }
    };
    let mut count = 0u64;
    store.for_each_review(filter, DayRange::default(), |r| {
        count += 1;
        if json {
            writeln!(out, "{}", serde_json::to_string(&export::json_record(&r))?)?;
        } else {
            let satisfaction = r.review.satisfaction().map(|a| a.answer_text.as_str()).unwrap_or("?");
            let reason = match &r.outbox {
                Outbox::Rejected { reason, .. } => format!("  motif : {reason}"),
                _ => String::new(),
            };
            writeln!(
                out,
                "{}  {}  {}{}",
                r.review.client_review_id,
                r.review.submitted_at.format("%d/%m/%Y %H:%M"),
                satisfaction,
                reason
            )?;
        }
        Ok(())
    })?;
    if !json {
        let what = match which {
            ReviewsWhich::Pending => "en attente d'envoi",
            _ => "rejeté(s) par la plateforme",
        };
        writeln!(out, "{count} avis {what}")?;
    }
    Ok(())
}

pub fn config_action(action: &ConfigAction, explicit: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    match action {
        ConfigAction::Default => {
            out.write_all(DEFAULT_CONFIG.as_bytes())?;
        }
        ConfigAction::Check { file } => {
            let config = match file.as_deref().or(explicit) {
                Some(path) => config::load_file(path)?,
                None => config::load(None)?,
            };
            if let Some(upload) = &config.upload {
                upload.read_token().map_err(anyhow::Error::msg)?;
                if let Some(ca) = &upload.ca_file
                    && !ca.is_file()
                {
                    bail!("upload.ca_file : {} est introuvable", ca.display());
                }
            }
            if config.screen.admin_pin.expose() == config::DEFAULT_ADMIN_PIN {
                writeln!(out, "attention : kiosk.admin_pin est le code par défaut ; choisissez-en un autre")?;
            }
            writeln!(
                out,
                "configuration valide : {} ({} question(s) complémentaire(s), {} langue(s), envoi {})",
                config.source,
                config.survey.follow_ups.len(),
                config.survey.languages.len(),
                if config.upload.is_some() { "activé" } else { "désactivé" }
            )?;
        }
    }
    Ok(())
}

pub fn db_action(app: &App, action: &DbAction, out: &mut dyn Write) -> Result<()> {
    match action {
        DbAction::Check => {
            let store = app.open_store(Integrity::CheckAndRecover)?;
            let verdict = store.integrity_check()?;
            if verdict != "ok" {
                bail!("intégrité : {verdict}");
            }
            writeln!(out, "intégrité : ok ({})", store.path().display())?;
        }
    }
    Ok(())
}
