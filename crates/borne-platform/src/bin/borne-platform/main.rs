//! `borne-platform`: the gateway Borne kiosks upload to (parsing and wiring only).

mod args;
mod rollout;
mod survey;

use args::*;
use borne_platform::config::{Config, LogFormat};
use borne_platform::export::{Format, JdmaWriter, Writer};
use borne_platform::storage::forwarding::JdmaExportFilter;
use borne_platform::storage::{Site, Storage, StorageError};
use borne_platform::{self as platform, Auth, Faults, Platform, Tokens};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    borne_web::serve::tune_allocator();
    let cli: Cli = borne_web::cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("erreur : {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to standard error: the configured level for `serve`, warnings only for the other
/// commands (their output is for people and scripts); `$BORNE_LOG` overrides both.
fn init_logs(config: &Config, serving: bool) {
    let level = if serving { config.log_level.clone() } else { "warn".to_string() };
    let filter = tracing_subscriber::EnvFilter::new(std::env::var("BORNE_LOG").unwrap_or(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

impl Database {
    fn config(&self) -> Result<Config, String> {
        Config::load(self.config.as_deref())
    }

    async fn open(&self, config: &Config) -> Result<Storage, String> {
        self.open_or_create(config, false).await
    }

    /// Opens the database; the default SQLite file, when nothing names a database, only if it
    /// exists or `create` (migrate): a `DATABASE_URL` forgotten in a shell must not leave an
    /// empty SQLite file where the operator meant PostgreSQL.
    async fn open_or_create(&self, config: &Config, create: bool) -> Result<Storage, String> {
        let env_url = std::env::var("DATABASE_URL").ok();
        let target = config.target(self.database_url.as_deref(), env_url.as_deref(), self.db.as_deref());
        if let borne_platform::storage::Target::Sqlite(path) = &target
            && !create
            && self.db.is_none()
            && !path.exists()
        {
            return Err(format!(
                "aucune base de données : ni --database-url, ni $DATABASE_URL, ni [database] url (PostgreSQL), \
                 et pas de fichier SQLite {}. En PostgreSQL : export DATABASE_URL=postgres://… ; en SQLite : \
                 --db FICHIER, ou « borne-platform migrate » pour créer ce fichier ici.",
                path.display()
            ));
        }
        Storage::open(&target).await.map_err(|e| e.to_string())
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::DefaultConfig => {
            print!("{}", borne_platform::config::DEFAULT_CONFIG);
            Ok(())
        }
        Command::Serve(args) => serve(*args),
        Command::Migrate { db } => {
            let config = db.config()?;
            init_logs(&config, false);
            runtime()?.block_on(async {
                let storage = db.open_or_create(&config, true).await?;
                let version = storage.schema_version().await.map_err(|e| e.to_string())?;
                println!("schéma {} à jour : version {version}", storage.engine());
                println!("base : {}", storage.link().await.map_err(|e| e.to_string())?);
                Ok(())
            })
        }
        Command::Stats { db, json: _ } => {
            let config = db.config()?;
            init_logs(&config, false);
            if db.database_url.is_none() && std::env::var("DATABASE_URL").is_err() && config.database_url.is_none() {
                let path = db.db.clone().unwrap_or_else(|| config.sqlite.clone());
                if !path.exists() {
                    return Err(format!("{} n'existe pas", path.display()));
                }
            }
            runtime()?.block_on(async {
                let storage = db.open(&config).await?;
                let totals = storage.totals().await.map_err(|e| e.to_string())?;
                println!("{}", serde_json::to_string_pretty(&totals).map_err(|e| e.to_string())?);
                Ok(())
            })
        }
        Command::Counts { db, site, from, to } => {
            let config = db.config()?;
            init_logs(&config, false);
            runtime()?.block_on(async {
                let storage = db.open(&config).await?;
                let counts = storage.site_counts(site.as_deref(), from, to).await.map_err(message)?;
                println!("{}", serde_json::to_string_pretty(&counts).map_err(|e| e.to_string())?);
                Ok(())
            })
        }
        Command::SiteStats { db, site, since, until, minimum_reviews } => {
            let config = db.config()?;
            init_logs(&config, false);
            runtime()?.block_on(async {
                let storage = db.open(&config).await?;
                if !storage.sites().await.map_err(message)?.iter().any(|s| s.id == site) {
                    return Err(format!("site inconnu : {site}"));
                }
                let from = since.unwrap_or(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default());
                let to = until.unwrap_or_else(|| chrono::Utc::now().date_naive() + chrono::Duration::days(1));
                let indicators = storage.site_indicators(&site, from, to, minimum_reviews).await.map_err(message)?;
                let value =
                    serde_json::json!({"site_id": site, "since": since, "until": until, "indicators": indicators});
                println!("{}", serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?);
                Ok(())
            })
        }
        Command::Sites { command, db } => {
            let config = db.config()?;
            init_logs(&config, false);
            runtime()?.block_on(async {
                let storage = db.open(&config).await?;
                match command {
                    SitesCommand::Add {
                        site_id,
                        name,
                        org,
                        product_id,
                        form_id,
                        button_id,
                        jdma_form_title,
                        time_zone,
                    } => {
                        if product_id.is_some() != form_id.is_some() {
                            return Err("--jdma-product et --jdma-form vont ensemble".into());
                        }
                        let mut title = jdma_form_title;
                        if let (Some(product), Some(form), Some(jdma)) = (product_id, form_id, &config.jdma) {
                            let found = platform::jdma::check_binding(jdma, product, form).await?;
                            title = title.or(found);
                        }
                        let site =
                            Site { id: site_id, name, organisation: org, product_id, form_id, button_id, time_zone };
                        storage.add_site(&site).await.map_err(message)?;
                        storage.set_form_title(&site.id, title.as_deref()).await.map_err(message)?;
                        println!("site {} enregistré", site.id);
                    }
                    SitesCommand::List => {
                        let sites = storage.sites().await.map_err(message)?;
                        println!("{}", serde_json::to_string_pretty(&sites).map_err(|e| e.to_string())?);
                    }
                }
                Ok(())
            })
        }
        Command::Devices { command, db } => {
            let config = db.config()?;
            init_logs(&config, false);
            runtime()?.block_on(async {
                let storage = db.open(&config).await?;
                match command {
                    DevicesCommand::Add { device_id, site, jdma_button, jdma_button_title } => {
                        let token = storage.add_device(&device_id, &site).await.map_err(message)?;
                        if jdma_button.is_some() || jdma_button_title.is_some() {
                            storage
                                .set_device_button(&device_id, jdma_button, jdma_button_title.as_deref())
                                .await
                                .map_err(message)?;
                        }
                        let known = storage.sites().await.map_err(message)?.into_iter().find(|s| s.id == site);
                        let public_url = config.console.proconnect.as_ref().map(|p| p.public_url.clone());
                        print!("{}", kiosk_lines(&device_id, known.as_ref(), jdma_button, public_url.as_deref()));
                        println!("{token}");
                    }
                    DevicesCommand::Bind { device_id, jdma_button, jdma_button_title } => {
                        storage
                            .set_device_button(&device_id, jdma_button, jdma_button_title.as_deref())
                            .await
                            .map_err(message)?;
                        match jdma_button {
                            Some(b) => println!("borne {device_id} : bouton JDMA {b}"),
                            None => {
                                println!("borne {device_id} : plus de bouton JDMA propre (celui du site s'il en a un)")
                            }
                        }
                    }
                    DevicesCommand::List => {
                        let devices = storage.devices().await.map_err(message)?;
                        println!("{}", serde_json::to_string_pretty(&devices).map_err(|e| e.to_string())?);
                    }
                    DevicesCommand::Revoke { device_id } => {
                        storage.revoke_device(&device_id).await.map_err(message)?;
                        println!("jeton de la borne {device_id} révoqué");
                    }
                    DevicesCommand::Rotate { device_id, reactiver } => {
                        let token = storage.rotate_device(&device_id, reactiver).await.map_err(message)?;
                        println!("nouveau jeton de la borne {device_id} (l'ancien ne fonctionne plus) :");
                        println!("{token}");
                    }
                }
                Ok(())
            })
        }
        Command::Alerts { command, db } => {
            let config = db.config()?;
            init_logs(&config, false);
            runtime()?.block_on(async {
                let storage = db.open(&config).await?;
                alerts(&storage, command).await
            })
        }
        Command::Survey { command, db } => {
            let config = db.config()?;
            init_logs(&config, false);
            runtime()?.block_on(async {
                let storage = db.open(&config).await?;
                survey::run(&storage, command).await
            })
        }
        Command::Release { command, db } => {
            let config = db.config()?;
            init_logs(&config, false);
            runtime()?.block_on(async { rollout::release(&db.open(&config).await?, command).await })
        }
        Command::Rollout { command, db } => {
            let config = db.config()?;
            init_logs(&config, false);
            runtime()?.block_on(async { rollout::rollout(&db.open(&config).await?, command).await })
        }
        Command::Accounts { command, db } => {
            let config = db.config()?;
            init_logs(&config, false);
            runtime()?.block_on(async {
                let storage = db.open(&config).await?;
                accounts(&storage, command).await
            })
        }
        Command::Jdma { command: JdmaCommand::Reconcile { days }, db } => {
            let config = db.config()?;
            init_logs(&config, false);
            let Some(jdma) = &config.jdma else {
                return Err("pas de section [jdma] (form_url, api_url, api_key_file) dans la configuration".into());
            };
            runtime()?.block_on(async {
                let storage = db.open(&config).await?;
                let forwarder = platform::jdma::Forwarder::new(storage, jdma)?;
                if !forwarder.client().has_api() {
                    return Err("[jdma] api_url et api_key_file sont nécessaires pour lire les comptes de JDMA".into());
                }
                let days = forwarder.reconcile(days).await?;
                println!("{}", serde_json::to_string_pretty(&days).map_err(|e| e.to_string())?);
                Ok(())
            })
        }
        Command::Jdma { command: JdmaCommand::Status { json }, db } => {
            let config = db.config()?;
            init_logs(&config, false);
            runtime()?.block_on(async {
                let storage = db.open(&config).await?;
                let status = platform::jdma::Status::read(&storage, chrono::Utc::now()).await.map_err(message)?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&status).map_err(|e| e.to_string())?);
                } else {
                    print!("{}", status.text());
                }
                Ok(())
            })
        }
        Command::Export { db, format, site, jdma_form, since, until, output } => {
            let config = db.config()?;
            init_logs(&config, false);
            let format = Format::parse(&format)?;
            let since = since.map(|s| parse_since(&s)).transpose()?;
            let until = until.map(|u| parse_until(&u)).transpose()?;
            if format == Format::Jsonl && (site.is_some() || jdma_form.is_some() || until.is_some()) {
                return Err("--site, --jdma-form et --until valent pour jdma-csv et jdma-xlsx".into());
            }
            runtime()?.block_on(async {
                let storage = db.open(&config).await?;
                let out: Box<dyn std::io::Write + Send> = match &output {
                    Some(path) => Box::new(std::io::BufWriter::new(
                        std::fs::File::create(path).map_err(|e| format!("{} : {e}", path.display()))?,
                    )),
                    None => Box::new(std::io::BufWriter::new(std::io::stdout())),
                };
                let count = if format == Format::Jsonl {
                    let mut writer = Writer::new(out);
                    let count = storage.export(since, &mut |page| writer.write(&page)).await.map_err(message)?;
                    writer.finish().map_err(|e| e.to_string())?;
                    count
                } else {
                    if let Some(site) = &site
                        && !storage.sites().await.map_err(message)?.iter().any(|s| &s.id == site)
                    {
                        return Err(format!("site inconnu : {site}"));
                    }
                    let filter = JdmaExportFilter { site, form: jdma_form, since, until };
                    let mut writer = JdmaWriter::new(format, out).map_err(|e| e.to_string())?;
                    let count = storage.jdma_export(&filter, &mut |page| writer.write(&page)).await.map_err(message)?;
                    writer.finish().map_err(|e| e.to_string())?;
                    count
                };
                if output.is_some() {
                    eprintln!("{count} avis exportés");
                }
                Ok(())
            })
        }
    }
}

fn message(e: StorageError) -> String {
    e.to_string()
}

/// A day on the command line: `AAAA-MM-JJ`, from 2000 to 2100.
/// What `devices add` prints before the token: the lines of the kiosk's `borne.toml` that make
/// it upload here, with the ids its site expects, and where the token goes.
fn kiosk_lines(device: &str, site: Option<&Site>, button: Option<i64>, public_url: Option<&str>) -> String {
    let site_name = site.map_or("?", |s| s.id.as_str());
    let base_url = public_url.unwrap_or("https://ADRESSE-DE-CETTE-PLATEFORME");
    format!(
        "borne {device} enregistrée sur le site {site_name}.\n\nÀ mettre dans /etc/borne/borne.toml sur la borne :\n\n{}\n\
         Et ce jeton, seul, dans /etc/borne/token (lisible par borne seulement ; il n'est affiché qu'une fois) :\n",
        platform::console::kiosk_config(device, site, button, base_url)
    )
}

fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    borne_model::days::since(text).map_err(|m| format!("--since : {m}"))
}

