//! The reference receiver's own SQLite database, in JDMA's shape: review rows plus answer rows,
//! idempotency records, heartbeats. (The kiosk's review store is `borne::store`; this is the
//! platform's side and shares nothing with it.)

use super::validate::{ParsedBatch, field_label};
use borne_model::wire::{BatchResponse, ErrorBody, ResultStatus, ReviewResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS reviews (
    id               INTEGER PRIMARY KEY,
    device_id        TEXT NOT NULL,
    client_review_id TEXT NOT NULL,
    product_id       INTEGER NOT NULL,
    form_id          INTEGER NOT NULL,
    button_id        INTEGER NOT NULL,
    submitted_at     TEXT NOT NULL,
    clock            TEXT NOT NULL,
    language         TEXT NOT NULL,
    batch_id         TEXT NOT NULL,
    received_at_ms   INTEGER NOT NULL,
    UNIQUE (device_id, client_review_id)
);
CREATE TABLE IF NOT EXISTS answers (
    review_id        INTEGER NOT NULL REFERENCES reviews (id),
    field_code       TEXT NOT NULL,
    field_label      TEXT,
    answer_item_id   INTEGER NOT NULL,
    answer_text      TEXT NOT NULL,
    intention        TEXT NOT NULL,
    kind             TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_review ON answers (review_id);
CREATE TABLE IF NOT EXISTS idempotency (
    device_id        TEXT NOT NULL,
    key              TEXT NOT NULL,
    body_sha256      TEXT NOT NULL,
    response         TEXT NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    PRIMARY KEY (device_id, key)
);
CREATE INDEX IF NOT EXISTS idempotency_age ON idempotency (created_at_ms);
CREATE TABLE IF NOT EXISTS heartbeats (
    device_id        TEXT PRIMARY KEY,
    body             TEXT NOT NULL,
    received_at_ms   INTEGER NOT NULL
);
"#;

/// Idempotency records are replayed for at least 24 h; older ones are purged after 48 h.
const IDEMPOTENCY_KEEP_MS: i64 = 48 * 3600 * 1000;

pub struct ReceiverDb {
    conn: Connection,
}

/// What storing a batch produced.
pub enum Stored {
    Fresh(BatchResponse),
    Replay(String),
    Conflict,
}

impl ReceiverDb {
    pub fn open(path: &Path) -> rusqlite::Result<ReceiverDb> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(ReceiverDb { conn })
    }

    /// Stores a validated batch once, in one transaction: the idempotency record and every new
    /// review commit together.
    pub fn store_batch(&mut self, batch: &ParsedBatch, body_sha256: &str, now_ms: i64) -> rusqlite::Result<Stored> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM idempotency WHERE created_at_ms < ?1", [now_ms - IDEMPOTENCY_KEEP_MS])?;
        let device = &batch.source.device_id;
        let key = batch.batch_id.to_string();
        let seen: Option<(String, String)> = tx
            .query_row(
                "SELECT body_sha256, response FROM idempotency WHERE device_id = ?1 AND key = ?2",
                params![device, key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((hash, response)) = seen {
            return Ok(if hash == body_sha256 { Stored::Replay(response) } else { Stored::Conflict });
        }
        let mut results = Vec::with_capacity(batch.reviews.len());
        for review in &batch.reviews {
            let review = match review {
                Ok(r) => r,
                Err(rejected) => {
                    results.push(ReviewResult {
                        client_review_id: rejected.client_review_id.clone(),
                        status: ResultStatus::Rejected,
                        review_id: None,
                        retryable: Some(false),
                        error: Some(ErrorBody {
                            message: rejected.message.clone(),
                            code: "BAD_REQUEST".into(),
                            issues: None,
                        }),
                    });
                    continue;
                }
            };
            let id = review.client_review_id.to_string();
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO reviews (device_id, client_review_id, product_id, form_id, button_id, submitted_at,
                        clock, language, batch_id, received_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (device_id, client_review_id) DO NOTHING",
                )?
                .execute(params![
                    device,
                    id,
                    batch.source.product_id as i64,
                    batch.source.form_id as i64,
                    batch.source.button_id as i64,
                    review.submitted_at,
                    review.clock,
                    review.language,
                    key,
                    now_ms
                ])?;
            let row_id: i64 = if inserted == 1 {
                tx.last_insert_rowid()
            } else {
                tx.prepare_cached("SELECT id FROM reviews WHERE device_id = ?1 AND client_review_id = ?2")?
                    .query_row(params![device, id], |r| r.get(0))?
            };
            if inserted == 1 {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO answers (review_id, field_code, field_label, answer_item_id, answer_text, intention, kind)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for a in &review.answers {
                    insert.execute(params![
                        row_id,
                        a.field_code,
                        field_label(&a.field_code),
                        a.answer_item_id,
                        a.answer_text,
                        a.intention,
                        a.kind
                    ])?;
                }
            }
            results.push(ReviewResult {
                client_review_id: id,
                status: if inserted == 1 { ResultStatus::Accepted } else { ResultStatus::Duplicate },
                review_id: Some(format!("r-{row_id}")),
                retryable: None,
                error: None,
            });
        }
        let response = BatchResponse { results };
        let text = serde_json::to_string(&response).unwrap_or_default();
        tx.execute(
            "INSERT INTO idempotency (device_id, key, body_sha256, response, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![device, key, body_sha256, text, now_ms],
        )?;
        tx.commit()?;
        Ok(Stored::Fresh(response))
    }

    pub fn store_heartbeat(&mut self, device_id: &str, body: &str, now_ms: i64) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO heartbeats (device_id, body, received_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (device_id) DO UPDATE SET body = ?2, received_at_ms = ?3",
            params![device_id, body, now_ms],
        )?;
        Ok(())
    }

    /// What the receiver holds, for `borne-receiver stats`.
    pub fn stats(&self) -> rusqlite::Result<serde_json::Value> {
        let count = |sql: &str| self.conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        let mut stmt = self.conn.prepare(
            "SELECT device_id, count(*), min(submitted_at), max(submitted_at) FROM reviews GROUP BY device_id ORDER BY device_id",
        )?;
        let devices: Vec<serde_json::Value> = stmt
            .query_map([], |r| {
                Ok(serde_json::json!({
                    "device_id": r.get::<_, String>(0)?,
                    "reviews": r.get::<_, i64>(1)?,
                    "first_submitted_at": r.get::<_, String>(2)?,
                    "last_submitted_at": r.get::<_, String>(3)?,
                }))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT a.answer_item_id, count(*) FROM answers a WHERE a.field_code = 'satisfaction' GROUP BY a.answer_item_id",
        )?;
        let satisfaction: serde_json::Map<String, serde_json::Value> = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?.to_string(), serde_json::json!(r.get::<_, i64>(1)?))))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(serde_json::json!({
            "reviews": count("SELECT count(*) FROM reviews")?,
            "answers": count("SELECT count(*) FROM answers")?,
            "batches": count("SELECT count(*) FROM idempotency")?,
            "heartbeats": count("SELECT count(*) FROM heartbeats")?,
            "satisfaction_by_item": satisfaction,
            "devices": devices,
        }))
    }
}
