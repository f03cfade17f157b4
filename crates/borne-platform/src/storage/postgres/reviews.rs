//! The reviews on PostgreSQL: batches, heartbeats, sites and kiosks, counts and export.

use super::{FIRST_MONTH, MONTHS_AHEAD, PgStore, SCHEMA_LOCK, classify};
use crate::storage::model::*;
use crate::storage::reviews::Reviews;
use crate::validate::ParsedBatch;
use borne_model::wire::Heartbeat;
use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, Utc};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

impl Reviews for PgStore {
    async fn authenticate(&self, hash: &str) -> Result<Option<DeviceAuth>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT d.id, s.id, s.name, s.organisation_id, s.product_id, s.form_id, s.button_id, s.time_zone
                 FROM devices d JOIN sites s ON s.id = d.site_id
                 WHERE d.token_sha256 = $1 AND d.revoked_at IS NULL",
            )
            .await
            .map_err(classify)?;
        let row = client.query_opt(&stmt, &[&hash]).await.map_err(classify)?;
        Ok(row.map(|r| DeviceAuth {
            device_id: r.get(0),
            site: Some(Site {
                id: r.get(1),
                name: r.get(2),
                organisation: r.get(3),
                product_id: r.get(4),
                form_id: r.get(5),
                button_id: r.get(6),
                time_zone: r.get(7),
            }),
        }))
    }

    async fn store_batch(
        &self,
        batch: &ParsedBatch,
        site_id: Option<&str>,
        body_sha256: &str,
        received_at: DateTime<Utc>,
    ) -> Result<Stored> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        let device = &batch.source.device_id;
        // Claim the key: a concurrent claim of the same key (a retry reaching another instance)
        // waits here for this transaction, then finds the key taken.
        let claimed = tx
            .execute(
                "INSERT INTO idempotency (device_id, key, body_sha256, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[device, &batch.batch_id, &body_sha256, &received_at],
            )
            .await
            .map_err(classify)?;
        if claimed == 0 {
            let row = tx
                .query_one(
                    "SELECT body_sha256, response FROM idempotency WHERE device_id = $1 AND key = $2",
                    &[device, &batch.batch_id],
                )
                .await
                .map_err(classify)?;
            let (hash, text): (String, Option<String>) = (row.get(0), row.get(1));
            return Ok(if hash == body_sha256 { Stored::Replay(text.unwrap_or_default()) } else { Stored::Conflict });
        }

        let reviews: Vec<_> = distinct_valid(batch).into_iter().map(|r| prepare(r, received_at)).collect();
        let mut r_ids = Vec::new();
        let mut r_created = Vec::new();
        let mut r_submitted = Vec::new();
        let mut r_clock = Vec::new();
        let mut r_language = Vec::new();
        let mut r_verbatim = Vec::new();
        let mut a_review = Vec::new();
        let mut a_code = Vec::new();
        let mut a_label: Vec<Option<String>> = Vec::new();
        let mut a_item = Vec::new();
        let mut a_text = Vec::new();
        let mut a_intention = Vec::new();
        let mut a_kind = Vec::new();
        let mut a_parent: Vec<Option<i32>> = Vec::new();
        let mut a_hour: Vec<NaiveDateTime> = Vec::new();
        let mut a_day: Vec<NaiveDate> = Vec::new();
        let mut a_month: Vec<NaiveDate> = Vec::new();
        for p in &reviews {
            let r = p.review;
            r_ids.push(r.client_review_id);
            r_created.push(p.created_at);
            r_submitted.push(r.submitted_at.as_str());
            r_clock.push(r.clock.as_str());
            r_language.push(r.language.as_str());
            r_verbatim.push(p.has_verbatim);
            for a in &r.answers {
                a_review.push(r.client_review_id);
                a_code.push(a.field_code.as_str());
                a_label.push(label_of(a));
                a_item.push(a.answer_item_id as i32);
                a_text.push(a.answer_text.as_str());
                a_intention.push(a.intention.as_str());
                a_kind.push(a.kind.as_str());
                a_parent.push(a.parent_answer_item_id.map(|p| p as i32));
                a_hour.push(p.local_hour);
                a_day.push(p.local_day);
                a_month.push(p.local_month);
            }
        }
        let site = site_id.unwrap_or("");
        let site_column: Option<&str> = site_id;
        let (product, form, button) =
            (batch.source.product_id as i64, batch.source.form_id as i64, batch.source.button_id as i64);
        // One statement: keys, reviews, answers and the three levels of counts. The data-modifying
        // parts see the same snapshot; each reads what it needs from `fresh`'s RETURNING.
        let stmt = tx
            .prepare_cached(
                "WITH input AS (
                    SELECT * FROM unnest($2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::bool[])
                        AS t(client_review_id, created_at, submitted_at, clock, language, has_verbatim)
                 ),
                 answer_input AS (
                    SELECT * FROM unnest($13::uuid[], $14::text[], $15::text[], $16::int[], $17::text[], $18::text[],
                        $19::text[], $20::timestamp[], $21::date[], $22::date[], $25::int[])
                        WITH ORDINALITY AS a(client_review_id, field_code, field_label, answer_item_id, answer_text,
                            intention, kind, hour, day, month, parent_item, position)
                 ),
                 fresh AS (
                    INSERT INTO review_keys (device_id, client_review_id, review_id, created_at)
                    SELECT $1, client_review_id, nextval('reviews_id_seq'), created_at FROM input
                    ORDER BY client_review_id
                    ON CONFLICT DO NOTHING
                    RETURNING client_review_id, review_id, created_at
                 ),
                 new_reviews AS (
                    INSERT INTO reviews (id, created_at, device_id, client_review_id, site_id, product_id, form_id,
                        button_id, submitted_at, clock, language, has_verbatim, batch_id, received_at)
                    SELECT f.review_id, f.created_at, $1, i.client_review_id, $8, $9, $10, $11, i.submitted_at,
                        i.clock, i.language, i.has_verbatim, $12, $23
                    FROM fresh f JOIN input i USING (client_review_id)
                 ),
                 fresh_answers AS (
                    SELECT f.review_id, f.created_at, a.* FROM answer_input a JOIN fresh f USING (client_review_id)
                 ),
                 -- As the kiosk counts: every answer by item, and once per question answered (-1).
                 fresh_counts AS (
                    SELECT hour, day, month, field_code, answer_item_id FROM fresh_answers
                    UNION ALL
                    SELECT hour, day, month, field_code, -1 FROM fresh_answers
                    GROUP BY client_review_id, field_code, hour, day, month
                 ),
                 new_answers AS (
                    INSERT INTO answers (review_id, review_created_at, field_code, field_label, answer_item_id,
                        answer_text, intention, kind, parent_item)
                    SELECT review_id, created_at, field_code, field_label, answer_item_id, answer_text, intention, kind,
                        parent_item
                    FROM fresh_answers ORDER BY position
                 ),
                 -- The kiosk's last sign of life, and the reviews no longer waiting on it.
                 device_seen AS (
                    UPDATE devices SET last_batch_at = $23,
                        reviews_since_heartbeat = reviews_since_heartbeat + $26
                    WHERE id = $1
                 ),
                 -- The sites bound to JDMA: each new review waits in the outbox, committed with it.
                 outboxed AS (
                    INSERT INTO jdma_outbox (review_id, review_created_at, device_id, site_id, client_review_id,
                        next_attempt_at, created_at)
                    SELECT f.review_id, f.created_at, $1, s.id, f.client_review_id, $23, $23
                    FROM fresh f JOIN sites s ON s.id = $8 AND s.product_id IS NOT NULL AND s.form_id IS NOT NULL
                 ),
                 hourly AS (
                    INSERT INTO site_hourly (site_id, hour, field_code, answer_item_id, n)
                    SELECT $24, hour, field_code, answer_item_id, count(*) FROM fresh_counts
                    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
                    ON CONFLICT (site_id, hour, field_code, answer_item_id) DO UPDATE SET n = site_hourly.n + excluded.n
                 ),
                 daily AS (
                    INSERT INTO site_daily (site_id, day, field_code, answer_item_id, n)
                    SELECT $24, day, field_code, answer_item_id, count(*) FROM fresh_counts
                    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
                    ON CONFLICT (site_id, day, field_code, answer_item_id) DO UPDATE SET n = site_daily.n + excluded.n
                 ),
                 monthly AS (
                    INSERT INTO site_monthly (site_id, month, field_code, answer_item_id, n)
                    SELECT $24, month, field_code, answer_item_id, count(*) FROM fresh_counts
                    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
                    ON CONFLICT (site_id, month, field_code, answer_item_id) DO UPDATE SET n = site_monthly.n + excluded.n
                 )
                 SELECT i.client_review_id, coalesce(f.review_id, k.review_id), f.review_id IS NOT NULL
                 FROM input i
                 LEFT JOIN fresh f USING (client_review_id)
                 LEFT JOIN review_keys k ON k.device_id = $1 AND k.client_review_id = i.client_review_id",
            )
            .await
            .map_err(classify)?;
        let rows = tx
            .query(
                &stmt,
                &[
                    device,
                    &r_ids,
                    &r_created,
                    &r_submitted,
                    &r_clock,
                    &r_language,
                    &r_verbatim,
                    &site_column,
                    &product,
                    &form,
                    &button,
                    &batch.batch_id,
                    &a_review,
                    &a_code,
                    &a_label,
                    &a_item,
                    &a_text,
                    &a_intention,
                    &a_kind,
                    &a_hour,
                    &a_day,
                    &a_month,
                    &received_at,
                    &site,
                    &a_parent,
                    &(batch.reviews.len() as i64),
                ],
            )
            .await
            .map_err(classify)?;
        let mut fresh = HashSet::new();
        let mut ids = HashMap::new();
        let mut unknown = Vec::new();
        for row in rows {
            let id: Uuid = row.get(0);
            match row.get::<_, Option<i64>>(1) {
                Some(review_id) => {
                    ids.insert(id, review_id);
                }
                None => unknown.push(id),
            }
            if row.get::<_, bool>(2) {
                fresh.insert(id);
            }
        }
        if !unknown.is_empty() {
            // Taken by a transaction that committed after this statement's snapshot: a new
            // statement sees it.
            let rows = tx
                .query(
                    "SELECT client_review_id, review_id FROM review_keys WHERE device_id = $1 AND client_review_id = ANY($2)",
                    &[device, &unknown],
                )
                .await
                .map_err(classify)?;
            for row in rows {
                ids.insert(row.get(0), row.get(1));
            }
        }
        let answer = response(batch, &fresh, &ids);
        let text = serde_json::to_string(&answer).unwrap_or_default();
        tx.execute(
            "UPDATE idempotency SET response = $3 WHERE device_id = $1 AND key = $2",
            &[device, &batch.batch_id, &text],
        )
        .await
        .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(Stored::Fresh { response: answer, text })
    }

    async fn store_heartbeat(&self, hb: &Heartbeat, received_at: DateTime<Utc>) -> Result<()> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO heartbeats (device_id, received_at, app_version, pending, oldest_pending_at,
                    last_upload_at, disk_free_bytes, uptime_s, config_version, config_refused_version,
                    config_refused_message, system_version, system_pending, system_rejected)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT (device_id) DO UPDATE SET received_at = $2, app_version = $3, pending = $4,
                    oldest_pending_at = $5, last_upload_at = $6, disk_free_bytes = $7, uptime_s = $8,
                    config_version = $9, config_refused_version = $10, config_refused_message = $11,
                    system_version = $12, system_pending = $13, system_rejected = $14",
            )
            .await
            .map_err(classify)?;
        // The heartbeat says how many reviews wait on the kiosk now.
        client
            .execute("UPDATE devices SET reviews_since_heartbeat = 0 WHERE id = $1", &[&hb.device_id])
            .await
            .map_err(classify)?;
        client
            .execute(
                &stmt,
                &[
                    &hb.device_id,
                    &received_at,
                    &hb.app_version,
                    &(hb.pending.min(i64::MAX as u64) as i64),
                    &hb.oldest_pending_at,
                    &hb.last_upload_at,
                    &hb.disk_free_bytes.map(|n| n.min(i64::MAX as u64) as i64),
                    &hb.uptime_s.map(|n| n.min(i64::MAX as u64) as i64),
                    &hb.config_version.map(|n| n.min(i64::MAX as u64) as i64),
                    &hb.config_refused.as_ref().map(|r| r.version.min(i64::MAX as u64) as i64),
                    &hb.config_refused.as_ref().map(|r| r.message.clone()),
                    &hb.system.as_ref().map(|s| s.version.clone()),
                    &hb.system.as_ref().and_then(|s| s.pending.clone()),
                    &hb.system.as_ref().map(|s| s.rejected.join(" ")),
                ],
            )
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Creates every month from [`FIRST_MONTH`] to [`MONTHS_AHEAD`] ahead that does not exist yet
    /// (a review's partition key is never later than its reception, so inserts always find their
    /// month), and purges idempotency records older than [`IDEMPOTENCY_KEEP_HOURS`].
    async fn maintain(&self, now: DateTime<Utc>) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK]).await.map_err(classify)?;
        let existing: HashSet<String> = tx
            .query(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname IN ('reviews', 'answers')",
                &[],
            )
            .await
            .map_err(classify)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let first = NaiveDate::from_ymd_opt(FIRST_MONTH.0, FIRST_MONTH.1, 1).unwrap_or_default();
        let this_month = now.date_naive().with_day(1).unwrap_or(first);
        let last = this_month.checked_add_months(Months::new(MONTHS_AHEAD)).unwrap_or(this_month);
        for month in months_between(first, last) {
            let next = month.checked_add_months(Months::new(1)).unwrap_or(month);
            for table in ["reviews", "answers"] {
                let name = format!("{table}_{}", month.format("%Y_%m"));
                if existing.contains(&name) {
                    continue;
                }
                tx.batch_execute(&format!(
                    "CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ('{month} 00:00:00+00') TO ('{next} 00:00:00+00')"
                ))
                .await
                .map_err(classify)?;
            }
        }
        let cutoff = now - chrono::Duration::hours(IDEMPOTENCY_KEEP_HOURS);
        tx.execute("DELETE FROM idempotency WHERE created_at < $1", &[&cutoff]).await.map_err(classify)?;
        tx.commit().await.map_err(classify)
    }

    async fn add_site(&self, site: &Site) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(classify)?;
        if let Some(org) = &site.organisation {
            tx.execute("INSERT INTO organisations (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", &[org])
                .await
                .map_err(classify)?;
        }
        tx.execute(
            "INSERT INTO sites (id, name, organisation_id, product_id, form_id, button_id, time_zone)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &site.id,
                &site.name,
                &site.organisation,
                &site.product_id,
                &site.form_id,
                &site.button_id,
                &site.time_zone,
            ],
        )
        .await
        .map_err(|e| match classify(e) {
            StorageError::Refused(_) => StorageError::Refused("ce site existe déjà".into()),
            other => other,
        })?;
        tx.commit().await.map_err(classify)
    }

    async fn sites(&self) -> Result<Vec<Site>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, name, organisation_id, product_id, form_id, button_id, time_zone FROM sites ORDER BY id",
                &[],
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|r| Site {
                id: r.get(0),
                name: r.get(1),
                organisation: r.get(2),
                product_id: r.get(3),
                form_id: r.get(4),
                button_id: r.get(5),
                time_zone: r.get(6),
            })
            .collect())
    }

    async fn add_device(&self, device_id: &str, site_id: &str, hash: &str) -> Result<()> {
        let client = self.client().await?;
        let site_known = client.query_opt("SELECT 1 FROM sites WHERE id = $1", &[&site_id]).await.map_err(classify)?;
        if site_known.is_none() {
            return Err(StorageError::Refused(format!(
                "site inconnu : {site_id} (borne-platform sites add {site_id} --name …)"
            )));
        }
        client
            .execute(
                "INSERT INTO devices (id, site_id, token_sha256) VALUES ($1, $2, $3)",
                &[&device_id, &site_id, &hash],
            )
            .await
            .map_err(|e| match classify(e) {
                StorageError::Refused(_) => StorageError::Refused("cette borne est déjà enregistrée".into()),
                other => other,
            })?;
        Ok(())
    }

    async fn devices(&self) -> Result<Vec<Device>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT d.id, d.site_id, d.created_at, d.revoked_at, h.received_at, h.app_version, h.pending,
                        h.oldest_pending_at, h.last_upload_at, h.disk_free_bytes, d.last_batch_at,
                        d.reviews_since_heartbeat, h.config_version, h.config_refused_version,
                        h.config_refused_message, h.system_version, h.system_pending, h.system_rejected
                 FROM devices d LEFT JOIN heartbeats h ON h.device_id = d.id ORDER BY d.id",
                &[],
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|r| Device {
                id: r.get(0),
                site_id: r.get(1),
                created_at: r.get(2),
                revoked_at: r.get(3),
                last_seen_at: r.get(4),
                app_version: r.get(5),
                pending: r.get(6),
                oldest_pending_at: r.get(7),
                last_upload_at: r.get(8),
                disk_free_bytes: r.get(9),
                last_batch_at: r.get(10),
                reviews_since_heartbeat: r.get(11),
                config_version: r.get(12),
                config_refused: r.get::<_, Option<i64>>(13).zip(r.get::<_, Option<String>>(14)),
                system: system_of(r.get(15), r.get(16), r.get(17)),
            })
            .collect())
    }

    async fn revoke_device(&self, device_id: &str) -> Result<()> {
        let client = self.client().await?;
        let n = client
            .execute("UPDATE devices SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", &[&device_id])
            .await
            .map_err(classify)?;
        if n == 0 { Err(StorageError::Refused(format!("borne inconnue : {device_id}"))) } else { Ok(()) }
    }

    async fn rotate_device(&self, device_id: &str, hash: &str) -> Result<()> {
        let client = self.client().await?;
        let n = client
            .execute("UPDATE devices SET token_sha256 = $2, revoked_at = NULL WHERE id = $1", &[&device_id, &hash])
            .await
            .map_err(classify)?;
        if n == 0 { Err(StorageError::Refused(format!("borne inconnue : {device_id}"))) } else { Ok(()) }
    }

    async fn totals(&self) -> Result<Totals> {
        let client = self.client().await?;
        let count = async |sql: &str| -> Result<i64> {
            Ok(client.query_one(sql, &[]).await.map_err(classify)?.get::<_, i64>(0))
        };
        let reviews = count("SELECT count(*) FROM review_keys").await?;
        let answers = count("SELECT count(*) FROM answers").await?;
        let devices = count("SELECT count(*) FROM devices").await?;
        let sites = count("SELECT count(*) FROM sites").await?;
        let organisations = count("SELECT count(*) FROM organisations").await?;
        let batches = count("SELECT count(*) FROM idempotency").await?;
        let heartbeats = count("SELECT count(*) FROM heartbeats").await?;
        let satisfaction_by_item = client
            .query(
                "SELECT answer_item_id::bigint, sum(n)::bigint FROM site_monthly WHERE field_code = 'satisfaction' AND answer_item_id > 0
                 GROUP BY 1 ORDER BY 1",
                &[],
            )
            .await
            .map_err(classify)?
            .iter()
            .map(|r| (r.get::<_, i64>(0).to_string(), r.get::<_, i64>(1)))
            .collect();
        let by_device = client
            .query("SELECT device_id, count(*) FROM review_keys GROUP BY 1 ORDER BY 1", &[])
            .await
            .map_err(classify)?
            .iter()
            .map(|r| DeviceTotal { device_id: r.get(0), reviews: r.get(1) })
            .collect();
        Ok(Totals {
            reviews,
            answers,
            devices,
            sites,
            organisations,
            batches,
            heartbeats,
            satisfaction_by_item,
            by_device,
        })
    }

    async fn site_counts(
        &self,
        sites: Option<Vec<String>>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, String, i64, i64)>> {
        let (months, ranges) = split_period(from, to);
        // The days outside whole months, listed (at most two months' worth): `day = ANY` uses the
        // day index for every site, the primary key for one.
        let days: Vec<NaiveDate> =
            ranges.iter().flat_map(|(first, last)| first.iter_days().take_while(move |d| d <= last)).collect();
        let client = self.client().await?;
        let site_clause = if sites.is_some() { "site_id = ANY($3)" } else { "$3::text[] IS NULL" };
        let stmt = client
            .prepare_cached(&format!(
                "SELECT site_id, field_code, answer_item_id::bigint, sum(n)::bigint FROM (
                    SELECT site_id, field_code, answer_item_id, n FROM site_monthly WHERE month = ANY($1) AND {site_clause}
                    UNION ALL
                    SELECT site_id, field_code, answer_item_id, n FROM site_daily WHERE day = ANY($2) AND {site_clause}
                 ) counts GROUP BY 1, 2, 3"
            ))
            .await
            .map_err(classify)?;
        let rows = client.query(&stmt, &[&months, &days, &sites]).await.map_err(classify)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
    }

    async fn site_days(
        &self,
        site: String,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, String, i64, i64)>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT day, field_code, answer_item_id::bigint, n FROM site_daily
                 WHERE site_id = $1 AND day BETWEEN $2 AND $3",
            )
            .await
            .map_err(classify)?;
        let rows = client.query(&stmt, &[&site, &from, &to]).await.map_err(classify)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
    }

    async fn export(
        &self,
        since: Option<DateTime<Utc>>,
        sink: &mut (dyn FnMut(Vec<ExportReview>) -> std::io::Result<()> + Send),
    ) -> Result<u64> {
        let client = self.client().await?;
        let page_stmt = client
            .prepare_cached(
                "SELECT r.id, r.created_at, r.received_at, r.device_id, r.site_id, r.product_id, r.form_id,
                        r.button_id, r.client_review_id, r.submitted_at, r.clock, r.language
                 FROM reviews r
                 WHERE (r.received_at, r.id) > ($1, $2)
                 ORDER BY r.received_at, r.id LIMIT 2000",
            )
            .await
            .map_err(classify)?;
        // Nothing is received before the platform existed; PostgreSQL's range is narrower than chrono's.
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        let mut after: (DateTime<Utc>, i64) = (since.unwrap_or(epoch).max(epoch), -1);
        let mut total = 0;
        loop {
            let rows = client.query(&page_stmt, &[&after.0, &after.1]).await.map_err(classify)?;
            if rows.is_empty() {
                break;
            }
            let mut page: Vec<ExportReview> = rows
                .iter()
                .map(|r| ExportReview {
                    id: r.get(0),
                    created_at: r.get(1),
                    received_at: r.get(2),
                    device_id: r.get(3),
                    site_id: r.get(4),
                    product_id: r.get(5),
                    form_id: r.get(6),
                    button_id: r.get(7),
                    client_review_id: r.get::<_, Uuid>(8).to_string(),
                    submitted_at: r.get(9),
                    clock: r.get(10),
                    language: r.get(11),
                    answers: Vec::new(),
                })
                .collect();
            let ids: Vec<i64> = page.iter().map(|r| r.id).collect();
            let created: Vec<DateTime<Utc>> = page.iter().map(|r| r.created_at).collect();
            let mut by_review = answers_of(&client, &ids, &created).await?;
            for review in &mut page {
                review.answers = by_review.remove(&review.id).unwrap_or_default();
            }
            if let Some(last) = page.last() {
                after = (last.received_at, last.id);
            }
            total += page.len() as u64;
            sink(page).map_err(|e| StorageError::Refused(format!("écriture impossible : {e}")))?;
        }
        Ok(total)
    }
}

