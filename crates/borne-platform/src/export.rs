//! Reviews written the way JDMA's own review export writes them, so that a JDMA user recognises
//! them. (JDMA imports nothing: reviews reach it through the forwarder, `jdma/`.)
//!
//! `jdma-csv` and `jdma-xlsx` follow JDMA's export worker (`webapp-backoffice/src/workers/
//! export-worker.ts`, `utils/export-worker/generate-csv.ts`, `generate-xls.ts`): columns « Date de
//! l'avis » (UTC, `YYYY-MM-DD HH:MM:SS`), « Nom du formulaire » (the form's title), « Lien
//! d'intégration » (the button's title), « Identifiant Avis » (the last 7 hex digits of the id),
//! then the root template's seven question columns with their seeded labels (« Adresse mail »
//! last, always empty from a kiosk); several answers to one question joined with « / », a help
//! answer written « <channel> : <answer> »; reviews by their instant. A review forwarded to JDMA
//! is written with JDMA's id and instant, so the export of the same reviews is the same file;
//! one written before it reached JDMA, with Borne's. The CSV is written as `csv-stringify` does
//! (`,`, fields quoted only for a comma, a quote or a newline, `\n` after every record, no BOM).
//! One difference, on purpose: a cell that a spreadsheet would run as a formula (`=`, `+`, `-`,
//! `@` first) is prefixed with `'`, which JDMA's export does not do. The XLSX has one sheet per
//! year, as JDMA's, its cells all text.
//!
//! `jsonl` is one JSON object per line in JDMA's data model (`Review` with its `Answer`s, field
//! for field), plus a `borne` object with what only the kiosk knows (its id, its clock…).

use crate::storage::ExportReview;
use crate::storage::forwarding::JdmaExportRow;
use chrono::Datelike as _;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JdmaCsv,
    JdmaXlsx,
    Jsonl,
}

impl Format {
    pub fn parse(name: &str) -> Result<Format, String> {
        match name {
            "jdma-csv" => Ok(Format::JdmaCsv),
            "jdma-xlsx" => Ok(Format::JdmaXlsx),
            "jsonl" => Ok(Format::Jsonl),
            other => Err(format!("format inconnu : {other:?} (jdma-csv, jdma-xlsx ou jsonl)")),
        }
    }
}

/// The root form's export columns: its template's blocks holding answers, and its two
/// `heading_3` blocks, with their labels as JDMA seeds them (`prisma/seeds/forms/root.ts`).
pub const JDMA_COLUMNS: [(&str, &str); 7] = [
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

/// The root template's title: JDMA's « Nom du formulaire » for a form without a title of its own.
pub const ROOT_FORM_TITLE: &str = "Évaluation de la satisfaction usager";

/// JDMA's export header.
pub fn jdma_header() -> Vec<String> {
    ["Date de l'avis", "Nom du formulaire", "Lien d'intégration", "Identifiant Avis"]
        .into_iter()
        .chain(JDMA_COLUMNS.iter().map(|(_, label)| *label))
        .map(String::from)
        .collect()
}

/// A review's record in JDMA's export.
pub fn jdma_record(row: &JdmaExportRow) -> Vec<String> {
    let channel = |item: i64| {
        row.answers
            .iter()
            .position(|a| a.field_code == "contact_tried" && a.answer_item_id == item)
            .unwrap_or(usize::MAX)
    };
    let mut record = vec![
        row.at.format("%Y-%m-%d %H:%M:%S").to_string(),
        text_cell(row.form_title.as_deref().unwrap_or(ROOT_FORM_TITLE)),
        text_cell(row.button_title.as_deref().unwrap_or(&row.device_id)),
        short_id(row.jdma_id.unwrap_or(row.id)),
    ];
    for (code, _) in JDMA_COLUMNS {
        let mut answers: Vec<&crate::storage::ExportAnswer> =
            row.answers.iter().filter(|a| a.field_code == code).collect();
        // Help answers in the order of their channels (JDMA writes each with its channel's answer).
        answers.sort_by_key(|a| a.parent.map(channel).unwrap_or(0));
        let texts: Vec<String> = answers
            .iter()
            .map(|a| {
                match a
                    .parent
                    .and_then(|p| row.answers.iter().find(|t| t.field_code == "contact_tried" && t.answer_item_id == p))
                {
                    Some(parent) => format!("{} : {}", parent.answer_text, a.answer_text),
                    None => a.answer_text.clone(),
                }
            })
            .collect();
        record.push(text_cell(&texts.join(" / ")));
    }
    record
}

/// One record as `csv-stringify` writes it by default.
pub fn csv_line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| if f.contains([',', '"', '\n']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.clone() })
        .collect();
    format!("{}\n", quoted.join(","))
}

/// Writes JDMA's export: CSV as it comes, XLSX at the end (one sheet per year).
pub struct JdmaWriter<W: Write> {
    format: Format,
    out: W,
    /// XLSX: the rows of each year, written at `finish`.
    years: std::collections::BTreeMap<i32, Vec<Vec<String>>>,
}

