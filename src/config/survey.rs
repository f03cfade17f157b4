//! `[survey]`: the follow-up questions, the comment, the rule of a minimum number of reviews.

use super::check::{Invalid, invalid};
use super::raw::{RawQuestion, RawSurvey};
use borne_model::review::{
    AnswerKind, Intention, Item, JDMA_CODES, Question, SATISFACTION, Satisfaction, Survey, VERBATIM, VERBATIM_MAX_CHARS,
};

/// The survey, and the minimum number of reviews for a score.
pub(super) fn validate_survey(raw: RawSurvey, languages: Vec<String>) -> Result<(Survey, u64), Invalid> {
    let comment_max_chars = raw.comment_max_chars.unwrap_or(500);
    if comment_max_chars == 0 || comment_max_chars > VERBATIM_MAX_CHARS {
        return Err(invalid(
            "survey.comment_max_chars",
            format!("entre 1 et {VERBATIM_MAX_CHARS} caractères (limite de la plateforme)"),
        ));
    }
    let min_reviews_for_score = raw.min_reviews_for_score.unwrap_or(100);
    if min_reviews_for_score == 0 {
        return Err(invalid("survey.min_reviews_for_score", "au moins 1"));
    }
    let follow_ups = match raw.follow_up {
        Some(questions) => {
            questions.into_iter().enumerate().map(|(i, q)| validate_question(i, q)).collect::<Result<Vec<_>, _>>()?
        }
        None => default_follow_ups(),
    };
    for (i, q) in follow_ups.iter().enumerate() {
        if follow_ups[..i].iter().any(|other| other.code == q.code) {
            return Err(invalid(format!("survey.follow_up[{i}].code"), format!("question « {} » en double", q.code)));
        }
    }
    let survey = Survey { follow_ups, comment_enabled: raw.comment.unwrap_or(true), comment_max_chars, languages };
    Ok((survey, min_reviews_for_score))
}

fn validate_question(index: usize, raw: RawQuestion) -> Result<Question, Invalid> {
    let at = |field: &str| format!("survey.follow_up[{index}].{field}");
    let code = raw.code;
    if code.is_empty()
        || code.len() > 64
        || !code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(invalid(at("code"), "lettres minuscules sans accent, chiffres et « _ » (64 au plus)"));
    }
    if code == SATISFACTION || code == VERBATIM {
        return Err(invalid(
            at("code"),
            format!("« {code} » est déjà posée par la borne : choisissez une autre question"),
        ));
    }
    let mut show_after = Vec::new();
    for (j, key) in raw.show_after.unwrap_or_default().iter().enumerate() {
        let s = Satisfaction::from_key(key).ok_or_else(|| {
            invalid(
                format!("{}[{j}]", at("show_after")),
                format!("« {key} » inconnu : « pas_bien », « moyen » ou « tres_bien »"),
            )
        })?;
        if !show_after.contains(&s) {
            show_after.push(s);
        }
    }
    if let Some(mut question) = borne_model::review::jdma_question(&code) {
        // The platform defines these questions: their wording and answers are not ours to change.
        for (field, given) in
            [("label", raw.label.is_some()), ("kind", raw.kind.is_some()), ("items", raw.items.is_some())]
        {
            if given {
                return Err(invalid(
                    at(field),
                    format!("« {code} » est une question de la plateforme : ne précisez que « show_after »"),
                ));
            }
        }
        question.show_after = show_after;
        return Ok(question);
    }
    let label = raw.label.filter(|l| !l.trim().is_empty()).ok_or_else(|| {
        invalid(
            at("label"),
            format!(
                "le texte de la question « {code} » est obligatoire (codes de la plateforme : {})",
                JDMA_CODES.join(", ")
            ),
        )
    })?;
    let kind = match raw.kind.as_deref() {
        Some("radio") => AnswerKind::Radio,
        Some("checkbox") => AnswerKind::Checkbox,
        Some(other) => return Err(invalid(at("kind"), format!("« {other} » inconnu : « radio » ou « checkbox »"))),
        None => return Err(invalid(at("kind"), "obligatoire : « radio » (une réponse) ou « checkbox » (plusieurs)")),
    };
    let raw_items = raw.items.unwrap_or_default();
    if raw_items.is_empty() || raw_items.len() > 12 {
        return Err(invalid(at("items"), "de 1 à 12 réponses possibles"));
    }
    let mut items: Vec<Item> = Vec::with_capacity(raw_items.len());
    for (j, item) in raw_items.into_iter().enumerate() {
        let item_at = |field: &str| format!("survey.follow_up[{index}].items[{j}].{field}");
        if item.id < 0 || item.id > borne_model::wire::MAX_WIRE_ID as i64 || items.iter().any(|i| i.id == item.id) {
            return Err(invalid(
                item_at("id"),
                format!(
                    "identifiant {} négatif, trop grand (au plus {}) ou en double",
                    item.id,
                    borne_model::wire::MAX_WIRE_ID
                ),
            ));
        }
        if item.text.trim().is_empty() || item.text.chars().count() > 80 {
            return Err(invalid(item_at("text"), "un texte de 1 à 80 caractères"));
        }
        let intention = Intention::parse(&item.intention).ok_or_else(|| {
            invalid(
                item_at("intention"),
                format!("« {} » inconnue : very_good, good, medium, bad, very_bad ou neutral", item.intention),
            )
        })?;
        let exclusive = item.exclusive.unwrap_or(false);
        if exclusive && kind != AnswerKind::Checkbox {
            return Err(invalid(item_at("exclusive"), "n'a de sens que pour une question « checkbox »"));
        }
        items.push(Item { id: item.id, text: item.text, intention, exclusive });
    }
    Ok(Question { code, label, kind, items, show_after })
}

/// After « Pas bien » or « Moyen »: what went wrong.
pub fn default_follow_ups() -> Vec<Question> {
    let items = [
        (1, "L'attente"),
        (2, "L'accueil"),
        (3, "Les informations reçues"),
        (4, "L'orientation"),
        (5, "Les locaux"),
        (6, "Autre chose"),
    ];
    vec![Question {
        code: "kiosk_motif".into(),
        label: "Qu'est-ce qui n'a pas été ?".into(),
        kind: AnswerKind::Checkbox,
        items: items
            .iter()
            .map(|(id, text)| Item { id: *id, text: text.to_string(), intention: Intention::Neutral, exclusive: false })
            .collect(),
        show_after: vec![Satisfaction::Bad, Satisfaction::Medium],
    }]
}
