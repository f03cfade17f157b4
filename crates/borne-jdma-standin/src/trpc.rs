//! The form app's write path (`webapp-form/src/server/routers/review/*`, `server/trpc.ts`):
//! tRPC 10 over HTTP with SuperJSON bodies, `review.create` behind the limiter (5 per client per
//! hour unless allow-listed; without a `Referer` a limited call fails with a 500), and
//! `review.insertOrUpdate`, public, which finds a review created in the last hour by
//! `(product_id, button_id, user_id)`.

use crate::db::{AnswerIn, insert_answer, stamp};
use crate::state::{Shared, Verdict};
use axum::http::{HeaderMap, StatusCode};
use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value, json};
use std::net::IpAddr;

const INTENTIONS: [&str; 6] = ["very_good", "good", "medium", "bad", "very_bad", "neutral"];
const KINDS: [&str; 3] = ["text", "checkbox", "radio"];

/// A tRPC error as the Next adapter sends it with SuperJSON.
pub(crate) fn error(path: &str, code: &str, message: &str) -> (StatusCode, Value) {
    let (status, rpc) = match code {
        "BAD_REQUEST" => (400, -32600),
        "NOT_FOUND" => (404, -32004),
        "TOO_MANY_REQUESTS" => (429, -32029),
        "METHOD_NOT_SUPPORTED" => (405, -32005),
        _ => (500, -32603),
    };
    let body = json!({"error": {"json": {"message": message, "code": rpc,
        "data": {"code": code, "httpStatus": status, "path": path, "zodError": null}}}});
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body)
}

fn success(data: Value, dates: &[&str]) -> Value {
    let values: Map<String, Value> = dates.iter().map(|d| (d.to_string(), json!(["Date"]))).collect();
    json!({"result": {"data": {"json": {"data": data}, "meta": {"values": values}}}})
}

/// The SuperJSON envelope's `json`.
fn unwrap(body: &[u8]) -> Result<Value, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("Unexpected token in JSON: {e}"))?;
    value.get("json").cloned().ok_or_else(|| "Expected object, received undefined".to_string())
}

fn strict(object: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), String> {
    let unknown: Vec<String> =
        object.keys().filter(|k| !allowed.contains(&k.as_str())).map(|k| format!("'{k}'")).collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!("{at}: Unrecognized key(s) in object: {}", unknown.join(", ")))
    }
}

fn int(object: &Map<String, Value>, key: &str, at: &str) -> Result<i64, String> {
    object
        .get(key)
        .and_then(Value::as_i64)
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or_else(|| format!("{at}.{key}: Expected number (32-bit integer)"))
}

fn string(object: &Map<String, Value>, key: &str, at: &str) -> Result<String, String> {
    object.get(key).and_then(Value::as_str).map(String::from).ok_or_else(|| format!("{at}.{key}: Expected string"))
}

fn answer(value: &Value, at: &str, child: bool) -> Result<AnswerIn, String> {
    let object = value.as_object().ok_or_else(|| format!("{at}: Expected object"))?;
    let common = ["field_label", "field_code", "answer_item_id", "answer_text", "intention", "kind", "created_at"];
    let extra: &[&str] =
        if child { &["id", "review_id", "review_created_at"] } else { &["review", "child_answers", "parent_answer"] };
    let allowed: Vec<&str> = common.iter().chain(extra).copied().collect();
    strict(object, &allowed, at)?;
    if !child && !object.get("review").is_some_and(Value::is_object) {
        return Err(format!("{at}.review: Required"));
    }
    if child {
        int(object, "review_id", at)?;
    }
    let intention = match object.get("intention") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if INTENTIONS.contains(&s.as_str()) => Some(s.clone()),
        Some(_) => return Err(format!("{at}.intention: Invalid enum value")),
    };
    let kind = string(object, "kind", at)?;
    if !KINDS.contains(&kind.as_str()) {
        return Err(format!("{at}.kind: Invalid enum value"));
    }
    let mut children = Vec::new();
    if let Some(nested) = object.get("child_answers") {
        let data = nested
            .get("createMany")
            .and_then(|c| c.get("data"))
            .ok_or_else(|| format!("{at}.child_answers: Expected createMany.data"))?;
        let items: Vec<&Value> = match data {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for (i, item) in items.into_iter().enumerate() {
            children.push(answer(item, &format!("{at}.child_answers.createMany.data.{i}"), true)?);
        }
    }
    Ok(AnswerIn {
        field_code: string(object, "field_code", at)?,
        field_label: string(object, "field_label", at)?,
        answer_item_id: int(object, "answer_item_id", at)?,
        answer_text: string(object, "answer_text", at)?,
        intention,
        kind,
        children,
    })
}

