//! Rollouts on SQLite.

use super::{SqliteStore, from_ms, ms, refused_if_exists};
use crate::storage::alerting::NewMail;
use crate::storage::model::Result;
use crate::storage::rollouts::*;
use crate::storage::surveys::SurveyScope;
use chrono::{DateTime, Utc};
use rusqlite::{Row, params};

const RELEASE_COLUMNS: &str = "rel.version, rel.bundle_url, rel.sha256, rel.size, rel.added_by, rel.added_at_ms";

fn release(r: &Row) -> rusqlite::Result<Release> {
    Ok(Release {
        version: r.get(0)?,
        bundle_url: r.get(1)?,
        sha256: r.get(2)?,
        size: r.get(3)?,
        added_by: r.get(4)?,
        added_at: from_ms(r.get(5)?),
    })
}

impl Rollouts for SqliteStore {
    async fn add_release(&self, release: Release) -> Result<()> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO releases (version, bundle_url, sha256, size, added_by, added_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    release.version,
                    release.bundle_url,
                    release.sha256,
                    release.size,
                    release.added_by,
                    ms(release.added_at)
                ],
            )
            .map(|_| ())
        })
        .await
        .map_err(|e| refused_if_exists(e, "cette version est déjà enregistrée"))
    }

    async fn releases(&self) -> Result<Vec<Release>> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {RELEASE_COLUMNS} FROM releases rel ORDER BY rel.added_at_ms DESC"))?;
            stmt.query_map([], release)?.collect()
        })
        .await
    }

    async fn start_rollout(&self, rollout: NewRollout, now: DateTime<Utc>) -> Result<i64> {
        let (org, site) = rollout.scope.columns();
        self.with(move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO rollouts (organisation_id, site_id, version, rings, wait_s, state, ring,
                    ring_started_at_ms, started_by, started_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'running', 0, ?6, ?7, ?6)",
                params![org, site, rollout.version, rollout.rings, rollout.wait_s, ms(now), rollout.by],
            )?;
            let id = tx.last_insert_rowid();
            {
                let mut insert =
                    tx.prepare("INSERT INTO rollout_devices (rollout_id, device_id, ring) VALUES (?1, ?2, ?3)")?;
                for (device, ring) in &rollout.members {
                    insert.execute(params![id, device, ring])?;
                }
            }
            tx.commit()?;
            Ok(id)
        })
        .await
    }

    async fn rollouts(&self) -> Result<Vec<Rollout>> {
        self.with(|c| {
            let mut members = std::collections::HashMap::<i64, Vec<(String, i64)>>::new();
            let mut stmt = c.prepare(
                "SELECT rollout_id, device_id, ring FROM rollout_devices ORDER BY rollout_id, ring, device_id",
            )?;
            for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))? {
                let (id, device, ring) = row?;
                members.entry(id).or_default().push((device, ring));
            }
            let mut stmt = c.prepare(
                "SELECT id, organisation_id, site_id, version, rings, wait_s, state, ring, ring_started_at_ms,
                        started_by, started_at_ms, ended_at_ms, reason
                 FROM rollouts ORDER BY id DESC",
            )?;
            stmt.query_map([], |r| {
                let id: i64 = r.get(0)?;
                let scope = match r.get::<_, Option<String>>(2)? {
                    Some(site) => SurveyScope::Site(site),
                    None => SurveyScope::Organisation(r.get(1)?),
                };
                Ok(Rollout {
                    id,
                    scope,
                    version: r.get(3)?,
                    rings: r.get(4)?,
                    wait_s: r.get(5)?,
                    state: RolloutState::parse(&r.get::<_, String>(6)?),
                    ring: r.get(7)?,
                    ring_started_at: from_ms(r.get(8)?),
                    started_by: r.get(9)?,
                    started_at: from_ms(r.get(10)?),
                    ended_at: r.get::<_, Option<i64>>(11)?.map(from_ms),
                    reason: r.get(12)?,
                    members: members.remove(&id).unwrap_or_default(),
                })
            })?
            .collect()
        })
        .await
    }

    async fn step_rollout(&self, id: i64, step: RolloutStep, mails: Vec<NewMail>, now: DateTime<Utc>) -> Result<bool> {
        self.with(move |c| {
            let running = step.state == RolloutState::Running;
            let tx = c.transaction()?;
            let changed = tx.execute(
                "UPDATE rollouts SET state = ?4, ring = ?5, reason = ?6,
                    ring_started_at_ms = CASE WHEN ?7 THEN ?8 ELSE ring_started_at_ms END,
                    ended_at_ms = CASE WHEN ?7 THEN NULL ELSE ?8 END
                 WHERE id = ?1 AND state = ?2 AND ring = ?3",
                params![
                    id,
                    step.from_state.as_str(),
                    step.from_ring,
                    step.state.as_str(),
                    step.ring,
                    step.reason,
                    running,
                    ms(now)
                ],
            )?;
            if changed == 1 {
                for mail in &mails {
                    tx.execute(
                        "INSERT INTO mail_outbox (recipient, subject, body, unsubscribe_url, created_at_ms, next_attempt_at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                        params![mail.recipient, mail.subject, mail.body, mail.unsubscribe_url, ms(now)],
                    )?;
                }
            }
            tx.commit()?;
            Ok(changed == 1)
        })
        .await
    }

    async fn offered_release(&self, device: String, site: String) -> Result<Option<Release>> {
        self.with(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RELEASE_COLUMNS}
                 FROM rollouts r JOIN releases rel ON rel.version = r.version, sites s
                 WHERE s.id = ?2 AND (r.site_id = s.id OR r.organisation_id = s.organisation_id)
                   AND (r.state = 'done' OR (r.state = 'running' AND EXISTS (
                        SELECT 1 FROM rollout_devices m WHERE m.rollout_id = r.id AND m.device_id = ?1
                          AND m.ring <= r.ring)))
                 ORDER BY r.id DESC LIMIT 1"
            ))?;
            let mut rows = stmt.query_map(params![device, site], release)?;
            rows.next().transpose()
        })
        .await
    }
}
