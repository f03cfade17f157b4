//! JDMA's tables as its Prisma schema declares them (`Product`, `Form`, `Button`, `Review`,
//! `Answer` with `parent_answer_id`, `ApiKey`), in SQLite, and the back office's CSV export of one
//! form (`workers/export-worker.ts`, `utils/export-worker/generate-csv.ts`).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

pub(crate) const SCHEMA: &str = "
CREATE TABLE product (id INTEGER PRIMARY KEY, title TEXT NOT NULL, entity TEXT NOT NULL);
CREATE TABLE form (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL, title TEXT NOT NULL);
CREATE TABLE button (id INTEGER PRIMARY KEY, form_id INTEGER NOT NULL, title TEXT NOT NULL);
CREATE TABLE api_key (key TEXT PRIMARY KEY, product_id INTEGER NOT NULL);
CREATE TABLE review (
    id INTEGER PRIMARY KEY AUTOINCREMENT, form_id INTEGER NOT NULL, product_id INTEGER NOT NULL,
    button_id INTEGER NOT NULL, user_id TEXT, has_verbatim INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL);
CREATE TABLE answer (
    id INTEGER PRIMARY KEY AUTOINCREMENT, field_label TEXT NOT NULL, field_code TEXT NOT NULL,
    answer_item_id INTEGER NOT NULL, answer_text TEXT NOT NULL, intention TEXT, kind TEXT NOT NULL,
    review_id INTEGER NOT NULL, review_created_at TEXT NOT NULL, parent_answer_id INTEGER,
    created_at TEXT NOT NULL);
CREATE INDEX answer_review ON answer (review_id);
";

/// One answer of the input (`AnswerCreateInputSchema`), children included.
#[derive(Debug, Clone)]
pub struct AnswerIn {
    pub field_code: String,
    pub field_label: String,
    pub answer_item_id: i64,
    pub answer_text: String,
    pub intention: Option<String>,
    pub kind: String,
    pub children: Vec<AnswerIn>,
}

/// JDMA stores instants with millisecond precision (JavaScript dates).
pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn parse_stamp(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
}

/// A review as JDMA holds it, with its answers (children after their parent).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReview {
    pub id: i64,
    pub form_id: i64,
    pub product_id: i64,
    pub button_id: i64,
    pub user_id: Option<String>,
    pub has_verbatim: bool,
    pub created_at: DateTime<Utc>,
    pub answers: Vec<StoredAnswer>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnswer {
    pub id: i64,
    pub field_code: String,
    pub field_label: String,
    pub answer_item_id: i64,
    pub answer_text: String,
    pub intention: Option<String>,
    pub kind: String,
    pub parent_answer_id: Option<i64>,
}

