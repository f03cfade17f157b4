//! Reviews written the way JDMA's own review export writes them, so that a JDMA user recognises
//! them. (JDMA imports nothing: reviews reach it through the forwarder, `jdma/`.)
//!
//! `jdma-csv` follows JDMA's export worker (`webapp-backoffice/src/workers/export-worker.ts`
//! and `utils/export-worker/generate-csv.ts`): columns « Date de l'avis », « Nom du formulaire »,
//! « Lien d'intégration », « Identifiant Avis », then one column per question of the form's
//! template (the `root` form: its labels, in its order); the date in UTC as
//! `YYYY-MM-DD HH:MM:SS`; the review id as the last 7 hex digits; several answers to one
//! question joined with « / ». Kiosk-only questions are not in JDMA's template, so, as in
//! JDMA's export of a form, they have no column (they are in `jsonl`).
//!
//! `jsonl` is one JSON object per line in JDMA's data model (`Review` with its `Answer`s, field
//! for field), plus a `borne` object with what only the kiosk knows (its id, its clock…).

use crate::storage::ExportReview;
use borne_model::review::{JDMA_CODES, jdma_question};
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JdmaCsv,
    Jsonl,
}

impl Format {
    pub fn parse(name: &str) -> Result<Format, String> {
        match name {
            "jdma-csv" => Ok(Format::JdmaCsv),
            "jsonl" => Ok(Format::Jsonl),
            other => Err(format!("format inconnu : {other:?} (jdma-csv ou jsonl)")),
        }
    }
}

use borne_model::spreadsheet::text_cell;

/// JDMA's fixed columns, then the `root` template's questions.
pub fn csv_header() -> Vec<String> {
    let mut header: Vec<String> =
        ["Date de l'avis", "Nom du formulaire", "Lien d'intégration", "Identifiant Avis"].map(String::from).to_vec();
    header
        .extend(JDMA_CODES.iter().map(|code| jdma_question(code).map(|q| q.label).unwrap_or_else(|| code.to_string())));
    header
}

/// JDMA's short review id: the last 7 hex digits of the numeric id.
pub fn short_id(id: i64) -> String {
    let hex = format!("{id:x}");
    hex[hex.len().saturating_sub(7)..].to_string()
}

pub fn csv_row(review: &ExportReview) -> Vec<String> {
    let mut row = vec![
        review.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        text_cell(&review.site_name.clone().unwrap_or_else(|| format!("formulaire {}", review.form_id))),
        text_cell(&review.device_id),
        short_id(review.id),
    ];
    for code in JDMA_CODES {
        let texts: Vec<&str> =
            review.answers.iter().filter(|a| a.field_code == code).map(|a| a.answer_text.as_str()).collect();
        row.push(text_cell(&texts.join(" / ")));
    }
    row
}

