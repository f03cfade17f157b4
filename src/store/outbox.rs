//! The outbox's batches and the uploader's persisted status.
//!
//! A batch is created in one transaction: its id, its exact (gzip) body, and the `batch_id` of
//! each member review. It stays `open` until the platform's answer is applied (`done`), or until
//! it is split or re-keyed (`abandoned`, members released to be batched again).

use super::{MAX_WRITE_BATCH, OpenBatch, OutboxSummary, Result, Store, StoreError, StoredReview, UplinkStatus};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

const MARK_UPLOADED: &str = "UPDATE reviews SET status = 'uploaded', platform_review_id = ?2, uploaded_at_ms = ?3
     WHERE client_review_id = ?1 AND status = 'pending' AND batch_id = ?4";
const MARK_REJECTED: &str = "UPDATE reviews SET status = 'rejected', rejected_reason = ?2, rejected_at_ms = ?3
     WHERE client_review_id = ?1 AND status = 'pending' AND batch_id = ?4";

fn ts(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

impl Store {
    /// The oldest open batch, if any: it must be sent (again) before anything else.
    pub fn open_batch(&self) -> Result<Option<OpenBatch>> {
        let row = self
            .conn
            .query_row(
                "SELECT batch_id, body_gzip, body_bytes, attempts, identity_refused FROM batches WHERE state = 'open'
                 ORDER BY created_at_ms, rowid LIMIT 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, bool>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((id, body_gzip, body_bytes, attempts, identity_refused)) = row else { return Ok(None) };
        let batch_id = Uuid::parse_str(&id).map_err(|e| StoreError::Decode(format!("batch id {id}: {e}")))?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT client_review_id FROM reviews WHERE batch_id = ?1 ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let review_ids = stmt
            .query_map([&id], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?
            .map(|r| {
                let text = r.map_err(|e| self.err(e))?;
                Uuid::parse_str(&text).map_err(|e| StoreError::Decode(format!("{text}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(OpenBatch {
            batch_id,
            body_gzip,
            body_bytes: body_bytes.max(0) as usize,
            review_ids,
            attempts: attempts.clamp(0, u32::MAX as i64) as u32,
            identity_refused,
        }))
    }

    /// Pending reviews not in any open batch, oldest first, at most `limit`.
    pub fn unbatched_pending(&self, limit: usize) -> Result<Vec<StoredReview>> {
        let mut reviews = Vec::with_capacity(limit);
        self.stream_reviews(
            "r.seq IN (SELECT seq FROM reviews WHERE status = 'pending' AND batch_id IS NULL ORDER BY seq LIMIT ?1)",
            [limit as i64],
            |r| {
                reviews.push(r);
                Ok::<(), StoreError>(())
            },
        )?;
        Ok(reviews)
    }

    /// Persists a batch: its body and its membership, in one transaction. Only reviews still
    /// pending and unbatched may join; otherwise nothing is written and `Ok(false)` returned.
    pub fn create_batch(
        &mut self,
        batch_id: Uuid,
        review_ids: &[Uuid],
        body_gzip: &[u8],
        body_bytes: usize,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let path = self.path.clone();
        let err = |e| StoreError::classify(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        tx.execute(
            "INSERT INTO batches (batch_id, created_at_ms, review_count, body_bytes, body_gzip, state)
             VALUES (?1, ?2, ?3, ?4, ?5, 'open')",
            params![
                batch_id.to_string(),
                now.timestamp_millis(),
                review_ids.len() as i64,
                body_bytes as i64,
                body_gzip
            ],
        )
        .map_err(err)?;
        for id in review_ids {
            let joined = tx
                .prepare_cached(
                    "UPDATE reviews SET batch_id = ?2
                     WHERE client_review_id = ?1 AND status = 'pending' AND batch_id IS NULL",
                )
                .and_then(|mut s| s.execute(params![id.to_string(), batch_id.to_string()]))
                .map_err(err)?;
            if joined != 1 {
                // Dropping the transaction rolls it back.
                return Ok(false);
            }
        }
        tx.commit().map_err(err)?;
        Ok(true)
    }

    /// Counts one more send attempt of a batch.
    pub fn count_attempt(&mut self, batch_id: Uuid) -> Result<()> {
        self.conn
            .execute("UPDATE batches SET attempts = attempts + 1 WHERE batch_id = ?1", [batch_id.to_string()])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Notes whether the platform's answer to this open batch refused the kiosk's identity.
    pub fn note_identity_refusal(&mut self, batch_id: Uuid, refused: bool) -> Result<()> {
        self.conn
            .execute(
                "UPDATE batches SET identity_refused = ?2 WHERE batch_id = ?1 AND state = 'open'",
                rusqlite::params![batch_id.to_string(), refused],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Applies the platform's answer to a batch, in one transaction: uploaded and rejected
    /// reviews leave `pending`; the others are released to be batched again; the batch is done.
    pub fn complete_batch(
        &mut self,
        batch_id: Uuid,
        uploaded: &[(Uuid, String)],
        rejected: &[(Uuid, String)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.close_batch(batch_id, "done", None, uploaded, rejected, now)
    }

    /// Gives a batch up without an answer (split, or re-keyed after a conflict): its members are
    /// released, still pending, to be batched again.
    pub fn abandon_batch(&mut self, batch_id: Uuid, reason: &str, now: DateTime<Utc>) -> Result<()> {
        self.close_batch(batch_id, "abandoned", Some(reason), &[], &[], now)
    }

    fn close_batch(
        &mut self,
        batch_id: Uuid,
        state: &str,
        reason: Option<&str>,
        uploaded: &[(Uuid, String)],
        rejected: &[(Uuid, String)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let path = self.path.clone();
        let err = |e| StoreError::classify(&path, e);
        let now_ms = now.timestamp_millis();
        let id = batch_id.to_string();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        // Each result carries one text: the platform's review id, or the reason of the refusal.
        for (sql, results) in [(MARK_UPLOADED, uploaded), (MARK_REJECTED, rejected)] {
            let mut mark = tx.prepare_cached(sql).map_err(err)?;
            for (review, text) in results {
                mark.execute(params![review.to_string(), text, now_ms, id]).map_err(err)?;
            }
        }
        tx.execute("UPDATE reviews SET batch_id = NULL WHERE batch_id = ?1", [&id]).map_err(err)?;
        tx.execute(
            "UPDATE batches SET state = ?2, closed_at_ms = ?3, closed_reason = ?4, body_gzip = x''
             WHERE batch_id = ?1 AND state = 'open'",
            params![id, state, now_ms, reason],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(())
    }

    /// Every rejected review back to `pending`, in bounded transactions: a visitor's commit
    /// never waits behind thousands of rows.
    fn retry_all_rejected(&self) -> rusqlite::Result<usize> {
        let mut total = 0;
        loop {
            let n = self.conn.execute(
                "UPDATE reviews SET status = 'pending', rejected_reason = NULL, rejected_at_ms = NULL
                 WHERE seq IN (SELECT seq FROM reviews WHERE status = 'rejected' LIMIT ?1)",
                [MAX_WRITE_BATCH as i64],
            )?;
            total += n;
            if n < MAX_WRITE_BATCH {
                return Ok(total);
            }
        }
    }

    /// Sends rejected reviews back to `pending`, on a site manager's request.
    pub fn retry_rejected(&mut self, ids: Option<&[Uuid]>) -> Result<usize> {
        let changed = match ids {
            None => self.retry_all_rejected(),
            Some(ids) => {
                let mut total = 0;
                for id in ids {
                    total += self.conn.execute(
                        "UPDATE reviews SET status = 'pending', rejected_reason = NULL, rejected_at_ms = NULL
                         WHERE status = 'rejected' AND client_review_id = ?1",
                        [id.to_string()],
                    )?;
                }
                Ok(total)
            }
        };
        changed.map_err(|e| self.err(e))
    }

    pub fn uplink_status(&self) -> Result<UplinkStatus> {
        self.conn
            .query_row(
                "SELECT last_attempt_at_ms, last_success_at_ms, last_error, last_error_at_ms, next_attempt_at_ms,
                        auth_refused, consecutive_failures
                 FROM uplink_status WHERE id = 1",
                [],
                |r| {
                    Ok(UplinkStatus {
                        last_attempt_at: ts(r.get(0)?),
                        last_success_at: ts(r.get(1)?),
                        last_error: r.get(2)?,
                        last_error_at: ts(r.get(3)?),
                        next_attempt_at: ts(r.get(4)?),
                        auth_refused: r.get::<_, i64>(5)? != 0,
                        consecutive_failures: r.get::<_, i64>(6)?.clamp(0, u32::MAX as i64) as u32,
                    })
                },
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(|e| self.err(e))
    }

    pub fn set_uplink_status(&mut self, status: &UplinkStatus) -> Result<()> {
        let ms = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_millis());
        self.conn
            .execute(
                "INSERT INTO uplink_status (id, last_attempt_at_ms, last_success_at_ms, last_error, last_error_at_ms,
                    next_attempt_at_ms, auth_refused, consecutive_failures)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (id) DO UPDATE SET last_attempt_at_ms = ?1, last_success_at_ms = ?2, last_error = ?3,
                    last_error_at_ms = ?4, next_attempt_at_ms = ?5, auth_refused = ?6, consecutive_failures = ?7",
                params![
                    ms(status.last_attempt_at),
                    ms(status.last_success_at),
                    status.last_error,
                    ms(status.last_error_at),
                    ms(status.next_attempt_at),
                    status.auth_refused as i64,
                    status.consecutive_failures as i64,
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Reviews by their client ids, with answers, in the given order (unknown ids skipped).
    pub fn reviews_by_ids(&self, ids: &[Uuid]) -> Result<Vec<StoredReview>> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = self.review(*id)? {
                found.push(r);
            }
        }
        Ok(found)
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
}
