//! Rollouts on PostgreSQL.

use super::{PgStore, classify};
use crate::storage::alerting::NewMail;
use crate::storage::model::{Result, StorageError};
use crate::storage::rollouts::*;
use crate::storage::surveys::SurveyScope;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;

const RELEASE_COLUMNS: &str = "rel.version, rel.bundle_url, rel.sha256, rel.size, rel.added_by, rel.added_at";

fn release(r: &Row) -> Release {
    Release {
        version: r.get(0),
        bundle_url: r.get(1),
        sha256: r.get(2),
        size: r.get(3),
        added_by: r.get(4),
        added_at: r.get(5),
    }
}

impl Rollouts for PgStore {
    async fn add_release(&self, release: Release) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO releases (version, bundle_url, sha256, size, added_by, added_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &release.version,
                    &release.bundle_url,
                    &release.sha256,
                    &release.size,
                    &release.added_by,
                    &release.added_at,
                ],
            )
            .await
            .map_err(|e| match classify(e) {
                StorageError::Refused(_) => StorageError::Refused("cette version est déjà enregistrée".into()),
                other => other,
            })?;
        Ok(())
    }

    async fn releases(&self) -> Result<Vec<Release>> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("SELECT {RELEASE_COLUMNS} FROM releases rel ORDER BY rel.added_at DESC"), &[])
            .await
            .map_err(classify)?;
        Ok(rows.iter().map(release).collect())
    }

    async fn start_rollout(&self, rollout: NewRollout, now: DateTime<Utc>) -> Result<i64> {
        let (org, site) = rollout.scope.columns();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO rollouts (organisation_id, site_id, version, rings, wait_s, state, ring,
                    ring_started_at, started_by, started_at)
                 VALUES ($1, $2, $3, $4, $5, 'running', 0, $6, $7, $6) RETURNING id",
                &[&org, &site, &rollout.version, &rollout.rings, &rollout.wait_s, &now, &rollout.by],
            )
            .await
            .map_err(classify)?
            .get(0);
        let devices: Vec<&str> = rollout.members.iter().map(|(d, _)| d.as_str()).collect();
        let rings: Vec<i32> = rollout.members.iter().map(|(_, r)| *r as i32).collect();
        tx.execute(
            "INSERT INTO rollout_devices (rollout_id, device_id, ring)
             SELECT $1, * FROM unnest($2::text[], $3::int[])",
            &[&id, &devices, &rings],
        )
        .await
        .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(id)
    }

    async fn rollouts(&self) -> Result<Vec<Rollout>> {
        let client = self.client().await?;
        let mut members = std::collections::HashMap::<i64, Vec<(String, i64)>>::new();
        for r in client
            .query("SELECT rollout_id, device_id, ring FROM rollout_devices ORDER BY rollout_id, ring, device_id", &[])
            .await
            .map_err(classify)?
        {
            members.entry(r.get(0)).or_default().push((r.get(1), r.get::<_, i32>(2) as i64));
        }
        let rows = client
            .query(
                "SELECT id, organisation_id, site_id, version, rings, wait_s, state, ring, ring_started_at,
                        started_by, started_at, ended_at, reason
                 FROM rollouts ORDER BY id DESC",
                &[],
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                let scope = match r.get::<_, Option<String>>(2) {
                    Some(site) => SurveyScope::Site(site),
                    None => SurveyScope::Organisation(r.get(1)),
                };
                Rollout {
                    id,
                    scope,
                    version: r.get(3),
                    rings: r.get(4),
                    wait_s: r.get(5),
                    state: RolloutState::parse(r.get(6)),
                    ring: r.get::<_, i32>(7) as i64,
                    ring_started_at: r.get(8),
                    started_by: r.get(9),
                    started_at: r.get(10),
                    ended_at: r.get(11),
                    reason: r.get(12),
                    members: members.remove(&id).unwrap_or_default(),
                }
            })
            .collect())
    }

    async fn step_rollout(&self, id: i64, step: RolloutStep, mails: Vec<NewMail>, now: DateTime<Utc>) -> Result<bool> {
        let mut client = self.client().await?;
        let running = step.state == RolloutState::Running;
        let tx = client.transaction().await.map_err(classify)?;
        let changed = tx
            .execute(
                "UPDATE rollouts SET state = $4, ring = $5, reason = $6,
                    ring_started_at = CASE WHEN $7 THEN $8 ELSE ring_started_at END,
                    ended_at = CASE WHEN $7 THEN NULL ELSE $8 END
                 WHERE id = $1 AND state = $2 AND ring = $3",
                &[
                    &id,
                    &step.from_state.as_str(),
                    &(step.from_ring as i32),
                    &step.state.as_str(),
                    &(step.ring as i32),
                    &step.reason,
                    &running,
                    &now,
                ],
            )
            .await
            .map_err(classify)?;
        if changed == 1 {
            for mail in &mails {
                tx.execute(
                    "INSERT INTO mail_outbox (recipient, subject, body, unsubscribe_url, created_at, next_attempt_at)
                     VALUES ($1, $2, $3, $4, $5, $5)",
                    &[&mail.recipient, &mail.subject, &mail.body, &mail.unsubscribe_url, &now],
                )
                .await
                .map_err(classify)?;
            }
        }
        tx.commit().await.map_err(classify)?;
        Ok(changed == 1)
    }

    async fn offered_release(&self, device: String, site: String) -> Result<Option<Release>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT {RELEASE_COLUMNS}
                     FROM rollouts r JOIN releases rel ON rel.version = r.version
                     JOIN sites s ON s.id = $2 AND (r.site_id = s.id OR r.organisation_id = s.organisation_id)
                     WHERE r.state = 'done' OR (r.state = 'running' AND EXISTS (
                            SELECT 1 FROM rollout_devices m WHERE m.rollout_id = r.id AND m.device_id = $1
                              AND m.ring <= r.ring))
                     ORDER BY r.id DESC LIMIT 1"
                ),
                &[&device, &site],
            )
            .await
            .map_err(classify)?;
        Ok(row.as_ref().map(release))
    }
}
