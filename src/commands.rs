//! What each command does, behind the command line's parsing: parse, call, print. Output meant
//! for people is in French; `--json` output is for scripts. The running kiosk itself is
//! `run::kiosk`. Nothing imports this module but `main`.

use crate::app::App;
use crate::cli::{ConfigAction, DbAction, ExportArgs, ExportFormat, Period, RateArgs, ReviewsWhich, StatsArgs};
use crate::config::{self, DEFAULT_CONFIG};
use crate::export;
use crate::human::{human_duration, local_time};
use crate::kiosk;
use crate::store::{DayRange, Integrity, Outbox, StatusFilter, Store};
use anyhow::{Context, Result, bail};
use borne_model::indicators::{Indicators, QuestionIndicator, Score, french_decimal, indicators};
use borne_model::review::ReviewDraft;
use chrono::NaiveDate;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `borne passwd`: the manager's password, read from the terminal (twice, not echoed) or from
/// standard input; only its argon2id hash is stored.
pub fn passwd(app: &App, out: &mut dyn Write) -> Result<()> {
    let hash =
        borne_web::auth::read_new_password("Nouveau mot de passe du responsable : ").map_err(anyhow::Error::msg)?;
    let mut store = app.open_store(Integrity::Trust)?;
    store.set_manager_password_hash(&hash)?;
    writeln!(
        out,
        "mot de passe enregistré (haché avec argon2id) ; le tableau de bord est ouvert : {}",
        crate::health::dashboard_address(app, &store)
    )?;
    Ok(())
}

/// `borne dashboard`: the dashboard alone, until Ctrl+C.
pub fn dashboard(app: &App, listen: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let store = app.open_store(Integrity::Trust)?;
    if !store.manager_password_is_set()? {
        bail!(
            "le tableau de bord reste fermé tant qu'aucun mot de passe n'est défini : lancez d'abord « borne passwd »"
        );
    }
    drop(store);
    let listen = match listen {
        Some(text) => text.parse().with_context(|| format!("--listen « {text} » : adresse et port attendus"))?,
        None => app.config.dashboard.listen,
    };
    let runtime = crate::run::two_worker_runtime("dashboard")?;
    let (bound, served) = crate::run::dashboard::start(app, listen, &runtime)?;
    let scheme = if app.config.dashboard.tls.is_some() { "https" } else { "http" };
    writeln!(out, "Tableau de bord : {scheme}://{bound}/ (Ctrl+C pour arrêter)")?;
    out.flush()?;
    crate::run::until_interrupted()?;
    served.stop(&runtime);
    Ok(())
}

/// `borne screenshots DIR`.
pub fn screenshots(app: &App, dir: &Path, questionnaire: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    // A survey to publish, laid over this configuration as the kiosk will lay it.
    let config = match questionnaire {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{} : impossible de lire le questionnaire", path.display()))?;
            app.config.with_published(&text).map_err(|e| anyhow::anyhow!("{} : {e}", path.display()))?
        }
        None => app.config.clone(),
    };
    // The pictures show the kiosk as installed, not this machine's paths.
    let shown = App { config: config.clone(), data_dir: PathBuf::from("/var/lib/borne") };
    let status = move || -> crate::ui::StatusLines {
        let app = shown.clone();
        Box::new(move |store| crate::health::admin_status(&app, store))
    };
    let written = crate::ui::screenshots::write_all(&config, &status, dir)?;
    writeln!(out, "{} images écrites dans {}", written.len(), dir.display())?;
    Ok(())
}

