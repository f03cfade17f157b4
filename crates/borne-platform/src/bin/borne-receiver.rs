//! `borne-receiver`: the reference platform side of upload contract v1 (parsing and wiring only).

use borne_platform::{self as receiver, Faults, Receiver, Tokens};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "borne-receiver", version, about = "Reference receiver of the Borne upload contract v1")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the contract's endpoints
    Serve {
        /// Address to listen on (port 0: any free port; the chosen address is printed)
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// SQLite database file
        #[arg(long, default_value = "borne-receiver.db")]
        db: PathBuf,
        /// Token file: one token per line followed by the device ids it may send for (or *)
        #[arg(long)]
        tokens: PathBuf,
        /// Probability of answering with one of --fail-statuses instead of processing
        #[arg(long, default_value_t = 0.0)]
        fail_rate: f64,
        /// Statuses for --fail-rate, comma-separated (500, 503, 429, 413…)
        #[arg(long, value_delimiter = ',', default_value = "500")]
        fail_statuses: Vec<u16>,
        /// Retry-After seconds sent with injected 429 and 503
        #[arg(long, default_value_t = 1)]
        retry_after: u64,
        /// Probability of committing, then answering only after --delay-ms
        #[arg(long, default_value_t = 0.0)]
        delay_rate: f64,
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
        /// Probability of committing, then dropping the connection without answering
        #[arg(long, default_value_t = 0.0)]
        drop_rate: f64,
        /// Probability of committing, then answering a truncated body
        #[arg(long, default_value_t = 0.0)]
        truncate_rate: f64,
        /// Probability of committing, then answering garbage
        #[arg(long, default_value_t = 0.0)]
        garbage_rate: f64,
        /// Seed of the fault injection's random choices
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Append one JSON line per batch request (key, body hash, reviews, outcome) to this file
        #[arg(long)]
        audit_log: Option<PathBuf>,
    },
    /// What the receiver holds
    Stats {
        #[arg(long, default_value = "borne-receiver.db")]
        db: PathBuf,
        /// JSON output (the default; kept for scripts that ask for it)
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            std::env::var("BORNE_LOG").unwrap_or_else(|_| "warn".into()),
        ))
        .with_writer(std::io::stderr)
        .try_init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve {
            listen,
            db,
            tokens,
            fail_rate,
            fail_statuses,
            retry_after,
            delay_rate,
            delay_ms,
            drop_rate,
            truncate_rate,
            garbage_rate,
            seed,
            audit_log,
        } => {
            for (name, p) in [
                ("--fail-rate", fail_rate),
                ("--delay-rate", delay_rate),
                ("--drop-rate", drop_rate),
                ("--truncate-rate", truncate_rate),
                ("--garbage-rate", garbage_rate),
            ] {
                if !(0.0..=1.0).contains(&p) {
                    return Err(format!("{name} must be between 0 and 1"));
                }
            }
            let faults = Faults {
                fail_rate,
                statuses: fail_statuses,
                retry_after_s: retry_after,
                delay_rate,
                delay: Duration::from_millis(delay_ms),
                drop_rate,
                truncate_rate,
                garbage_rate,
            };
            let state = Receiver::open(&db, Tokens::load(&tokens)?, faults, seed, audit_log.as_deref())?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
                let address = listener.local_addr().map_err(|e| e.to_string())?;
                println!("listening on http://{address}");
                use std::io::Write;
                let _ = std::io::stdout().flush();
                receiver::serve(listener, state, async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await;
                Ok(())
            })
        }
        Command::Stats { db, json: _ } => {
            if !db.exists() {
                return Err(format!("{} does not exist", db.display()));
            }
            let db = receiver::db::ReceiverDb::open(&db).map_err(|e| e.to_string())?;
            let stats = db.stats().map_err(|e| e.to_string())?;
            println!("{}", serde_json::to_string_pretty(&stats).map_err(|e| e.to_string())?);
            Ok(())
        }
    }
}
