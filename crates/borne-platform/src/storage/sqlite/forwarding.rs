//! Forwarding to JDMA on SQLite: one file, one writer at a time, so claims and the count of
//! create calls are plain immediate transactions (several processes on one file take turns).

use super::{SqliteStore, from_ms, ms};
use crate::storage::forwarding::*;
use crate::storage::model::Result;
use borne_model::review::{Answer, AnswerKind, Intention};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{TransactionBehavior, params};

/// (site, state, count, oldest waiting, last error)
type CountRow = (String, String, u64, Option<DateTime<Utc>>, Option<String>);

impl Forwarding for SqliteStore {
    async fn jdma_claim(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        holder: String,
        limit: u32,
    ) -> Result<Vec<Claimed>> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut claimed: Vec<Claimed> = tx
                .prepare(
                    "UPDATE jdma_outbox SET claimed_until_ms = ?2, holder = ?4, attempts = attempts + 1
                     WHERE review_id IN (
                        SELECT review_id FROM jdma_outbox
                        WHERE state IN ('pending', 'unsure') AND next_attempt_at_ms <= ?1
                          AND (claimed_until_ms IS NULL OR claimed_until_ms < ?1)
                        ORDER BY state = 'unsure' DESC, next_attempt_at_ms, review_id LIMIT ?3)
                     RETURNING review_id, state, attempts, tried_at_ms, site_id, device_id, client_review_id,
                        jdma_review_id, jdma_created_at_ms",
                )?
                .query_map(params![ms(now), ms(until), limit, holder], |r| {
                    Ok(Claimed {
                        review_id: r.get(0)?,
                        state: JdmaState::parse(&r.get::<_, String>(1)?).unwrap_or(JdmaState::Pending),
                        attempts: r.get(2)?,
                        tried_at: r.get::<_, Option<i64>>(3)?.map(from_ms),
                        site_id: r.get(4)?,
                        device_id: r.get(5)?,
                        client_review_id: r.get::<_, String>(6)?.parse().unwrap_or_default(),
                        product: None,
                        form: None,
                        button: None,
                        answers: Vec::new(),
                        created: r.get::<_, Option<i64>>(7)?.zip(r.get::<_, Option<i64>>(8)?.map(from_ms)),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            claimed.sort_by_key(|c| (c.state != JdmaState::Unsure, c.review_id));
            {
                let mut binding = tx.prepare_cached(
                    "SELECT s.product_id, s.form_id, coalesce(d.jdma_button, s.button_id)
                     FROM sites s LEFT JOIN devices d ON d.id = ?2 WHERE s.id = ?1",
                )?;
                let mut answers = tx.prepare_cached(
                    "SELECT field_code, kind, answer_item_id, answer_text, intention, parent_item FROM answers
                     WHERE review_id = ?1 ORDER BY rowid",
                )?;
                for claim in &mut claimed {
                    if let Ok((p, f, b)) = binding
                        .query_row(params![claim.site_id, claim.device_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    {
                        (claim.product, claim.form, claim.button) = (p, f, b);
                    }
                    claim.answers = answers
                        .query_map([claim.review_id], |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get(2)?,
                                r.get(3)?,
                                r.get::<_, String>(4)?,
                                r.get::<_, Option<i64>>(5)?,
                            ))
                        })?
                        .filter_map(|row| {
                            let (field_code, kind, answer_item_id, answer_text, intention, parent) = row.ok()?;
                            Some(Answer {
                                parent,
                                field_code,
                                kind: AnswerKind::parse(&kind)?,
                                answer_item_id,
                                answer_text,
                                intention: Intention::parse(&intention)?,
                            })
                        })
                        .collect();
                }
            }
            tx.commit()?;
            Ok(claimed)
        })
        .await
    }

