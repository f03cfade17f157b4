//! The domain: a review in the national platform's ("Je donne mon avis", JDMA) model, the
//! questions a kiosk may ask, and the indicators exactly as the State computes them.
//!
//! Invariant: no IO here. Everything is a pure function of its arguments, so the kiosk, the
//! command line, the uploader and the reference receiver share one definition of a valid review.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// How an answer item leans, in JDMA's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intention {
    VeryGood,
    Good,
    Medium,
    Bad,
    VeryBad,
    Neutral,
}

impl Intention {
    pub fn as_str(self) -> &'static str {
        match self {
            Intention::VeryGood => "very_good",
            Intention::Good => "good",
            Intention::Medium => "medium",
            Intention::Bad => "bad",
            Intention::VeryBad => "very_bad",
            Intention::Neutral => "neutral",
        }
    }

    pub fn parse(text: &str) -> Option<Intention> {
        Some(match text {
            "very_good" => Intention::VeryGood,
            "good" => Intention::Good,
            "medium" => Intention::Medium,
            "bad" => Intention::Bad,
            "very_bad" => Intention::VeryBad,
            "neutral" => Intention::Neutral,
            _ => return None,
        })
    }

    /// Score on ten of a graded intention, as JDMA computes `comprehension` and
    /// `contact_satisfaction` (very_good 10, good 7.5, medium 5, bad 2.5, very_bad 0).
    pub fn five_level_score(self) -> Option<f64> {
        match self {
            Intention::VeryGood => Some(10.0),
            Intention::Good => Some(7.5),
            Intention::Medium => Some(5.0),
            Intention::Bad => Some(2.5),
            Intention::VeryBad => Some(0.0),
            Intention::Neutral => None,
        }
    }
}

/// The widget kind of a question, in JDMA's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    Radio,
    Checkbox,
    Text,
}

impl AnswerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerKind::Radio => "radio",
            AnswerKind::Checkbox => "checkbox",
            AnswerKind::Text => "text",
        }
    }

    pub fn parse(text: &str) -> Option<AnswerKind> {
        Some(match text {
            "radio" => AnswerKind::Radio,
            "checkbox" => AnswerKind::Checkbox,
            "text" => AnswerKind::Text,
            _ => return None,
        })
    }
}

/// One answer, as JDMA stores it (`field_label` is derived from the question, not stored here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub field_code: String,
    pub kind: AnswerKind,
    pub answer_item_id: i64,
    pub answer_text: String,
    pub intention: Intention,
    /// For JDMA's per-channel help answers (`contact_reached`, `contact_satisfaction`): the
    /// `contact_tried` channel (item 9 to 12) they are about; JDMA stores them as that answer's
    /// children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<i64>,
}

/// Whether the kiosk's clock was known good when a timestamp was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    Synced,
    Unsynced,
}

impl ClockState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::Synced => "synced",
            ClockState::Unsynced => "unsynced",
        }
    }

    pub fn parse(text: &str) -> Option<ClockState> {
        match text {
            "synced" => Some(ClockState::Synced),
            "unsynced" => Some(ClockState::Unsynced),
            _ => None,
        }
    }
}

/// Where a timestamp sits on this machine's monotonic clock, so that it can be corrected once
/// the wall clock synchronises during the same boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootStamp {
    pub boot_id: String,
    pub boottime_ms: i64,
}

/// A review as committed by the kiosk.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub client_review_id: Uuid,
    /// The instant, with the local UTC offset in force when it was taken.
    pub submitted_at: DateTime<FixedOffset>,
    pub clock: ClockState,
    pub boot: Option<BootStamp>,
    pub language: String,
    pub answers: Vec<Answer>,
}

impl Review {
    pub fn satisfaction(&self) -> Option<&Answer> {
        self.answers.iter().find(|a| a.field_code == SATISFACTION)
    }

    pub fn comment(&self) -> Option<&str> {
        self.answers.iter().find(|a| a.field_code == VERBATIM).map(|a| a.answer_text.as_str())
    }
}

pub const SATISFACTION: &str = "satisfaction";
pub const VERBATIM: &str = "verbatim";
/// JDMA's cap on the free comment.
pub const VERBATIM_MAX_CHARS: usize = 15_000;

/// The main question's three answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Satisfaction {
    Bad = 1,
    Medium = 2,
    Good = 3,
}

impl Satisfaction {
    pub const ALL: [Satisfaction; 3] = [Satisfaction::Bad, Satisfaction::Medium, Satisfaction::Good];

