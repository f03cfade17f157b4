//! The indicators exactly as the State computes them (Services Publics +, JDMA, the
//! Observatoire): scores on ten from answer counts, colour bands, distributions, the rule of a
//! minimum number of reviews.
//!
//! Invariant: computed from counts, never from rows, so they cost the same at any volume; no IO.

use crate::review::{
    AnswerKind, Intention, Question, SATISFACTION, Satisfaction, Scoring, Survey, VERBATIM, jdma_question,
};
use serde::Serialize;

/// The State's colour bands for a score on ten.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// ≥ 8, green « Bien ».
    Good,
    /// 5 to < 8, yellow « Moyen ».
    Medium,
    /// < 5, red « Pas bien ».
    Bad,
}

impl Band {
    pub fn of(score: f64) -> Band {
        if score >= 8.0 {
            Band::Good
        } else if score >= 5.0 {
            Band::Medium
        } else {
            Band::Bad
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Band::Good => "Bien",
            Band::Medium => "Moyen",
            Band::Bad => "Pas bien",
        }
    }

    /// The colour the State's dashboard uses for the band.
    pub fn colour_hex(self) -> &'static str {
        match self {
            Band::Good => "#18753c",
            Band::Medium => "#b34000",
            Band::Bad => "#ce0500",
        }
    }
}

pub use crate::counts::QuestionCounts;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemShare {
    pub answer_item_id: i64,
    pub answer_text: String,
    pub intention: Intention,
    pub count: u64,
    /// Share of the question's respondents, in percent.
    pub percent: f64,
}

/// A score on ten, or the reason there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Score {
    Ok {
        value: f64,
        band: Band,
        band_label: &'static str,
    },
    /// Fewer reviews than the configured minimum (« Nombre d'avis insuffisant »).
    Insufficient {
        count: u64,
        minimum: u64,
    },
    /// The question's answers carry no grade.
    NotScored,
}

