//! Reviews and their counts: the visitor's commit (answers and hourly counts in one
//! transaction), bulk import, the counts the indicators read, reading reviews back, comments.

use super::*;

impl Store {
    /// Commits one review durably. When this returns `Ok`, the review survives a power cut.
    pub fn insert_review(&mut self, review: &Review) -> Result<i64> {
        let path = self.path.clone();
        let err = |e| StoreError::classify(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let seq = insert_in(&tx, review).map_err(|e| match e {
            InsertError::Duplicate => StoreError::DuplicateId(review.client_review_id),
            InsertError::NoSatisfaction => StoreError::Decode("a review needs a satisfaction answer".into()),
            InsertError::Sqlite(e) => err(e),
        })?;
        tx.commit().map_err(err)?;
        Ok(seq)
    }

    /// Imports many reviews in one transaction (benchmarks, demo data, migrations from another
    /// kiosk). Not for a running kiosk: the transaction is as large as the slice. Reviews whose
    /// id is already stored are skipped; returns how many were added.
    pub fn import_reviews(&mut self, reviews: &[Review]) -> Result<usize> {
        let path = self.path.clone();
        let err = |e| StoreError::classify(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let mut added = 0;
        for review in reviews {
            match insert_in(&tx, review) {
                Ok(_) => added += 1,
                Err(InsertError::Duplicate) => {}
                Err(InsertError::NoSatisfaction) => {
                    return Err(StoreError::Decode(format!("review {} has no satisfaction", review.client_review_id)));
                }
                Err(InsertError::Sqlite(e)) => return Err(err(e)),
            }
        }
        tx.commit().map_err(err)?;
        Ok(added)
    }

    /// Counts per question and answer item over a range of local days.
    pub fn question_counts(&self, range: DayRange) -> Result<BTreeMap<String, QuestionCounts>> {
        let (since, until) = range.bounds();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT field_code, answer_item_id, SUM(count) FROM hourly_counts
                 WHERE local_day BETWEEN ?1 AND ?2 GROUP BY field_code, answer_item_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![since, until], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            })
            .map_err(|e| self.err(e))?;
        let mut counts: BTreeMap<String, QuestionCounts> = BTreeMap::new();
        for row in rows {
            let (code, item, n) = row.map_err(|e| self.err(e))?;
            let entry = counts.entry(code).or_default();
            let n = n.max(0) as u64;
            if item == RESPONDENTS {
                entry.respondents = n;
            } else {
                entry.by_item.push((item, n));
            }
        }
        Ok(counts)
    }