fn answers(input: &Map<String, Value>) -> Result<Vec<AnswerIn>, String> {
    let list = input.get("answers").and_then(Value::as_array).ok_or("answers: Expected array")?;
    list.iter().enumerate().map(|(i, a)| answer(a, &format!("answers.{i}"), false)).collect()
}

/// The limiter's fingerprint: `X-Client-IP`'s first address, else `X-Forwarded-For`'s, else the socket's.
fn fingerprint(headers: &HeaderMap, peer: IpAddr) -> String {
    let first = |name: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.split(',').next().unwrap_or("").to_string())
    };
    first("x-client-ip").or_else(|| first("x-forwarded-for")).unwrap_or_else(|| peer.to_string())
}

/// `LIMITER_ALLOWED_IPS`: addresses and `start-end` ranges, comma-separated.
fn allowed(list: &str, ip: &str) -> bool {
    let number = |text: &str| text.trim().parse::<std::net::Ipv4Addr>().ok().map(u32::from);
    list.split(',').filter(|a| !a.is_empty()).any(|entry| match entry.split_once('-') {
        Some((start, end)) => match (number(start), number(end), number(ip)) {
            (Some(s), Some(e), Some(n)) => s <= n && n <= e,
            _ => false,
        },
        None => entry == ip,
    })
}

