//! The figures as JDMA shows them: its back office's five indicators
//! (`webapp-backoffice/src/server/routers/answer/get-observatoire-stats.ts`, `utils/tools.ts`,
//! `components/dashboard/Stats/ObservatoireStats.tsx`) and the Observatoire's public label
//! (`DISIC/observatoire.numerique.gouv.fr`, `src/payload/seed/utils/indicator-levels.ts`).
//!
//! What differs from a naive average, and is reproduced here:
//! - the band is taken from the **unrounded** mean (7.95 is shown « 8,0 » and is « Moyen »);
//! - the back office has **no** minimum number of reviews; the Observatoire shows a score only
//!   from 100 reviews over 12 rolling months;
//! - « Aide joignable » and « Aide efficace » average the **per-channel** answers (a visitor who
//!   tried two channels answers twice), « Aide joignable » has its own bands (Faible, Moyen,
//!   Optimal), and « Niveau d'autonomie » is the share of reviews answering that they needed no help.
//!
//! Invariant: from answer counts only (as `indicators`), no IO.

use crate::counts::QuestionCounts;
use crate::review::{Intention, SATISFACTION};
use serde::Serialize;
use std::collections::BTreeMap;

/// One figure of JDMA's back office.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub slug: &'static str,
    pub label: &'static str,
    /// Answers it is computed from (0: « Aucune donnée pour calculer cette note »).
    pub count: u64,
    /// The unrounded value: a mean on ten, or a share in [0, 1] for « Aide joignable ».
    pub value: Option<f64>,
    /// As JDMA writes it: « 8,0 / 10 », « 66,7 % ».
    pub text: Option<String>,
    /// JDMA's badge (« Bien », « Moyen », « Pas bien »; « Optimal », « Moyen », « Faible »), none for autonomy.
    pub band: Option<&'static str>,
    /// The badge's DSFR severity: `success`, `new` (yellow), `error`.
    pub severity: Option<&'static str>,
}

/// The back office's figures for a form and a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackOffice {
    pub satisfaction: Figure,
    pub comprehension: Figure,
    pub contact_reachability: Figure,
    pub contact_satisfaction: Figure,
    pub autonomy: Figure,
}

/// `getReadableValue`: rounded to a tenth (half up), a decimal comma, always one decimal.
pub fn readable(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    format!("{rounded:.1}").replace('.', ",")
}

fn mean_marks(counts: Option<&QuestionCounts>, mark: impl Fn(i64) -> Option<f64>) -> (u64, Option<f64>) {
    let Some(c) = counts else { return (0, None) };
    let n: u64 = c.by_item.iter().map(|(_, n)| n).sum();
    let total: f64 = c.by_item.iter().map(|(item, k)| mark(*item).unwrap_or(0.0) * *k as f64).sum();
    (n, (n > 0).then(|| total / n as f64))
}

fn score_band(value: f64) -> (&'static str, &'static str) {
    if value < 5.0 {
        ("Pas bien", "error")
    } else if value < 8.0 {
        ("Moyen", "new")
    } else {
        ("Bien", "success")
    }
}

fn on_ten(slug: &'static str, label: &'static str, (count, value): (u64, Option<f64>)) -> Figure {
    let band = value.map(score_band);
    Figure {
        slug,
        label,
        count,
        value,
        text: value.map(|v| format!("{} / 10", readable(v))),
        band: band.map(|b| b.0),
        severity: band.map(|b| b.1),
    }
}

/// The marks of `comprehension` and `contact_satisfaction`: by the item's intention.
fn graded(intention: Intention) -> f64 {
    match intention {
        Intention::VeryGood => 10.0,
        Intention::Good => 7.5,
        Intention::Medium => 5.0,
        Intention::Bad => 2.5,
        Intention::VeryBad | Intention::Neutral => 0.0,
    }
}

