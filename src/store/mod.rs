//! The durable review store: one SQLite file in WAL mode.
//!
//! Invariants:
//! - Only this module opens SQLite (the reference receiver has its own database).
//! - `insert_review` returns only after the commit is durable (`synchronous=FULL`).
//! - Every write transaction is bounded (one review, or at most `MAX_WRITE_BATCH` rows), so a
//!   visitor's commit never waits behind more than one other commit.
//! - A review's answers and the hourly counts move together, in one transaction.
//! - A corrupt file is moved aside, never deleted.

mod migrations;
mod outbox;

pub use outbox::{OpenBatch, UplinkStatus};

pub use migrations::MIGRATIONS;

use crate::clock::{ClockReading, correct_timestamp};
use crate::review::{Answer, AnswerKind, BootStamp, ClockState, Intention, QuestionCounts, Review, VERBATIM};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use uuid::Uuid;

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

    /// Commits one review durably. When this returns `Ok`, the review survives a power cut.
    pub fn insert_review(&mut self, review: &Review) -> Result<i64> {
        let path = self.path.clone();
        let err = |e| StoreError::classify(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let seq = insert_in(&tx, review).map_err(|e| match e {
            InsertError::Duplicate => StoreError::DuplicateId(review.client_review_id),
            InsertError::NoSatisfaction => StoreError::Decode("a review needs a satisfaction answer".into()),
            InsertError::Sqlite(e) => err(e),
        })?;
        tx.commit().map_err(err)?;
        Ok(seq)
    }

    /// Imports many reviews in one transaction (benchmarks, demo data, migrations from another
    /// kiosk). Not for a running kiosk: the transaction is as large as the slice. Reviews whose
    /// id is already stored are skipped; returns how many were added.
    pub fn import_reviews(&mut self, reviews: &[Review]) -> Result<usize> {
        let path = self.path.clone();
        let err = |e| StoreError::classify(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let mut added = 0;
        for review in reviews {
            match insert_in(&tx, review) {
                Ok(_) => added += 1,
                Err(InsertError::Duplicate) => {}
                Err(InsertError::NoSatisfaction) => {
                    return Err(StoreError::Decode(format!("review {} has no satisfaction", review.client_review_id)));
                }
                Err(InsertError::Sqlite(e)) => return Err(err(e)),
            }
        }
        tx.commit().map_err(err)?;
        Ok(added)
    }

    /// Counts per question and answer item over a range of local days.
    pub fn question_counts(&self, range: DayRange) -> Result<BTreeMap<String, QuestionCounts>> {
        let (since, until) = range.bounds();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT field_code, answer_item_id, SUM(count) FROM hourly_counts
                 WHERE local_day BETWEEN ?1 AND ?2 GROUP BY field_code, answer_item_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![since, until], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            })
            .map_err(|e| self.err(e))?;
        let mut counts: BTreeMap<String, QuestionCounts> = BTreeMap::new();
        for row in rows {
            let (code, item, n) = row.map_err(|e| self.err(e))?;
            let entry = counts.entry(code).or_default();
            let n = n.max(0) as u64;
            if item == RESPONDENTS {
                entry.respondents = n;
            } else {
                entry.by_item.push((item, n));
            }
        }
        Ok(counts)
    }

    /// Satisfaction answers per local day.
    pub fn daily_satisfaction(&self, range: DayRange) -> Result<Vec<DayCounts>> {
        let (since, until) = range.bounds();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT local_day, answer_item_id, SUM(count) FROM hourly_counts
                 WHERE local_day BETWEEN ?1 AND ?2 AND field_code = 'satisfaction' AND answer_item_id BETWEEN 1 AND 3
                 GROUP BY local_day, answer_item_id ORDER BY local_day",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![since, until], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            })
            .map_err(|e| self.err(e))?;
        let mut days: Vec<DayCounts> = Vec::new();
        for row in rows {
            let (day, item, n) = row.map_err(|e| self.err(e))?;
            let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|e| StoreError::Decode(e.to_string()))?;
            if days.last().is_none_or(|d| d.day != day) {
                days.push(DayCounts { day, satisfaction: [0; 3] });
            }
            if let Some(last) = days.last_mut() {
                last.satisfaction[(item - 1) as usize] += n.max(0) as u64;
            }
        }
        Ok(days)
    }

    /// Satisfaction answers per weekday and hour of day (the dashboard's heat map).
    pub fn weekday_hour_satisfaction(&self, range: DayRange) -> Result<Vec<HourCell>> {
        let mut cells: BTreeMap<(u8, u8), [u64; 3]> = BTreeMap::new();
        let (since, until) = range.bounds();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT local_day, local_hour, answer_item_id, SUM(count) FROM hourly_counts
                 WHERE local_day BETWEEN ?1 AND ?2 AND field_code = 'satisfaction' AND answer_item_id BETWEEN 1 AND 3
                 GROUP BY local_day, local_hour, answer_item_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![since, until], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?, row.get::<_, i64>(3)?))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (day, hour, item, n) = row.map_err(|e| self.err(e))?;
            let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|e| StoreError::Decode(e.to_string()))?;
            let weekday = day.weekday().num_days_from_monday() as u8;
            cells.entry((weekday, hour as u8)).or_insert([0; 3])[(item - 1) as usize] += n.max(0) as u64;
        }
        Ok(cells.into_iter().map(|((weekday, hour), satisfaction)| HourCell { weekday, hour, satisfaction }).collect())
    }

    /// The outbox at a glance.
    pub fn outbox_summary(&self) -> Result<OutboxSummary> {
        // Each figure comes from an index (partial ones for the small sets), so the summary
        // costs the same at a thousand or a million reviews.
        let count = |sql: &str| -> Result<u64> {
            self.conn.query_row(sql, [], |r| r.get::<_, i64>(0)).map(|n| n.max(0) as u64).map_err(|e| self.err(e))
        };
        // Reviews are never deleted and `seq` is SQLite's max + 1: the largest seq is the count.
        let total = count("SELECT coalesce(max(seq), 0) FROM reviews")?;
        // One pass over `reviews_pending`, which carries the clock state.
        let (pending, unsynced_clock) = self
            .conn
            .query_row(
                "SELECT count(*), coalesce(sum(clock = 'unsynced'), 0) FROM reviews WHERE status = 'pending'",
                [],
                |r| Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get::<_, i64>(1)?.max(0) as u64)),
            )
            .map_err(|e| self.err(e))?;
        let rejected = count("SELECT count(*) FROM reviews WHERE status = 'rejected'")?;
        let at = |sql: &str| -> Result<Option<DateTime<Utc>>> {
            let ms: Option<i64> = self.conn.query_row(sql, [], |r| r.get(0)).optional().map_err(|e| self.err(e))?;
            Ok(ms.and_then(DateTime::from_timestamp_millis))
        };
        Ok(OutboxSummary {
            total,
            pending,
            uploaded: total.saturating_sub(pending + rejected),
            rejected,
            oldest_pending_at: at("SELECT submitted_at_ms FROM reviews WHERE status = 'pending' ORDER BY seq LIMIT 1")?,
            last_review_at: at("SELECT submitted_at_ms FROM reviews ORDER BY seq DESC LIMIT 1")?,
            unsynced_clock,
        })
    }

    /// Streams reviews in commit order, with their answers and outbox state. Memory stays flat
    /// whatever the number of reviews.
    pub fn for_each_review(
        &self,
        status: StatusFilter,
        range: DayRange,
        visit: impl FnMut(StoredReview) -> std::result::Result<(), anyhow::Error>,
    ) -> std::result::Result<(), anyhow::Error> {
        let (since, until) = range.bounds();
        let status_clause = match status {
            StatusFilter::All => "",
            StatusFilter::Pending => "AND r.status = 'pending'",
            StatusFilter::Rejected => "AND r.status = 'rejected'",
            StatusFilter::Uploaded => "AND r.status = 'uploaded'",
        };
        self.stream_reviews(&format!("r.local_day BETWEEN ?1 AND ?2 {status_clause}"), params![since, until], visit)
    }

    /// Streams the reviews matching `filter` (an SQL condition on `reviews r`) in commit order,
    /// each with its answers, in one query.
    pub(crate) fn stream_reviews<E: From<StoreError>>(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
        mut visit: impl FnMut(StoredReview) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let sql = format!(
            "SELECT {REVIEW_COLUMNS}, a.field_code, a.kind, a.answer_item_id, a.answer_text, a.intention
             FROM reviews r LEFT JOIN answers a ON a.review_seq = r.seq
             WHERE {filter}
             ORDER BY r.seq, a.position"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt.query(params).map_err(|e| self.err(e))?;
        let mut current: Option<StoredReview> = None;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let seq: i64 = row.get(0).map_err(|e| self.err(e))?;
            if current.as_ref().is_none_or(|c| c.seq != seq) {
                if let Some(done) = current.take() {
                    visit(done)?;
                }
                current = Some(decode_review(row)?);
            }
            if let Some(review) = current.as_mut()
                && let Some(answer) = decode_answer(row, 15)?
            {
                review.review.answers.push(answer);
            }
        }
        if let Some(done) = current.take() {
            visit(done)?;
        }
        Ok(())
    }

    /// Reads one review by its id.
    pub fn review(&self, id: Uuid) -> Result<Option<StoredReview>> {
        let seq: Option<i64> = self
            .conn
            .query_row("SELECT seq FROM reviews WHERE client_review_id = ?1", [id.to_string()], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        match seq {
            Some(seq) => self.review_by_seq(seq),
            None => Ok(None),
        }
    }

    pub(crate) fn review_by_seq(&self, seq: i64) -> Result<Option<StoredReview>> {
        let mut found = None;
        self.stream_reviews("r.seq = ?1", [seq], |r| {
            found = Some(r);
            Ok::<(), StoreError>(())
        })?;
        Ok(found)
    }

    /// Erases the comment text of uploaded reviews submitted more than `days` days before `now`.
    /// Ratings and counts stay. Works in bounded transactions; returns how many were erased.
    pub fn erase_old_comments(&mut self, now: DateTime<Utc>, days: u32) -> Result<usize> {
        let cutoff_ms = (now - chrono::Duration::days(i64::from(days))).timestamp_millis();
        let now_ms = now.timestamp_millis();
        let mut erased = 0;
        loop {
            let path = self.path.clone();
            let err = |e| StoreError::classify(&path, e);
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
            let seqs: Vec<i64> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT DISTINCT r.seq FROM reviews r JOIN answers a ON a.review_seq = r.seq
                         WHERE r.status = 'uploaded' AND r.submitted_at_ms < ?1 AND a.field_code = ?2
                         LIMIT ?3",
                    )
                    .map_err(err)?;
                stmt.query_map(params![cutoff_ms, VERBATIM, MAX_WRITE_BATCH as i64], |r| r.get(0))
                    .map_err(err)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(err)?
            };
            for seq in &seqs {
                tx.execute("DELETE FROM answers WHERE review_seq = ?1 AND field_code = ?2", params![seq, VERBATIM])
                    .map_err(err)?;
                tx.execute("UPDATE reviews SET comment_erased_at_ms = ?2 WHERE seq = ?1", params![seq, now_ms])
                    .map_err(err)?;
            }
            tx.commit().map_err(err)?;
            erased += seqs.len();
            if seqs.len() < MAX_WRITE_BATCH {
                return Ok(erased);
            }
        }
    }

    /// Corrects the timestamps of pending reviews taken before the clock synchronised, during
    /// the boot of `now` (which must itself be synchronised). Their counts move to the right
    /// hour. Reviews from another boot stay `unsynced`, and are kept. Returns how many moved.
    pub fn correct_unsynced(
        &mut self,
        now: &ClockReading,
        offset_at: impl Fn(DateTime<Utc>) -> FixedOffset,
    ) -> Result<usize> {
        let Some(boot) = now.boot.as_ref().filter(|_| now.synced) else {
            return Ok(0);
        };
        let mut corrected = 0;
        loop {
            let path = self.path.clone();
            let err = |e| StoreError::classify(&path, e);
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
            let candidates: Vec<(i64, i64, String, i64)> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT seq, boottime_ms, local_day, local_hour FROM reviews
                         WHERE status = 'pending' AND clock = 'unsynced' AND boot_id = ?1 AND boottime_ms IS NOT NULL
                           AND batch_id IS NULL
                         ORDER BY seq LIMIT ?2",
                    )
                    .map_err(err)?;
                stmt.query_map(params![boot.boot_id, MAX_WRITE_BATCH as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(err)?
            };
            for (seq, boottime_ms, old_day, old_hour) in &candidates {
                let taken = BootStamp { boot_id: boot.boot_id.clone(), boottime_ms: *boottime_ms };
                let Some(instant) = correct_timestamp(&taken, now) else { continue };
                let local = instant.with_timezone(&offset_at(instant));
                let (day, hour) = local_day_hour(&local);
                let answers = answers_of(&tx, *seq)?;
                add_counts(&tx, old_day, *old_hour as u32, &answers, -1).map_err(err)?;
                add_counts(&tx, &day, hour, &answers, 1).map_err(err)?;
                tx.execute(
                    "UPDATE reviews SET submitted_at_ms = ?2, utc_offset_s = ?3, local_day = ?4, local_hour = ?5,
                        clock = 'synced', clock_corrected = 1
                     WHERE seq = ?1",
                    params![seq, local.timestamp_millis(), local.offset().local_minus_utc(), day, hour],
                )
                .map_err(err)?;
            }
            tx.commit().map_err(err)?;
            corrected += candidates.len();
            if candidates.len() < MAX_WRITE_BATCH {
                return Ok(corrected);
            }
        }
    }

    /// `PRAGMA integrity_check` in full (slow on a large file): "ok" or the problems found.
    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
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

    /// Comments, newest first: `limit` from `offset`, optionally only those given with one
    /// satisfaction answer (1, 2 or 3), over local days. Walks reviews newest first and stops
    /// after `limit` comments, so the first pages cost little at any size.
    pub fn comments(
        &self,
        satisfaction: Option<i64>,
        range: DayRange,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<Comment>> {
        let (since, until) = range.bounds();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.submitted_at_ms, r.utc_offset_s, r.satisfaction, a.answer_text
                 FROM reviews r JOIN answers a ON a.review_seq = r.seq AND a.field_code = ?3
                 WHERE r.local_day BETWEEN ?1 AND ?2 AND (?4 IS NULL OR r.satisfaction = ?4)
                 ORDER BY r.seq DESC LIMIT ?5 OFFSET ?6",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                params![
                    since,
                    until,
                    VERBATIM,
                    satisfaction,
                    limit.min(i64::MAX as u64) as i64,
                    offset.min(i64::MAX as u64) as i64
                ],
                |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?, row.get::<_, String>(3)?))
                },
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (ms, offset_s, satisfaction, text) = row.map_err(|e| self.err(e))?;
            let offset =
                FixedOffset::east_opt(offset_s as i32).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
            let at = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&offset);
            out.push(Comment { submitted_at: at, satisfaction, text });
        }
        Ok(out)
    }

    /// Whether the store can write now, found by a real committed write (a probe row in
    /// `meta`): the kiosk calls it while out of service to know when to take reviews again.
    pub fn check_writable(&mut self) -> Result<()> {
        let now = Utc::now().to_rfc3339();
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES ('write_probe', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [now],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Refuses (or allows again) every write on this connection, with SQLite's `query_only`:
    /// writes then fail in SQLite as they do on a read-only disk. For tests and for
    /// `borne screenshots`, which must show the out-of-service screen of a real failure.
    pub fn refuse_writes(&self, refuse: bool) -> Result<()> {
        self.conn.pragma_update(None, "query_only", refuse).map_err(|e| self.err(e))
    }

    pub fn integrity_check(&self) -> Result<String> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check").map_err(|e| self.err(e))?;
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))?;
        Ok(lines.join("; "))
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

