//! Versioned schema migrations. The schema version lives in SQLite's `user_version`; each
//! migration runs once, in order, inside the same immediate transaction that bumps the version,
//! so several processes starting at once apply it exactly once.
//!
//! (`rusqlite_migration` does the same, but no release of it resolves against the rusqlite
//! version this project can use; the logic is twenty lines.)

use rusqlite::{Connection, TransactionBehavior};

/// Never edit a migration that has shipped: add a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: reviews, their answers, the outbox state and the hourly counts behind the indicators.
    r#"
    CREATE TABLE reviews (
        seq                 INTEGER PRIMARY KEY,
        client_review_id    TEXT NOT NULL UNIQUE,
        submitted_at_ms     INTEGER NOT NULL,
        utc_offset_s        INTEGER NOT NULL,
        local_day           TEXT NOT NULL,
        local_hour          INTEGER NOT NULL CHECK (local_hour BETWEEN 0 AND 23),
        clock               TEXT NOT NULL CHECK (clock IN ('synced', 'unsynced')),
        clock_corrected     INTEGER NOT NULL DEFAULT 0,
        boot_id             TEXT,
        boottime_ms         INTEGER,
        language            TEXT NOT NULL,
        satisfaction        INTEGER NOT NULL CHECK (satisfaction BETWEEN 1 AND 3),
        status              TEXT NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'uploaded', 'rejected')),
        platform_review_id  TEXT,
        uploaded_at_ms      INTEGER,
        rejected_reason     TEXT,
        rejected_at_ms      INTEGER,
        comment_erased_at_ms INTEGER
    );
    CREATE INDEX reviews_pending ON reviews (seq) WHERE status = 'pending';
    CREATE INDEX reviews_rejected ON reviews (seq) WHERE status = 'rejected';
    CREATE INDEX reviews_unsynced ON reviews (seq) WHERE clock = 'unsynced';
    CREATE INDEX reviews_local_day ON reviews (local_day);

    CREATE TABLE answers (
        review_seq      INTEGER NOT NULL REFERENCES reviews (seq) ON DELETE CASCADE,
        position        INTEGER NOT NULL,
        field_code      TEXT NOT NULL,
        kind            TEXT NOT NULL CHECK (kind IN ('radio', 'checkbox', 'text')),
        answer_item_id  INTEGER NOT NULL,
        answer_text     TEXT NOT NULL,
        intention       TEXT NOT NULL
            CHECK (intention IN ('very_good', 'good', 'medium', 'bad', 'very_bad', 'neutral')),
        PRIMARY KEY (review_seq, position)
    ) WITHOUT ROWID;

    -- One row per local hour, question and answer item; answer_item_id -1 counts the reviews
    -- that answered the question at all. Kept forever: the dashboard's history.
    CREATE TABLE hourly_counts (
        local_day       TEXT NOT NULL,
        local_hour      INTEGER NOT NULL,
        field_code      TEXT NOT NULL,
        answer_item_id  INTEGER NOT NULL,
        count           INTEGER NOT NULL CHECK (count >= 0),
        PRIMARY KEY (local_day, local_hour, field_code, answer_item_id)
    ) WITHOUT ROWID;

    CREATE TABLE meta (
        key     TEXT PRIMARY KEY,
        value   TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 2: upload batches. A batch's id, membership and exact body are committed before it is
    // sent, so a retry after a crash sends the same key and the same bytes.
    r#"
    ALTER TABLE reviews ADD COLUMN batch_id TEXT;
    CREATE INDEX reviews_batch ON reviews (batch_id) WHERE batch_id IS NOT NULL;

    CREATE TABLE batches (
        batch_id        TEXT PRIMARY KEY,
        created_at_ms   INTEGER NOT NULL,
        review_count    INTEGER NOT NULL,
        body_bytes      INTEGER NOT NULL,
        body_gzip       BLOB NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('open', 'done', 'abandoned')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        closed_at_ms    INTEGER,
        closed_reason   TEXT
    );
    CREATE INDEX batches_open ON batches (created_at_ms) WHERE state = 'open';

    CREATE TABLE uplink_status (
        id                   INTEGER PRIMARY KEY CHECK (id = 1),
        last_attempt_at_ms   INTEGER,
        last_success_at_ms   INTEGER,
        last_error           TEXT,
        last_error_at_ms     INTEGER,
        next_attempt_at_ms   INTEGER,
        auth_refused         INTEGER NOT NULL DEFAULT 0,
        consecutive_failures INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO uplink_status (id) VALUES (1);
    "#,
    // 3: fewer pages written per commit. Each index on `reviews` is one more page in every
    // visitor's fsync'ed commit; these two served only rare reads (an export by period scans
    // instead, and the unsynced count is taken among pending reviews from `reviews_pending`,
    // which now carries the clock state so that the count reads the index alone).
    r#"
    DROP INDEX reviews_local_day;
    DROP INDEX reviews_unsynced;
    DROP INDEX reviews_pending;
    -- `status` is repeated so that SQLite sees the index as covering for counts.
    CREATE INDEX reviews_pending ON reviews (seq, clock, status) WHERE status = 'pending';
    "#,
    // 4: « Vous nous l'avez dit, on l'a fait »: the site manager's improvement actions.
    r#"
    CREATE TABLE actions (
        id          TEXT PRIMARY KEY,
        text        TEXT NOT NULL,
        done_on     TEXT NOT NULL,
        written_at  TEXT NOT NULL
    );
    "#,
    // 5: JDMA's help answers per channel (contract 1.2): the contact_tried channel an answer is about.
    r#"
    ALTER TABLE answers ADD COLUMN parent_item INTEGER;
    "#,
    // 6: the survey the platform publishes (contract 1.2): the version held (checked, kept for the
    // next start), the one the screen runs, and the last one refused, with why.
    r#"
    CREATE TABLE published_survey (
        id               INTEGER PRIMARY KEY CHECK (id = 1),
        version          INTEGER,
        body             TEXT,
        fetched_at_ms    INTEGER,
        running_version  INTEGER,
        refused_version  INTEGER,
        refused_message  TEXT
    );
    INSERT INTO published_survey (id) VALUES (1);
    "#,
    // 7: whether the platform's last answer to an open batch refused the kiosk's identity (token,
    // device_id, JDMA ids): such a batch was never taken, and is made again when the identity
    // is fixed.
    r#"
    ALTER TABLE batches ADD COLUMN identity_refused INTEGER NOT NULL DEFAULT 0;
    "#,
];

/// Brings the schema up to date. Returns the version before and after.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<(usize, usize)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let before: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let before = usize::try_from(before).unwrap_or(0);
    for sql in MIGRATIONS.iter().skip(before) {
        tx.execute_batch(sql)?;
    }
    let after = MIGRATIONS.len().max(before);
    if after != before {
        tx.pragma_update(None, "user_version", after as i64)?;
    }
    tx.commit()?;
    Ok((before, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_validate() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), (0, MIGRATIONS.len()));
        // Running again is a no-op.
        assert_eq!(migrate(&mut conn).unwrap(), (MIGRATIONS.len(), MIGRATIONS.len()));
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        let fk_problems: i64 =
            conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
        assert_eq!(fk_problems, 0);
        // A store left at any earlier version upgrades to the latest.
        for stop in 1..MIGRATIONS.len() {
            let mut old = Connection::open_in_memory().unwrap();
            for sql in &MIGRATIONS[..stop] {
                old.execute_batch(sql).unwrap();
            }
            old.pragma_update(None, "user_version", stop as i64).unwrap();
            assert_eq!(migrate(&mut old).unwrap(), (stop, MIGRATIONS.len()));
            let check: String = old.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
            assert_eq!(check, "ok");
        }
    }
}