/// Months `[from, to]`, first days.
fn months_between(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut m = from;
    while m <= to {
        out.push(m);
        match m.checked_add_months(Months::new(1)) {
            Some(next) => m = next,
            None => break,
        }
    }
    out
}

/// The answers of stored reviews (ids with their partition's `created_at`), by review, in the
/// order they were given (the exports').
pub(super) async fn answers_of(
    client: &deadpool_postgres::Client,
    ids: &[i64],
    created: &[DateTime<Utc>],
) -> Result<HashMap<i64, Vec<ExportAnswer>>> {
    let stmt = client
        .prepare_cached(
            "SELECT review_id, field_code, field_label, answer_item_id::bigint, answer_text, intention, kind,
                    parent_item::bigint
             FROM answers a JOIN unnest($1::bigint[], $2::timestamptz[]) AS r(id, created_at)
                ON a.review_id = r.id AND a.review_created_at = r.created_at
             ORDER BY a.id",
        )
        .await
        .map_err(classify)?;
    let mut by_review: HashMap<i64, Vec<ExportAnswer>> = HashMap::new();
    for a in client.query(&stmt, &[&ids, &created]).await.map_err(classify)? {
        by_review.entry(a.get(0)).or_default().push(ExportAnswer {
            field_code: a.get(1),
            field_label: a.get(2),
            answer_item_id: a.get(3),
            answer_text: a.get(4),
            intention: a.get(5),
            kind: a.get(6),
            parent: a.get(7),
        });
    }
    Ok(by_review)
}
