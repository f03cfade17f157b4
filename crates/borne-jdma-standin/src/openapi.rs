//! The back office's open API (`server/routers/open-api/*`, under `/api/open-api`), for a key
//! scoped to a product: `GET /services` (the key's products and their forms) and
//! `POST /statistiques` (answer counts by field, per day, week, month, year or over the period).

use crate::state::Shared;
use axum::http::{HeaderMap, StatusCode};
use chrono::{Datelike, NaiveDate};
use rusqlite::params;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn failure(status: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    (status, json!({"message": message, "code": code}))
}

fn key_product(shared: &Shared, headers: &HeaderMap) -> Result<i64, (StatusCode, Value)> {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| failure(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Missing API key"))?;
    let db = shared.db.lock().unwrap_or_else(|p| p.into_inner());
    db.query_row("SELECT product_id FROM api_key WHERE key = ?1", [key], |r| r.get(0))
        .map_err(|_| failure(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Invalid API key"))
}

pub(crate) fn services(shared: &Shared, headers: &HeaderMap) -> (StatusCode, Value) {
    let product = match key_product(shared, headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let db = shared.db.lock().unwrap_or_else(|p| p.into_inner());
    let Ok((title, entity)) = db.query_row("SELECT title, entity FROM product WHERE id = ?1", [product], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    }) else {
        return (StatusCode::OK, json!({"data": []}));
    };
    let forms: Vec<Value> = db
        .prepare("SELECT id, title FROM form WHERE product_id = ?1 ORDER BY id")
        .and_then(|mut s| {
            s.query_map([product], |r| Ok(json!({"id": r.get::<_, i64>(0)?, "title": r.get::<_, String>(1)?})))?
                .collect()
        })
        .unwrap_or_default();
    (StatusCode::OK, json!({"data": [{"id": product, "title": title, "entity": entity, "forms": forms}]}))
}

/// (form, form title, created_at, field code, field label, intention, answer text)
type AnswerRow = (i64, String, String, String, String, Option<String>, String);
/// Answer counts by (intention, text).
type Hits = BTreeMap<(String, String), u64>;
/// interval → (field code, label) → hits
type Buckets = BTreeMap<String, BTreeMap<(String, String), Hits>>;

fn bucket(day: NaiveDate, interval: &str) -> String {
    let start = match interval {
        "day" => day,
        "week" => day - chrono::Duration::days(day.weekday().num_days_from_monday() as i64),
        "month" => day.with_day(1).unwrap_or(day),
        "year" => NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day),
        _ => return "all_time".into(),
    };
    format!("{start}T00:00:00.000Z")
}

pub(crate) fn statistics(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> (StatusCode, Value) {
    let product = match key_product(shared, headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let bad = |m: &str| failure(StatusCode::BAD_REQUEST, "BAD_REQUEST", m);
    let Ok(input) = serde_json::from_slice::<Value>(body) else { return bad("Invalid JSON body") };
    let day = |key: &str| input.get(key).and_then(Value::as_str).and_then(|s| s.parse::<NaiveDate>().ok());
    let (Some(start), Some(end)) = (day("start_date"), day("end_date")) else {
        return bad("start_date and end_date: Expected string (AAAA-MM-JJ)");
    };
    let list = |key: &str| -> Vec<Value> { input.get(key).and_then(Value::as_array).cloned().unwrap_or_default() };
    let codes: Vec<String> = list("field_codes").iter().filter_map(|v| v.as_str().map(String::from)).collect();
    let forms: Vec<i64> = list("form_ids").iter().filter_map(Value::as_i64).collect();
    let products: Vec<i64> = list("product_ids").iter().filter_map(Value::as_i64).collect();
    if !products.is_empty() && !products.contains(&product) {
        return bad("Les services demandés (product_ids / form_ids) ne sont pas accessibles avec votre clé d'accès.");
    }
    let interval = input.get("interval").and_then(Value::as_str).unwrap_or("none").to_string();
    if !["day", "week", "month", "year", "none"].contains(&interval.as_str()) {
        return bad("interval: Invalid enum value");
    }
    let db = shared.db.lock().unwrap_or_else(|p| p.into_inner());
    let (from, to) = (format!("{start}T00:00:00.000Z"), format!("{end}T23:59:59.999Z"));
    let rows: Vec<AnswerRow> = db
        .prepare(
            "SELECT r.form_id, f.title, r.created_at, a.field_code, a.field_label, a.intention, a.answer_text
             FROM answer a JOIN review r ON r.id = a.review_id LEFT JOIN form f ON f.id = r.form_id
             WHERE r.product_id = ?1 AND r.created_at >= ?2 AND r.created_at <= ?3 AND a.parent_answer_id IS NULL
             ORDER BY a.id",
        )
        .and_then(|mut s| {
            s.query_map(params![product, from, to], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect()
        })
        .unwrap_or_default();
    // form → bucket → field → (intention, label) → count
    let mut tree: BTreeMap<(i64, String), Buckets> = BTreeMap::new();
    for (form, title, created, code, label, intention, text) in rows {
        if (!forms.is_empty() && !forms.contains(&form)) || (!codes.is_empty() && !codes.contains(&code)) {
            continue;
        }
        let day = crate::db::parse_stamp(&created).date_naive();
        *tree
            .entry((form, title))
            .or_default()
            .entry(bucket(day, &interval))
            .or_default()
            .entry((code, label))
            .or_default()
            .entry((intention.unwrap_or_default(), text))
            .or_default() += 1;
    }
    let product_name: String =
        db.query_row("SELECT title FROM product WHERE id = ?1", [product], |r| r.get(0)).unwrap_or_default();
    let forms: Vec<Value> = tree
        .into_iter()
        .map(|((form, title), buckets)| {
            let intervals: Vec<Value> = buckets
                .into_iter()
                .map(|(date, fields)| {
                    let data: Vec<Value> = fields
                        .into_iter()
                        .map(|((code, label), hits)| {
                            let hits: Vec<Value> = hits
                                .into_iter()
                                .map(|((intention, text), count)| json!({"intention": intention, "label": text, "count": count}))
                                .collect();
                            json!({"category": code, "label": label, "number_hits": hits})
                        })
                        .collect();
                    json!({"date": date, "length_interval": interval, "data": data})
                })
                .collect();
            json!({"form_id": form.to_string(), "form_name": title, "intervals": intervals})
        })
        .collect();
    (
        StatusCode::OK,
        json!({"data": [{"product_id": product.to_string(), "product_name": product_name, "forms": forms}]}),
    )
}
