//! The `[survey]` part of a kiosk's configuration, as written (TOML) and as validated: the
//! follow-up questions, the comment, the rule of a minimum number of reviews. The kiosk reads it
//! from its own file, or from a version its platform publishes (contract 1.2, `GET /v1/survey`);
//! the platform checks what a manager publishes with the same rules.

use crate::review::{
    AnswerKind, Intention, Item, JDMA_CODES, Question, SATISFACTION, Satisfaction, Survey, VERBATIM, VERBATIM_MAX_CHARS,
};
use serde::{Deserialize, Serialize};

/// A validation error: the dotted key path (with `[i]` indexes) and the message, in French.
pub type Invalid = (String, String);

fn invalid(key: impl Into<String>, message: impl Into<String>) -> Invalid {
    (key.into(), message.into())
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSurvey {
    pub comment: Option<bool>,
    pub comment_max_chars: Option<usize>,
    pub min_reviews_for_score: Option<u64>,
    pub follow_up: Option<Vec<RawQuestion>>,
    /// The keys of this part the site keeps from its own file whatever the platform publishes
    /// (the kiosk's file only).
    pub keep_local: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuestion {
    pub code: String,
    pub label: Option<String>,
    pub kind: Option<String>,
    pub show_after: Option<Vec<String>>,
    pub items: Option<Vec<RawItem>>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawItem {
    pub id: i64,
    pub text: String,
    pub intention: String,
    pub exclusive: Option<bool>,
}

/// The survey, and the minimum number of reviews for a score.
pub fn validate_survey(raw: RawSurvey, languages: Vec<String>) -> Result<(Survey, u64), Invalid> {
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
    if let Some(mut question) = crate::review::jdma_question(&code) {
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
    if raw.label.as_deref().is_some_and(|l| l.chars().count() > 300 || l.chars().any(char::is_control)) {
        return Err(invalid(
            at("label"),
            "300 caractères au plus, sans caractère de contrôle (un retour à la ligne, une tabulation…)",
        ));
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
        if item.id < 0 || item.id > crate::wire::MAX_WIRE_ID as i64 || items.iter().any(|i| i.id == item.id) {
            return Err(invalid(
                item_at("id"),
                format!(
                    "identifiant {} négatif, trop grand (au plus {}) ou en double",
                    item.id,
                    crate::wire::MAX_WIRE_ID
                ),
            ));
        }
        if item.text.trim().is_empty() || item.text.chars().count() > 80 || item.text.chars().any(char::is_control) {
            return Err(invalid(item_at("text"), "un texte de 1 à 80 caractères, sans caractère de contrôle"));
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

/// A version to start from: the kiosk's default `[survey]` part (`borne config default`), which
/// a test keeps equal to it.
pub const TEMPLATE: &str = r#"[survey]
# Proposer un commentaire libre après la note, et sa longueur maximale.
comment = true
comment_max_chars = 500
# En dessous de ce nombre d'avis, la note est « Nombre d'avis insuffisant » (règle de l'État : 100).
min_reviews_for_score = 100

# Une question de la plateforme se déclare par son code seul (comprehension, contact_tried…) ;
# une question propre aux bornes donne son texte, son type (radio, checkbox) et ses réponses.
[[survey.follow_up]]
code = "kiosk_motif"
label = "Qu'est-ce qui n'a pas été ?"
kind = "checkbox"
show_after = ["pas_bien", "moyen"]
items = [
    { id = 1, text = "L'attente", intention = "neutral" },
    { id = 2, text = "L'accueil", intention = "neutral" },
    { id = 3, text = "Les informations reçues", intention = "neutral" },
    { id = 4, text = "L'orientation", intention = "neutral" },
    { id = 5, text = "Les locaux", intention = "neutral" },
    { id = 6, text = "Autre chose", intention = "neutral" },
]
"#;

/// The keys a platform may publish, in the order they are written.
pub const PUBLISHED_KEYS: [&str; 4] = ["comment", "comment_max_chars", "min_reviews_for_score", "follow_up"];

/// A published version is at most this long (a survey of twelve questions of twelve answers
/// fits in a tenth of it).
pub const MAX_PUBLISHED_BYTES: usize = 64 * 1024;

/// `[survey] keep_local`: the keys the site keeps from its own file.
pub fn keep_local(raw: &RawSurvey) -> Result<Vec<String>, Invalid> {
    let mut kept = Vec::new();
    for (i, key) in raw.keep_local.iter().flatten().enumerate() {
        if !PUBLISHED_KEYS.contains(&key.as_str()) {
            return Err(invalid(
                format!("survey.keep_local[{i}]"),
                format!("« {key} » inconnue : {}", PUBLISHED_KEYS.join(", ")),
            ));
        }
        if !kept.contains(key) {
            kept.push(key.clone());
        }
    }
    Ok(kept)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishedFile {
    survey: RawSurvey,
}

/// The `[survey]` part of a configuration as published by a platform (or given to
/// `borne-platform survey publish`): TOML with that one table, `keep_local` excluded (it is the
/// site's own choice). The error says where, in French.
pub fn parse_published(text: &str) -> Result<RawSurvey, String> {
    if text.len() > MAX_PUBLISHED_BYTES {
        return Err(format!("questionnaire trop long ({} octets, au plus {MAX_PUBLISHED_BYTES})", text.len()));
    }
    let parsed: PublishedFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let message = e.message().trim().to_string();
        match line {
            Some(line) => format!("ligne {line} : {message} (attendu : la seule partie [survey] d'une configuration)"),
            None => format!("{message} (attendu : la seule partie [survey] d'une configuration)"),
        }
    })?;
    if parsed.survey.keep_local.is_some() {
        return Err(
            "« survey.keep_local » est le choix du site, dans le fichier de la borne : il ne se publie pas".into()
        );
    }
    Ok(parsed.survey)
}

/// Checks a published version by the kiosk's rules (the languages are the kiosk's, French
/// being always there). Returns the survey it describes on its own.
pub fn check_published(text: &str, languages: Vec<String>) -> Result<(Survey, u64), String> {
    let raw = parse_published(text)?;
    validate_survey(raw, languages).map_err(|(key, message)| format!("clé « {key} » : {message}"))
}

/// The survey a kiosk runs with a published version: each key the version sets replaces the
/// local file's, except those the site keeps (`keep_local`); a key the version leaves out stays
/// as the file says. The version is checked whole first, by the same rules as a file.
pub fn overlay(
    local: &Survey,
    local_min_reviews: u64,
    published: &str,
    keep: &[String],
) -> Result<(Survey, u64), String> {
    let raw = parse_published(published)?;
    let sets = |key: &str| !keep.iter().any(|k| k == key);
    let (comment, max_chars, min_reviews, follow_up) = (
        raw.comment.is_some() && sets("comment"),
        raw.comment_max_chars.is_some() && sets("comment_max_chars"),
        raw.min_reviews_for_score.is_some() && sets("min_reviews_for_score"),
        raw.follow_up.is_some() && sets("follow_up"),
    );
    let (theirs, their_min) =
        validate_survey(raw, local.languages.clone()).map_err(|(key, message)| format!("clé « {key} » : {message}"))?;
    let mut survey = local.clone();
    if comment {
        survey.comment_enabled = theirs.comment_enabled;
    }
    if max_chars {
        survey.comment_max_chars = theirs.comment_max_chars;
    }
    if follow_up {
        survey.follow_ups = theirs.follow_ups;
    }
    Ok((survey, if min_reviews { their_min } else { local_min_reviews }))
}
