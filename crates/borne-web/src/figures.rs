//! JDMA's back-office figures as a manager reads them, the same fragment on the kiosk's
//! dashboard and in the platform's console.

use borne_model::backoffice::{BackOffice, Figure};
use borne_model::review::Intention;
use maud::{Markup, html};

/// The colour of an answer's share by its intention, in the State's palette: green for the
/// good ones, orange for « Moyen », red for the bad ones, blue for a neutral choice.
pub fn intention_colour(intention: Intention) -> &'static str {
    match intention {
        Intention::VeryGood | Intention::Good => "#18753c",
        Intention::Medium => "#b34000",
        Intention::Bad | Intention::VeryBad => "#ce0500",
        Intention::Neutral => "#000091",
    }
}

/// An answer's share (percent) as a bar in its intention's colour, drawn in SVG (no style
/// attribute, which the pages' policy forbids); hidden from screen readers, which read the
/// number beside it.
pub fn share_bar(intention: Intention, percent: f64) -> Markup {
    let width = percent.clamp(0.0, 100.0);
    html! {
        svg class="share" width="100" height="12" viewBox="0 0 100 12" aria-hidden="true" focusable="false" {
            rect width="100" height="12" fill="#eeeeee" {}
            rect width=(format!("{width:.1}")) height="12" fill=(intention_colour(intention)) data-intention=(intention.as_str()) {}
        }
    }
}

/// What a figure without answers says, as JDMA's back office.
pub const NO_DATA: &str = "Aucune donnée pour calculer cette note";

/// The five figures of a period, in JDMA's order, as a table (value, badge, answers counted).
pub fn backoffice_table(figures: &BackOffice) -> Markup {
    let all: [&Figure; 5] = [
        &figures.satisfaction,
        &figures.comprehension,
        &figures.contact_reachability,
        &figures.contact_satisfaction,
        &figures.autonomy,
    ];
    html! {
        div class="borne-scroll" tabindex="0" { table class="backoffice borne-table" {
            caption { "Indicateurs calculés comme le tableau de bord de « Je donne mon avis » (aides comptées par canal)" }
            thead { tr { th scope="col" { "Indicateur" } th scope="col" { "Valeur" } th scope="col" { "Appréciation" } th scope="col" { "Réponses" } } }
            tbody {
                @for f in all {
                    tr {
                        th scope="row" { (f.label) }
                        td { (f.text.as_deref().unwrap_or(NO_DATA)) }
                        td class=[f.severity.map(|s| format!("severity-{s}"))] { (f.band.unwrap_or("—")) }
                        td { (f.count) }
                    }
                }
            }
        } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use borne_model::counts::QuestionCounts;
    use std::collections::BTreeMap;

    #[test]
    fn a_bad_answer_is_red_a_good_one_green() {
        let bad = share_bar(Intention::Bad, 40.0).into_string();
        assert!(bad.contains("width=\"40.0\" height=\"12\" fill=\"#ce0500\""), "{bad}");
        let good = share_bar(Intention::Good, 250.0).into_string();
        assert!(good.contains("width=\"100.0\" height=\"12\" fill=\"#18753c\""), "clamped: {good}");
    }

    #[test]
    fn the_table_shows_jdma_text_band_and_counts() {
        // One « Pas bien » (0) and three « Moyen » (5): 15 / 4 = 3.75, shown « 3,8 / 10 ».
        let mut counts = BTreeMap::new();
        counts.insert("satisfaction".to_string(), QuestionCounts { respondents: 4, by_item: vec![(1, 1), (2, 3)] });
        let html = backoffice_table(&borne_model::backoffice::backoffice(&counts)).into_string();
        assert!(html.contains("<th scope=\"row\">Satisfaction usager</th><td>3,8 / 10</td>"), "{html}");
        assert!(html.contains("<td class=\"severity-error\">Pas bien</td><td>4</td>"), "{html}");
        assert!(html.contains(NO_DATA), "a figure without answers says so: {html}");
        assert!(html.contains("Niveau d&#39;autonomie") || html.contains("Niveau d'autonomie"), "{html}");
    }
}