    pub fn from_item_id(id: i64) -> Option<Satisfaction> {
        match id {
            1 => Some(Satisfaction::Bad),
            2 => Some(Satisfaction::Medium),
            3 => Some(Satisfaction::Good),
            _ => None,
        }
    }

    pub fn item_id(self) -> i64 {
        self as i64
    }

    /// The French label JDMA stores as `answer_text`.
    pub fn label(self) -> &'static str {
        match self {
            Satisfaction::Bad => "Pas bien",
            Satisfaction::Medium => "Moyen",
            Satisfaction::Good => "Très bien",
        }
    }

    /// The value the State averages into "Satisfaction usager" (good 10, medium 5, bad 0).
    pub fn points(self) -> f64 {
        match self {
            Satisfaction::Bad => 0.0,
            Satisfaction::Medium => 5.0,
            Satisfaction::Good => 10.0,
        }
    }

    pub fn intention(self) -> Intention {
        match self {
            Satisfaction::Bad => Intention::Bad,
            Satisfaction::Medium => Intention::Medium,
            Satisfaction::Good => Intention::Good,
        }
    }

    /// A stable name for configuration files.
    pub fn key(self) -> &'static str {
        match self {
            Satisfaction::Bad => "pas_bien",
            Satisfaction::Medium => "moyen",
            Satisfaction::Good => "tres_bien",
        }
    }

    pub fn from_key(key: &str) -> Option<Satisfaction> {
        Satisfaction::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// One possible answer to a question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub id: i64,
    pub text: String,
    pub intention: Intention,
    /// Ticking this item excludes every other item of a checkbox question.
    pub exclusive: bool,
}

/// A question: JDMA's own, or a kiosk-only one with its own code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Question {
    pub code: String,
    pub label: String,
    pub kind: AnswerKind,
    pub items: Vec<Item>,
    /// The satisfaction answers after which the kiosk asks it; empty means "always".
    pub show_after: Vec<Satisfaction>,
}

impl Question {
    pub fn item(&self, id: i64) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    pub fn is_asked_after(&self, satisfaction: Satisfaction) -> bool {
        self.show_after.is_empty() || self.show_after.contains(&satisfaction)
    }

    /// How answers to this question turn into a score on ten, if they do.
    pub fn scoring(&self) -> Scoring {
        match self.code.as_str() {
            SATISFACTION => Scoring::Satisfaction,
            "contact_reached" => Scoring::ShareOf(17),
            _ if !self.items.is_empty()
                && self.kind == AnswerKind::Radio
                && self.items.iter().all(|i| i.intention != Intention::Neutral) =>
            {
                Scoring::FiveLevel
            }
            _ => Scoring::None,
        }
    }
}

/// How a question is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scoring {
    /// good 10, medium 5, bad 0.
    Satisfaction,
    /// very_good 10, good 7.5, medium 5, bad 2.5, very_bad 0.
    FiveLevel,
    /// A percentage: the share of answers with this item id ("Aide joignable").
    ShareOf(i64),
    None,
}

fn item(id: i64, text: &str, intention: Intention) -> Item {
    Item { id, text: text.to_string(), intention, exclusive: false }
}

/// JDMA's `root` form, as the platform defines it (labels in French, as stored).
pub fn jdma_question(code: &str) -> Option<Question> {
    use Intention::*;
    let (label, kind, items) = match code {
        SATISFACTION => (
            "De façon générale, comment ça s’est passé ?",
            AnswerKind::Radio,
            Satisfaction::ALL.iter().map(|s| item(s.item_id(), s.label(), s.intention())).collect(),
        ),
        "comprehension" => (
            "Qu'avez-vous pensé des informations et des instructions fournies ?",
            AnswerKind::Radio,
            vec![
                item(4, "1", VeryBad),
                item(5, "2", Bad),
                item(6, "3", Medium),
                item(7, "4", Good),
                item(8, "5", VeryGood),
            ],
        ),
        "contact_tried" => {
            let mut items = vec![
                item(9, "Au guichet avec l’administration", Neutral),
                item(10, "Par téléphone avec l’administration", Neutral),
                item(11, "Par e-mail avec l’administration", Neutral),
                item(12, "Par chat avec l’administration", Neutral),
                item(13, "Une personne proche", Neutral),
                item(14, "Une association", Neutral),
                item(15, "Des sites internet", Neutral),
                item(16, "Autres, précisez", Neutral),
                item(17, "Je n'ai pas eu besoin d'aide", Good),
            ];
            items[8].exclusive = true;
            (
                "Durant votre parcours, avez-vous tenté d’obtenir de l’aide par l’un des moyens suivants ?",
                AnswerKind::Checkbox,
                items,
            )
        }
        "contact_reached" => (
            "Quand vous avez cherché de l'aide, avez-vous réussi à joindre l'administration ?",
            AnswerKind::Radio,
            vec![item(17, "Oui", Good), item(18, "Non", Bad)],
        ),
        "contact_satisfaction" => (
            "Comment évaluez-vous la qualité de l'aide que vous avez obtenue de la part de l'administration ?",
            AnswerKind::Radio,
            vec![
                item(19, "Très mauvaise", VeryBad),
                item(20, "Mauvaise", Bad),
                item(21, "Ni bonne, ni mauvaise", Medium),
                item(22, "Bonne", Good),
                item(23, "Excellente", VeryGood),
            ],
        ),
        VERBATIM => ("Souhaitez-vous nous en dire plus ?", AnswerKind::Text, Vec::new()),
        _ => return None,
    };
    Some(Question { code: code.to_string(), label: label.to_string(), kind, items, show_after: Vec::new() })
}