    /// Satisfaction answers per local day.
    pub fn daily_satisfaction(&self, range: DayRange) -> Result<Vec<DayCounts>> {
        let (since, until) = range.bounds();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT local_day, answer_item_id, SUM(count) FROM hourly_counts
                 WHERE local_day BETWEEN ?1 AND ?2 AND field_code = 'satisfaction' AND answer_item_id BETWEEN 1 AND 3
                 GROUP BY local_day, answer_item_id ORDER BY local_day",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![since, until], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            })
            .map_err(|e| self.err(e))?;
        let mut days: Vec<DayCounts> = Vec::new();
        for row in rows {
            let (day, item, n) = row.map_err(|e| self.err(e))?;
            let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|e| StoreError::Decode(e.to_string()))?;
            if days.last().is_none_or(|d| d.day != day) {
                days.push(DayCounts { day, satisfaction: [0; 3] });
            }
            if let Some(last) = days.last_mut() {
                last.satisfaction[(item - 1) as usize] += n.max(0) as u64;
            }
        }
        Ok(days)
    }

    /// Satisfaction answers per weekday and hour of day (the dashboard's heat map).
    pub fn weekday_hour_satisfaction(&self, range: DayRange) -> Result<Vec<HourCell>> {
        let mut cells: BTreeMap<(u8, u8), [u64; 3]> = BTreeMap::new();
        let (since, until) = range.bounds();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT local_day, local_hour, answer_item_id, SUM(count) FROM hourly_counts
                 WHERE local_day BETWEEN ?1 AND ?2 AND field_code = 'satisfaction' AND answer_item_id BETWEEN 1 AND 3
                 GROUP BY local_day, local_hour, answer_item_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![since, until], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?, row.get::<_, i64>(3)?))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (day, hour, item, n) = row.map_err(|e| self.err(e))?;
            let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|e| StoreError::Decode(e.to_string()))?;
            let weekday = day.weekday().num_days_from_monday() as u8;
            cells.entry((weekday, hour as u8)).or_insert([0; 3])[(item - 1) as usize] += n.max(0) as u64;
        }
        Ok(cells.into_iter().map(|((weekday, hour), satisfaction)| HourCell { weekday, hour, satisfaction }).collect())
    }

    /// Streams reviews in commit order, with their answers and outbox state. Memory stays flat
    /// whatever the number of reviews.
    pub fn for_each_review(
        &self,
        status: StatusFilter,
        range: DayRange,
        visit: impl FnMut(StoredReview) -> std::result::Result<(), anyhow::Error>,
    ) -> std::result::Result<(), anyhow::Error> {
        let (since, until) = range.bounds();
        let status_clause = match status {
            StatusFilter::All => "",
            StatusFilter::Pending => "AND r.status = 'pending'",
            StatusFilter::Rejected => "AND r.status = 'rejected'",
            StatusFilter::Uploaded => "AND r.status = 'uploaded'",
        };
        self.stream_reviews(&format!("r.local_day BETWEEN ?1 AND ?2 {status_clause}"), params![since, until], visit)
    }

    /// Streams the reviews matching `filter` (an SQL condition on `reviews r`) in commit order,
    /// each with its answers, in one query.
    pub(crate) fn stream_reviews<E: From<StoreError>>(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
        mut visit: impl FnMut(StoredReview) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let sql = format!(
            "SELECT {REVIEW_COLUMNS}, a.field_code, a.kind, a.answer_item_id, a.answer_text, a.intention, a.parent_item
             FROM reviews r LEFT JOIN answers a ON a.review_seq = r.seq
             WHERE {filter}
             ORDER BY r.seq, a.position"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt.query(params).map_err(|e| self.err(e))?;
        let mut current: Option<StoredReview> = None;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let seq: i64 = row.get(0).map_err(|e| self.err(e))?;
            if current.as_ref().is_none_or(|c| c.seq != seq) {
                if let Some(done) = current.take() {
                    visit(done)?;
                }
                current = Some(decode_review(row)?);
            }
            if let Some(review) = current.as_mut()
                && let Some(answer) = decode_answer(row, 15)?
            {
                review.review.answers.push(answer);
            }
        }
        if let Some(done) = current.take() {
            visit(done)?;
        }
        Ok(())
    }

    /// Reads one review by its id.
    pub fn review(&self, id: Uuid) -> Result<Option<StoredReview>> {
        let seq: Option<i64> = self
            .conn
            .query_row("SELECT seq FROM reviews WHERE client_review_id = ?1", [id.to_string()], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        match seq {
            Some(seq) => self.review_by_seq(seq),
            None => Ok(None),
        }
    }

    pub(crate) fn review_by_seq(&self, seq: i64) -> Result<Option<StoredReview>> {
        let mut found = None;
        self.stream_reviews("r.seq = ?1", [seq], |r| {
            found = Some(r);
            Ok::<(), StoreError>(())
        })?;
        Ok(found)
    }

    /// Comments, newest first: `limit` from `offset`, optionally only those given with one
    /// satisfaction answer (1, 2 or 3), over local days. Walks reviews newest first and stops
    /// after `limit` comments, so the first pages cost little at any size.
    pub fn comments(
        &self,
        satisfaction: Option<i64>,
        range: DayRange,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<Comment>> {
        let (since, until) = range.bounds();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT r.submitted_at_ms, r.utc_offset_s, r.satisfaction, a.answer_text
                 FROM reviews r JOIN answers a ON a.review_seq = r.seq AND a.field_code = ?3
                 WHERE r.local_day BETWEEN ?1 AND ?2 AND (?4 IS NULL OR r.satisfaction = ?4)
                 ORDER BY r.seq DESC LIMIT ?5 OFFSET ?6",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(
                params![
                    since,
                    until,
                    VERBATIM,
                    satisfaction,
                    limit.min(i64::MAX as u64) as i64,
                    offset.min(i64::MAX as u64) as i64
                ],
                |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?, row.get::<_, String>(3)?))
                },
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (ms, offset_s, satisfaction, text) = row.map_err(|e| self.err(e))?;
            let offset =
                FixedOffset::east_opt(offset_s as i32).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
            let at = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&offset);
            out.push(Comment { submitted_at: at, satisfaction, text });
        }
        Ok(out)
    }
}