impl Score {
    pub fn value(&self) -> Option<f64> {
        match self {
            Score::Ok { value, .. } => Some(*value),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionIndicator {
    pub field_code: String,
    pub label: String,
    pub respondents: u64,
    pub score: Score,
    /// For « Aide joignable »: the share of « Oui », in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share_percent: Option<f64>,
    pub distribution: Vec<ItemShare>,
}

/// Computes a question's indicator from its counts, as the State does: a mean of points over
/// the answers, shown only from `minimum` respondents on.
pub fn question_indicator(question: &Question, counts: &QuestionCounts, minimum: u64) -> QuestionIndicator {
    let distribution: Vec<ItemShare> = question
        .items
        .iter()
        .map(|item| {
            let count = counts.count_of(item.id);
            ItemShare {
                answer_item_id: item.id,
                answer_text: item.text.clone(),
                intention: item.intention,
                count,
                percent: percent(count, counts.respondents),
            }
        })
        .collect();
    let graded: Vec<(f64, u64)> = match question.scoring() {
        Scoring::Satisfaction => question
            .items
            .iter()
            .filter_map(|i| Satisfaction::from_item_id(i.id).map(|s| (s.points(), counts.count_of(i.id))))
            .collect(),
        Scoring::FiveLevel => question
            .items
            .iter()
            .filter_map(|i| i.intention.five_level_score().map(|p| (p, counts.count_of(i.id))))
            .collect(),
        Scoring::ShareOf(_) | Scoring::None => Vec::new(),
    };
    let share_percent = match question.scoring() {
        Scoring::ShareOf(id) if counts.respondents > 0 => Some(percent(counts.count_of(id), counts.respondents)),
        _ => None,
    };
    let score = if graded.is_empty() {
        Score::NotScored
    } else {
        let answered: u64 = graded.iter().map(|(_, n)| n).sum();
        if answered < minimum.max(1) {
            Score::Insufficient { count: answered, minimum }
        } else {
            let total: f64 = graded.iter().map(|(p, n)| p * *n as f64).sum();
            let mean = total / answered as f64;
            let value = round_to_tenth(mean);
            // As JDMA: the band from the unrounded mean (7.95 is shown 8,0 and is « Moyen »).
            let band = Band::of(mean);
            Score::Ok { value, band, band_label: band.label() }
        }
    };
    QuestionIndicator {
        field_code: question.code.clone(),
        label: question.label.clone(),
        respondents: counts.respondents,
        score,
        share_percent,
        distribution,
    }
}

/// Every indicator of a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicators {
    pub reviews: u64,
    pub comments: u64,
    pub minimum_reviews: u64,
    pub satisfaction: QuestionIndicator,
    pub follow_ups: Vec<QuestionIndicator>,
    /// The same period as JDMA's back office shows it (no minimum; help per channel; autonomy).
    pub jdma: crate::backoffice::BackOffice,
}

/// Computes the indicators of a period from its counts per question.
pub fn indicators(
    survey: &Survey,
    counts: &std::collections::BTreeMap<String, QuestionCounts>,
    minimum: u64,
) -> Indicators {
    let empty = QuestionCounts::default();
    let of = |code: &str| counts.get(code).unwrap_or(&empty);
    let satisfaction_question = jdma_question(SATISFACTION).unwrap_or_else(|| Question {
        code: SATISFACTION.into(),
        label: String::new(),
        kind: AnswerKind::Radio,
        items: Vec::new(),
        show_after: Vec::new(),
    });
    Indicators {
        reviews: of(SATISFACTION).respondents,
        comments: of(VERBATIM).respondents,
        minimum_reviews: minimum,
        satisfaction: question_indicator(&satisfaction_question, of(SATISFACTION), minimum),
        follow_ups: survey.follow_ups.iter().map(|q| question_indicator(q, of(&q.code), minimum)).collect(),
        jdma: crate::backoffice::backoffice(counts),
    }
}

fn percent(count: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { round_to_tenth(100.0 * count as f64 / of as f64) }
}

/// The day twelve rolling months before `today` starts on (the period is `[that day, today]`).
pub fn twelve_months_before(today: chrono::NaiveDate) -> chrono::NaiveDate {
    today
        .checked_sub_months(chrono::Months::new(12))
        .and_then(|d| d.checked_add_days(chrono::Days::new(1)))
        .unwrap_or(today)
}

/// The State shows one decimal ("8,4 / 10").
pub fn round_to_tenth(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// A score formatted the French way: « 8,4 ».
pub fn french_decimal(value: f64) -> String {
    format!("{value:.1}").replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::jdma_question;

    #[test]
    fn satisfaction_score_as_the_state_computes_it() {
        let q = jdma_question(SATISFACTION).unwrap();
        // 7 good, 2 medium, 1 bad: (70 + 10 + 0) / 10 = 8.0 → « Bien ».
        let counts = QuestionCounts { respondents: 10, by_item: vec![(3, 7), (2, 2), (1, 1)] };
        let ind = question_indicator(&q, &counts, 10);
        assert_eq!(ind.score, Score::Ok { value: 8.0, band: Band::Good, band_label: "Bien" });
        assert_eq!(ind.distribution[2].percent, 70.0);
        let ind = question_indicator(&q, &counts, 11);
        assert_eq!(ind.score, Score::Insufficient { count: 10, minimum: 11 });
        // 1 good, 2 medium: 20 / 3 = 6.67 → 6.7, « Moyen ».
        let counts = QuestionCounts { respondents: 3, by_item: vec![(3, 1), (2, 2)] };
        assert_eq!(question_indicator(&q, &counts, 1).score.value(), Some(6.7));
        // 75 good, 9 medium, 16 bad: 7.95, shown 8.0 but « Moyen » (the band of the unrounded mean, as JDMA).
        let counts = QuestionCounts { respondents: 100, by_item: vec![(3, 75), (2, 9), (1, 16)] };
        assert_eq!(
            question_indicator(&q, &counts, 100).score,
            Score::Ok { value: 8.0, band: Band::Medium, band_label: "Moyen" }
        );
        assert_eq!(Band::of(4.99), Band::Bad);
        assert_eq!(Band::of(5.0), Band::Medium);
        assert_eq!(french_decimal(8.4), "8,4");
    }

    #[test]
    fn five_level_and_share_indicators() {
        let q = jdma_question("comprehension").unwrap();
        let counts = QuestionCounts { respondents: 4, by_item: vec![(8, 1), (7, 1), (6, 1), (4, 1)] };
        // (10 + 7.5 + 5 + 0) / 4 = 5.625 → 5.6
        assert_eq!(question_indicator(&q, &counts, 1).score.value(), Some(5.6));
        let reached = jdma_question("contact_reached").unwrap();
        let counts = QuestionCounts { respondents: 4, by_item: vec![(17, 3), (18, 1)] };
        let ind = question_indicator(&reached, &counts, 1);
        assert_eq!(ind.share_percent, Some(75.0));
        assert_eq!(ind.score, Score::NotScored);
        let tried = jdma_question("contact_tried").unwrap();
        assert_eq!(tried.scoring(), Scoring::None);
        assert!(tried.item(17).unwrap().exclusive);
    }
}