/// Field codes of JDMA's `root` form.
pub const JDMA_CODES: [&str; 6] =
    [SATISFACTION, "comprehension", "contact_tried", "contact_reached", "contact_satisfaction", VERBATIM];

/// Why an answer or a review is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidReview {
    #[error("la note de satisfaction doit être 1 (Pas bien), 2 (Moyen) ou 3 (Très bien), pas {0}")]
    Satisfaction(i64),
    #[error("question inconnue : « {0} »")]
    UnknownQuestion(String),
    #[error("la question « {code} » n'a pas de réponse n° {item}")]
    UnknownItem { code: String, item: i64 },
    #[error("la question « {code} » n'est pas posée après « {after} »")]
    NotAsked { code: String, after: &'static str },
    #[error("la question « {0} » n'accepte qu'une réponse")]
    SingleChoice(String),
    #[error("la réponse n° {item} à « {code} » est donnée deux fois")]
    Repeated { code: String, item: i64 },
    #[error("la réponse n° {item} à « {code} » exclut toute autre réponse")]
    Exclusive { code: String, item: i64 },
    #[error("le commentaire dépasse {max} caractères ({len})")]
    CommentTooLong { len: usize, max: usize },
    #[error(
        "la question « {code} » se pose pour un moyen d'aide de l'administration coché (9 à 12), pas pour {channel}"
    )]
    Channel { code: String, channel: i64 },
    #[error("les commentaires sont désactivés sur cette borne (survey.comment)")]
    CommentDisabled,
    #[error("la langue « {0} » n'est pas proposée sur cette borne")]
    Language(String),
}

/// What a visitor (or `borne rate`) gave, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewDraft {
    pub satisfaction: i64,
    /// (field code, answer item id) pairs for the follow-up questions.
    pub answers: Vec<(String, i64)>,
    /// (field code, channel, answer item id): JDMA's help questions asked for each channel
    /// ticked in `contact_tried` (contract 1.2).
    pub channel_answers: Vec<(String, i64, i64)>,
    pub comment: Option<String>,
    pub language: String,
}

/// The questions a kiosk asks, and the rules a draft must satisfy to become a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    pub follow_ups: Vec<Question>,
    pub comment_enabled: bool,
    pub comment_max_chars: usize,
    pub languages: Vec<String>,
}

