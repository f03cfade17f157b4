//! The reviews on SQLite: batches, heartbeats, sites and kiosks, counts and export.

use super::{SqliteStore, from_ms, ms, refused_if_exists};
use crate::storage::model::*;
use crate::storage::reviews::Reviews;
use crate::validate::ParsedBatch;
use borne_model::wire::Heartbeat;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::{HashMap, HashSet};

impl Reviews for SqliteStore {
    async fn authenticate(&self, hash: &str) -> Result<Option<DeviceAuth>> {
        let hash = hash.to_string();
        self.with(move |c| {
            c.query_row(
                "SELECT d.id, s.id, s.name, s.organisation_id, s.product_id, s.form_id, s.button_id, s.time_zone
                 FROM devices d JOIN sites s ON s.id = d.site_id
                 WHERE d.token_sha256 = ?1 AND d.revoked_at_ms IS NULL",
                [hash],
                |r| {
                    Ok(DeviceAuth {
                        device_id: r.get(0)?,
                        site: Some(Site {
                            id: r.get(1)?,
                            name: r.get(2)?,
                            organisation: r.get(3)?,
                            product_id: r.get(4)?,
                            form_id: r.get(5)?,
                            button_id: r.get(6)?,
                            time_zone: r.get(7)?,
                        }),
                    })
                },
            )
            .optional()
        })
        .await
    }

