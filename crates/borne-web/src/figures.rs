//! JDMA's back-office figures as a manager reads them, the same fragment on the kiosk's
//! dashboard and in the platform's console.

use borne_model::backoffice::{BackOffice, Figure};
use maud::{Markup, html};

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
        table class="backoffice" {
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use borne_model::counts::QuestionCounts;
    use std::collections::BTreeMap;

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
