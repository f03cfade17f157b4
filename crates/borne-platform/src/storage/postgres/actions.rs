//! What each kiosk says it did about its results on PostgreSQL.

use super::{PgStore, classify};
use crate::storage::actions::*;
use crate::storage::model::Result;
use borne_model::actions::Action;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

impl Actions for PgStore {
    async fn replace_actions(&self, device: String, actions: Vec<Action>, now: DateTime<Utc>) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        tx.execute("DELETE FROM device_actions WHERE device_id = $1", &[&device]).await.map_err(classify)?;
        let ids: Vec<Uuid> = actions.iter().map(|a| a.id).collect();
        let texts: Vec<&str> = actions.iter().map(|a| a.text.as_str()).collect();
        let days: Vec<NaiveDate> = actions.iter().map(|a| a.done_on).collect();
        tx.execute(
            "INSERT INTO device_actions (device_id, action_id, text, done_on, received_at)
             SELECT $1, * , $5 FROM unnest($2::uuid[], $3::text[], $4::date[])",
            &[&device, &ids, &texts, &days, &now],
        )
        .await
        .map_err(classify)?;
        tx.commit().await.map_err(classify)
    }

    async fn site_actions(&self, site: String) -> Result<Vec<Action>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT a.action_id, a.text, a.done_on FROM device_actions a
                 JOIN devices d ON d.id = a.device_id WHERE d.site_id = $1 AND d.revoked_at IS NULL",
                &[&site],
            )
            .await
            .map_err(classify)?;
        Ok(distinct_newest_first(
            rows.iter().map(|r| Action { id: r.get(0), text: r.get(1), done_on: r.get(2) }).collect(),
        ))
    }
}