enum InsertError {
    Duplicate,
    NoSatisfaction,
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for InsertError {
    fn from(e: rusqlite::Error) -> Self {
        InsertError::Sqlite(e)
    }
}

/// Inserts a review, its answers and its counts inside the caller's transaction.
fn insert_in(tx: &Connection, review: &Review) -> std::result::Result<i64, InsertError> {
    let satisfaction = review.satisfaction().map(|a| a.answer_item_id).ok_or(InsertError::NoSatisfaction)?;
    let (day, hour) = local_day_hour(&review.submitted_at);
    let inserted = tx
        .prepare_cached(
            "INSERT INTO reviews (client_review_id, submitted_at_ms, utc_offset_s, local_day, local_hour,
                clock, boot_id, boottime_ms, language, satisfaction)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (client_review_id) DO NOTHING",
        )?
        .execute(params![
            review.client_review_id.to_string(),
            review.submitted_at.timestamp_millis(),
            review.submitted_at.offset().local_minus_utc(),
            day,
            hour,
            review.clock.as_str(),
            review.boot.as_ref().map(|b| b.boot_id.as_str()),
            review.boot.as_ref().map(|b| b.boottime_ms),
            review.language,
            satisfaction,
        ])?;
    if inserted == 0 {
        return Err(InsertError::Duplicate);
    }
    let seq = tx.last_insert_rowid();
    let mut insert_answer = tx.prepare_cached(
        "INSERT INTO answers (review_seq, position, field_code, kind, answer_item_id, answer_text, intention, parent_item)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for (position, answer) in review.answers.iter().enumerate() {
        insert_answer.execute(params![
            seq,
            position as i64,
            answer.field_code,
            answer.kind.as_str(),
            answer.answer_item_id,
            answer.answer_text,
            answer.intention.as_str(),
            answer.parent,
        ])?;
    }
    add_counts(tx, &day, hour, &review.answers, 1)?;
    Ok(seq)
}

/// The columns `decode_review` reads, in its order.
const REVIEW_COLUMNS: &str = "r.seq, r.client_review_id, r.submitted_at_ms, r.utc_offset_s, r.clock, r.clock_corrected,
    r.boot_id, r.boottime_ms, r.language, r.status, r.platform_review_id, r.uploaded_at_ms,
    r.rejected_reason, r.rejected_at_ms, r.comment_erased_at_ms";

/// Answer item id of the per-question respondent count in `hourly_counts`.
const RESPONDENTS: i64 = -1;

pub(super) fn local_day_hour(at: &DateTime<FixedOffset>) -> (String, u32) {
    (at.date_naive().to_string(), at.hour())
}

pub(super) fn add_counts(
    tx: &Connection,
    day: &str,
    hour: u32,
    answers: &[Answer],
    delta: i64,
) -> rusqlite::Result<()> {
    // An upsert checks its proposed row first, so a decrement is a plain update (the row exists:
    // the increment that it undoes made it).
    let mut upsert = if delta >= 0 {
        tx.prepare_cached(
            "INSERT INTO hourly_counts (local_day, local_hour, field_code, answer_item_id, count)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO UPDATE SET count = count + excluded.count",
        )?
    } else {
        tx.prepare_cached(
            "UPDATE hourly_counts SET count = count + ?5
             WHERE local_day = ?1 AND local_hour = ?2 AND field_code = ?3 AND answer_item_id = ?4",
        )?
    };
    let mut seen_codes: Vec<&str> = Vec::with_capacity(answers.len());
    for answer in answers {
        upsert.execute(params![day, hour, answer.field_code, answer.answer_item_id, delta])?;
        if !seen_codes.contains(&answer.field_code.as_str()) {
            seen_codes.push(&answer.field_code);
            upsert.execute(params![day, hour, answer.field_code, RESPONDENTS, delta])?;
        }
    }
    Ok(())
}