impl Survey {
    /// Validates the rating and follow-up answers of a draft and turns them into answers.
    /// The comment is checked for length only; it is cleaned and redacted separately
    /// (see `redact`), and appended by the caller.
    pub fn answers_for(&self, draft: &ReviewDraft) -> Result<Vec<Answer>, InvalidReview> {
        let satisfaction =
            Satisfaction::from_item_id(draft.satisfaction).ok_or(InvalidReview::Satisfaction(draft.satisfaction))?;
        if !self.languages.iter().any(|l| l == &draft.language) {
            return Err(InvalidReview::Language(draft.language.clone()));
        }
        let mut answers = vec![Answer {
            parent: None,
            field_code: SATISFACTION.to_string(),
            kind: AnswerKind::Radio,
            answer_item_id: satisfaction.item_id(),
            answer_text: satisfaction.label().to_string(),
            intention: satisfaction.intention(),
        }];
        for (code, item_id) in &draft.answers {
            let question = self
                .follow_ups
                .iter()
                .find(|q| &q.code == code)
                .ok_or_else(|| InvalidReview::UnknownQuestion(code.clone()))?;
            if !question.is_asked_after(satisfaction) {
                return Err(InvalidReview::NotAsked { code: code.clone(), after: satisfaction.label() });
            }
            let item = question
                .item(*item_id)
                .ok_or_else(|| InvalidReview::UnknownItem { code: code.clone(), item: *item_id })?;
            let earlier: Vec<&Answer> = answers.iter().filter(|a| &a.field_code == code).collect();
            if earlier.iter().any(|a| a.answer_item_id == *item_id) {
                return Err(InvalidReview::Repeated { code: code.clone(), item: *item_id });
            }
            if !earlier.is_empty() {
                if question.kind != AnswerKind::Checkbox {
                    return Err(InvalidReview::SingleChoice(code.clone()));
                }
                let exclusive = std::iter::once(item)
                    .chain(earlier.iter().filter_map(|a| question.item(a.answer_item_id)))
                    .find(|i| i.exclusive);
                if let Some(exclusive) = exclusive {
                    return Err(InvalidReview::Exclusive { code: code.clone(), item: exclusive.id });
                }
            }
            answers.push(Answer {
                parent: None,
                field_code: code.clone(),
                kind: question.kind,
                answer_item_id: item.id,
                answer_text: item.text.clone(),
                intention: item.intention,
            });
        }
        for (code, channel, item_id) in &draft.channel_answers {
            let question = self
                .follow_ups
                .iter()
                .find(|q| &q.code == code && PER_CHANNEL.contains(&q.code.as_str()))
                .ok_or_else(|| InvalidReview::UnknownQuestion(code.clone()))?;
            if !question.is_asked_after(satisfaction) {
                return Err(InvalidReview::NotAsked { code: code.clone(), after: satisfaction.label() });
            }
            let ticked = answers.iter().any(|a| a.field_code == "contact_tried" && a.answer_item_id == *channel);
            if !ticked || !ADMINISTRATION_CHANNELS.contains(channel) {
                return Err(InvalidReview::Channel { code: code.clone(), channel: *channel });
            }
            let item = question
                .item(*item_id)
                .ok_or_else(|| InvalidReview::UnknownItem { code: code.clone(), item: *item_id })?;
            if answers.iter().any(|a| &a.field_code == code && a.parent == Some(*channel)) {
                return Err(InvalidReview::Repeated { code: code.clone(), item: *item_id });
            }
            answers.push(Answer {
                field_code: code.clone(),
                kind: question.kind,
                answer_item_id: item.id,
                answer_text: item.text.clone(),
                intention: item.intention,
                parent: Some(*channel),
            });
        }
        if let Some(comment) = &draft.comment {
            if !self.comment_enabled {
                return Err(InvalidReview::CommentDisabled);
            }
            let len = comment.chars().count();
            if len > self.comment_max_chars {
                return Err(InvalidReview::CommentTooLong { len, max: self.comment_max_chars });
            }
        }
        Ok(answers)
    }
}

/// The help questions JDMA asks per channel, as children of the channel's `contact_tried` answer.
pub const PER_CHANNEL: [&str; 2] = ["contact_reached", "contact_satisfaction"];
/// The `contact_tried` channels they are asked for: reaching the administration (desk, phone,
/// e-mail, chat), as JDMA's form (`needed: [9, 10, 11, 12]`).
pub const ADMINISTRATION_CHANNELS: std::ops::RangeInclusive<i64> = 9..=12;

