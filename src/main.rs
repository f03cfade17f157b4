//! The `borne` binary: command-line parsing and wiring only.

use borne::app::App;
use borne::cli::{Cli, Command, UpdateAction};
use borne::commands;
use borne::config;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    borne_web::serve::tune_allocator();
    let cli: Cli = borne_web::cli::parse();
    init_logging();
    let mut stdout = std::io::stdout().lock();
    let result = dispatch(&cli, &mut stdout);
    // For the benchmarks: the peak memory of this very process.
    if std::env::var_os("BORNE_REPORT_PEAK_RSS").is_some() {
        eprintln!("peak_rss_kib={}", borne::sys::peak_rss_kib().unwrap_or(0));
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = stdout.flush();
            // The chain, outermost first: each cause on its own line.
            eprintln!("erreur : {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  cause : {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: &Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Some(Command::Config { action }) = &cli.command {
        return commands::config_action(action, cli.config.as_deref(), out);
    }
    let app = App::new(config::load(cli.config.as_deref())?, cli.data_dir.as_deref());
    match &cli.command {
        None | Some(Command::Run) => borne::run::kiosk(&app, out),
        Some(Command::Rate(args)) => commands::rate(&app, args, out),
        Some(Command::Stats(args)) => commands::stats(&app, args, out),
        Some(Command::Export(args)) => commands::export(&app, args, out),
        Some(Command::Reviews { which, json }) => commands::reviews(&app, *which, *json, out),
        Some(Command::Db { action }) => commands::db_action(&app, action, out),
        Some(Command::Update { action, state_dir }) => match action {
            UpdateAction::Run => borne::update::agent::run(&app, state_dir, out),
            UpdateAction::Confirm => borne::update::agent::confirm(&app, state_dir, out),
            UpdateAction::Check => borne::update::agent::check(&app, state_dir, out),
        },
        Some(Command::Upload { once }) => commands::upload(&app, *once, out),
        Some(Command::Status { json }) => commands::status_command(&app, *json, out),
        Some(Command::Screenshots { dir, questionnaire }) => {
            commands::screenshots(&app, dir, questionnaire.as_deref(), out)
        }
        Some(Command::Speech { dir }) => commands::speech(&app, dir, out),
        Some(Command::Passwd) => commands::passwd(&app, out),
        Some(Command::Dashboard { listen }) => commands::dashboard(&app, listen.as_deref(), out),
        Some(Command::Config { .. }) => Ok(()),
    }
}

/// Logs go to standard error; `BORNE_LOG` (or `RUST_LOG`) sets the filter, `warn` by default.
fn init_logging() {
    let filter =
        std::env::var("BORNE_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| "warn".to_string());
    // Under systemd, logs go to the journal with their levels; elsewhere, to standard error.
    if std::env::var_os("JOURNAL_STREAM").is_some()
        && let Ok(journald) = tracing_journald::layer()
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new(filter))
            .with(journald.with_syslog_identifier("borne".into()))
            .try_init();
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}