pub(super) fn answers_of(tx: &Connection, seq: i64) -> Result<Vec<Answer>> {
    let decode = |e: rusqlite::Error| StoreError::Decode(e.to_string());
    let mut stmt = tx
        .prepare_cached(
            "SELECT field_code, kind, answer_item_id, answer_text, intention, parent_item FROM answers
             WHERE review_seq = ?1 ORDER BY position",
        )
        .map_err(decode)?;
    let mut rows = stmt.query([seq]).map_err(decode)?;
    let mut answers = Vec::new();
    while let Some(row) = rows.next().map_err(decode)? {
        answers.extend(decode_answer(row, 0)?);
    }
    Ok(answers)
}

/// The answer in columns `first..first + 6` (field_code, kind, answer_item_id, answer_text,
/// intention, parent_item), or `None` when the columns are null (a review without answers in a
/// left join).
fn decode_answer(row: &rusqlite::Row<'_>, first: usize) -> Result<Option<Answer>> {
    let decode = |e: rusqlite::Error| StoreError::Decode(e.to_string());
    let Some(field_code) = row.get::<_, Option<String>>(first).map_err(decode)? else {
        return Ok(None);
    };
    let kind: String = row.get(first + 1).map_err(decode)?;
    let intention: String = row.get(first + 4).map_err(decode)?;
    Ok(Some(Answer {
        parent: row.get(first + 5).map_err(decode)?,
        field_code,
        kind: AnswerKind::parse(&kind).ok_or_else(|| StoreError::Decode(format!("kind {kind}")))?,
        answer_item_id: row.get(first + 2).map_err(decode)?,
        answer_text: row.get(first + 3).map_err(decode)?,
        intention: Intention::parse(&intention).ok_or_else(|| StoreError::Decode(format!("intention {intention}")))?,
    }))
}

fn decode_review(row: &rusqlite::Row<'_>) -> Result<StoredReview> {
    let decode = |e: rusqlite::Error| StoreError::Decode(e.to_string());
    let id: String = row.get(1).map_err(decode)?;
    let client_review_id = Uuid::parse_str(&id).map_err(|e| StoreError::Decode(format!("{id}: {e}")))?;
    let ms: i64 = row.get(2).map_err(decode)?;
    let offset_s: i32 = row.get(3).map_err(decode)?;
    let offset = FixedOffset::east_opt(offset_s).ok_or_else(|| StoreError::Decode(format!("offset {offset_s}")))?;
    let submitted_at = DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Decode(format!("timestamp {ms}")))?
        .with_timezone(&offset);
    let clock: String = row.get(4).map_err(decode)?;
    let boot_id: Option<String> = row.get(6).map_err(decode)?;
    let boottime_ms: Option<i64> = row.get(7).map_err(decode)?;
    let status: String = row.get(9).map_err(decode)?;
    let at = |col: usize| -> Result<DateTime<Utc>> {
        let ms: Option<i64> = row.get(col).map_err(decode)?;
        Ok(ms.and_then(DateTime::from_timestamp_millis).unwrap_or_default())
    };
    let outbox = match status.as_str() {
        "pending" => Outbox::Pending,
        "uploaded" => Outbox::Uploaded {
            platform_review_id: row.get::<_, Option<String>>(10).map_err(decode)?.unwrap_or_default(),
            at: at(11)?,
        },
        "rejected" => Outbox::Rejected {
            reason: row.get::<_, Option<String>>(12).map_err(decode)?.unwrap_or_default(),
            at: at(13)?,
        },
        other => return Err(StoreError::Decode(format!("status {other}"))),
    };
    Ok(StoredReview {
        seq: row.get(0).map_err(decode)?,
        review: Review {
            client_review_id,
            submitted_at,
            clock: ClockState::parse(&clock).ok_or_else(|| StoreError::Decode(format!("clock {clock}")))?,
            boot: boot_id.zip(boottime_ms).map(|(boot_id, boottime_ms)| BootStamp { boot_id, boottime_ms }),
            language: row.get(8).map_err(decode)?,
            answers: Vec::new(),
        },
        clock_corrected: row.get::<_, i64>(5).map_err(decode)? != 0,
        outbox,
        comment_erased: row.get::<_, Option<i64>>(14).map_err(decode)?.is_some(),
    })
}