/// Checks one answer against JDMA's `root` form: a known code must carry exactly the item id,
/// text and intention the platform defines. Kiosk-only codes pass (they carry their own).
pub fn check_against_jdma(answer: &Answer) -> Result<(), String> {
    if let Some(parent) = answer.parent {
        if !PER_CHANNEL.contains(&answer.field_code.as_str()) {
            return Err(format!(
                "{} takes no parent_answer_item_id (only contact_reached and contact_satisfaction)",
                answer.field_code
            ));
        }
        if !ADMINISTRATION_CHANNELS.contains(&parent) {
            return Err(format!(
                "parent_answer_item_id {parent} is not a contact_tried channel of the administration (9 to 12)"
            ));
        }
    }
    let Some(question) = jdma_question(&answer.field_code) else {
        return Ok(());
    };
    if question.kind != answer.kind {
        return Err(format!(
            "kind {} is not valid for {} (expected {})",
            answer.kind.as_str(),
            answer.field_code,
            question.kind.as_str()
        ));
    }
    if answer.field_code == VERBATIM {
        if answer.answer_item_id != 0 || answer.intention != Intention::Neutral {
            return Err("verbatim must have answer_item_id 0 and intention neutral".to_string());
        }
        return check_verbatim_text(&answer.answer_text);
    }
    let item = question
        .item(answer.answer_item_id)
        .ok_or_else(|| format!("answer_item_id {} is not valid for {}", answer.answer_item_id, answer.field_code))?;
    if item.text != answer.answer_text {
        return Err(format!(
            "answer_text {:?} does not match answer_item_id {} of {} (expected {:?})",
            answer.answer_text, item.id, answer.field_code, item.text
        ));
    }
    if item.intention != answer.intention {
        return Err(format!(
            "intention {} does not match answer_item_id {} of {} (expected {})",
            answer.intention.as_str(),
            item.id,
            answer.field_code,
            item.intention.as_str()
        ));
    }
    Ok(())
}

/// A review's per-channel answers: each names a channel the review's `contact_tried` ticked, at
/// most one answer per question and channel. (Answers without a channel are contract 1.0's.)
pub fn check_channels(answers: &[Answer]) -> Result<(), String> {
    for (i, a) in answers.iter().enumerate() {
        let Some(parent) = a.parent else { continue };
        if !answers.iter().any(|t| t.field_code == "contact_tried" && t.answer_item_id == parent) {
            return Err(format!("{} names channel {parent}, which contact_tried does not tick", a.field_code));
        }
        if answers[..i].iter().any(|b| b.field_code == a.field_code && b.parent == Some(parent)) {
            return Err(format!("{} is answered twice for channel {parent}", a.field_code));
        }
    }
    Ok(())
}

/// The contract's rule for comment text: at most 15 000 characters, no control characters
/// except newline.
pub fn check_verbatim_text(text: &str) -> Result<(), String> {
    let len = text.chars().count();
    if len > VERBATIM_MAX_CHARS {
        return Err(format!("verbatim is {len} characters long, more than {VERBATIM_MAX_CHARS}"));
    }
    if let Some(c) = text.chars().find(|c| c.is_control() && *c != '\n') {
        return Err(format!("verbatim contains the control character U+{:04X}", c as u32));
    }
    Ok(())
}

