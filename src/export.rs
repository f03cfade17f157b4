//! Exports: one row per review. The CSV opens cleanly in a French spreadsheet (UTF-8 with a
//! byte-order mark, `;` by default, French headers); JSON Lines keeps the platform's model.

use crate::store::{DayRange, Outbox, StatusFilter, Store, StoredReview};
use anyhow::Result;
use borne_model::review::{SATISFACTION, Survey, VERBATIM};
use std::io::Write;

/// Writes the CSV export; returns the number of reviews written.
pub fn csv(store: &Store, survey: &Survey, range: DayRange, separator: u8, out: &mut dyn Write) -> Result<u64> {
    out.write_all("\u{FEFF}".as_bytes())?;
    let mut writer = ::csv::WriterBuilder::new().delimiter(separator).from_writer(out);
    let mut header: Vec<String> =
        ["identifiant", "date_heure", "jour", "heure", "horloge", "langue", "satisfaction", "satisfaction_texte"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    header.extend(survey.follow_ups.iter().map(|q| q.code.clone()));
    header.extend(["autres_reponses", "commentaire", "statut", "id_plateforme", "motif_rejet"].map(String::from));
    writer.write_record(&header)?;
    let mut rows = 0;
    store.for_each_review(StatusFilter::All, range, |r| {
        let review = &r.review;
        let satisfaction = review.satisfaction();
        let mut record: Vec<String> = vec![
            review.client_review_id.to_string(),
            review.submitted_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            review.submitted_at.format("%Y-%m-%d").to_string(),
            review.submitted_at.format("%H:%M:%S").to_string(),
            match (review.clock, r.clock_corrected) {
                (_, true) => "corrigée".into(),
                (borne_model::review::ClockState::Synced, _) => "synchronisée".into(),
                (borne_model::review::ClockState::Unsynced, _) => "non synchronisée".into(),
            },
            review.language.clone(),
            satisfaction.map(|a| a.answer_item_id.to_string()).unwrap_or_default(),
            satisfaction.map(|a| a.answer_text.clone()).unwrap_or_default(),
        ];
        for question in &survey.follow_ups {
            let texts: Vec<&str> = review
                .answers
                .iter()
                .filter(|a| a.field_code == question.code)
                .map(|a| a.answer_text.as_str())
                .collect();
            record.push(texts.join(" | "));
        }
        let others: Vec<String> = review
            .answers
            .iter()
            .filter(|a| {
                a.field_code != SATISFACTION
                    && a.field_code != VERBATIM
                    && !survey.follow_ups.iter().any(|q| q.code == a.field_code)
            })
            .map(|a| format!("{}={}", a.field_code, a.answer_text))
            .collect();
        record.push(others.join(" | "));
        record.push(match (review.comment(), r.comment_erased) {
            (Some(text), _) => neutralise_formula(text),
            (None, true) => "(effacé après la durée de conservation)".into(),
            (None, false) => String::new(),
        });
        let (status, platform_id, reason) = match &r.outbox {
            Outbox::Pending => ("en attente", String::new(), String::new()),
            Outbox::Uploaded { platform_review_id, .. } => ("envoyé", platform_review_id.clone(), String::new()),
            Outbox::Rejected { reason, .. } => ("rejeté", String::new(), reason.clone()),
        };
        record.extend([status.to_string(), platform_id, reason]);
        writer.write_record(&record)?;
        rows += 1;
        Ok(())
    })?;
    writer.flush()?;
    Ok(rows)
}

/// A spreadsheet runs a cell that starts with = + - @ as a formula: a visitor's comment must
/// not. A leading apostrophe makes it text (the rule every CSV of Borne follows).
fn neutralise_formula(text: &str) -> String {
    borne_model::spreadsheet::text_cell(text)
}

/// One review as a JSON object, in the platform's vocabulary plus the outbox state.
pub fn json_record(r: &StoredReview) -> serde_json::Value {
    let review = &r.review;
    let (platform_review_id, rejected_reason) = match &r.outbox {
        Outbox::Uploaded { platform_review_id, .. } => (Some(platform_review_id.clone()), None),
        Outbox::Rejected { reason, .. } => (None, Some(reason.clone())),
        Outbox::Pending => (None, None),
    };
    serde_json::json!({
        "client_review_id": review.client_review_id,
        "submitted_at": review.submitted_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        "clock": review.clock.as_str(),
        "clock_corrected": r.clock_corrected,
        "language": review.language,
        "answers": review.answers,
        "status": r.outbox.status(),
        "platform_review_id": platform_review_id,
        "rejected_reason": rejected_reason,
        "comment_erased": r.comment_erased,
    })
}

/// Writes the JSON Lines export; returns the number of reviews written.
pub fn jsonl(store: &Store, range: DayRange, out: &mut dyn Write) -> Result<u64> {
    let mut rows = 0;
    store.for_each_review(StatusFilter::All, range, |r| {
        serde_json::to_writer(&mut *out, &json_record(&r))?;
        out.write_all(b"\n")?;
        rows += 1;
        Ok(())
    })?;
    Ok(rows)
}