pub fn jsonl_line(review: &ExportReview) -> serde_json::Value {
    serde_json::json!({
        "id": review.id,
        "form_id": review.form_id,
        "product_id": review.product_id,
        "button_id": review.button_id,
        "xwiki_id": null,
        "user_id": null,
        "has_verbatim": review.answers.iter().any(|a| a.field_code == "verbatim" && !a.answer_text.is_empty()),
        "created_at": review.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "answers": review.answers.iter().map(|a| serde_json::json!({
            "field_code": a.field_code,
            "field_label": a.field_label.clone().unwrap_or_else(|| a.field_code.clone()),
            "answer_item_id": a.answer_item_id,
            "answer_text": a.answer_text,
            "intention": a.intention,
            "kind": a.kind,
            "review_created_at": review.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        })).collect::<Vec<_>>(),
        "borne": {
            "device_id": review.device_id,
            "site_id": review.site_id,
            "client_review_id": review.client_review_id,
            "submitted_at": review.submitted_at,
            "clock": review.clock,
            "language": review.language,
            "received_at": review.received_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    })
}

/// Writes pages of reviews in `format` to `out`, the header first.
pub struct Writer<W: Write> {
    format: Format,
    csv: Option<csv::Writer<W>>,
    raw: Option<W>,
}

impl<W: Write> Writer<W> {
    pub fn new(format: Format, out: W) -> std::io::Result<Writer<W>> {
        match format {
            Format::JdmaCsv => {
                let mut csv = csv::Writer::from_writer(out);
                csv.write_record(csv_header())?;
                Ok(Writer { format, csv: Some(csv), raw: None })
            }
            Format::Jsonl => Ok(Writer { format, csv: None, raw: Some(out) }),
        }
    }

    pub fn write(&mut self, page: &[ExportReview]) -> std::io::Result<()> {
        for review in page {
            match (self.format, &mut self.csv, &mut self.raw) {
                (Format::JdmaCsv, Some(csv), _) => csv.write_record(csv_row(review))?,
                (Format::Jsonl, _, Some(raw)) => writeln!(raw, "{}", jsonl_line(review))?,
                _ => {}
            }
        }
        Ok(())
    }

    pub fn finish(self) -> std::io::Result<()> {
        if let Some(mut csv) = self.csv {
            csv.flush()?;
        }
        if let Some(mut raw) = self.raw {
            raw.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ExportAnswer;

    fn review() -> ExportReview {
        let answer = |code: &str, item: i64, text: &str, kind: &str| ExportAnswer {
            field_code: code.into(),
            field_label: jdma_question(code).map(|q| q.label),
            answer_item_id: item,
            answer_text: text.into(),
            intention: "neutral".into(),
            kind: kind.into(),
        };
        ExportReview {
            id: 0x0012_3456_789a,
            created_at: "2026-03-14T09:42:17Z".parse().unwrap(),
            received_at: "2026-03-14T09:45:00Z".parse().unwrap(),
            device_id: "borne-alencon-01".into(),
            site_id: Some("alencon".into()),
            site_name: Some("Préfecture de l'Orne".into()),
            product_id: 3119,
            form_id: 4521,
            button_id: 98765,
            client_review_id: "0192f1c2-88aa-7c3e-8e55-2f0d7d2b9e01".into(),
            submitted_at: "2026-03-14T10:42:17+01:00".into(),
            clock: "synced".into(),
            language: "fr".into(),
            answers: vec![
                answer("satisfaction", 3, "Très bien", "radio"),
                answer("verbatim", 0, "Accueil rapide,\n« aimable ».", "text"),
            ],
        }
    }

    #[test]
    fn a_csv_row_is_written_as_jdmas_export_writes_it() {
        let mut out = Vec::new();
        let mut writer = Writer::new(Format::JdmaCsv, &mut out).unwrap();
        writer.write(&[review()]).unwrap();
        writer.finish().unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.splitn(2, '\n');
        let header = lines.next().unwrap();
        assert!(
            header.starts_with("Date de l'avis,Nom du formulaire,Lien d'intégration,Identifiant Avis,"),
            "{header}"
        );
        assert!(
            header.contains("De façon générale, comment ça s’est passé ?") || header.contains("satisfaction"),
            "{header}"
        );
        let row = lines.next().unwrap();
        assert!(
            row.starts_with("2026-03-14 09:42:17,Préfecture de l'Orne,borne-alencon-01,456789a,Très bien,"),
            "UTC date, short id: {row}"
        );
        assert!(
            row.contains("\"Accueil rapide,\n« aimable ».\""),
            "a comment with a comma and a newline is quoted: {row}"
        );
    }

    #[test]
    fn the_short_id_is_the_last_seven_hex_digits() {
        assert_eq!(short_id(0x0012_3456_789a), "456789a");
        assert_eq!(short_id(255), "ff");
    }

    #[test]
    fn a_jsonl_line_is_jdmas_review_with_its_answers() {
        let line = jsonl_line(&review());
        assert_eq!(line["product_id"], 3119);
        assert_eq!(line["button_id"], 98765);
        assert_eq!(line["has_verbatim"], true);
        assert_eq!(line["answers"][0]["field_code"], "satisfaction");
        assert_eq!(line["answers"][0]["answer_item_id"], 3);
        assert_eq!(line["answers"][0]["kind"], "radio");
        assert_eq!(line["borne"]["client_review_id"], "0192f1c2-88aa-7c3e-8e55-2f0d7d2b9e01");
        assert_eq!(line["created_at"], "2026-03-14T09:42:17.000Z");
    }
}