/// The back office's five figures from the answer counts of one form over one period (every
/// answer counted by item, children per channel; `respondents` the reviews answering).
pub fn backoffice(counts: &BTreeMap<String, QuestionCounts>) -> BackOffice {
    let intention_of = |code: &str, item: i64| -> Option<Intention> {
        crate::review::jdma_question(code).and_then(|q| q.item(item).map(|i| i.intention))
    };
    // satisfaction: good 10, medium 5, anything else 0.
    let satisfaction = mean_marks(counts.get(SATISFACTION), |item| match intention_of(SATISFACTION, item)? {
        Intention::Good => Some(10.0),
        Intention::Medium => Some(5.0),
        _ => Some(0.0),
    });
    let comprehension = mean_marks(counts.get("comprehension"), |item| intention_of("comprehension", item).map(graded));
    let contact_satisfaction =
        mean_marks(counts.get("contact_satisfaction"), |item| intention_of("contact_satisfaction", item).map(graded));
    // « Aide joignable »: the share of « Oui » among the per-channel answers, banded on ten.
    let reached = counts.get("contact_reached");
    let reached_n: u64 = reached.map(|c| c.by_item.iter().map(|(_, n)| n).sum()).unwrap_or(0);
    let share = (reached_n > 0).then(|| reached.map(|c| c.count_of(17)).unwrap_or(0) as f64 / reached_n as f64);
    let reach_band = share.map(|s| {
        let on_ten = s * 10.0;
        if on_ten < 7.0 {
            ("Faible", "error")
        } else if on_ten < 8.5 {
            ("Moyen", "new")
        } else {
            ("Optimal", "success")
        }
    });
    // « Niveau d'autonomie »: 10 × the « Je n'ai pas eu besoin d'aide » answers over the reviews
    // answering contact_tried; JDMA shows it as a percentage.
    let tried = counts.get("contact_tried");
    let tried_reviews = tried.map(|c| c.respondents).unwrap_or(0);
    let autonomy = (tried_reviews > 0).then(|| {
        let needless: u64 = tried
            .map(|c| {
                c.by_item
                    .iter()
                    .filter(|(item, _)| intention_of("contact_tried", *item) == Some(Intention::Good))
                    .map(|(_, n)| n)
                    .sum()
            })
            .unwrap_or(0);
        10.0 * needless as f64 / tried_reviews as f64
    });
    BackOffice {
        satisfaction: on_ten("satisfaction", "Satisfaction usager", satisfaction),
        comprehension: on_ten("comprehension", "Simplicité du langage", comprehension),
        contact_reachability: Figure {
            slug: "contactReachability",
            label: "Aide joignable",
            count: reached_n,
            value: share,
            text: share.map(|s| format!("{} %", readable(s * 100.0))),
            band: reach_band.map(|b| b.0),
            severity: reach_band.map(|b| b.1),
        },
        contact_satisfaction: on_ten("contactSatisfaction", "Aide efficace", contact_satisfaction),
        autonomy: Figure {
            slug: "autonomy",
            label: "Niveau d'autonomie",
            count: tried_reviews,
            value: autonomy,
            text: autonomy.map(|a| format!("{} %", readable(a * 10.0))),
            band: None,
            severity: None,
        },
    }
}

/// The Observatoire's public label for a satisfaction score over 12 rolling months.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observatoire {
    /// « 8,4 / 10 », or none below the minimum.
    pub text: Option<String>,
    /// « Très bien », « Insuffisant », « Critique », or « Nombre d'avis insuffisant ».
    pub label: &'static str,
    /// `green`, `yellow`, `red`, `gray`.
    pub colour: &'static str,
    pub reviews: u64,
}

/// The Observatoire's minimum number of reviews over 12 rolling months.
pub const OBSERVATOIRE_MINIMUM: u64 = 100;

