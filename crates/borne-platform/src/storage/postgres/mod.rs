//! The PostgreSQL engine, for deployments: any number of stateless instances on one database.
//!
//! Schema in JDMA's shape (organisation → site ≈ product/form/button; review; answers). `reviews`
//! and `answers` are range-partitioned by month on the review's own instant (JDMA partitions by
//! `created_at` the same way), primary key `(id, created_at)`; the months ahead are created by
//! the service. A unique key on a partitioned table must include the partition key, so the
//! review's identity lives in `review_keys (device_id, client_review_id)`, unpartitioned: a dedup
//! key that never changes on a retry and holds forever, across months.
//!
//! A batch is one transaction of four statements whatever its size: claim the idempotency key,
//! insert the new reviews, their answers and the per-site counts in one statement over arrays
//! (`unnest` … `ON CONFLICT DO NOTHING RETURNING`), record the response, commit. Rows that
//! concurrent batches share (keys, counts) are taken in key order, so two batches never wait for
//! each other in a cycle (a deadlock would only cost a 503 and a retry, but costs it under load).

// Each implements one interface of `storage` for this engine.
mod actions;
mod admin;
mod alerting;
mod console;
mod forwarding;
mod guard;
pub mod link;
mod reviews;
mod rollouts;
mod surveys;

use crate::storage::model::{Result, StorageError};
use crate::storage::reviews::Reviews;
use chrono::Utc;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

/// The first month with a partition of its own; anything earlier (a kiosk's clock at 1970)
/// lands in `reviews_early`.
pub const FIRST_MONTH: (i32, u32) = (2024, 1);
/// Months created ahead of the current one.
pub const MONTHS_AHEAD: u32 = 3;

/// Versioned migrations, the files of `migrations/` in order: version N is the Nth. Never edit a
/// shipped one; a new one is a new file, listed here (a test checks the list against the directory).
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_reviews.sql", include_str!("migrations/0001_reviews.sql")),
    ("0002_console.sql", include_str!("migrations/0002_console.sql")),
    ("0003_alerts.sql", include_str!("migrations/0003_alerts.sql")),
    ("0004_session_id_token.sql", include_str!("migrations/0004_session_id_token.sql")),
    ("0005_kiosk_actions.sql", include_str!("migrations/0005_kiosk_actions.sql")),
    ("0006_login_guard.sql", include_str!("migrations/0006_login_guard.sql")),
    ("0007_mail_abandoned.sql", include_str!("migrations/0007_mail_abandoned.sql")),
    ("0008_jdma.sql", include_str!("migrations/0008_jdma.sql")),
    ("0009_question_texts.sql", include_str!("migrations/0009_question_texts.sql")),
    ("0010_device_batches.sql", include_str!("migrations/0010_device_batches.sql")),
    ("0011_site_time_zone.sql", include_str!("migrations/0011_site_time_zone.sql")),
    ("0012_account_links.sql", include_str!("migrations/0012_account_links.sql")),
    ("0013_follow_up.sql", include_str!("migrations/0013_follow_up.sql")),
    ("0014_monthly_summaries.sql", include_str!("migrations/0014_monthly_summaries.sql")),
    ("0015_survey_versions.sql", include_str!("migrations/0015_survey_versions.sql")),
    ("0016_rollouts.sql", include_str!("migrations/0016_rollouts.sql")),
];

/// Key of the advisory lock that serialises migrations and partition creation across instances.
const SCHEMA_LOCK: i64 = 0x626f_726e_6501;

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    link: link::Mode,
    /// « l'utilisateur borne, la base borne sur 127.0.0.1:5432 », for connection errors.
    target: Target,
}

/// What a connection is made to, to say which part failed.
#[derive(Clone)]
struct Target {
    user: String,
    database: String,
    server: String,
}

