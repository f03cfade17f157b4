//! Forwarding to JDMA on PostgreSQL: the outbox's claims (`FOR UPDATE SKIP LOCKED`, so instances
//! never hold the same review), and the create calls counted under one advisory lock.

use super::{PgStore, classify};
use crate::storage::forwarding::*;
use crate::storage::model::Result;
use borne_model::review::{Answer, AnswerKind, Intention};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::HashMap;

/// The advisory lock that serialises the count of create calls across instances.
const CALLS_LOCK: i64 = 0x6a64_6d61;

impl Forwarding for PgStore {
    async fn jdma_claim(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        holder: String,
        limit: u32,
    ) -> Result<Vec<Claimed>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "WITH claimed AS (
                    UPDATE jdma_outbox SET claimed_until = $2, holder = $4, attempts = attempts + 1
                    WHERE review_id IN (
                        SELECT review_id FROM jdma_outbox
                        WHERE state IN ('pending', 'unsure') AND next_attempt_at <= $1
                          AND (claimed_until IS NULL OR claimed_until < $1)
                        ORDER BY state = 'unsure' DESC, next_attempt_at, review_id LIMIT $3
                        FOR UPDATE SKIP LOCKED)
                    RETURNING review_id, review_created_at, state, attempts, tried_at, site_id, device_id, client_review_id,
                        jdma_review_id, jdma_created_at
                 )
                 SELECT c.review_id, c.review_created_at, c.state, c.attempts::bigint, c.tried_at, c.site_id, c.device_id,
                        c.client_review_id, s.product_id, s.form_id, coalesce(d.jdma_button, s.button_id),
                        c.jdma_review_id, c.jdma_created_at
                 FROM claimed c LEFT JOIN sites s ON s.id = c.site_id LEFT JOIN devices d ON d.id = c.device_id
                 ORDER BY c.state = 'unsure' DESC, c.review_id",
                &[&now, &until, &(limit as i64), &holder],
            )
            .await
            .map_err(classify)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let created: Vec<DateTime<Utc>> = rows.iter().map(|r| r.get(1)).collect();
        let answer_rows = client
            .query(
                "SELECT a.review_id, a.field_code, a.kind, a.answer_item_id, a.answer_text, a.intention, a.parent_item
                 FROM answers a JOIN unnest($1::bigint[], $2::timestamptz[]) AS k(id, created)
                   ON a.review_id = k.id AND a.review_created_at = k.created
                 ORDER BY a.review_id, a.id",
                &[&ids, &created],
            )
            .await
            .map_err(classify)?;
        let mut answers: HashMap<i64, Vec<Answer>> = HashMap::new();
        for r in answer_rows {
            let (Some(kind), Some(intention)) = (AnswerKind::parse(r.get(2)), Intention::parse(r.get(5))) else {
                continue;
            };
            answers.entry(r.get(0)).or_default().push(Answer {
                parent: r.get::<_, Option<i32>>(6).map(i64::from),
                field_code: r.get(1),
                kind,
                answer_item_id: r.get::<_, i32>(3) as i64,
                answer_text: r.get(4),
                intention,
            });
        }
        Ok(rows
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                Claimed {
                    review_id: id,
                    state: JdmaState::parse(r.get(2)).unwrap_or(JdmaState::Pending),
                    attempts: r.get(3),
                    tried_at: r.get(4),
                    site_id: r.get(5),
                    device_id: r.get(6),
                    client_review_id: r.get(7),
                    product: r.get(8),
                    form: r.get(9),
                    button: r.get(10),
                    answers: answers.remove(&id).unwrap_or_default(),
                    created: r.get::<_, Option<i64>>(11).zip(r.get::<_, Option<DateTime<Utc>>>(12)),
                }
            })
            .collect())
    }

    async fn jdma_settle(&self, review_id: i64, holder: String, settle: Settle) -> Result<bool> {
        let client = self.client().await?;
        let mine = "WHERE review_id = $1 AND holder = $2";
        let n = match settle {
            Settle::InFlight { tried_at, next_attempt_at } => {
                client
                    .execute(
                        &format!(
                            "UPDATE jdma_outbox SET state = 'unsure', tried_at = $3, next_attempt_at = $4,
                                last_error = 'création envoyée, issue inconnue' {mine} AND claimed_until > $3"
                        ),
                        &[&review_id, &holder, &tried_at, &next_attempt_at],
                    )
                    .await
            }
            Settle::Forwarded { jdma_review_id, jdma_created_at, product, form, button, at } => {
                client
                    .execute(
                        &format!(
                            "UPDATE jdma_outbox SET state = 'forwarded', jdma_review_id = $3, jdma_created_at = $4,
                                jdma_product = $5, jdma_form = $6, jdma_button = $7, done_at = $8, claimed_until = NULL,
                                holder = NULL, last_error = NULL {mine}"
                        ),
                        &[&review_id, &holder, &jdma_review_id, &jdma_created_at, &product, &form, &button, &at],
                    )
                    .await
            }
            Settle::Unsure { tried_at, error, next_attempt_at, created } => {
                let (id, at) = (created.map(|c| c.0), created.map(|c| c.1));
                client
                    .execute(
                        &format!(
                            "UPDATE jdma_outbox SET state = 'unsure', tried_at = $3, last_error = $4, next_attempt_at = $5,
                                jdma_review_id = coalesce($6, jdma_review_id), jdma_created_at = coalesce($7, jdma_created_at),
                                claimed_until = NULL, holder = NULL {mine}"
                        ),
                        &[&review_id, &holder, &tried_at, &error, &next_attempt_at, &id, &at],
                    )
                    .await
            }
            Settle::Pending { error, next_attempt_at } => {
                client
                    .execute(
                        &format!(
                            "UPDATE jdma_outbox SET state = 'pending', tried_at = NULL, last_error = $3, next_attempt_at = $4,
                                claimed_until = NULL, holder = NULL {mine}"
                        ),
                        &[&review_id, &holder, &error, &next_attempt_at],
                    )
                    .await
            }
            Settle::Ambiguous { ref error, at } | Settle::Failed { ref error, at } => {
                let state = if matches!(settle, Settle::Ambiguous { .. }) { "ambiguous" } else { "failed" };
                client
                    .execute(
                        &format!(
                            "UPDATE jdma_outbox SET state = $3, last_error = $4, done_at = $5, claimed_until = NULL,
                                holder = NULL {mine}"
                        ),
                        &[&review_id, &holder, &state, &error, &at],
                    )
                    .await
            }
            Settle::Release => {
                client
                    .execute(
                        &format!(
                            "UPDATE jdma_outbox SET claimed_until = NULL, holder = NULL,
                                attempts = greatest(attempts - 1, 0) {mine}"
                        ),
                        &[&review_id, &holder],
                    )
                    .await
            }
        }
        .map_err(classify)?;
        Ok(n == 1)
    }

    async fn jdma_take_call(
        &self,
        now: DateTime<Utc>,
        window: Duration,
        max: u32,
    ) -> Result<std::result::Result<(), DateTime<Utc>>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CALLS_LOCK]).await.map_err(classify)?;
        let since = now - window;
        tx.execute("DELETE FROM jdma_calls WHERE at < $1", &[&(since - window)]).await.map_err(classify)?;
        let row = tx
            .query_one("SELECT count(*), min(at) FROM jdma_calls WHERE at > $1", &[&since])
            .await
            .map_err(classify)?;
        let (count, oldest): (i64, Option<DateTime<Utc>>) = (row.get(0), row.get(1));
        if count >= max as i64 {
            tx.commit().await.map_err(classify)?;
            return Ok(Err(oldest.unwrap_or(now) + window));
        }
        tx.execute("INSERT INTO jdma_calls (at) VALUES ($1)", &[&now]).await.map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(Ok(()))
    }

    async fn jdma_unsure(&self, now: DateTime<Utc>) -> Result<u64> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*) FROM jdma_outbox
                 WHERE state = 'unsure' AND jdma_review_id IS NULL AND (claimed_until IS NULL OR claimed_until < $1)",
                &[&now],
            )
            .await
            .map_err(classify)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn jdma_counts(&self) -> Result<Vec<JdmaCounts>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT site_id, state, count(*), min(created_at) FILTER (WHERE state IN ('pending', 'unsure')),
                        (array_agg(last_error ORDER BY coalesce(done_at, next_attempt_at) DESC)
                           FILTER (WHERE last_error IS NOT NULL))[1]
                 FROM jdma_outbox GROUP BY site_id, state ORDER BY site_id",
                &[],
            )
            .await
            .map_err(classify)?;
        Ok(gather(rows.iter().map(|r| (r.get(0), r.get(1), r.get::<_, i64>(2) as u64, r.get(3), r.get(4)))))
    }

    async fn jdma_forwarded_by_day(&self, form: i64, from: NaiveDate, to: NaiveDate) -> Result<Vec<(NaiveDate, u64)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT (jdma_created_at AT TIME ZONE 'UTC')::date AS day, count(*) FROM jdma_outbox
                 WHERE state = 'forwarded' AND jdma_form = $1
                   AND jdma_created_at >= ($2::date)::timestamp AT TIME ZONE 'UTC'
                   AND jdma_created_at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'
                 GROUP BY day ORDER BY day",
                &[&form, &from, &to],
            )
            .await
            .map_err(classify)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get::<_, i64>(1) as u64)).collect())
    }

    async fn jdma_bindings(&self) -> Result<Vec<(i64, i64)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT DISTINCT product_id, form_id FROM sites WHERE product_id IS NOT NULL AND form_id IS NOT NULL
                 ORDER BY 1, 2",
                &[],
            )
            .await
            .map_err(classify)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn jdma_record_reconciliation(&self, days: Vec<Reconciled>) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        for d in &days {
            tx.execute(
                "INSERT INTO jdma_reconciliation (form_id, day, jdma, forwarded, checked_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (form_id, day) DO UPDATE SET jdma = excluded.jdma, forwarded = excluded.forwarded,
                    checked_at = excluded.checked_at",
                &[&d.form_id, &d.day, &(d.jdma as i64), &(d.forwarded as i64), &d.checked_at],
            )
            .await
            .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    async fn jdma_reconciliation(&self, since: NaiveDate) -> Result<Vec<Reconciled>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT form_id, day, jdma, forwarded, checked_at FROM jdma_reconciliation WHERE day >= $1
                 ORDER BY form_id, day",
                &[&since],
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|r| Reconciled {
                form_id: r.get(0),
                day: r.get(1),
                jdma: r.get::<_, i64>(2) as u64,
                forwarded: r.get::<_, i64>(3) as u64,
                checked_at: r.get(4),
            })
            .collect())
    }

    async fn set_device_button(&self, device: String, button: Option<i64>, title: Option<String>) -> Result<usize> {
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE devices SET jdma_button = $2, jdma_button_title = $3 WHERE id = $1",
                &[&device, &button, &title],
            )
            .await
            .map_err(classify)?;
        Ok(n as usize)
    }

    async fn set_form_title(&self, site: String, title: Option<String>) -> Result<usize> {
        let client = self.client().await?;
        let n = client
            .execute("UPDATE sites SET jdma_form_title = $2 WHERE id = $1", &[&site, &title])
            .await
            .map_err(classify)?;
        Ok(n as usize)
    }

    async fn jdma_export_page(&self, filter: JdmaExportFilter, offset: u64, limit: u32) -> Result<Vec<JdmaExportRow>> {
        let client = self.client().await?;
        // PostgreSQL's range is narrower than chrono's.
        let (low, high) = (DateTime::<Utc>::UNIX_EPOCH, DateTime::<Utc>::UNIX_EPOCH + Duration::days(365 * 200));
        let clamp = |t: DateTime<Utc>| t.clamp(low, high);
        let since = clamp(filter.since.unwrap_or(low));
        let until = clamp(filter.until.unwrap_or(high));
        let rows = client
            .query(
                "SELECT id, jdma_id, at, form_title, button_title, device_id, created_at FROM (
                    SELECT r.id AS id, o.jdma_review_id AS jdma_id, coalesce(o.jdma_created_at, r.created_at) AS at,
                           s.jdma_form_title AS form_title, d.jdma_button_title AS button_title, r.device_id AS device_id,
                           r.site_id AS site_id, coalesce(o.jdma_form, s.form_id) AS form, r.created_at AS created_at
                    FROM reviews r
                    LEFT JOIN jdma_outbox o ON o.review_id = r.id AND o.state = 'forwarded'
                    LEFT JOIN sites s ON s.id = r.site_id
                    LEFT JOIN devices d ON d.id = r.device_id) x
                 WHERE ($1::text IS NULL OR site_id = $1) AND ($2::bigint IS NULL OR form = $2) AND at >= $3 AND at < $4
                 ORDER BY at, coalesce(jdma_id, id), id LIMIT $5 OFFSET $6",
                &[&filter.site, &filter.form, &since, &until, &(limit as i64), &(offset as i64)],
            )
            .await
            .map_err(classify)?;
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let created: Vec<DateTime<Utc>> = rows.iter().map(|r| r.get(6)).collect();
        let mut answers = super::reviews::answers_of(&client, &ids, &created).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                JdmaExportRow {
                    id,
                    jdma_id: r.get(1),
                    at: r.get(2),
                    form_title: r.get(3),
                    button_title: r.get(4),
                    device_id: r.get(5),
                    answers: answers.remove(&id).unwrap_or_default(),
                }
            })
            .collect())
    }
}