/// `borne speech DIR`.
/// For every language and screen, `DIR/LANG/NN-screen.txt` (one utterance a line) and the
/// sound itself (`.wav`), voiced as the kiosk voices it (same engine, speed and volume).
pub fn speech(app: &App, dir: &Path, out: &mut dyn Write) -> Result<()> {
    let mut written = 0;
    for (language, screens) in crate::ui::screenshots::speech_transcripts(&app.config)? {
        let sub = dir.join(&language);
        std::fs::create_dir_all(&sub).with_context(|| format!("{} : dossier impossible à créer", sub.display()))?;
        for (name, said) in screens {
            let text: String = said.iter().map(|u| format!("{}\n", u.text)).collect();
            let path = sub.join(format!("{name}.txt"));
            std::fs::write(&path, &text).with_context(|| format!("{} : écriture impossible", path.display()))?;
            let mut samples = Vec::new();
            for u in &said {
                samples.extend(crate::speech::synthesize(
                    &u.text,
                    &u.language,
                    app.config.accessibility.speed,
                    u.volume,
                )?);
            }
            let path = sub.join(format!("{name}.wav"));
            crate::speech::write_wav(&path, &samples)
                .with_context(|| format!("{} : écriture impossible", path.display()))?;
            written += 2;
        }
    }
    writeln!(out, "{written} fichiers écrits dans {}", dir.display())?;
    Ok(())
}

/// `borne upload`: drains once, or runs until interrupted.
pub fn upload(app: &App, once: bool, out: &mut dyn Write) -> Result<()> {
    let upload = app.config.upload.clone().context(
        "l'envoi n'est pas activé : mettez upload.enabled = true et renseignez base_url, token_file et les identifiants",
    )?;
    if !once {
        let handle = crate::run::uploader::spawn(app)?;
        writeln!(out, "Envoi vers {} ; Ctrl+C pour arrêter.", upload.base_url)?;
        out.flush()?;
        crate::run::until_interrupted()?;
        handle.stop();
        return Ok(());
    }
    let mut uploader = crate::run::uploader::uploader(app)?;
    let report = crate::run::two_worker_runtime("uploader")?.block_on(uploader.drain())?;
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
    let published = store.published_survey()?;
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
            "config_version": published.running,
            "config_held_version": published.held.as_ref().map(|(v, _)| v),
            "config_refused": published.refused.as_ref().map(|(version, message)| serde_json::json!({"version": version, "message": message})),
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
        writeln!(
            out,
            "ATTENTION : la plateforme refuse le jeton de cette borne ou son identité (device_id, product_id, \
             form_id, button_id) ; les avis restent en attente, rien n'est perdu. Corrigez la configuration ou le \
             jeton : l'envoi reprend seul, avec la bonne identité."
        )?;
    }
    if let Some(next) = uplink.next_attempt_at {
        writeln!(out, "Prochain essai : {}", local_time(next))?;
    }
    writeln!(out, "Questionnaire : {}", crate::health::survey_line(&published))?;
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
        channel_answers: Vec::new(),
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
        value.as_deref().map(|v| borne_model::days::parse(v).map_err(|m| anyhow::anyhow!("{flag} : {m}"))).transpose()
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
    writeln!(out)?;
    writeln!(out, "Indicateurs de « Je donne mon avis » (sans minimum d'avis, aides comptées par canal) :")?;
    let j = &ind.jdma;
    for f in [&j.satisfaction, &j.comprehension, &j.contact_reachability, &j.contact_satisfaction, &j.autonomy] {
        match (&f.text, f.band) {
            (Some(text), Some(band)) => writeln!(out, "  {} : {text} — {band} ({} réponses)", f.label, f.count)?,
            (Some(text), None) => writeln!(out, "  {} : {text} ({} réponses)", f.label, f.count)?,
            _ => writeln!(out, "  {} : {}", f.label, borne_web::figures::NO_DATA)?,
        }
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

/// Key of the `meta` row `borne db probe` writes: an update is kept only once it commits.
const PROBE_KEY: &str = "probe";

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
        DbAction::Probe => {
            let mut store = app.open_store(Integrity::Trust)?;
            let written = chrono::Utc::now().to_rfc3339();
            store.set_meta(PROBE_KEY, &written)?;
            if store.meta(PROBE_KEY)?.as_deref() != Some(written.as_str()) {
                bail!("écriture d'essai relue différente");
            }
            writeln!(out, "écriture d'essai enregistrée ({})", store.path().display())?;
        }
    }
    Ok(())
}