fn parse_until(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    borne_model::days::until(text).map_err(|m| format!("--until : {m}"))
}

async fn org_rules(storage: &Storage, organisation: &str) -> Result<platform::notify::OrgRules, String> {
    match storage.alert_rules(organisation).await.map_err(message)? {
        Some(json) => serde_json::from_str(&json).map_err(|e| e.to_string()),
        None => Ok(Default::default()),
    }
}

async fn alerts(storage: &Storage, command: AlertsCommand) -> Result<(), String> {
    match command {
        AlertsCommand::Rules {
            organisation,
            offline_hours,
            pending_hours,
            negative_percent,
            negative_days,
            negative_minimum,
            drop_points,
            drop_days,
            drop_minimum,
        } => {
            let mut rules = org_rules(storage, &organisation).await?;
            rules.offline_hours = offline_hours.unwrap_or(rules.offline_hours);
            rules.pending_hours = pending_hours.unwrap_or(rules.pending_hours);
            rules.negative_percent = negative_percent.unwrap_or(rules.negative_percent);
            rules.negative_days = negative_days.unwrap_or(rules.negative_days);
            rules.negative_minimum = negative_minimum.unwrap_or(rules.negative_minimum);
            rules.drop_points = drop_points.unwrap_or(rules.drop_points);
            rules.drop_days = drop_days.unwrap_or(rules.drop_days);
            rules.drop_minimum = drop_minimum.unwrap_or(rules.drop_minimum);
            rules.check()?;
            let json = serde_json::to_string(&rules).map_err(|e| e.to_string())?;
            storage.set_alert_rules(&organisation, &json).await.map_err(message)?;
            println!("règles d'alerte de {organisation} enregistrées");
        }
        AlertsCommand::Show { organisation } => {
            let rules = org_rules(storage, &organisation).await?;
            println!("{}", serde_json::to_string_pretty(&rules).map_err(|e| e.to_string())?);
        }
        AlertsCommand::Digest { email, every } => {
            let digest = platform::storage::alerting::Digest::parse(&every)
                .ok_or_else(|| format!("fréquence inconnue : {every} (daily, weekly, monthly ou none)"))?;
            storage.set_digest(&email, digest).await.map_err(message)?;
            println!("résumés de {email} : {every}");
        }
        AlertsCommand::Abandoned { limit } => {
            let mails = storage.abandoned_mails(limit).await.map_err(message)?;
            println!("{}", serde_json::to_string_pretty(&mails).map_err(|e| e.to_string())?);
        }
    }
    Ok(())
}