impl Target {
    fn of(config: &tokio_postgres::Config) -> Target {
        use tokio_postgres::config::Host;
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "localhost".into(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or("?").to_string();
        let database = config.get_dbname().unwrap_or(&user).to_string();
        Target { user, database, server: format!("{host}:{port}") }
    }

    /// Why a connection could not be made, in the operator's words: the server, the user or
    /// its password, the database, or TLS.
    fn explain(&self, e: &deadpool_postgres::PoolError) -> String {
        use deadpool_postgres::PoolError;
        use tokio_postgres::error::SqlState;
        let Target { user, database, server } = self;
        let PoolError::Backend(e) = e else {
            return match e {
                PoolError::Timeout(_) => format!("le serveur {server} ne répond pas à temps"),
                other => other.to_string(),
            };
        };
        match e.code() {
            Some(c) if *c == SqlState::INVALID_PASSWORD => {
                format!("mot de passe refusé par le serveur {server} pour l'utilisateur « {user} »")
            }
            Some(c) if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                format!("le serveur {server} refuse l'utilisateur « {user} » (pg_hba.conf, ou utilisateur inconnu)")
            }
            Some(c) if *c == SqlState::INVALID_CATALOG_NAME => {
                format!("la base « {database} » n'existe pas sur le serveur {server} (createdb {database})")
            }
            Some(_) => e.as_db_error().map(|d| d.to_string()).unwrap_or_else(|| e.to_string()),
            None => {
                let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
                while let Some(c) = cause {
                    if let Some(io) = c.downcast_ref::<std::io::Error>() {
                        return match io.kind() {
                            std::io::ErrorKind::ConnectionRefused => {
                                format!(
                                    "serveur injoignable : {server} refuse la connexion (PostgreSQL arrêté, ou mauvais port)"
                                )
                            }
                            std::io::ErrorKind::TimedOut => format!("le serveur {server} ne répond pas"),
                            _ => format!("serveur {server} : {io}"),
                        };
                    }
                    if c.to_string().to_lowercase().contains("tls") || c.to_string().contains("certificate") {
                        return format!("liaison chiffrée (TLS) impossible avec {server} : {c}");
                    }
                    cause = c.source();
                }
                format!("serveur {server} : {e}")
            }
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(e.to_string())
}

/// A unique or foreign-key violation is the operator's mistake; anything else is the database's.
pub(super) fn classify(e: tokio_postgres::Error) -> StorageError {
    use tokio_postgres::error::SqlState;
    match e.code() {
        Some(code) if *code == SqlState::UNIQUE_VIOLATION || *code == SqlState::FOREIGN_KEY_VIOLATION => {
            StorageError::Refused(e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string()))
        }
        _ => StorageError::Unavailable(e.as_db_error().map(|d| d.to_string()).unwrap_or_else(|| e.to_string())),
    }
}

impl PgStore {
    pub async fn open(url: &str, pool_size: usize) -> Result<PgStore> {
        let link = link::parse(url).map_err(StorageError::Refused)?;
        let target = Target::of(&link.config);
        let manager =
            Manager::from_config(link.config, link.tls, ManagerConfig { recycling_method: RecyclingMethod::Verified });
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .recycle_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(unavailable)?;
        let store = PgStore { pool, link: link.mode, target };
        store.migrate().await?;
        store.maintain(Utc::now()).await?;
        Ok(store)
    }

    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| StorageError::Unavailable(self.target.explain(&e)))
    }

    async fn migrate(&self) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK]).await.map_err(classify)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .map_err(classify)?;
        let current: i64 = tx
            .query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[])
            .await
            .map_err(classify)?
            .get(0);
        for (index, (_, sql)) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
            tx.batch_execute(sql).await.map_err(classify)?;
            tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[&(index as i64 + 1)])
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    pub async fn schema_version(&self) -> Result<i64> {
        let client = self.client().await?;
        let row =
            client.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[]).await.map_err(classify)?;
        Ok(row.get(0))
    }

    pub async fn health(&self) -> Result<()> {
        let client = self.client().await?;
        client.query_one("SELECT 1", &[]).await.map_err(classify)?;
        Ok(())
    }

    /// How the address asked to reach the server, and whether this session's link is
    /// encrypted as the server sees it (`pg_stat_ssl`).
    pub async fn link(&self) -> Result<(link::Mode, bool)> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)", &[])
            .await
            .map_err(classify)?;
        Ok((self.link, row.get(0)))
    }

    pub fn pool_status(&self) -> (usize, usize, usize) {
        let status = self.pool.status();
        (status.size, status.available, status.waiting)
    }
}