/// `review.create`.
pub(crate) fn create(shared: &Shared, headers: &HeaderMap, peer: IpAddr, body: &[u8]) -> Verdict {
    const PATH: &str = "review.create";
    let now = shared.clock.now();
    let ip = fingerprint(headers, peer);
    let allowed_ip = allowed(&shared.settings().allowed_ips, &ip);
    let blocked = if allowed_ip {
        false
    } else {
        let mut hits = shared.hits.lock().unwrap_or_else(|p| p.into_inner());
        let entry = hits.entry(ip.clone()).or_insert((0, now + chrono::Duration::hours(1)));
        if now > entry.1 {
            *entry = (1, now + chrono::Duration::hours(1));
        } else {
            entry.0 += 1;
        }
        entry.0 > shared.settings().max_creates
    };
    shared.calls.lock().unwrap_or_else(|p| p.into_inner()).push(crate::state::CreateCall {
        at: now,
        ip: ip.clone(),
        blocked,
    });
    if blocked {
        if !headers.contains_key("referer") && !headers.contains_key("referrer") {
            // `onLimit` builds `new URL(undefined)`, which throws.
            return Verdict::Answer(error(PATH, "INTERNAL_SERVER_ERROR", "Invalid URL"));
        }
        return Verdict::Answer(error(PATH, "TOO_MANY_REQUESTS", "Too many requests, please try again later. 3600"));
    }
    let parsed = unwrap(body).and_then(|input| {
        let input = input.as_object().ok_or("Expected object")?.clone();
        strict(&input, &["review", "answers"], "input")?;
        let review = input.get("review").and_then(Value::as_object).ok_or("review: Required")?.clone();
        strict(
            &review,
            &["id", "form_id", "product_id", "button_id", "xwiki_id", "user_id", "has_verbatim", "created_at"],
            "review",
        )?;
        let ids = (
            int(&review, "product_id", "review")?,
            int(&review, "form_id", "review")?,
            int(&review, "button_id", "review")?,
        );
        let user = match review.get("user_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err("review.user_id: Expected string".to_string()),
        };
        Ok((ids, user, answers(&input)?))
    });
    let ((product, form, button), user, answers) = match parsed {
        Ok(p) => p,
        Err(message) => return Verdict::Answer(error(PATH, "BAD_REQUEST", &message)),
    };
    let db = shared.db.lock().unwrap_or_else(|p| p.into_inner());
    let exists = |table: &str, id: i64| -> bool {
        db.query_row(&format!("SELECT 1 FROM {table} WHERE id = ?1"), [id], |_| Ok(()))
            .optional()
            .ok()
            .flatten()
            .is_some()
    };
    if !exists("product", product) || !exists("button", button) {
        return Verdict::Answer(error(
            PATH,
            "INTERNAL_SERVER_ERROR",
            "Foreign key constraint failed on the field: `Review_product_id_fkey (index)`",
        ));
    }
    let created = stamp(now);
    if db
        .execute(
            "INSERT INTO review (form_id, product_id, button_id, user_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![form, product, button, user, created],
        )
        .is_err()
    {
        return Verdict::Answer(error(PATH, "INTERNAL_SERVER_ERROR", "review not stored"));
    }
    let id = db.last_insert_rowid();
    // `prisma.form.update` runs after the review exists: an unknown form fails the call, the review stays.
    if !exists("form", form) {
        return Verdict::Answer(error(
            PATH,
            "INTERNAL_SERVER_ERROR",
            "An operation failed because it depends on one or more records that were required but not found. Record to update not found.",
        ));
    }
    // `createOrUpdateAnswers` fails part-way at times; `createReview` logs it and answers success.
    let lose = shared.settings().lose_answer_rate;
    for a in &answers {
        if shared.chance(lose) {
            shared.lost.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            continue;
        }
        store(&db, id, &created, a, &stamp(now));
    }
    let review = json!({"id": id, "form_id": form, "product_id": product, "button_id": button, "xwiki_id": null,
        "user_id": user, "has_verbatim": answers.iter().any(|a| a.field_code == "verbatim"), "created_at": created,
        "product": {"id": product}, "button": {"id": button}});
    shared.after_commit(success(review, &["data.created_at"]))
}

fn store(db: &rusqlite::Connection, review: i64, created: &str, a: &AnswerIn, now: &str) {
    if let Ok(parent) = insert_answer(db, review, created, a, None, now) {
        for child in &a.children {
            let _ = insert_answer(db, review, created, child, Some(parent), now);
        }
    }
    if a.field_code == "verbatim" {
        let _ = db.execute("UPDATE review SET has_verbatim = 1 WHERE id = ?1", [review]);
    }
}

