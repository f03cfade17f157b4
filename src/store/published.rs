//! The survey the platform publishes (contract 1.2): the uploader keeps the version it fetched
//! and checked (so a restart runs it without the network), or the one it refused and why; the
//! screen says which version it runs once it applied it, at an idle moment.

use super::{Result, Store};
use rusqlite::{OptionalExtension, params};

/// What the store holds of the platform's survey.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishedSurvey {
    /// The version held and its text (`[survey]` TOML), checked when fetched; `None`: the
    /// platform publishes none for this kiosk (its file's survey runs).
    pub held: Option<(u64, String)>,
    /// The version the screen runs; `None`: the file's survey.
    pub running: Option<u64>,
    /// The last version refused and why, until a later one is held.
    pub refused: Option<(u64, String)>,
}

impl Store {
    pub fn published_survey(&self) -> Result<PublishedSurvey> {
        let row = self
            .conn
            .query_row(
                "SELECT version, body, running_version, refused_version, refused_message
                 FROM published_survey WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, Option<i64>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((held, body, running, refused, why)) = row else { return Ok(PublishedSurvey::default()) };
        let version = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
        Ok(PublishedSurvey {
            held: version(held).zip(body),
            running: version(running),
            refused: version(refused).zip(why),
        })
    }

    /// Keeps a checked version (`None`: the platform publishes none for this kiosk); a refusal
    /// reported before is forgotten.
    pub fn hold_published(&mut self, held: Option<(u64, &str)>, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
        let (version, body) = match held {
            Some((v, body)) => (Some(v as i64), Some(body)),
            None => (None, None),
        };
        self.conn
            .execute(
                "UPDATE published_survey SET version = ?1, body = ?2, fetched_at_ms = ?3,
                     refused_version = NULL, refused_message = NULL WHERE id = 1",
                params![version, body, now.timestamp_millis()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A version that cannot run here: the one held stays, and the refusal is reported.
    pub fn refuse_published(&mut self, version: u64, message: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE published_survey SET refused_version = ?1, refused_message = ?2 WHERE id = 1",
                params![version as i64, message],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The screen now runs this version (`None`: its file's survey).
    pub fn set_running_survey(&mut self, version: Option<u64>) -> Result<()> {
        self.conn
            .execute("UPDATE published_survey SET running_version = ?1 WHERE id = 1", [version.map(|v| v as i64)])
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