    async fn jdma_settle(&self, review_id: i64, holder: String, settle: Settle) -> Result<bool> {
        self.with(move |c| {
            let n = match settle {
                Settle::InFlight { tried_at, next_attempt_at } => c.execute(
                    "UPDATE jdma_outbox SET state = 'unsure', tried_at_ms = ?3, next_attempt_at_ms = ?4,
                        last_error = 'création envoyée, issue inconnue'
                     WHERE review_id = ?1 AND holder = ?2 AND claimed_until_ms > ?3",
                    params![review_id, holder, ms(tried_at), ms(next_attempt_at)],
                )?,
                Settle::Forwarded { jdma_review_id, jdma_created_at, product, form, button, at } => c.execute(
                    "UPDATE jdma_outbox SET state = 'forwarded', jdma_review_id = ?3, jdma_created_at_ms = ?4,
                        jdma_product = ?5, jdma_form = ?6, jdma_button = ?7, done_at_ms = ?8, claimed_until_ms = NULL,
                        holder = NULL, last_error = NULL
                     WHERE review_id = ?1 AND holder = ?2",
                    params![review_id, holder, jdma_review_id, ms(jdma_created_at), product, form, button, ms(at)],
                )?,
                Settle::Unsure { tried_at, error, next_attempt_at, created } => c.execute(
                    "UPDATE jdma_outbox SET state = 'unsure', tried_at_ms = ?3, last_error = ?4, next_attempt_at_ms = ?5,
                        jdma_review_id = coalesce(?6, jdma_review_id), jdma_created_at_ms = coalesce(?7, jdma_created_at_ms),
                        claimed_until_ms = NULL, holder = NULL
                     WHERE review_id = ?1 AND holder = ?2",
                    params![
                        review_id,
                        holder,
                        ms(tried_at),
                        error,
                        ms(next_attempt_at),
                        created.map(|c| c.0),
                        created.map(|c| ms(c.1))
                    ],
                )?,
                Settle::Pending { error, next_attempt_at } => c.execute(
                    "UPDATE jdma_outbox SET state = 'pending', tried_at_ms = NULL, last_error = ?3, next_attempt_at_ms = ?4,
                        claimed_until_ms = NULL, holder = NULL
                     WHERE review_id = ?1 AND holder = ?2",
                    params![review_id, holder, error, ms(next_attempt_at)],
                )?,
                Settle::Ambiguous { ref error, at } | Settle::Failed { ref error, at } => c.execute(
                    "UPDATE jdma_outbox SET state = ?3, last_error = ?4, done_at_ms = ?5, claimed_until_ms = NULL,
                        holder = NULL
                     WHERE review_id = ?1 AND holder = ?2",
                    params![
                        review_id,
                        holder,
                        if matches!(settle, Settle::Ambiguous { .. }) { "ambiguous" } else { "failed" },
                        error,
                        ms(at)
                    ],
                )?,
                Settle::Release => c.execute(
                    "UPDATE jdma_outbox SET claimed_until_ms = NULL, holder = NULL, attempts = max(attempts - 1, 0)
                     WHERE review_id = ?1 AND holder = ?2",
                    params![review_id, holder],
                )?,
            };
            Ok(n == 1)
        })
        .await
    }