enum InsertError {
    Duplicate,
    NoSatisfaction,
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for InsertError {
    fn from(e: rusqlite::Error) -> Self {
        InsertError::Sqlite(e)
    }
}

/// Inserts a review, its answers and its counts inside the caller's transaction.
fn insert_in(tx: &Connection, review: &Review) -> std::result::Result<i64, InsertError> {
    let satisfaction = review.satisfaction().map(|a| a.answer_item_id).ok_or(InsertError::NoSatisfaction)?;
    let (day, hour) = local_day_hour(&review.submitted_at);
    let inserted = tx
        .prepare_cached(
            "INSERT INTO reviews (client_review_id, submitted_at_ms, utc_offset_s, local_day, local_hour,
                clock, boot_id, boottime_ms, language, satisfaction)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (client_review_id) DO NOTHING",
        )?
        .execute(params![
            review.client_review_id.to_string(),
            review.submitted_at.timestamp_millis(),
            review.submitted_at.offset().local_minus_utc(),
            day,
            hour,
            review.clock.as_str(),
            review.boot.as_ref().map(|b| b.boot_id.as_str()),
            review.boot.as_ref().map(|b| b.boottime_ms),
            review.language,
            satisfaction,
        ])?;
    if inserted == 0 {
        return Err(InsertError::Duplicate);
    }
    let seq = tx.last_insert_rowid();
    let mut insert_answer = tx.prepare_cached(
        "INSERT INTO answers (review_seq, position, field_code, kind, answer_item_id, answer_text, intention)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (position, answer) in review.answers.iter().enumerate() {
        insert_answer.execute(params![
            seq,
            position as i64,
            answer.field_code,
            answer.kind.as_str(),
            answer.answer_item_id,
            answer.answer_text,
            answer.intention.as_str(),
        ])?;
    }
    add_counts(tx, &day, hour, &review.answers, 1)?;
    Ok(seq)
}