async fn accounts(storage: &Storage, command: AccountsCommand) -> Result<(), String> {
    use platform::storage::console::{Account, Role};
    match command {
        AccountsCommand::Add { email, name, role, org, site, password } => {
            let role =
                Role::parse(&role).ok_or_else(|| format!("rôle inconnu : {role} (national, network ou site)"))?;
            let password_hash =
                if password { Some(borne_web::auth::read_new_password("Mot de passe du compte : ")?) } else { None };
            let account = Account {
                id: email,
                name,
                role,
                organisation: org,
                site,
                password_hash,
                oidc_subject: None,
                disabled: false,
            };
            let id = account.id.trim().to_lowercase();
            storage.add_account(account).await.map_err(message)?;
            println!("compte {id} créé ({})", role.label());
        }
        AccountsCommand::Password { email } => {
            let hash = borne_web::auth::read_new_password("Nouveau mot de passe du compte : ")?;
            storage.set_password(&email, &hash).await.map_err(message)?;
            println!("mot de passe de {email} enregistré (haché avec argon2id) ; ses sessions ouvertes sont fermées");
        }
        AccountsCommand::Disable { email } => {
            storage.disable_account(&email).await.map_err(message)?;
            println!("compte {email} désactivé ; ses sessions sont fermées");
        }
        AccountsCommand::List => {
            let list: Vec<serde_json::Value> = storage
                .accounts()
                .await
                .map_err(message)?
                .into_iter()
                .map(|a| {
                    serde_json::json!({
                        "email": a.id, "name": a.name, "role": a.role, "organisation": a.organisation,
                        "site": a.site, "password": a.password_hash.is_some(),
                        "proconnect": a.oidc_subject.is_some(), "disabled": a.disabled,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?);
        }
    }
    Ok(())
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let config = args.db.config()?;
    init_logs(&config, true);
    for (name, p) in [
        ("--fail-rate", args.fail_rate),
        ("--delay-rate", args.delay_rate),
        ("--drop-rate", args.drop_rate),
        ("--truncate-rate", args.truncate_rate),
        ("--garbage-rate", args.garbage_rate),
    ] {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("{name} doit être entre 0 et 1"));
        }
    }
    let faults = Faults {
        seed: args.seed,
        fail_rate: args.fail_rate,
        statuses: args.fail_statuses.clone(),
        retry_after_s: args.retry_after,
        delay_rate: args.delay_rate,
        delay: Duration::from_millis(args.delay_ms),
        drop_rate: args.drop_rate,
        truncate_rate: args.truncate_rate,
        garbage_rate: args.garbage_rate,
    };
    let auth = match &args.tokens {
        Some(path) => Auth::File(Tokens::load(path)?),
        None => Auth::Database,
    };
    let listen = args.listen.clone().unwrap_or_else(|| config.listen.clone());
    runtime()?.block_on(async move {
        let notifier = config.alerts.as_ref().map(platform::notify::Notifier::from_config).transpose()?;
        let storage = args.db.open(&config).await?;
        let engine = storage.engine();
        let link = storage.link().await.map_err(|e| e.to_string())?;
        let forwarder = match &config.jdma {
            Some(jdma) => Some(std::sync::Arc::new(platform::jdma::Forwarder::new(storage.clone(), jdma)?)),
            None => None,
        };
        let state = Platform::new(
            storage,
            auth,
            faults,
            args.audit_log.as_deref(),
            config.console.clone(),
            notifier,
            config.server(),
        )?;
        if let Some(forwarder) = forwarder {
            let _ = state.jdma.set(forwarder);
        }
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| format!("écoute sur {listen} impossible : {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        println!("listening on http://{address}");
        use std::io::Write;
        // No account yet: a single-use link creates the first administrator in the browser.
        let base = config.alerts.as_ref().map_or_else(|| format!("http://{address}"), |a| a.public_url.clone());
        match platform::console::first_setup(state.storage(), &base).await {
            Ok(Some(url)) => {
                // Whoever started the server may have stopped reading its output: never fatal.
                let mut out = std::io::stdout();
                let _ = writeln!(
                    out,
                    "Aucun compte : créez le premier administrateur sur {url} (lien valable 48 h, à usage unique)"
                );
                let _ = out.flush();
                tracing::warn!("no account yet: the first administrator's link is printed on standard output");
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot check for a first account"),
        }
        let _ = std::io::stdout().flush();
        tracing::info!(%address, engine, link, "serving");
        borne_web::systemd::sd_notify("READY=1\nSTATUS=borne-platform prête");
        platform::serve(listener, state, stop_signal()).await;
        tracing::info!("stopped");
        Ok(())
    })
}

/// SIGTERM (systemd, a load balancer's orchestrator) or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
