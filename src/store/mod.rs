//! The durable review store: one SQLite file in WAL mode. Split by concern: `reviews` (the
//! visitor's commit, counts, reading back), `outbox` (upload batches and status), `retention`
//! (comment erasure, clock correction), `integrity` (checks, corrupt files), `migrations`.
//!
//! Invariants:
//! - Only this module opens SQLite (the platform, `borne-platform`, has its own database).
//! - `insert_review` returns only after the commit is durable (`synchronous=FULL`).
//! - Every write transaction is bounded (one review, or at most `MAX_WRITE_BATCH` rows), so a
//!   visitor's commit never waits behind more than one other commit.
//! - A review's answers and the hourly counts move together, in one transaction.
//! - A corrupt file is moved aside, never deleted.

mod actions;
mod integrity;
mod migrations;
mod outbox;
pub mod published;
mod retention;
mod reviews;

pub use migrations::MIGRATIONS;

use crate::clock::{ClockReading, correct_timestamp};
use borne_model::indicators::QuestionCounts;
use borne_model::review::{Answer, AnswerKind, BootStamp, ClockState, Intention, Review, VERBATIM};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

/// Key of the manager password's hash in the `meta` table.
pub const MANAGER_PASSWORD_KEY: &str = "dashboard_password_argon2id";
/// The file name of the store inside the data directory.
pub const DB_FILE: &str = "borne.db";
/// The largest number of rows one background write transaction touches.
pub const MAX_WRITE_BATCH: usize = 500;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong, in words a site manager can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "disque plein ({0}) : rien n'a pu y être écrit ; ce qui était déjà enregistré est intact. Libérez de la place : l'écriture reprendra d'elle-même"
    )]
    DiskFull(PathBuf),
    #[error(
        "le stockage est en lecture seule : impossible d'écrire dans {0} ; ce qui était déjà enregistré est intact"
    )]
    ReadOnly(PathBuf),
    #[error("la base {0} est occupée par un autre processus depuis trop longtemps ; réessayez")]
    Busy(PathBuf),
    #[error("la base {path} est endommagée ({detail}) ; lancez « borne db check » pour la mettre de côté")]
    Corrupt { path: PathBuf, detail: String },
    #[error("impossible d'ouvrir le dossier de données {path} : {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("erreur d'entrée-sortie sur {path} : {detail}")]
    Io { path: PathBuf, detail: String },
    #[error("cet identifiant d'avis existe déjà : {0}")]
    DuplicateId(Uuid),
    #[error("erreur de la base de données : {0}")]
    Sqlite(rusqlite::Error),
    #[error("donnée illisible dans la base : {0}")]
    Decode(String),
}

impl StoreError {
    fn classify(path: &Path, error: rusqlite::Error) -> StoreError {
        if let rusqlite::Error::SqliteFailure(ffi, _) = &error {
            let path = path.to_path_buf();
            return match ffi.code {
                ErrorCode::DiskFull => StoreError::DiskFull(path),
                ErrorCode::ReadOnly => StoreError::ReadOnly(path),
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Busy(path),
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                    StoreError::Corrupt { path, detail: error.to_string() }
                }
                ErrorCode::SystemIoFailure | ErrorCode::CannotOpen => {
                    // SQLite reports ENOSPC met while syncing or growing the WAL as an I/O error.
                    if disk_is_full(&path) {
                        StoreError::DiskFull(path)
                    } else {
                        StoreError::Io { path, detail: error.to_string() }
                    }
                }
                _ => StoreError::Sqlite(error),
            };
        }
        StoreError::Sqlite(error)
    }
}

fn disk_is_full(path: &Path) -> bool {
    let dir = path.parent().unwrap_or(path);
    crate::sys::disk_free_bytes(dir).is_some_and(|free| free < 64 * 1024)
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// How to open the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// Run `PRAGMA quick_check` first, and move a corrupt file aside (the kiosk at start).
    CheckAndRecover,
    /// Trust the file; corruption is reported if SQLite meets it (command-line tools).
    Trust,
}

