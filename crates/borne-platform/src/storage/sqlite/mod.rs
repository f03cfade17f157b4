//! The embedded engine: one SQLite file (WAL, `synchronous=FULL`), so that `borne-platform
//! serve` needs no server. One connection behind a lock, used from blocking threads; the
//! schema's version is SQLite's `user_version`.

// Each implements one interface of `storage` for this engine.
mod actions;
mod admin;
mod alerting;
mod console;
mod forwarding;
mod guard;
mod reviews;
mod rollouts;
mod surveys;

use crate::storage::model::{Result, StorageError};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Versioned migrations, the files of `migrations/` in order: version N is the Nth. Version 1 is the reference
/// receiver's schema as it shipped (so its files upgrade in place); never edit a shipped one.
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_receiver.sql", include_str!("migrations/0001_receiver.sql")),
    ("0002_sites_and_counts.sql", include_str!("migrations/0002_sites_and_counts.sql")),
    ("0003_console.sql", include_str!("migrations/0003_console.sql")),
    ("0004_alerts.sql", include_str!("migrations/0004_alerts.sql")),
    ("0005_session_id_token.sql", include_str!("migrations/0005_session_id_token.sql")),
    ("0006_kiosk_actions.sql", include_str!("migrations/0006_kiosk_actions.sql")),
    ("0007_login_guard.sql", include_str!("migrations/0007_login_guard.sql")),
    ("0008_mail_abandoned.sql", include_str!("migrations/0008_mail_abandoned.sql")),
    ("0009_jdma.sql", include_str!("migrations/0009_jdma.sql")),
    ("0010_question_texts.sql", include_str!("migrations/0010_question_texts.sql")),
    ("0011_device_batches.sql", include_str!("migrations/0011_device_batches.sql")),
    ("0012_site_time_zone.sql", include_str!("migrations/0012_site_time_zone.sql")),
    ("0013_account_links.sql", include_str!("migrations/0013_account_links.sql")),
    ("0014_follow_up.sql", include_str!("migrations/0014_follow_up.sql")),
    ("0015_monthly_summaries.sql", include_str!("migrations/0015_monthly_summaries.sql")),
    ("0016_survey_versions.sql", include_str!("migrations/0016_survey_versions.sql")),
    ("0017_rollouts.sql", include_str!("migrations/0017_rollouts.sql")),
];

/// Brings a connection's schema to the latest version, each step in its own transaction; the
/// version is read inside it, so processes migrating the same file at once take turns.
///
/// Foreign keys are off while migrating (SQLite rebuilds a table to change a constraint, and
/// dropping the old one would otherwise cascade to what references it); each step checks them
/// before it commits, and they are on again when this returns, whatever happened.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let migrated = migrate_steps(conn);
    let restored = conn.pragma_update(None, "foreign_keys", "ON");
    migrated.and(restored)
}

fn migrate_steps(conn: &mut Connection) -> rusqlite::Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let Some((name, sql)) = MIGRATIONS.get(current.max(0) as usize) else { return Ok(()) };
        tx.execute_batch(sql)?;
        let dangling: Option<String> =
            tx.query_row("SELECT \"table\" FROM pragma_foreign_key_check LIMIT 1", [], |r| r.get(0)).optional()?;
        if let Some(table) = dangling {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some(format!("{name} leaves rows of {table} referencing nothing")),
            ));
        }
        tx.pragma_update(None, "user_version", current + 1)?;
        tx.commit()?;
    }
}

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

pub(super) fn unavailable(e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(e.to_string())
}

pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl SqliteStore {
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        let path = path.to_path_buf();
        let conn = tokio::task::spawn_blocking(move || -> rusqlite::Result<Connection> {
            let mut conn = Connection::open(&path)?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            // Turning a new file to WAL takes an exclusive lock that SQLite tries once, without
            // the busy handler: several processes opening one new file (instances, `migrate`
            // run twice) take turns here for as long as the busy timeout.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
                    Ok(_) => break,
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
                    {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    Err(e) => return Err(e),
                }
            }
            conn.pragma_update(None, "synchronous", "FULL")?;
            // Every transaction takes the write lock when it begins, waiting its turn (the busy
            // timeout). A deferred one that reads and then writes cannot wait: when another
            // process (an instance, a command) committed in between, SQLite refuses it at once
            // with « database is locked ».
            conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
            migrate(&mut conn)?;
            Ok(conn)
        })
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
        Ok(SqliteStore { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `work` on the connection, on a blocking thread. A panic in `work` (a bug: no input
    /// should reach one) is caught inside the lock: its transaction is rolled back as it
    /// unwinds, the request gets 503, and the connection goes on serving every other request
    /// (a poisoned lock would have refused them all until a restart).
    pub(super) async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let worked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut conn)));
            match worked {
                Ok(result) => result.map_err(refused_or_unavailable),
                Err(_) => {
                    tracing::error!("a database task panicked; its transaction was rolled back");
                    Err(StorageError::Unavailable("erreur interne (tâche interrompue)".into()))
                }
            }
        })
        .await
        .map_err(unavailable)?
    }

    pub async fn health(&self) -> Result<()> {
        self.with(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    pub async fn schema_version(&self) -> Result<i64> {
        self.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0))).await
    }
}

/// A constraint violation is the operator's mistake (refused); anything else is the database's.
fn refused_or_unavailable(e: rusqlite::Error) -> StorageError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StorageError::Refused(e.to_string()),
        _ => StorageError::Unavailable(e.to_string()),
    }
}

/// A UNIQUE constraint's refusal, worded for the person who asked.
fn refused_if_exists(e: StorageError, message: &str) -> StorageError {
    match e {
        StorageError::Refused(detail) if detail.contains("UNIQUE") => StorageError::Refused(message.to_string()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A platform at version 14 with a signed-in manager and a pending link: rebuilding
    /// `accounts` (monthly summaries) keeps both, and the foreign keys hold afterwards.
    #[test]
    fn rebuilding_accounts_keeps_what_references_them() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        for (_, sql) in &MIGRATIONS[..14] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 14).unwrap();
        conn.execute_batch(
            "INSERT INTO accounts (id, name, role, created_at_ms, unsubscribe_token, digest)
                 VALUES ('anne@orne.gouv.fr', 'Anne', 'national', 1, 'u', 'daily');
             INSERT INTO console_sessions VALUES ('s', 'anne@orne.gouv.fr', 'c', 1, 1, NULL);
             INSERT INTO account_links VALUES ('l', 'reset', 'anne@orne.gouv.fr', 1, 2, NULL);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let count = |c: &Connection, table: &str| -> i64 {
            c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap()
        };
        assert_eq!((count(&conn, "console_sessions"), count(&conn, "account_links")), (1, 1));
        let digest: String = conn.query_row("SELECT digest FROM accounts", [], |r| r.get(0)).unwrap();
        assert_eq!(digest, "daily");
        conn.execute("UPDATE accounts SET digest = 'monthly'", []).unwrap();
        assert!(conn.execute("UPDATE accounts SET digest = 'yearly'", []).is_err());
        let on: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert_eq!(on, 1, "foreign keys are on again after migrating");
        assert!(conn.execute("INSERT INTO console_sessions VALUES ('t', 'personne', 'c', 1, 1, NULL)", []).is_err());
        conn.execute("DELETE FROM accounts", []).unwrap();
        assert_eq!((count(&conn, "console_sessions"), count(&conn, "account_links")), (0, 0), "cascades still");
    }
}