/// The columns `decode_review` reads, in its order.
const REVIEW_COLUMNS: &str = "r.seq, r.client_review_id, r.submitted_at_ms, r.utc_offset_s, r.clock, r.clock_corrected,
    r.boot_id, r.boottime_ms, r.language, r.status, r.platform_review_id, r.uploaded_at_ms,
    r.rejected_reason, r.rejected_at_ms, r.comment_erased_at_ms";

/// Answer item id of the per-question respondent count in `hourly_counts`.
const RESPONDENTS: i64 = -1;

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
    conn.pragma_update(None, "foreign_keys", true)?;
    // Erased comments are overwritten on disk, not just unlinked.
    conn.pragma_update(None, "secure_delete", true)?;
    Ok(())
}

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

fn local_day_hour(at: &DateTime<FixedOffset>) -> (String, u32) {
    (at.date_naive().to_string(), at.hour())
}

fn add_counts(tx: &Connection, day: &str, hour: u32, answers: &[Answer], delta: i64) -> rusqlite::Result<()> {
    // An upsert checks its proposed row first, so a decrement is a plain update (the row exists:
    // the increment that it undoes made it).
    let mut upsert = if delta >= 0 {
        tx.prepare_cached(
            "INSERT INTO hourly_counts (local_day, local_hour, field_code, answer_item_id, count)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO UPDATE SET count = count + excluded.count",
        )?
    } else {
        tx.prepare_cached(
            "UPDATE hourly_counts SET count = count + ?5
             WHERE local_day = ?1 AND local_hour = ?2 AND field_code = ?3 AND answer_item_id = ?4",
        )?
    };
    let mut seen_codes: Vec<&str> = Vec::with_capacity(answers.len());
    for answer in answers {
        upsert.execute(params![day, hour, answer.field_code, answer.answer_item_id, delta])?;
        if !seen_codes.contains(&answer.field_code.as_str()) {
            seen_codes.push(&answer.field_code);
            upsert.execute(params![day, hour, answer.field_code, RESPONDENTS, delta])?;
        }
    }
    Ok(())
}