    async fn store_batch(
        &self,
        batch: &ParsedBatch,
        site_id: Option<&str>,
        body_sha256: &str,
        received_at: DateTime<Utc>,
    ) -> Result<Stored> {
        let batch = batch.clone();
        let site = site_id.unwrap_or("").to_string();
        let hash = body_sha256.to_string();
        self.with(move |c| {
            let device = &batch.source.device_id;
            let key = batch.batch_id.to_string();
            let now = ms(received_at);
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let seen: Option<(String, String)> = tx
                .query_row(
                    "SELECT body_sha256, response FROM idempotency WHERE device_id = ?1 AND key = ?2",
                    params![device, key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((seen_hash, text)) = seen {
                return Ok(if seen_hash == hash { Stored::Replay(text) } else { Stored::Conflict });
            }
            let mut fresh = HashSet::new();
            let mut ids = HashMap::new();
            // The sites bound to JDMA: each new review waits in the outbox, committed with it.
            let bound: bool = tx
                .query_row(
                    "SELECT product_id IS NOT NULL AND form_id IS NOT NULL FROM sites WHERE id = ?1",
                    [&site],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(false);
            for review in distinct_valid(&batch) {
                let p = prepare(review, received_at);
                let id = review.client_review_id.to_string();
                let inserted = tx
                    .prepare_cached(
                        "INSERT INTO reviews (device_id, client_review_id, product_id, form_id, button_id,
                            submitted_at, clock, language, batch_id, received_at_ms, site_id, created_at_ms, has_verbatim)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                         ON CONFLICT (device_id, client_review_id) DO NOTHING",
                    )?
                    .execute(params![
                        device,
                        id,
                        batch.source.product_id as i64,
                        batch.source.form_id as i64,
                        batch.source.button_id as i64,
                        review.submitted_at,
                        review.clock,
                        review.language,
                        key,
                        now,
                        if site.is_empty() { None } else { Some(&site) },
                        ms(p.created_at),
                        p.has_verbatim
                    ])?;
                if inserted == 1 {
                    let row_id = tx.last_insert_rowid();
                    fresh.insert(review.client_review_id);
                    ids.insert(review.client_review_id, row_id);
                    insert_answers(&tx, row_id, &p, &site)?;
                    if bound {
                        tx.prepare_cached(
                            "INSERT INTO jdma_outbox (review_id, device_id, site_id, client_review_id, next_attempt_at_ms,
                                created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                        )?
                        .execute(params![row_id, device, site, id, now])?;
                    }
                } else {
                    let row_id: i64 = tx
                        .prepare_cached("SELECT id FROM reviews WHERE device_id = ?1 AND client_review_id = ?2")?
                        .query_row(params![device, id], |r| r.get(0))?;
                    ids.insert(review.client_review_id, row_id);
                }
            }
            // The kiosk's last sign of life, and the reviews no longer waiting on it.
            tx.prepare_cached(
                "UPDATE devices SET last_batch_at_ms = ?2, reviews_since_heartbeat = reviews_since_heartbeat + ?3
                 WHERE id = ?1",
            )?
            .execute(params![device, now, batch.reviews.len() as i64])?;
            let answer = response(&batch, &fresh, &ids);
            let text = serde_json::to_string(&answer).unwrap_or_default();
            tx.execute(
                "INSERT INTO idempotency (device_id, key, body_sha256, response, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![device, key, hash, text, now],
            )?;
            tx.commit()?;
            Ok(Stored::Fresh { response: answer, text })
        })
        .await
    }

    async fn store_heartbeat(&self, hb: &Heartbeat, received_at: DateTime<Utc>) -> Result<()> {
        let hb = hb.clone();
        let body = serde_json::to_string(&hb).unwrap_or_default();
        self.with(move |c| {
            c.execute(
                "INSERT INTO heartbeats (device_id, body, received_at_ms, app_version, pending, oldest_pending_at,
                    last_upload_at, disk_free_bytes, uptime_s, config_version, config_refused_version,
                    config_refused_message, system_version, system_pending, system_rejected)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT (device_id) DO UPDATE SET body = ?2, received_at_ms = ?3, app_version = ?4,
                    pending = ?5, oldest_pending_at = ?6, last_upload_at = ?7, disk_free_bytes = ?8, uptime_s = ?9,
                    config_version = ?10, config_refused_version = ?11, config_refused_message = ?12,
                    system_version = ?13, system_pending = ?14, system_rejected = ?15",
                params![
                    hb.device_id,
                    body,
                    ms(received_at),
                    hb.app_version,
                    hb.pending as i64,
                    hb.oldest_pending_at,
                    hb.last_upload_at,
                    hb.disk_free_bytes.map(|n| n as i64),
                    hb.uptime_s.map(|n| n as i64),
                    hb.config_version.map(|n| n as i64),
                    hb.config_refused.as_ref().map(|r| r.version as i64),
                    hb.config_refused.as_ref().map(|r| r.message.clone()),
                    hb.system.as_ref().map(|s| s.version.clone()),
                    hb.system.as_ref().and_then(|s| s.pending.clone()),
                    hb.system.as_ref().map(|s| s.rejected.join(" "))
                ],
            )?;
            // The heartbeat says how many reviews wait on the kiosk now.
            c.execute("UPDATE devices SET reviews_since_heartbeat = 0 WHERE id = ?1", [&hb.device_id])?;
            Ok(())
        })
        .await
    }

    async fn maintain(&self, now: DateTime<Utc>) -> Result<()> {
        let cutoff = ms(now) - IDEMPOTENCY_KEEP_HOURS * 3600 * 1000;
        self.with(move |c| c.execute("DELETE FROM idempotency WHERE created_at_ms < ?1", [cutoff]).map(|_| ())).await
    }

    async fn add_site(&self, site: &Site) -> Result<()> {
        let site = site.clone();
        self.with(move |c| {
            let tx = c.transaction()?;
            let now = ms(Utc::now());
            if let Some(org) = &site.organisation {
                tx.execute(
                    "INSERT INTO organisations (id, name, created_at_ms) VALUES (?1, ?1, ?2) ON CONFLICT DO NOTHING",
                    params![org, now],
                )?;
            }
            tx.execute(
                "INSERT INTO sites (id, name, organisation_id, product_id, form_id, button_id, created_at_ms, time_zone)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    site.id,
                    site.name,
                    site.organisation,
                    site.product_id,
                    site.form_id,
                    site.button_id,
                    now,
                    site.time_zone
                ],
            )?;
            tx.commit()
        })
        .await
        .map_err(|e| refused_if_exists(e, "ce site existe déjà"))
    }