/// What happened while opening.
#[derive(Debug, Clone, Default)]
pub struct OpenReport {
    /// Where a corrupt file was moved, when it was.
    pub moved_aside: Option<PathBuf>,
    pub schema_before: usize,
    pub schema_after: usize,
}

/// A review's place in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbox {
    Pending,
    Uploaded { platform_review_id: String, at: DateTime<Utc> },
    Rejected { reason: String, at: DateTime<Utc> },
}

impl Outbox {
    pub fn status(&self) -> &'static str {
        match self {
            Outbox::Pending => "pending",
            Outbox::Uploaded { .. } => "uploaded",
            Outbox::Rejected { .. } => "rejected",
        }
    }
}

/// A review as the store holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReview {
    pub seq: i64,
    pub review: Review,
    pub clock_corrected: bool,
    pub outbox: Outbox,
    pub comment_erased: bool,
}

/// Inclusive range of local days; `None` is open-ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayRange {
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

impl DayRange {
    fn bounds(&self) -> (String, String) {
        (
            self.since.map(|d| d.to_string()).unwrap_or_else(|| "0000-00-00".into()),
            self.until.map(|d| d.to_string()).unwrap_or_else(|| "9999-99-99".into()),
        )
    }
}

/// Which reviews to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    All,
    Pending,
    Rejected,
    Uploaded,
}

/// The outbox at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxSummary {
    pub total: u64,
    pub pending: u64,
    pub uploaded: u64,
    pub rejected: u64,
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub last_review_at: Option<DateTime<Utc>>,
    /// Pending reviews whose timestamp was taken before the clock synchronised.
    pub unsynced_clock: u64,
}

/// A visitor's comment, as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub submitted_at: DateTime<FixedOffset>,
    /// 1 « Pas bien », 2 « Moyen », 3 « Très bien ».
    pub satisfaction: i64,
    pub text: String,
}

/// Satisfaction answers of one local day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DayCounts {
    pub day: NaiveDate,
    /// Counts of « Pas bien », « Moyen », « Très bien ».
    pub satisfaction: [u64; 3],
}

/// Satisfaction answers of one (weekday, hour) cell, Monday = 0.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HourCell {
    pub weekday: u8,
    pub hour: u8,
    pub satisfaction: [u64; 3],
}

/// A batch persisted and ready to be sent (or sent again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenBatch {
    pub batch_id: Uuid,
    pub body_gzip: Vec<u8>,
    pub body_bytes: usize,
    pub review_ids: Vec<Uuid>,
    pub attempts: u32,
    /// The platform's last answer refused the kiosk's identity (token, device_id, JDMA ids):
    /// it took nothing of this batch.
    pub identity_refused: bool,
}