impl fmt::Display for Satisfaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn survey() -> Survey {
        let mut problem = Question {
            code: "kiosk_motif".into(),
            label: "Qu'est-ce qui n'a pas été ?".into(),
            kind: AnswerKind::Checkbox,
            items: vec![item(1, "Attente", Intention::Neutral), item(2, "Accueil", Intention::Neutral)],
            show_after: vec![Satisfaction::Bad, Satisfaction::Medium],
        };
        problem.items.push(Item { id: 9, text: "Rien".into(), intention: Intention::Good, exclusive: true });
        Survey {
            follow_ups: vec![problem, jdma_question("comprehension").unwrap()],
            comment_enabled: true,
            comment_max_chars: 10,
            languages: vec!["fr".into(), "en".into()],
        }
    }

    fn draft(satisfaction: i64, answers: &[(&str, i64)]) -> ReviewDraft {
        ReviewDraft {
            channel_answers: Vec::new(),
            satisfaction,
            answers: answers.iter().map(|(c, i)| (c.to_string(), *i)).collect(),
            comment: None,
            language: "fr".into(),
        }
    }

    #[test]
    fn rating_alone_is_a_review() {
        let answers = survey().answers_for(&draft(3, &[])).unwrap();
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].answer_text, "Très bien");
        assert_eq!(answers[0].intention, Intention::Good);
        assert_eq!(check_against_jdma(&answers[0]), Ok(()));
    }

    #[test]
    fn follow_up_rules() {
        let s = survey();
        assert_eq!(s.answers_for(&draft(4, &[])), Err(InvalidReview::Satisfaction(4)));
        assert_eq!(s.answers_for(&draft(1, &[("kiosk_motif", 1), ("kiosk_motif", 2)])).unwrap().len(), 3);
        assert!(matches!(s.answers_for(&draft(3, &[("kiosk_motif", 1)])), Err(InvalidReview::NotAsked { .. })));
        assert!(matches!(s.answers_for(&draft(1, &[("kiosk_motif", 7)])), Err(InvalidReview::UnknownItem { .. })));
        assert!(matches!(s.answers_for(&draft(1, &[("nope", 1)])), Err(InvalidReview::UnknownQuestion(_))));
        assert!(matches!(
            s.answers_for(&draft(1, &[("kiosk_motif", 1), ("kiosk_motif", 1)])),
            Err(InvalidReview::Repeated { .. })
        ));
        assert!(matches!(
            s.answers_for(&draft(1, &[("kiosk_motif", 1), ("kiosk_motif", 9)])),
            Err(InvalidReview::Exclusive { item: 9, .. })
        ));
        assert!(matches!(
            s.answers_for(&draft(3, &[("comprehension", 4), ("comprehension", 5)])),
            Err(InvalidReview::SingleChoice(_))
        ));
        let mut long = draft(2, &[]);
        long.comment = Some("é".repeat(11));
        assert_eq!(s.answers_for(&long), Err(InvalidReview::CommentTooLong { len: 11, max: 10 }));
        let mut lang = draft(2, &[]);
        lang.language = "xx".into();
        assert_eq!(s.answers_for(&lang), Err(InvalidReview::Language("xx".into())));
    }

    #[test]
    fn per_channel_answers_name_a_channel_the_review_ticked() {
        let answer = |code: &str, item: i64, text: &str, intention: Intention, parent: Option<i64>| Answer {
            field_code: code.into(),
            kind: if code == "contact_tried" { AnswerKind::Checkbox } else { AnswerKind::Radio },
            answer_item_id: item,
            answer_text: text.into(),
            intention,
            parent,
        };
        let desk = answer("contact_tried", 9, "Au guichet avec l’administration", Intention::Neutral, None);
        let phone = answer("contact_tried", 10, "Par téléphone avec l’administration", Intention::Neutral, None);
        let reached = |parent| answer("contact_reached", 17, "Oui", Intention::Good, Some(parent));
        assert_eq!(check_against_jdma(&reached(9)), Ok(()));
        assert!(check_against_jdma(&reached(13)).unwrap_err().contains("9 to 12"), "not an administration channel");
        let on_tried = answer("contact_tried", 11, "Par e-mail avec l’administration", Intention::Neutral, Some(9));
        assert!(check_against_jdma(&on_tried).unwrap_err().contains("takes no parent_answer_item_id"));
        assert_eq!(check_channels(&[desk.clone(), phone.clone(), reached(9), reached(10)]), Ok(()));
        assert!(check_channels(&[desk.clone(), reached(10)]).unwrap_err().contains("does not tick"));
        assert!(check_channels(&[desk.clone(), reached(9), reached(9)]).unwrap_err().contains("twice for channel 9"));
        // Contract 1.0: without a channel, as before.
        let unparented = answer("contact_reached", 17, "Oui", Intention::Good, None);
        assert_eq!(check_against_jdma(&unparented), Ok(()));
        assert_eq!(check_channels(&[unparented]), Ok(()));
    }

    #[test]
    fn jdma_check_rejects_inconsistent_answers() {
        let good = Answer {
            parent: None,
            field_code: "satisfaction".into(),
            kind: AnswerKind::Radio,
            answer_item_id: 3,
            answer_text: "Très bien".into(),
            intention: Intention::Good,
        };
        assert!(check_against_jdma(&good).is_ok());
        let bad_item = Answer { answer_item_id: 4, ..good.clone() };
        assert!(check_against_jdma(&bad_item).unwrap_err().contains("answer_item_id 4 is not valid"));
        let bad_text = Answer { answer_text: "Bien".into(), ..good.clone() };
        assert!(check_against_jdma(&bad_text).is_err());
        let bad_intention = Answer { intention: Intention::Bad, ..good.clone() };
        assert!(check_against_jdma(&bad_intention).is_err());
        let verbatim = Answer {
            parent: None,
            field_code: "verbatim".into(),
            kind: AnswerKind::Text,
            answer_item_id: 0,
            answer_text: "ligne 1\nligne 2".into(),
            intention: Intention::Neutral,
        };
        assert!(check_against_jdma(&verbatim).is_ok());
        let control = Answer { answer_text: "a\u{7}b".into(), ..verbatim.clone() };
        assert!(check_against_jdma(&control).is_err());
        let long = Answer { answer_text: "x".repeat(15_001), ..verbatim };
        assert!(check_against_jdma(&long).is_err());
        let custom = Answer { field_code: "kiosk_motif".into(), ..good };
        assert!(check_against_jdma(&custom).is_ok());
    }
}