impl<W: Write> JdmaWriter<W> {
    pub fn new(format: Format, mut out: W) -> std::io::Result<JdmaWriter<W>> {
        if format == Format::JdmaCsv {
            out.write_all(csv_line(&jdma_header()).as_bytes())?;
        }
        Ok(JdmaWriter { format, out, years: Default::default() })
    }

    pub fn write(&mut self, page: &[JdmaExportRow]) -> std::io::Result<()> {
        use chrono::Datelike;
        for row in page {
            match self.format {
                Format::JdmaXlsx => self.years.entry(row.at.year()).or_default().push(jdma_record(row)),
                _ => self.out.write_all(csv_line(&jdma_record(row)).as_bytes())?,
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        if self.format == Format::JdmaXlsx {
            let mut book = rust_xlsxwriter::Workbook::new();
            if self.years.is_empty() {
                self.years.insert(chrono::Utc::now().year_ce().1 as i32, Vec::new());
            }
            for (year, rows) in &self.years {
                let sheet = book.add_worksheet();
                sheet.set_name(year.to_string()).map_err(std::io::Error::other)?;
                for (r, record) in std::iter::once(jdma_header()).chain(rows.iter().cloned()).enumerate() {
                    for (c, value) in record.iter().enumerate() {
                        sheet.write_string(r as u32, c as u16, value).map_err(std::io::Error::other)?;
                    }
                }
            }
            let bytes = book.save_to_buffer().map_err(std::io::Error::other)?;
            self.out.write_all(&bytes)?;
        }
        self.out.flush()
    }
}

use borne_model::spreadsheet::text_cell;

/// JDMA's short review id: the last 7 hex digits of the numeric id.
pub fn short_id(id: i64) -> String {
    let hex = format!("{id:x}");
    hex[hex.len().saturating_sub(7)..].to_string()
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

/// Writes pages of reviews as JSON Lines in JDMA's model.
pub struct Writer<W: Write> {
    out: W,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Writer<W> {
        Writer { out }
    }

    pub fn write(&mut self, page: &[ExportReview]) -> std::io::Result<()> {
        for review in page {
            writeln!(self.out, "{}", jsonl_line(review))?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ExportAnswer;

    fn answer(code: &str, item: i64, text: &str, parent: Option<i64>) -> ExportAnswer {
        ExportAnswer {
            field_code: code.into(),
            field_label: None,
            answer_item_id: item,
            answer_text: text.into(),
            intention: "neutral".into(),
            kind: "radio".into(),
            parent,
        }
    }

    fn row() -> JdmaExportRow {
        JdmaExportRow {
            id: 7,
            jdma_id: Some(0x0012_3456_789a),
            at: "2026-03-14T09:42:17.250Z".parse().unwrap(),
            form_title: Some("Accueil, Préfecture".into()),
            button_title: None,
            device_id: "borne-alencon-01".into(),
            answers: vec![
                answer("satisfaction", 3, "Très bien", None),
                answer("contact_tried", 10, "Par téléphone avec l’administration", None),
                answer("contact_tried", 9, "Au guichet avec l’administration", None),
                answer("contact_reached", 17, "Oui", Some(9)),
                answer("contact_reached", 18, "Non", Some(10)),
                answer("kiosk_motif", 1, "L'attente", None),
                answer("verbatim", 0, "=1+1, \"dit-il\"\nsur deux lignes", None),
            ],
        }
    }

    #[test]
    fn a_record_as_jdmas_export_writes_it() {
        let record = jdma_record(&row());
        assert_eq!(record.len(), 11, "four fixed columns and the root template's seven");
        assert_eq!(record[..4], ["2026-03-14 09:42:17", "Accueil, Préfecture", "borne-alencon-01", "456789a"]);
        assert_eq!(record[4], "Très bien");
        assert_eq!(record[6], "Par téléphone avec l’administration / Au guichet avec l’administration");
        // Each help answer with its channel, in the channels' order.
        assert_eq!(record[7], "Par téléphone avec l’administration : Non / Au guichet avec l’administration : Oui");
        assert_eq!(record[10], "", "kiosks never ask for an e-mail address");
        // A formula is made text (JDMA's export does not do this); kiosk-only answers have no column.
        assert_eq!(record[9], "'=1+1, \"dit-il\"\nsur deux lignes");
        assert!(!record.iter().any(|f| f.contains("L'attente")));
        assert_eq!(
            csv_line(&record[9..]),
            "\"'=1+1, \"\"dit-il\"\"\nsur deux lignes\",\n",
            "quoted for the comma, the quote and the newline"
        );
        assert!(csv_line(&jdma_header()).starts_with(
            "Date de l'avis,Nom du formulaire,Lien d'intégration,Identifiant Avis,\"De façon générale, comment ça s'est passé ?\","
        ));
    }

    #[test]
    fn xlsx_has_a_sheet_per_year() {
        let mut out = Vec::new();
        let mut writer = JdmaWriter::new(Format::JdmaXlsx, &mut out).unwrap();
        let mut older = row();
        older.at = "2025-12-31T23:59:59Z".parse().unwrap();
        writer.write(&[older, row()]).unwrap();
        writer.finish().unwrap();
        assert_eq!(&out[..2], b"PK", "a zip container");
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("xl/worksheets/sheet2.xml"), "two sheets");
    }
}