/// What the uploader last did, readable by `borne status` and the dashboard from any process.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UplinkStatus {
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub auth_refused: bool,
    pub consecutive_failures: u32,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`: sets the pragmas, optionally checks
    /// integrity and moves a corrupt file aside, then runs the migrations.
    pub fn open(data_dir: &Path, integrity: Integrity) -> Result<(Store, OpenReport)> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::DataDir { path: data_dir.to_path_buf(), source })?;
        let path = data_dir.join(DB_FILE);
        let mut report = OpenReport::default();
        let conn = match Self::connect(&path, integrity) {
            Ok(conn) => conn,
            Err(StoreError::Corrupt { detail, .. }) if integrity == Integrity::CheckAndRecover => {
                let aside = move_aside(&path)?;
                tracing::error!(
                    path = %path.display(), moved_to = %aside.display(), %detail,
                    "corrupt store moved aside, starting a new one"
                );
                report.moved_aside = Some(aside);
                Self::connect(&path, Integrity::Trust)?
            }
            Err(e) => return Err(e),
        };
        let mut store = Store { conn, path };
        let (before, after) = migrations::migrate(&mut store.conn).map_err(|e| StoreError::classify(&store.path, e))?;
        report.schema_before = before;
        report.schema_after = after;
        Ok((store, report))
    }

    /// A connection that only reads (the dashboard's pool, watchers): no creation, no
    /// migration, and `query_only`, so it never takes the write lock a visitor's commit needs.
    /// The store must exist, at this program's schema.
    pub fn open_reader(data_dir: &Path) -> Result<Store> {
        let path = data_dir.join(DB_FILE);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| StoreError::classify(&path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| StoreError::classify(&path, e))?;
        conn.pragma_update(None, "query_only", true).map_err(|e| StoreError::classify(&path, e))?;
        let version: i64 =
            conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| StoreError::classify(&path, e))?;
        if version != MIGRATIONS.len() as i64 {
            return Err(StoreError::Io {
                path,
                detail: format!(
                    "schéma {version} au lieu de {} : ouvrez d'abord la base en écriture",
                    MIGRATIONS.len()
                ),
            });
        }
        Ok(Store { conn, path })
    }

    /// A private store in memory, for tests and benchmarks of the logic.
    pub fn open_in_memory() -> Result<Store> {
        let path = PathBuf::from(":memory:");
        let mut conn = Connection::open_in_memory().map_err(|e| StoreError::classify(&path, e))?;
        configure(&conn).map_err(|e| StoreError::classify(&path, e))?;
        migrations::migrate(&mut conn).map_err(|e| StoreError::classify(&path, e))?;
        Ok(Store { conn, path })
    }

    fn connect(path: &Path, integrity: Integrity) -> Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| StoreError::classify(path, e))?;
        configure(&conn).map_err(|e| StoreError::classify(path, e))?;
        if integrity == Integrity::CheckAndRecover {
            let verdict = quick_check(&conn).map_err(|e| StoreError::classify(path, e))?;
            if verdict != "ok" {
                return Err(StoreError::Corrupt { path: path.to_path_buf(), detail: verdict });
            }
        }
        Ok(conn)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::classify(&self.path, e)
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The argon2id hash of the manager's password, if one was set (`borne passwd`).
    pub fn manager_password_hash(&self) -> Result<Option<String>> {
        self.meta(MANAGER_PASSWORD_KEY)
    }

    /// Whether a manager password is set: the dashboard is served only then.
    pub fn manager_password_is_set(&self) -> Result<bool> {
        Ok(self.manager_password_hash()?.is_some())
    }

    pub fn set_manager_password_hash(&mut self, hash: &str) -> Result<()> {
        self.set_meta(MANAGER_PASSWORD_KEY, hash)
    }

    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Size of the database file and its WAL, in bytes.
    pub fn size_bytes(&self) -> u64 {
        [DB_FILE, "borne.db-wal"]
            .iter()
            .filter_map(|name| self.path.parent().map(|d| d.join(name)))
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

/// `PRAGMA quick_check`'s verdict (« ok » when the file is sound).
fn quick_check(conn: &Connection) -> rusqlite::Result<String> {
    let mut stmt = conn.prepare("PRAGMA quick_check")?;
    let lines: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(lines.join("; "))
}

/// Renames the store and its side files to `borne.db.corrupt-<UTC time>`.
fn move_aside(path: &Path) -> Result<PathBuf> {
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    let aside = path.with_file_name(format!("{DB_FILE}.corrupt-{stamp}"));
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", path.display()));
        let to = PathBuf::from(format!("{}{suffix}", aside.display()));
        if from.exists() {
            std::fs::rename(&from, &to).map_err(|e| StoreError::Io { path: from.clone(), detail: e.to_string() })?;
        }
    }
    Ok(aside)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    apply_pragmas(conn)
}

/// The pragmas every connection to a review store uses; the benchmarks' bare-insert baseline
/// uses the same.
pub fn apply_pragmas(conn: &Connection) -> rusqlite::Result<()> {
    // WAL: readers never block the writer. FULL: a commit survives a power cut.
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // After a checkpoint, the WAL file is cut back to this size (it is reused, not regrown).
    conn.pragma_update(None, "journal_size_limit", 4 * 1024 * 1024)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // Erased comments are overwritten on disk, not just unlinked.
    conn.pragma_update(None, "secure_delete", true)?;
    Ok(())
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

#[cfg(test)]
mod tests;
