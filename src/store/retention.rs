//! Retention and clock correction: comments of uploaded reviews erased after the retention
//! period; timestamps taken before the clock synchronised corrected from a synchronised reading
//! of the same boot. Both in bounded transactions.

use super::reviews::{add_counts, answers_of, local_day_hour};
use super::*;

impl Store {
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
            let mut moved = 0;
            for (seq, boottime_ms, old_day, old_hour) in &candidates {
                let taken = BootStamp { boot_id: boot.boot_id.clone(), boottime_ms: *boottime_ms };
                let Some(instant) = correct_timestamp(&taken, now) else { continue };
                moved += 1;
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
            corrected += moved;
            // A full batch of which nothing could be corrected would come back forever.
            if candidates.len() < MAX_WRITE_BATCH || moved == 0 {
                return Ok(corrected);
            }
        }
    }
}