pub(crate) fn reviews(db: &Connection) -> rusqlite::Result<Vec<StoredReview>> {
    let mut stmt = db.prepare(
        "SELECT id, form_id, product_id, button_id, user_id, has_verbatim, created_at FROM review ORDER BY created_at, id",
    )?;
    let mut reviews = stmt
        .query_map([], |r| {
            Ok(StoredReview {
                id: r.get(0)?,
                form_id: r.get(1)?,
                product_id: r.get(2)?,
                button_id: r.get(3)?,
                user_id: r.get(4)?,
                has_verbatim: r.get(5)?,
                created_at: parse_stamp(&r.get::<_, String>(6)?),
                answers: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut stmt = db.prepare(
        "SELECT id, field_code, field_label, answer_item_id, answer_text, intention, kind, parent_answer_id
         FROM answer WHERE review_id = ?1 ORDER BY id",
    )?;
    for review in &mut reviews {
        review.answers = stmt
            .query_map([review.id], |r| {
                Ok(StoredAnswer {
                    id: r.get(0)?,
                    field_code: r.get(1)?,
                    field_label: r.get(2)?,
                    answer_item_id: r.get(3)?,
                    answer_text: r.get(4)?,
                    intention: r.get(5)?,
                    kind: r.get(6)?,
                    parent_answer_id: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
    }
    Ok(reviews)
}

/// The root form's export columns: its template's blocks with a field code that hold answers,
/// and, for the root form, its `heading_3` blocks (`prisma/seeds/forms/root.ts`, labels as seeded).
pub const ROOT_COLUMNS: [(&str, &str); 7] = [
    ("satisfaction", "De façon générale, comment ça s'est passé ?"),
    ("comprehension", "Qu'avez-vous pensé des informations et des instructions fournies ?"),
    ("contact_tried", "Durant votre parcours, avez-vous tenté d’obtenir de l’aide par l’un des moyens suivants ?"),
    ("contact_reached", "Quand vous avez cherché de l'aide, avez-vous réussi à joindre l'administration ?"),
    (
        "contact_satisfaction",
        "Comment évaluez-vous la qualité de l'aide que vous avez obtenue de la part de l'administration ?",
    ),
    ("verbatim", "Souhaitez-vous nous en dire plus ?"),
    ("contact_email", "Adresse mail"),
];

/// One field as `csv-stringify` writes it by default: quoted only when it holds a comma, a
/// double quote or a newline, quotes doubled.
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value.to_string() }
}

/// The back office's CSV export of one form: no byte-order mark, `\n` after every record,
/// reviews by `created_at`.
pub(crate) fn export_csv(db: &Connection, form_id: i64) -> rusqlite::Result<String> {
    let form_name: String =
        db.query_row("SELECT title FROM form WHERE id = ?1", [form_id], |r| r.get(0)).optional()?.unwrap_or_default();
    let mut out = String::new();
    let header: Vec<&str> = ["Date de l'avis", "Nom du formulaire", "Lien d'intégration", "Identifiant Avis"]
        .into_iter()
        .chain(ROOT_COLUMNS.iter().map(|(_, label)| *label))
        .collect();
    push_record(&mut out, header.iter().map(|s| s.to_string()));
    for review in reviews(db)?.into_iter().filter(|r| r.form_id == form_id) {
        let button: String = db
            .query_row("SELECT title FROM button WHERE id = ?1", [review.button_id], |r| r.get(0))
            .optional()?
            .unwrap_or_default();
        let mut by_code: Vec<(String, Vec<String>)> = Vec::new();
        for answer in &review.answers {
            let mut text = answer.answer_text.clone();
            if let Some(parent) = answer.parent_answer_id.and_then(|p| review.answers.iter().find(|a| a.id == p)) {
                text = format!("{} : {text}", parent.answer_text);
            }
            match by_code.iter_mut().find(|(c, _)| *c == answer.field_code) {
                Some((_, values)) => values.push(text),
                None => by_code.push((answer.field_code.clone(), vec![text])),
            }
        }
        let id_hex = format!("{:x}", review.id);
        let short = &id_hex[id_hex.len().saturating_sub(7)..];
        let mut record = vec![
            review.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            form_name.clone(),
            button,
            short.to_string(),
        ];
        for (code, _) in ROOT_COLUMNS {
            record.push(by_code.iter().find(|(c, _)| c == code).map(|(_, v)| v.join(" / ")).unwrap_or_default());
        }
        push_record(&mut out, record.into_iter());
    }
    Ok(out)
}

fn push_record(out: &mut String, fields: impl Iterator<Item = String>) {
    let fields: Vec<String> = fields.map(|f| csv_field(&f)).collect();
    out.push_str(&fields.join(","));
    out.push('\n');
}

pub(crate) fn insert_answer(
    db: &Connection,
    review_id: i64,
    review_created_at: &str,
    answer: &AnswerIn,
    parent: Option<i64>,
    now: &str,
) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO answer (field_label, field_code, answer_item_id, answer_text, intention, kind, review_id,
            review_created_at, parent_answer_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            answer.field_label,
            answer.field_code,
            answer.answer_item_id,
            answer.answer_text,
            answer.intention,
            answer.kind,
            review_id,
            review_created_at,
            parent,
            now
        ],
    )?;
    Ok(db.last_insert_rowid())
}