/// `review.insertOrUpdate`.
pub(crate) fn insert_or_update(shared: &Shared, body: &[u8]) -> Verdict {
    const PATH: &str = "review.insertOrUpdate";
    let now = shared.clock.now();
    let parsed = unwrap(body).and_then(|input| {
        let input = input.as_object().ok_or("Expected object")?.clone();
        let step = string(&input, "step_name", "input")?;
        if !["satisfaction", "comprehension", "verbatim", "contact"].contains(&step.as_str()) {
            return Err("step_name: Invalid enum value".to_string());
        }
        let ids = (int(&input, "product_id", "input")?, int(&input, "button_id", "input")?);
        Ok((ids, string(&input, "user_id", "input")?, step, answers(&input)?))
    });
    let ((product, button), user, step, answers) = match parsed {
        Ok(p) => p,
        Err(message) => return Verdict::Answer(error(PATH, "BAD_REQUEST", &message)),
    };
    let db = shared.db.lock().unwrap_or_else(|p| p.into_inner());
    let since = stamp(now - chrono::Duration::hours(1));
    let found: Option<(i64, i64, String)> = db
        .query_row(
            "SELECT id, form_id, created_at FROM review WHERE product_id = ?1 AND button_id = ?2 AND user_id = ?3
             AND created_at >= ?4 ORDER BY id LIMIT 1",
            params![product, button, user, since],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .ok()
        .flatten();
    let Some((id, form, created)) = found else {
        return Verdict::Answer(error(PATH, "NOT_FOUND", "Review not found"));
    };
    let contact = step == "contact";
    if contact {
        let _ =
            db.execute("DELETE FROM answer WHERE review_id = ?1 AND field_code LIKE 'contact\\_%' ESCAPE '\\'", [id]);
    }
    for a in &answers {
        let existing: Option<i64> = if contact {
            db.query_row(
                "SELECT id FROM answer WHERE review_id = ?1 AND field_code = ?2 AND answer_item_id = ?3 ORDER BY id LIMIT 1",
                params![id, a.field_code, a.answer_item_id],
                |r| r.get(0),
            )
        } else {
            db.query_row(
                "SELECT id FROM answer WHERE review_id = ?1 AND field_code = ?2 ORDER BY id LIMIT 1",
                params![id, a.field_code],
                |r| r.get(0),
            )
        }
        .optional()
        .ok()
        .flatten();
        match existing {
            Some(answer_id) => {
                let _ = db.execute(
                    "UPDATE answer SET field_label = ?2, answer_item_id = ?3, answer_text = ?4, intention = ?5, kind = ?6 WHERE id = ?1",
                    params![answer_id, a.field_label, a.answer_item_id, a.answer_text, a.intention, a.kind],
                );
                for child in &a.children {
                    let _ = insert_answer(&db, id, &created, child, Some(answer_id), &stamp(now));
                }
                if a.field_code == "verbatim" {
                    let _ = db.execute("UPDATE review SET has_verbatim = 1 WHERE id = ?1", [id]);
                }
            }
            None => store(&db, id, &created, a, &stamp(now)),
        }
    }
    let review = json!({"id": id, "form_id": form, "product_id": product, "button_id": button, "xwiki_id": null,
        "user_id": user, "created_at": created, "product": {"id": product}, "button": {"id": button}});
    shared.after_commit(success(review, &["data.created_at"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_addresses_and_ranges() {
        assert!(allowed("10.0.0.1,192.168.1.10-192.168.1.20", "192.168.1.15"));
        assert!(allowed("10.0.0.1,192.168.1.10-192.168.1.20", "10.0.0.1"));
        assert!(!allowed("10.0.0.1,192.168.1.10-192.168.1.20", "192.168.1.21"));
        assert!(!allowed("", "127.0.0.1"));
    }

    #[test]
    fn the_client_is_x_client_ip_then_x_forwarded_for_then_the_socket() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        assert_eq!(fingerprint(&headers, peer), "127.0.0.1");
        headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.1".parse().unwrap());
        assert_eq!(fingerprint(&headers, peer), "203.0.113.9");
        headers.insert("x-client-ip", "198.51.100.7".parse().unwrap());
        assert_eq!(fingerprint(&headers, peer), "198.51.100.7");
    }

    #[test]
    fn inputs_are_checked_strictly_as_zod_does() {
        let ok = json!({"field_code": "satisfaction", "field_label": "x", "kind": "radio", "answer_item_id": 3,
            "answer_text": "Très bien", "intention": "good", "review": {}});
        assert!(answer(&ok, "a", false).is_ok());
        let mut extra = ok.clone();
        extra["parent_answer_item_id"] = json!(9);
        assert!(answer(&extra, "a", false).unwrap_err().contains("Unrecognized key"));
        let mut no_review = ok.clone();
        no_review.as_object_mut().unwrap().remove("review");
        assert!(answer(&no_review, "a", false).unwrap_err().contains("review: Required"));
        let mut bad_kind = ok;
        bad_kind["kind"] = json!("smiley");
        assert!(answer(&bad_kind, "a", false).is_err());
    }
}
