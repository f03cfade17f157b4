//! What each kiosk says it did about its results on SQLite.

use super::{SqliteStore, ms};
use crate::storage::actions::*;
use crate::storage::model::Result;
use borne_model::actions::Action;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::params;

impl Actions for SqliteStore {
    async fn replace_actions(&self, device: String, actions: Vec<Action>, now: DateTime<Utc>) -> Result<()> {
        self.with(move |c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM device_actions WHERE device_id = ?1", [&device])?;
            for a in &actions {
                tx.execute(
                    "INSERT INTO device_actions (device_id, action_id, text, done_on, received_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![device, a.id.to_string(), a.text, a.done_on.to_string(), ms(now)],
                )?;
            }
            tx.commit()
        })
        .await
    }

    async fn site_actions(&self, site: String) -> Result<Vec<Action>> {
        let rows = self
            .with(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT a.action_id, a.text, a.done_on FROM device_actions a
                     JOIN devices d ON d.id = a.device_id WHERE d.site_id = ?1 AND d.revoked_at_ms IS NULL",
                )?;
                let rows = stmt.query_map([site], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        Ok(distinct_newest_first(
            rows.into_iter()
                .filter_map(|(id, text, day)| {
                    Some(Action { id: id.parse().ok()?, text, done_on: day.parse::<NaiveDate>().ok()? })
                })
                .collect(),
        ))
    }
}