    async fn jdma_take_call(
        &self,
        now: DateTime<Utc>,
        window: Duration,
        max: u32,
    ) -> Result<std::result::Result<(), DateTime<Utc>>> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let since = ms(now - window);
            tx.execute("DELETE FROM jdma_calls WHERE at_ms < ?1", [ms(now - window - window)])?;
            let (count, oldest): (i64, Option<i64>) =
                tx.query_row("SELECT count(*), min(at_ms) FROM jdma_calls WHERE at_ms > ?1", [since], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let outcome = if count >= max as i64 {
                Err(oldest.map(from_ms).unwrap_or(now) + window)
            } else {
                tx.execute("INSERT INTO jdma_calls (at_ms) VALUES (?1)", [ms(now)])?;
                Ok(())
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    async fn jdma_unsure(&self, now: DateTime<Utc>) -> Result<u64> {
        self.with(move |c| {
            c.query_row(
                "SELECT count(*) FROM jdma_outbox
                 WHERE state = 'unsure' AND jdma_review_id IS NULL AND (claimed_until_ms IS NULL OR claimed_until_ms < ?1)",
                [ms(now)],
                |r| r.get::<_, i64>(0),
            )
        })
        .await
        .map(|n| n as u64)
    }

    async fn jdma_counts(&self) -> Result<Vec<JdmaCounts>> {
        self.with(|c| {
            let rows: Vec<CountRow> = c
                .prepare(
                    "SELECT site_id, state, count(*),
                            min(CASE WHEN state IN ('pending', 'unsure') THEN created_at_ms END),
                            (SELECT last_error FROM jdma_outbox o2 WHERE o2.site_id = o.site_id AND o2.state = o.state
                               AND last_error IS NOT NULL ORDER BY coalesce(done_at_ms, next_attempt_at_ms) DESC LIMIT 1)
                     FROM jdma_outbox o GROUP BY site_id, state ORDER BY site_id",
                )?
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get::<_, i64>(2)? as u64,
                        r.get::<_, Option<i64>>(3)?.map(from_ms),
                        r.get(4)?,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(gather(rows.into_iter()))
        })
        .await
    }

    async fn jdma_forwarded_by_day(&self, form: i64, from: NaiveDate, to: NaiveDate) -> Result<Vec<(NaiveDate, u64)>> {
        let start = ms(from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
        let end = ms((to + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
        self.with(move |c| {
            c.prepare(
                "SELECT date(jdma_created_at_ms / 1000, 'unixepoch') AS day, count(*) FROM jdma_outbox
                 WHERE state = 'forwarded' AND jdma_form = ?1 AND jdma_created_at_ms >= ?2 AND jdma_created_at_ms < ?3
                 GROUP BY day ORDER BY day",
            )?
            .query_map(params![form, start, end], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?
            .filter_map(|row| row.map(|(d, n)| d.parse().ok().map(|d| (d, n))).transpose())
            .collect()
        })
        .await
    }

    async fn jdma_bindings(&self) -> Result<Vec<(i64, i64)>> {
        self.with(|c| {
            c.prepare(
                "SELECT DISTINCT product_id, form_id FROM sites WHERE product_id IS NOT NULL AND form_id IS NOT NULL
                 ORDER BY 1, 2",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
        })
        .await
    }

    async fn jdma_record_reconciliation(&self, days: Vec<Reconciled>) -> Result<()> {
        self.with(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for d in &days {
                tx.execute(
                    "INSERT INTO jdma_reconciliation (form_id, day, jdma, forwarded, checked_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (form_id, day) DO UPDATE SET jdma = excluded.jdma, forwarded = excluded.forwarded,
                        checked_at_ms = excluded.checked_at_ms",
                    params![d.form_id, d.day.to_string(), d.jdma as i64, d.forwarded as i64, ms(d.checked_at)],
                )?;
            }
            tx.commit()
        })
        .await
    }

    async fn jdma_reconciliation(&self, since: NaiveDate) -> Result<Vec<Reconciled>> {
        self.with(move |c| {
            c.prepare(
                "SELECT form_id, day, jdma, forwarded, checked_at_ms FROM jdma_reconciliation WHERE day >= ?1
                 ORDER BY form_id, day",
            )?
            .query_map([since.to_string()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?
            .filter_map(|row| {
                row.map(|(form_id, day, jdma, forwarded, at)| {
                    day.parse().ok().map(|day| Reconciled {
                        form_id,
                        day,
                        jdma: jdma as u64,
                        forwarded: forwarded as u64,
                        checked_at: from_ms(at),
                    })
                })
                .transpose()
            })
            .collect()
        })
        .await
    }

    async fn set_device_button(&self, device: String, button: Option<i64>, title: Option<String>) -> Result<usize> {
        self.with(move |c| {
            c.execute(
                "UPDATE devices SET jdma_button = ?2, jdma_button_title = ?3 WHERE id = ?1",
                params![device, button, title],
            )
        })
        .await
    }

    async fn set_form_title(&self, site: String, title: Option<String>) -> Result<usize> {
        self.with(move |c| c.execute("UPDATE sites SET jdma_form_title = ?2 WHERE id = ?1", params![site, title])).await
    }

    async fn jdma_export_page(&self, filter: JdmaExportFilter, offset: u64, limit: u32) -> Result<Vec<JdmaExportRow>> {
        self.with(move |c| {
            let mut rows: Vec<JdmaExportRow> = c
                .prepare_cached(
                    "SELECT id, jdma_id, at, form_title, button_title, device_id FROM (
                        SELECT r.id AS id, o.jdma_review_id AS jdma_id,
                               coalesce(o.jdma_created_at_ms, r.created_at_ms, r.received_at_ms) AS at,
                               s.jdma_form_title AS form_title, d.jdma_button_title AS button_title,
                               r.device_id AS device_id, r.site_id AS site_id, coalesce(o.jdma_form, s.form_id) AS form
                        FROM reviews r
                        LEFT JOIN jdma_outbox o ON o.review_id = r.id AND o.state = 'forwarded'
                        LEFT JOIN sites s ON s.id = r.site_id
                        LEFT JOIN devices d ON d.id = r.device_id)
                     WHERE (?1 IS NULL OR site_id = ?1) AND (?2 IS NULL OR form = ?2) AND at >= ?3 AND at < ?4
                     ORDER BY at, coalesce(jdma_id, id), id LIMIT ?5 OFFSET ?6",
                )?
                .query_map(
                    params![
                        filter.site,
                        filter.form,
                        filter.since.map(ms).unwrap_or(i64::MIN),
                        filter.until.map(ms).unwrap_or(i64::MAX),
                        limit,
                        offset as i64
                    ],
                    |r| {
                        Ok(JdmaExportRow {
                            id: r.get(0)?,
                            jdma_id: r.get(1)?,
                            at: from_ms(r.get(2)?),
                            form_title: r.get(3)?,
                            button_title: r.get(4)?,
                            device_id: r.get(5)?,
                            answers: Vec::new(),
                        })
                    },
                )?
                .collect::<rusqlite::Result<_>>()?;
            for row in &mut rows {
                row.answers = super::reviews::answers_of(c, row.id)?;
            }
            Ok(rows)
        })
        .await
    }
}