fn answers_of(tx: &Connection, seq: i64) -> Result<Vec<Answer>> {
    let decode = |e: rusqlite::Error| StoreError::Decode(e.to_string());
    let mut stmt = tx
        .prepare_cached(
            "SELECT field_code, kind, answer_item_id, answer_text, intention FROM answers
             WHERE review_seq = ?1 ORDER BY position",
        )
        .map_err(decode)?;
    let mut rows = stmt.query([seq]).map_err(decode)?;
    let mut answers = Vec::new();
    while let Some(row) = rows.next().map_err(decode)? {
        answers.extend(decode_answer(row, 0)?);
    }
    Ok(answers)
}

/// The answer in columns `first..first + 5` (field_code, kind, answer_item_id, answer_text,
/// intention), or `None` when the columns are null (a review without answers in a left join).
fn decode_answer(row: &rusqlite::Row<'_>, first: usize) -> Result<Option<Answer>> {
    let decode = |e: rusqlite::Error| StoreError::Decode(e.to_string());
    let Some(field_code) = row.get::<_, Option<String>>(first).map_err(decode)? else {
        return Ok(None);
    };
    let kind: String = row.get(first + 1).map_err(decode)?;
    let intention: String = row.get(first + 4).map_err(decode)?;
    Ok(Some(Answer {
        field_code,
        kind: AnswerKind::parse(&kind).ok_or_else(|| StoreError::Decode(format!("kind {kind}")))?,
        answer_item_id: row.get(first + 2).map_err(decode)?,
        answer_text: row.get(first + 3).map_err(decode)?,
        intention: Intention::parse(&intention).ok_or_else(|| StoreError::Decode(format!("intention {intention}")))?,
    }))
}