    async fn sites(&self) -> Result<Vec<Site>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, name, organisation_id, product_id, form_id, button_id, time_zone FROM sites ORDER BY id",
            )?;
            stmt.query_map([], |r| {
                Ok(Site {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    organisation: r.get(2)?,
                    product_id: r.get(3)?,
                    form_id: r.get(4)?,
                    button_id: r.get(5)?,
                    time_zone: r.get(6)?,
                })
            })?
            .collect()
        })
        .await
    }

    async fn add_device(&self, device_id: &str, site_id: &str, hash: &str) -> Result<()> {
        let (device_id, site_id, hash) = (device_id.to_string(), site_id.to_string(), hash.to_string());
        let missing_site = format!("site inconnu : {site_id} (borne-platform sites add {site_id} --name …)");
        self.with(move |c| {
            let tx = c.transaction()?;
            let site_exists: bool =
                tx.query_row("SELECT count(*) FROM sites WHERE id = ?1", [&site_id], |r| r.get(0))?;
            if !site_exists {
                return Ok(Err(missing_site));
            }
            tx.execute(
                "INSERT INTO devices (id, site_id, token_sha256, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
                params![device_id, site_id, hash, ms(Utc::now())],
            )?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await
        .map_err(|e| refused_if_exists(e, "cette borne est déjà enregistrée"))?
        .map_err(StorageError::Refused)
    }

    async fn devices(&self) -> Result<Vec<Device>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT d.id, d.site_id, d.created_at_ms, d.revoked_at_ms, h.received_at_ms, h.app_version, h.pending,
                        h.oldest_pending_at, h.last_upload_at, h.disk_free_bytes, d.last_batch_at_ms,
                        d.reviews_since_heartbeat, h.config_version, h.config_refused_version,
                        h.config_refused_message, h.system_version, h.system_pending, h.system_rejected
                 FROM devices d LEFT JOIN heartbeats h ON h.device_id = d.id ORDER BY d.id",
            )?;
            stmt.query_map([], |r| {
                Ok(Device {
                    id: r.get(0)?,
                    site_id: r.get(1)?,
                    created_at: from_ms(r.get(2)?),
                    revoked_at: r.get::<_, Option<i64>>(3)?.map(from_ms),
                    last_seen_at: r.get::<_, Option<i64>>(4)?.map(from_ms),
                    app_version: r.get(5)?,
                    pending: r.get(6)?,
                    oldest_pending_at: r.get(7)?,
                    last_upload_at: r.get(8)?,
                    disk_free_bytes: r.get(9)?,
                    last_batch_at: r.get::<_, Option<i64>>(10)?.map(from_ms),
                    reviews_since_heartbeat: r.get(11)?,
                    config_version: r.get(12)?,
                    config_refused: r.get::<_, Option<i64>>(13)?.zip(r.get::<_, Option<String>>(14)?),
                    system: system_of(r.get(15)?, r.get(16)?, r.get(17)?),
                })
            })?
            .collect()
        })
        .await
    }

    async fn revoke_device(&self, device_id: &str) -> Result<()> {
        let id = device_id.to_string();
        let changed = self
            .with(move |c| {
                c.execute(
                    "UPDATE devices SET revoked_at_ms = coalesce(revoked_at_ms, ?2) WHERE id = ?1",
                    params![id, ms(Utc::now())],
                )
            })
            .await?;
        if changed == 0 { Err(unknown_device(device_id)) } else { Ok(()) }
    }

    async fn rotate_device(&self, device_id: &str, hash: &str) -> Result<()> {
        let (id, hash) = (device_id.to_string(), hash.to_string());
        let changed = self
            .with(move |c| {
                c.execute("UPDATE devices SET token_sha256 = ?2, revoked_at_ms = NULL WHERE id = ?1", params![id, hash])
            })
            .await?;
        if changed == 0 { Err(unknown_device(device_id)) } else { Ok(()) }
    }

    async fn totals(&self) -> Result<Totals> {
        self.with(|c| {
            let count = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
            let mut stmt = c.prepare(
                "SELECT answer_item_id, sum(n) FROM site_monthly WHERE field_code = 'satisfaction' AND answer_item_id > 0
                 GROUP BY 1 ORDER BY 1",
            )?;
            let satisfaction_by_item = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?.to_string(), r.get::<_, i64>(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut stmt =
                c.prepare("SELECT device_id, count(*) FROM reviews GROUP BY device_id ORDER BY device_id")?;
            let by_device = stmt
                .query_map([], |r| Ok(DeviceTotal { device_id: r.get(0)?, reviews: r.get(1)? }))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Totals {
                reviews: count("SELECT count(*) FROM reviews")?,
                answers: count("SELECT count(*) FROM answers")?,
                devices: count("SELECT count(*) FROM devices")?,
                sites: count("SELECT count(*) FROM sites")?,
                organisations: count("SELECT count(*) FROM organisations")?,
                batches: count("SELECT count(*) FROM idempotency")?,
                heartbeats: count("SELECT count(*) FROM heartbeats")?,
                satisfaction_by_item,
                by_device,
            })
        })
        .await
    }

    async fn site_counts(
        &self,
        sites: Option<Vec<String>>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, String, i64, i64)>> {
        let site = sites.map(|s| serde_json::to_string(&s).unwrap_or_else(|_| "[]".into()));
        let (months, days) = split_period(from, to);
        self.with(move |c| {
            let mut rows = Vec::new();
            let site_clause =
                if site.is_some() { "site_id IN (SELECT value FROM json_each(?3))" } else { "?3 IS NULL" };
            let months_sql = format!(
                "SELECT site_id, field_code, answer_item_id, sum(n) FROM site_monthly
                 WHERE month >= ?1 AND month <= ?2 AND {site_clause} GROUP BY 1, 2, 3"
            );
            let days_sql = format!(
                "SELECT site_id, field_code, answer_item_id, sum(n) FROM site_daily
                 WHERE day >= ?1 AND day <= ?2 AND {site_clause} GROUP BY 1, 2, 3"
            );
            let mut ranges: Vec<(&str, String, String)> = Vec::new();
            if let (Some(first), Some(last)) = (months.first(), months.last()) {
                ranges.push((&months_sql, first.to_string(), last.to_string()));
            }
            for (a, b) in &days {
                ranges.push((&days_sql, a.to_string(), b.to_string()));
            }
            for (sql, a, b) in ranges {
                let mut stmt = c.prepare_cached(sql)?;
                let found =
                    stmt.query_map(params![a, b, site], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
                for row in found {
                    rows.push(row?);
                }
            }
            Ok(rows)
        })
        .await
    }

    async fn site_days(
        &self,
        site: String,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, String, i64, i64)>> {
        self.with(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT day, field_code, answer_item_id, n FROM site_daily WHERE site_id = ?1 AND day BETWEEN ?2 AND ?3",
            )?;
            let rows = stmt.query_map(params![site, from.to_string(), to.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            let mut days = Vec::new();
            for row in rows {
                let (day, code, item, n) = row?;
                // Days are written by the platform as YYYY-MM-DD; anything else is not a day.
                if let Ok(day) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
                    days.push((day, code, item, n));
                }
            }
            Ok(days)
        })
        .await
    }

    async fn export(
        &self,
        since: Option<DateTime<Utc>>,
        sink: &mut (dyn FnMut(Vec<ExportReview>) -> std::io::Result<()> + Send),
    ) -> Result<u64> {
        let since_ms = since.map(ms).unwrap_or(i64::MIN);
        let mut after: (i64, i64) = (since_ms, -1);
        let mut total = 0u64;
        loop {
            let page = self.with(move |c| export_page(c, after)).await?;
            let Some(last) = page.last() else { break };
            after = (ms(last.received_at), last.id);
            total += page.len() as u64;
            sink(page).map_err(|e| StorageError::Refused(format!("écriture impossible : {e}")))?;
        }
        Ok(total)
    }
}