pub fn observatoire(satisfaction: &Figure) -> Observatoire {
    match satisfaction.value {
        Some(v) if satisfaction.count >= OBSERVATOIRE_MINIMUM => {
            let (label, colour) = if v >= 8.0 {
                ("Très bien", "green")
            } else if v >= 5.0 {
                ("Insuffisant", "yellow")
            } else {
                ("Critique", "red")
            };
            Observatoire { text: Some(format!("{} / 10", readable(v))), label, colour, reviews: satisfaction.count }
        }
        _ => {
            Observatoire { text: None, label: "Nombre d'avis insuffisant", colour: "gray", reviews: satisfaction.count }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (field code, reviews answering, (item, answers) pairs)
    type Line<'a> = (&'a str, u64, &'a [(i64, u64)]);

    fn counts(list: &[Line]) -> BTreeMap<String, QuestionCounts> {
        list.iter()
            .map(|(code, respondents, items)| {
                (code.to_string(), QuestionCounts { respondents: *respondents, by_item: items.to_vec() })
            })
            .collect()
    }

    /// JDMA's formula by hand: 75 « Très bien », 9 « Moyen », 16 « Pas bien » is
    /// (75 × 10 + 9 × 5) / 100 = 7.95: shown « 8,0 / 10 », and « Moyen » (the mean is under 8).
    #[test]
    fn a_mean_in_7_95_to_8_is_shown_8_0_and_moyen() {
        let c = counts(&[("satisfaction", 100, &[(3, 75), (2, 9), (1, 16)])]);
        let figures = backoffice(&c);
        let s = &figures.satisfaction;
        assert_eq!(
            (s.count, s.text.as_deref(), s.band, s.severity),
            (100, Some("8,0 / 10"), Some("Moyen"), Some("new"))
        );
        // (150 × 10 + 19 × 5) / 200 = 7.975, shown « 8,0 »: still « Moyen ».
        let c = counts(&[("satisfaction", 200, &[(3, 150), (2, 19), (1, 31)])]);
        assert_eq!(backoffice(&c).satisfaction.band, Some("Moyen"));
        // 8.0 exactly: « Bien ».
        let c = counts(&[("satisfaction", 10, &[(3, 7), (2, 2), (1, 1)])]);
        assert_eq!(backoffice(&c).satisfaction.band, Some("Bien"));
        // The Observatoire: the same reviews are « Insuffisant » (yellow); under 100, no score.
        let o = observatoire(&figures.satisfaction);
        assert_eq!((o.text.as_deref(), o.label, o.colour), (Some("8,0 / 10"), "Insuffisant", "yellow"));
        let few = backoffice(&counts(&[("satisfaction", 99, &[(3, 99)])]));
        assert_eq!(few.satisfaction.text.as_deref(), Some("10,0 / 10"), "the back office has no minimum");
        let o = observatoire(&few.satisfaction);
        assert_eq!((o.text, o.label, o.colour), (None, "Nombre d'avis insuffisant", "gray"));
        let low = backoffice(&counts(&[("satisfaction", 100, &[(3, 40), (1, 60)])]));
        assert_eq!(observatoire(&low.satisfaction).label, "Critique");
        let high = backoffice(&counts(&[("satisfaction", 100, &[(3, 80), (1, 20)])]));
        assert_eq!(observatoire(&high.satisfaction).label, "Très bien");
    }

    /// Three reviews: one tried the desk (reached, « Bonne ») and the phone (not reached,
    /// « Mauvaise »); one needed no help; one wrote (reached, « Excellente »). JDMA averages per
    /// channel: reached 2 of 3 answers = 66,7 % « Faible »; quality (7.5 + 2.5 + 10) / 3 = 6,7
    /// « Moyen »; autonomy 1 review of 3 = 33,3 %.
    #[test]
    fn a_visitor_who_tried_two_channels_counts_twice() {
        let c = counts(&[
            ("contact_tried", 3, &[(9, 1), (10, 1), (17, 1), (11, 1)]),
            ("contact_reached", 2, &[(17, 2), (18, 1)]),
            ("contact_satisfaction", 2, &[(22, 1), (20, 1), (23, 1)]),
        ]);
        let f = backoffice(&c);
        let r = &f.contact_reachability;
        assert_eq!((r.count, r.text.as_deref(), r.band), (3, Some("66,7 %"), Some("Faible")));
        let q = &f.contact_satisfaction;
        assert_eq!((q.count, q.text.as_deref(), q.band), (3, Some("6,7 / 10"), Some("Moyen")));
        let a = &f.autonomy;
        assert_eq!((a.count, a.text.as_deref(), a.band), (3, Some("33,3 %"), None));
        // Reached bands: 70 % is « Moyen », 85 % « Optimal ».
        let at = |yes: u64, no: u64| {
            backoffice(&counts(&[("contact_reached", 1, &[(17, yes), (18, no)])])).contact_reachability.band
        };
        assert_eq!(
            (at(69, 31), at(70, 30), at(84, 16), at(85, 15)),
            (Some("Faible"), Some("Moyen"), Some("Moyen"), Some("Optimal"))
        );
        // No answers: no figure (« Aucune donnée pour calculer cette note »).
        assert_eq!(f.satisfaction.text, None);
        assert_eq!(f.comprehension.count, 0);
    }

    #[test]
    fn readable_as_jdma_writes_it() {
        assert_eq!(readable(8.0), "8,0");
        assert_eq!(readable(7.95), "8,0");
        assert_eq!(readable(6.666_666), "6,7");
        assert_eq!(readable(10.0), "10,0");
        assert_eq!(readable(0.04), "0,0");
    }
}
