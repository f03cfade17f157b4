//! Integrity: the quick check at opening, the full check, moving a corrupt file aside, and
//! probing whether the store can write.

use super::*;

impl Store {
    /// Moves the write-ahead log into the database and truncates it, so that it stays bounded
    /// whatever readers come and go (a reader in the way only postpones it to the next call).
    pub fn checkpoint(&mut self) -> Result<()> {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(|e| self.err(e))
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

    /// `PRAGMA integrity_check` in full (slow on a large file): "ok" or the problems found.
    pub fn integrity_check(&self) -> Result<String> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check").map_err(|e| self.err(e))?;
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))?;
        Ok(lines.join("; "))
    }
}
