//! « Vous nous l'avez dit, on l'a fait »: each kiosk's list of its site's improvement actions
//! (`PUT /v1/actions`, contract 1.1), replaced whole at each send. A site's actions are the
//! union of its kiosks' lists (a site with two kiosks may have them written on either).
//! Kiosks of a tokens file, not registered, keep theirs too; they belong to no site.

use super::postgres::{PgStore, classify};
use super::sqlite::{SqliteStore, ms};
use super::{Result, Storage};
use borne_model::actions::{Action, newest_first};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::params;
use uuid::Uuid;

/// Migration 5 of the PostgreSQL schema.
pub(super) const POSTGRES_SCHEMA: &str = r#"
CREATE TABLE device_actions (
    device_id    text NOT NULL,
    action_id    uuid NOT NULL,
    text         text NOT NULL,
    done_on      date NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (device_id, action_id)
);
"#;

/// Migration 6 of the SQLite schema.
pub(super) const SQLITE_SCHEMA: &str = r#"
CREATE TABLE device_actions (
    device_id       TEXT NOT NULL,
    action_id       TEXT NOT NULL,
    text            TEXT NOT NULL,
    done_on         TEXT NOT NULL,
    received_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (device_id, action_id)
);
"#;

/// Two kiosks may carry the same action (one id): kept once, newest first.
fn distinct_newest_first(mut actions: Vec<Action>) -> Vec<Action> {
    let mut seen = std::collections::HashSet::new();
    actions.retain(|a| seen.insert(a.id));
    newest_first(&mut actions);
    actions
}

impl SqliteStore {
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

impl PgStore {
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

impl Storage {
    /// Replaces the list of actions `device` holds (already checked with
    /// `borne_model::actions::check_list`), in one transaction.
    pub async fn replace_actions(&self, device: &str, actions: &[Action], now: DateTime<Utc>) -> Result<()> {
        let (device, actions) = (device.to_string(), actions.to_vec());
        on_engine!(self, s => s.replace_actions(device, actions, now).await)
    }

    /// The site's actions, from all its kiosks not revoked (a revoked kiosk's words are no
    /// longer published), newest first.
    pub async fn site_actions(&self, site: &str) -> Result<Vec<Action>> {
        let site = site.to_string();
        on_engine!(self, s => s.site_actions(site).await)
    }
}
