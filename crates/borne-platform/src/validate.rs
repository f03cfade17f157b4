//! Validation of upload bodies against contract v1 and JDMA's `root` form. Pure: bytes in,
//! a parsed batch or a located error out. Never panics, whatever the input (a property test
//! feeds it arbitrary bytes and mutated bodies).

use borne_model::review::{
    AnswerKind, Intention, SATISFACTION, VERBATIM, check_against_jdma, check_verbatim_text, jdma_question,
};
use borne_model::wire::{MAX_BATCH_REVIEWS, MAX_WIRE_ID, SCHEMA_VERSION, Source, WireAnswer, check_token_text};
use serde::Deserialize;
use uuid::Uuid;

/// A whole-batch problem, mapped to the contract's status table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    BadRequest(String),
    TooLarge(String),
}

/// The envelope; reviews are validated one by one so that one bad review does not sink the
/// others.
#[derive(Debug, Deserialize)]
struct Envelope {
    schema_version: serde_json::Value,
    batch_id: String,
    source: Source,
    reviews: Vec<serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct ParsedBatch {
    pub batch_id: Uuid,
    pub source: Source,
    pub reviews: Vec<Result<ValidReview, Rejected>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidReview {
    pub client_review_id: Uuid,
    pub submitted_at: String,
    pub clock: String,
    pub language: String,
    pub answers: Vec<WireAnswer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// As sent (may not be a UUID), so the kiosk can match the result.
    pub client_review_id: String,
    pub message: String,
}

pub fn parse_batch(json: &[u8], idempotency_key: &str) -> Result<ParsedBatch, BatchError> {
    let envelope: Envelope =
        serde_json::from_slice(json).map_err(|e| BatchError::BadRequest(format!("body is not a valid batch: {e}")))?;
    if envelope.schema_version != serde_json::json!(SCHEMA_VERSION) {
        return Err(BatchError::BadRequest(format!("schema_version must be {SCHEMA_VERSION}")));
    }
    let batch_id =
        Uuid::parse_str(&envelope.batch_id).map_err(|_| BatchError::BadRequest("batch_id must be a UUID".into()))?;
    let key = Uuid::parse_str(idempotency_key.trim())
        .map_err(|_| BatchError::BadRequest("Idempotency-Key must be the batch's UUID".into()))?;
    if key != batch_id {
        return Err(BatchError::BadRequest("Idempotency-Key must equal batch_id".into()));
    }
    let s = &envelope.source;
    check_token_text("source.device_id", &s.device_id).map_err(BatchError::BadRequest)?;
    if s.app_version.len() > 64 || s.app_version.chars().any(char::is_control) {
        return Err(BatchError::BadRequest("source.app_version must be at most 64 printable characters".into()));
    }
    if [s.product_id, s.form_id, s.button_id].iter().any(|id| *id > MAX_WIRE_ID) {
        return Err(BatchError::BadRequest(format!("source ids must be at most {MAX_WIRE_ID}")));
    }
    if envelope.reviews.is_empty() {
        return Err(BatchError::BadRequest("reviews must not be empty".into()));
    }
    if envelope.reviews.len() > MAX_BATCH_REVIEWS {
        return Err(BatchError::TooLarge(format!(
            "{} reviews in one batch, at most {MAX_BATCH_REVIEWS}",
            envelope.reviews.len()
        )));
    }
    let reviews = envelope.reviews.iter().map(validate_review).collect();
    Ok(ParsedBatch { batch_id, source: envelope.source, reviews })
}

/// Whether any string of `value` (keys included) holds a NUL character, which PostgreSQL's
/// text cannot store: refused up front, as bad input, not a database failure.
pub fn has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(has_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

fn validate_review(value: &serde_json::Value) -> Result<ValidReview, Rejected> {
    let id_text = value.get("client_review_id").and_then(|v| v.as_str()).unwrap_or("").replace('\0', "");
    let reject = |message: String| Rejected { client_review_id: id_text.clone(), message };
    if has_nul(value) {
        return Err(reject("a string holds a NUL character".into()));
    }
    let field = |name: &str| -> Result<&str, Rejected> {
        value.get(name).and_then(|v| v.as_str()).ok_or_else(|| reject(format!("{name} is missing or not a string")))
    };
    let client_review_id =
        Uuid::parse_str(field("client_review_id")?).map_err(|_| reject("client_review_id must be a UUID".into()))?;
    let submitted_at = field("submitted_at")?;
    chrono::DateTime::parse_from_rfc3339(submitted_at)
        .map_err(|_| reject("submitted_at must be RFC 3339 with an offset".into()))?;
    let clock = field("clock")?;
    if clock != "synced" && clock != "unsynced" {
        return Err(reject("clock must be \"synced\" or \"unsynced\"".into()));
    }
    let language = field("language")?;
    if language.is_empty() || language.len() > 16 || !language.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(reject("language must be a language tag such as \"fr\"".into()));
    }
    let answers_value =
        value.get("answers").and_then(|v| v.as_array()).ok_or_else(|| reject("answers must be an array".into()))?;
    if answers_value.len() > 100 {
        return Err(reject("too many answers".into()));
    }
    let mut answers: Vec<WireAnswer> = Vec::with_capacity(answers_value.len());
    for (i, a) in answers_value.iter().enumerate() {
        let answer: WireAnswer =
            serde_json::from_value(a.clone()).map_err(|e| reject(format!("answers[{i}] is not an answer: {e}")))?;
        check_answer(&answer).map_err(|m| reject(format!("answers[{i}]: {m}")))?;
        let same_place = |b: &WireAnswer| {
            b.field_code == answer.field_code && b.parent_answer_item_id == answer.parent_answer_item_id
        };
        if answers.iter().any(|b| same_place(b) && b.answer_item_id == answer.answer_item_id) {
            return Err(reject(format!(
                "answers[{i}]: {} item {} given twice",
                answer.field_code, answer.answer_item_id
            )));
        }
        let single = match jdma_question(&answer.field_code) {
            Some(q) => q.kind != AnswerKind::Checkbox,
            None => answer.kind != "checkbox",
        };
        if single && answers.iter().any(same_place) {
            return Err(reject(format!("answers[{i}]: {} takes a single answer", answer.field_code)));
        }
        answers.push(answer);
    }
    if !answers.iter().any(|a| a.field_code == SATISFACTION) {
        return Err(reject("exactly one satisfaction answer is required".into()));
    }
    let domain: Vec<borne_model::review::Answer> = answers.iter().filter_map(domain_answer).collect();
    borne_model::review::check_channels(&domain).map_err(reject)?;
    Ok(ValidReview {
        client_review_id,
        submitted_at: submitted_at.to_string(),
        clock: clock.to_string(),
        language: language.to_string(),
        answers,
    })
}

/// The model's answer for a wire answer whose kind and intention are valid.
fn domain_answer(answer: &WireAnswer) -> Option<borne_model::review::Answer> {
    Some(borne_model::review::Answer {
        field_code: answer.field_code.clone(),
        kind: AnswerKind::parse(&answer.kind)?,
        answer_item_id: answer.answer_item_id,
        answer_text: answer.answer_text.clone(),
        intention: Intention::parse(&answer.intention)?,
        parent: answer.parent_answer_item_id,
    })
}

fn check_answer(answer: &WireAnswer) -> Result<(), String> {
    if answer.field_code.is_empty() || answer.field_code.len() > 64 {
        return Err("field_code must be 1 to 64 characters".into());
    }
    if jdma_question(&answer.field_code).is_none() && answer.field_code != SATISFACTION && answer.field_code != VERBATIM
    {
        // A kiosk's own question: a code as the kiosk's configuration allows, and an item id
        // that both engines store as is (never the counts' respondents marker, -1).
        if !answer.field_code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err("field_code must be lower-case letters, digits and _".into());
        }
        if answer.answer_item_id < 0 || answer.answer_item_id > MAX_WIRE_ID as i64 {
            return Err(format!("answer_item_id must be between 0 and {MAX_WIRE_ID}"));
        }
    }
    let kind = AnswerKind::parse(&answer.kind)
        .ok_or_else(|| format!("kind {:?} is not radio, checkbox or text", answer.kind))?;
    let intention =
        Intention::parse(&answer.intention).ok_or_else(|| format!("intention {:?} is not valid", answer.intention))?;
    let domain = borne_model::review::Answer {
        parent: answer.parent_answer_item_id,
        field_code: answer.field_code.clone(),
        kind,
        answer_item_id: answer.answer_item_id,
        answer_text: answer.answer_text.clone(),
        intention,
    };
    check_against_jdma(&domain)?;
    if answer.field_code != VERBATIM {
        // Kiosk-only and choice answers: the same hygiene as comments, shorter.
        check_verbatim_text(&answer.answer_text)?;
        if answer.answer_text.chars().count() > 500 {
            return Err("answer_text is longer than 500 characters".into());
        }
    }
    Ok(())
}

/// The label JDMA stores with an answer (kiosk-only codes have none).
pub fn field_label(code: &str) -> Option<String> {
    jdma_question(code).map(|q| q.label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &str = "0192f1c4-3d7e-7a10-9c2b-5b1e0c9f4a11";

    fn body(reviews: &str) -> String {
        format!(
            r#"{{"schema_version":1,"batch_id":"{KEY}","source":{{"device_id":"borne-1","product_id":1,"form_id":2,"button_id":3,"app_version":"borne/0.1.0"}},"reviews":[{reviews}]}}"#
        )
    }

    const GOOD: &str = r#"{"client_review_id":"0192f1c2-88aa-7c3e-8e55-2f0d7d2b9e01","submitted_at":"2026-03-14T10:42:17+01:00","clock":"synced","language":"fr","answers":[{"field_code":"satisfaction","kind":"radio","answer_item_id":3,"answer_text":"Très bien","intention":"good"},{"field_code":"verbatim","kind":"text","answer_item_id":0,"answer_text":"Accueil rapide et aimable.","intention":"neutral"}]}"#;

    #[test]
    fn the_contract_example_is_valid() {
        let parsed = parse_batch(body(GOOD).as_bytes(), KEY).unwrap();
        assert_eq!(parsed.reviews.len(), 1);
        assert!(parsed.reviews[0].is_ok());
    }

    #[test]
    fn batch_level_errors() {
        assert!(matches!(parse_batch(b"{", KEY), Err(BatchError::BadRequest(_))));
        assert!(matches!(
            parse_batch(body(GOOD).as_bytes(), "0192f1c4-3d7e-7a10-9c2b-5b1e0c9f4a12"),
            Err(BatchError::BadRequest(_))
        ));
        assert!(matches!(parse_batch(body("").as_bytes(), KEY), Err(BatchError::BadRequest(_))));
        let v2 = body(GOOD).replace("\"schema_version\":1", "\"schema_version\":2");
        assert!(matches!(parse_batch(v2.as_bytes(), KEY), Err(BatchError::BadRequest(_))));
        let many = vec![GOOD; 501].join(",");
        assert!(matches!(parse_batch(body(&many).as_bytes(), KEY), Err(BatchError::TooLarge(_))));
    }

    #[test]
    fn review_level_rejections() {
        let cases = [
            (
                GOOD.replace("\"answer_item_id\":3", "\"answer_item_id\":4"),
                "answer_item_id 4 is not valid for satisfaction",
            ),
            (GOOD.replace("\"good\"", "\"bad\""), "intention"),
            (GOOD.replace("Très bien", "Bien"), "answer_text"),
            (GOOD.replace("\"synced\"", "\"maybe\""), "clock"),
            (GOOD.replace("2026-03-14T10:42:17+01:00", "2026-03-14 10:42"), "submitted_at"),
            (GOOD.replace("aimable.", "aimable.\\u0007"), "control character"),
            (GOOD.replace("0192f1c2-88aa-7c3e-8e55-2f0d7d2b9e01", "nope"), "UUID"),
            (GOOD.replace("\"satisfaction\"", "\"kiosk_note\""), "satisfaction answer is required"),
        ];
        for (review, needle) in cases {
            let parsed = parse_batch(body(&format!("{review},{GOOD}")).as_bytes(), KEY).unwrap();
            let err = parsed.reviews[0].as_ref().unwrap_err();
            assert!(err.message.contains(needle), "{needle}: {}", err.message);
            assert!(parsed.reviews[1].is_ok());
        }
        let long = GOOD.replace("Accueil rapide et aimable.", &"a".repeat(15_001));
        assert!(parse_batch(body(&long).as_bytes(), KEY).unwrap().reviews[0].is_err());
        let custom = GOOD.replace(
            "{\"field_code\":\"verbatim\"",
            "{\"field_code\":\"kiosk_motif\",\"kind\":\"checkbox\",\"answer_item_id\":1,\"answer_text\":\"L'attente\",\"intention\":\"neutral\"},{\"field_code\":\"verbatim\"",
        );
        assert!(parse_batch(body(&custom).as_bytes(), KEY).unwrap().reviews[0].is_ok(), "kiosk-only codes pass");
    }

    /// Contract 1.2: a visitor who tried two channels answers the help questions for each.
    #[test]
    fn per_channel_help_answers() {
        let tried = |item: i64, text: &str| {
            format!(
                r#",{{"field_code":"contact_tried","kind":"checkbox","answer_item_id":{item},"answer_text":"{text}","intention":"neutral"}}"#
            )
        };
        let reached = |item: i64, parent: i64| {
            let (text, intention) = if item == 17 { ("Oui", "good") } else { ("Non", "bad") };
            format!(
                r#",{{"field_code":"contact_reached","kind":"radio","answer_item_id":{item},"answer_text":"{text}","intention":"{intention}","parent_answer_item_id":{parent}}}"#
            )
        };
        let with = |extra: String| GOOD.replace("}]}", &format!("}}{extra}]}}"));
        let both = format!(
            "{}{}{}{}",
            tried(9, "Au guichet avec l’administration"),
            tried(10, "Par téléphone avec l’administration"),
            reached(17, 9),
            reached(18, 10)
        );
        let parsed = parse_batch(body(&with(both.clone())).as_bytes(), KEY).unwrap();
        let review = parsed.reviews[0].as_ref().unwrap();
        let parents: Vec<Option<i64>> = review.answers.iter().map(|a| a.parent_answer_item_id).collect();
        assert_eq!(parents, [None, None, None, None, Some(9), Some(10)]);
        for (extra, needle) in [
            (format!("{}{}", tried(9, "Au guichet avec l’administration"), reached(17, 10)), "does not tick"),
            (format!("{both}{}", reached(17, 9)), "contact_reached item 17 given twice"),
            (format!("{}{}", tried(13, "Une personne proche"), reached(17, 13)), "9 to 12"),
        ] {
            let parsed = parse_batch(body(&with(extra)).as_bytes(), KEY).unwrap();
            let err = parsed.reviews[0].as_ref().unwrap_err();
            assert!(err.message.contains(needle), "{needle}: {}", err.message);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_batch(&bytes, KEY);
        }

        #[test]
        fn mutated_valid_bodies_never_panic(
            cut in 0usize..1200,
            position in 0usize..1200,
            byte in any::<u8>(),
        ) {
            let mut bytes = body(&format!("{GOOD},{GOOD}")).into_bytes();
            let p = position % bytes.len();
            bytes[p] = byte;
            bytes.truncate(cut.max(1).min(bytes.len()));
            let _ = parse_batch(&bytes, KEY);
        }

        #[test]
        fn arbitrary_json_values_as_reviews_never_panic(text in "\\PC{0,64}", n in any::<i64>(), flag in any::<bool>()) {
            let review = serde_json::json!({
                "client_review_id": text, "submitted_at": text, "clock": if flag {"synced"} else {"x"},
                "language": text, "answers": [{"field_code": text, "kind": "radio", "answer_item_id": n,
                "answer_text": text, "intention": "good"}]
            });
            let parsed = parse_batch(body(&review.to_string()).as_bytes(), KEY);
            prop_assert!(parsed.is_ok());
        }
    }
}