const EXPORT_PAGE: i64 = 2_000;

fn export_page(c: &mut Connection, after: (i64, i64)) -> rusqlite::Result<Vec<ExportReview>> {
    let mut stmt = c.prepare_cached(
        "SELECT r.id, coalesce(r.created_at_ms, r.received_at_ms), r.received_at_ms, r.device_id, r.site_id,
                r.product_id, r.form_id, r.button_id, r.client_review_id, r.submitted_at, r.clock, r.language
         FROM reviews r
         WHERE (r.received_at_ms, r.id) > (?1, ?2)
         ORDER BY r.received_at_ms, r.id LIMIT ?3",
    )?;
    let mut reviews: Vec<ExportReview> = stmt
        .query_map(params![after.0, after.1, EXPORT_PAGE], |r| {
            Ok(ExportReview {
                id: r.get(0)?,
                created_at: from_ms(r.get(1)?),
                received_at: from_ms(r.get(2)?),
                device_id: r.get(3)?,
                site_id: r.get(4)?,
                product_id: r.get(5)?,
                form_id: r.get(6)?,
                button_id: r.get(7)?,
                client_review_id: r.get(8)?,
                submitted_at: r.get(9)?,
                clock: r.get(10)?,
                language: r.get(11)?,
                answers: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    for review in &mut reviews {
        review.answers = answers_of(c, review.id)?;
    }
    Ok(reviews)
}

/// A stored review's answers, in the order they were given (the exports').
pub(super) fn answers_of(c: &Connection, review_id: i64) -> rusqlite::Result<Vec<ExportAnswer>> {
    let mut answers = c.prepare_cached(
        "SELECT field_code, field_label, answer_item_id, answer_text, intention, kind, parent_item FROM answers
         WHERE review_id = ?1 ORDER BY rowid",
    )?;
    answers
        .query_map([review_id], |r| {
            Ok(ExportAnswer {
                field_code: r.get(0)?,
                field_label: r.get(1)?,
                answer_item_id: r.get(2)?,
                answer_text: r.get(3)?,
                intention: r.get(4)?,
                kind: r.get(5)?,
                parent: r.get(6)?,
            })
        })?
        .collect()
}

fn insert_answers(tx: &rusqlite::Transaction<'_>, row_id: i64, p: &Prepared<'_>, site: &str) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO answers (review_id, field_code, field_label, answer_item_id, answer_text, intention, kind, parent_item)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let hour = p.local_hour.format("%Y-%m-%d %H:00:00").to_string();
    let (day, month) = (p.local_day.to_string(), p.local_month.to_string());
    let count = |code: &str, item: i64| -> rusqlite::Result<()> {
        for (table, column, bucket) in
            [("site_hourly", "hour", &hour), ("site_daily", "day", &day), ("site_monthly", "month", &month)]
        {
            tx.prepare_cached(&format!(
                "INSERT INTO {table} (site_id, {column}, field_code, answer_item_id, n) VALUES (?1, ?2, ?3, ?4, 1)
                 ON CONFLICT DO UPDATE SET n = n + 1"
            ))?
            .execute(params![site, bucket, code, item])?;
        }
        Ok(())
    };
    let mut answered: Vec<&str> = Vec::new();
    for a in &p.review.answers {
        insert.execute(params![
            row_id,
            a.field_code,
            label_of(a),
            a.answer_item_id,
            a.answer_text,
            a.intention,
            a.kind,
            a.parent_answer_item_id
        ])?;
        // As the kiosk counts: every answer by item, and once per question answered.
        count(&a.field_code, a.answer_item_id)?;
        if !answered.contains(&a.field_code.as_str()) {
            answered.push(&a.field_code);
            count(&a.field_code, RESPONDENTS)?;
        }
    }
    Ok(())
}

fn unknown_device(id: &str) -> StorageError {
    StorageError::Refused(format!("borne inconnue : {id}"))
}