fn decode_review(row: &rusqlite::Row<'_>) -> Result<StoredReview> {
    let decode = |e: rusqlite::Error| StoreError::Decode(e.to_string());
    let id: String = row.get(1).map_err(decode)?;
    let client_review_id = Uuid::parse_str(&id).map_err(|e| StoreError::Decode(format!("{id}: {e}")))?;
    let ms: i64 = row.get(2).map_err(decode)?;
    let offset_s: i32 = row.get(3).map_err(decode)?;
    let offset = FixedOffset::east_opt(offset_s).ok_or_else(|| StoreError::Decode(format!("offset {offset_s}")))?;
    let submitted_at = DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Decode(format!("timestamp {ms}")))?
        .with_timezone(&offset);
    let clock: String = row.get(4).map_err(decode)?;
    let boot_id: Option<String> = row.get(6).map_err(decode)?;
    let boottime_ms: Option<i64> = row.get(7).map_err(decode)?;
    let status: String = row.get(9).map_err(decode)?;
    let at = |col: usize| -> Result<DateTime<Utc>> {
        let ms: Option<i64> = row.get(col).map_err(decode)?;
        Ok(ms.and_then(DateTime::from_timestamp_millis).unwrap_or_default())
    };
    let outbox = match status.as_str() {
        "pending" => Outbox::Pending,
        "uploaded" => Outbox::Uploaded {
            platform_review_id: row.get::<_, Option<String>>(10).map_err(decode)?.unwrap_or_default(),
            at: at(11)?,
        },
        "rejected" => Outbox::Rejected {
            reason: row.get::<_, Option<String>>(12).map_err(decode)?.unwrap_or_default(),
            at: at(13)?,
        },
        other => return Err(StoreError::Decode(format!("status {other}"))),
    };
    Ok(StoredReview {
        seq: row.get(0).map_err(decode)?,
        review: Review {
            client_review_id,
            submitted_at,
            clock: ClockState::parse(&clock).ok_or_else(|| StoreError::Decode(format!("clock {clock}")))?,
            boot: boot_id.zip(boottime_ms).map(|(boot_id, boottime_ms)| BootStamp { boot_id, boottime_ms }),
            language: row.get(8).map_err(decode)?,
            answers: Vec::new(),
        },
        clock_corrected: row.get::<_, i64>(5).map_err(decode)? != 0,
        outbox,
        comment_erased: row.get::<_, Option<i64>>(14).map_err(decode)?.is_some(),
    })
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

#[cfg(test)]
mod tests;
