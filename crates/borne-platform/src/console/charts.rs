//! Charts drawn on the server (SVG: no script), each with a table of the same figures for
//! screen readers: a site's score and reviews by day, week or month beside the previous period,
//! the reasons behind the score (the follow-up answers) per site and across sites. A score from
//! fewer than 100 reviews is drawn hollow and said « indicatif », never left blank.

use crate::storage::{Storage, StorageError, indicators_of};
use borne_model::indicators::{Indicators, QuestionIndicator, french_decimal};
use borne_web::figures::intention_colour;
use chrono::{Datelike, Duration, Months, NaiveDate};
use maud::{Markup, html};

use super::sites::MINIMUM_REVIEWS;

const CURRENT: &str = "#000091";
const PREVIOUS: &str = "#666666";
const GRID: &str = "#dddddd";
const INK: &str = "#161616";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Day,
    Week,
    Month,
}

impl Grain {
    pub const ALL: [(Grain, &'static str, &'static str); 3] = [
        (Grain::Day, "jour", "par jour (30 jours)"),
        (Grain::Week, "semaine", "par semaine (12 semaines)"),
        (Grain::Month, "mois", "par mois (12 mois)"),
    ];

    pub fn parse(slug: &str) -> Option<Grain> {
        Grain::ALL.iter().find(|(_, s, _)| *s == slug).map(|(g, _, _)| *g)
    }

    pub fn slug(self) -> &'static str {
        Grain::ALL.iter().find(|(g, _, _)| *g == self).map_or("semaine", |(_, s, _)| s)
    }

    fn previous_label(self) -> &'static str {
        match self {
            Grain::Day => "les 30 jours d'avant",
            Grain::Week => "les 12 semaines d'avant",
            Grain::Month => "les 12 mois d'avant",
        }
    }
}

/// One bar of a chart: its days and its indicators.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub label: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub indicators: Indicators,
}

impl Bucket {
    /// The score on ten with no minimum (JDMA's back office), and whether it is indicative.
    fn score(&self) -> Option<(f64, bool)> {
        let s = &self.indicators.jdma.satisfaction;
        s.value.map(|v| (v, self.indicators.reviews < MINIMUM_REVIEWS))
    }
}

/// A period's buckets and the same number of buckets just before.
#[derive(Debug, Clone)]
pub struct Series {
    pub grain: Grain,
    pub current: Vec<Bucket>,
    pub previous: Vec<Bucket>,
}

/// The `n` buckets ending with the one holding `today`, oldest first, then the `n` before.
fn ranges(today: NaiveDate, grain: Grain) -> Vec<(NaiveDate, NaiveDate, String)> {
    let n = match grain {
        Grain::Day => 30,
        Grain::Week | Grain::Month => 12,
    };
    (0..2 * n)
        .rev()
        .filter_map(|back| match grain {
            Grain::Day => {
                let day = today - Duration::days(back);
                Some((day, day, day.format("%d/%m").to_string()))
            }
            Grain::Week => {
                let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64 + 7 * back);
                Some((monday, (monday + Duration::days(6)).min(today), format!("sem. du {}", monday.format("%d/%m"))))
            }
            Grain::Month => {
                let first = today.with_day(1)?.checked_sub_months(Months::new(back as u32))?;
                let last = first.checked_add_months(Months::new(1))? - Duration::days(1);
                Some((first, last.min(today), first.format("%m/%Y").to_string()))
            }
        })
        .collect()
}

/// A site's series, from its daily counts over the whole span (one read), added up per bucket.
pub async fn series(storage: &Storage, site: &str, today: NaiveDate, grain: Grain) -> Result<Series, StorageError> {
    let questions = storage.kiosk_questions(site).await?;
    let ranges = ranges(today, grain);
    let (Some(first), Some(last)) = (ranges.first().map(|r| r.0), ranges.last().map(|r| r.1)) else {
        return Ok(Series { grain, current: Vec::new(), previous: Vec::new() });
    };
    let days = storage.site_days(site, first, last).await?;
    let mut buckets = Vec::new();
    for (from, to, label) in ranges {
        let items = days.iter().filter(|(day, _)| (from..=to).contains(day)).map(|(_, item)| item.clone());
        buckets.push(Bucket { label, from, to, indicators: indicators_of(items, MINIMUM_REVIEWS, questions.clone()) });
    }
    let current = buckets.split_off(buckets.len() / 2);
    Ok(Series { grain, current, previous: buckets })
}

fn score_text(score: Option<(f64, bool)>) -> String {
    match score {
        Some((v, true)) => format!("{} (indicatif)", french_decimal(v)),
        Some((v, false)) => french_decimal(v),
        None => "—".into(),
    }
}

/// The score line (current, solid; previous period, dashed) with its table.
pub fn score_chart(series: &Series) -> Markup {
    let (w, h, left, bottom, top) = (720.0, 240.0, 40.0, 28.0, 12.0);
    let n = series.current.len().max(1);
    let slot = (w - left - 8.0) / n as f64;
    let x = |i: usize| left + slot * (i as f64 + 0.5);
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / 10.0);
    let line = |buckets: &[Bucket]| -> String {
        let mut d = String::new();
        let mut pen_up = true;
        for (i, b) in buckets.iter().enumerate() {
            match b.score() {
                Some((v, _)) => {
                    d += &format!("{}{:.1},{:.1} ", if pen_up { "M" } else { "L" }, x(i), y(v));
                    pen_up = false;
                }
                None => pen_up = true,
            }
        }
        d
    };
    let title = format!(
        "Note sur 10, {} : période en cours (trait plein) et {} (tirets)",
        grain_words(series.grain),
        series.grain.previous_label()
    );
    html! {
        figure.fr-mb-4w {
            svg.borne-chart viewBox=(format!("0 0 {w} {h}")) role="img" aria-labelledby="note-titre" {
                title #note-titre { (title) }
                @for v in [0.0, 5.0, 10.0] {
                    line x1=(left) y1=(format!("{:.1}", y(v))) x2=(w) y2=(format!("{:.1}", y(v))) stroke=(GRID) {}
                    text x=(left - 6.0) y=(format!("{:.1}", y(v) + 4.0)) text-anchor="end" font-size="12" fill=(INK) { (v as u8) }
                }
                path d=(line(&series.previous)) fill="none" stroke=(PREVIOUS) stroke-width="2" stroke-dasharray="6 4" {}
                path d=(line(&series.current)) fill="none" stroke=(CURRENT) stroke-width="2.5" {}
                @for (i, b) in series.current.iter().enumerate() {
                    @if let Some((v, indicative)) = b.score() {
                        circle cx=(format!("{:.1}", x(i))) cy=(format!("{:.1}", y(v))) r="4" stroke=(CURRENT) stroke-width="2"
                            fill=(if indicative { "#ffffff" } else { CURRENT }) {
                            title { (b.label) " : " (score_text(b.score())) " sur " (b.indicators.reviews) " avis" }
                        }
                    }
                }
                (axis_labels(&series.current, x, h))
            }
            figcaption.fr-text--sm { "Point creux : moins de " (MINIMUM_REVIEWS) " avis, note indicative. La note de l'État (Très bien 10, Moyen 5, Pas bien 0) est donnée à partir de " (MINIMUM_REVIEWS) " avis." }
        }
    }
}

fn grain_words(grain: Grain) -> &'static str {
    match grain {
        Grain::Day => "par jour",
        Grain::Week => "par semaine",
        Grain::Month => "par mois",
    }
}

/// Some of the buckets' labels under the axis (about six).
fn axis_labels(buckets: &[Bucket], x: impl Fn(usize) -> f64, h: f64) -> Markup {
    let every = buckets.len().div_ceil(6).max(1);
    html! {
        @for (i, b) in buckets.iter().enumerate() {
            @if i % every == 0 || i + 1 == buckets.len() {
                text x=(format!("{:.1}", x(i))) y=(h - 8.0) text-anchor="middle" font-size="11" fill=(INK) { (b.label.trim_start_matches("sem. du ")) }
            }
        }
    }
}

/// The reviews per bucket, stacked by answer (« Pas bien » at the bottom), with the previous
/// period's total as a dashed mark, and the table of both charts.
pub fn volume_chart(series: &Series) -> Markup {
    let (w, h, left, bottom, top) = (720.0, 220.0, 40.0, 28.0, 12.0);
    let n = series.current.len().max(1);
    let slot = (w - left - 8.0) / n as f64;
    let max =
        series.current.iter().chain(&series.previous).map(|b| b.indicators.reviews).max().unwrap_or(0).max(1) as f64;
    let scale = (h - top - bottom) / max;
    let base = h - bottom;
    let x = |i: usize| left + slot * (i as f64 + 0.5);
    html! {
        figure.fr-mb-2w {
            svg.borne-chart viewBox=(format!("0 0 {w} {h}")) role="img" aria-labelledby="volume-titre" {
                title #volume-titre { "Avis " (grain_words(series.grain)) " par réponse (Pas bien en bas), et total de " (series.grain.previous_label()) " (tirets)" }
                line x1=(left) y1=(base) x2=(w) y2=(base) stroke=(INK) {}
                text x=(left - 6.0) y=(base) text-anchor="end" font-size="12" fill=(INK) { "0" }
                text x=(left - 6.0) y=(top + 4.0) text-anchor="end" font-size="12" fill=(INK) { (max as u64) }
                line x1=(left) y1=(top) x2=(w) y2=(top) stroke=(GRID) {}
                @for (i, b) in series.current.iter().enumerate() {
                    @let bw = slot * 0.6;
                    @let x0 = x(i) - bw / 2.0;
                    g {
                        title { (b.label) " : " (b.indicators.reviews) " avis" }
                        @for (y, bh, colour) in stack(b, base, scale) {
                            rect x=(format!("{x0:.1}")) y=(format!("{y:.1}")) width=(format!("{bw:.1}")) height=(format!("{bh:.1}")) fill=(colour) {}
                        }
                    }
                    @if let Some(before) = series.previous.get(i) {
                        @let py = base - before.indicators.reviews as f64 * scale;
                        line x1=(format!("{:.1}", x0 - 2.0)) x2=(format!("{:.1}", x0 + bw + 2.0)) y1=(format!("{py:.1}")) y2=(format!("{py:.1}")) stroke=(PREVIOUS) stroke-width="2" stroke-dasharray="4 3" {}
                    }
                }
                (axis_labels(&series.current, x, h))
            }
        }
        details.fr-mb-4w {
            summary { "Les chiffres des deux graphiques" }
            div.borne-scroll tabindex="0" { table.borne-table {
                caption { "Avis et note " (grain_words(series.grain)) ", et la même période juste avant" }
                thead { tr {
                    th scope="col" { "Période" } th scope="col" { "Avis" } th scope="col" { "Note sur 10" }
                    th scope="col" { "Période d'avant" } th scope="col" { "Avis" } th scope="col" { "Note sur 10" }
                } }
                tbody {
                    @for (i, b) in series.current.iter().enumerate() {
                        tr {
                            th scope="row" { (b.label) }
                            td { (b.indicators.reviews) }
                            td { (score_text(b.score())) }
                            @if let Some(p) = series.previous.get(i) {
                                td { (p.label) } td { (p.indicators.reviews) } td { (score_text(p.score())) }
                            } @else { td {} td {} td {} }
                        }
                    }
                }
            } }
        }
    }
}

/// A bucket's stacked bar, bottom up in the distribution's order: (top, height, colour).
fn stack(bucket: &Bucket, base: f64, scale: f64) -> Vec<(f64, f64, &'static str)> {
    let mut y = base;
    let mut out = Vec::new();
    for share in bucket.indicators.satisfaction.distribution.iter().filter(|s| s.count > 0) {
        let bh = share.count as f64 * scale;
        y -= bh;
        out.push((y, bh, intention_colour(share.intention)));
    }
    out
}

/// A question's answers as horizontal bars (count and share), with its table.
pub fn reasons(question: &QuestionIndicator, id: &str) -> Markup {
    let indicative = question.respondents < MINIMUM_REVIEWS;
    let rows = question.distribution.len().max(1);
    let (w, row_h, label_w) = (720.0, 28.0, 300.0);
    let h = row_h * rows as f64 + 8.0;
    let max = question.distribution.iter().map(|s| s.percent).fold(0.0, f64::max).max(1.0);
    html! {
        figure.fr-mb-3w {
            svg.borne-chart viewBox=(format!("0 0 {w} {h}")) role="img" aria-labelledby=(format!("{id}-titre")) {
                title id=(format!("{id}-titre")) { (question.label) " : part de chaque réponse" @if indicative { " (indicatif)" } }
                @for (i, share) in question.distribution.iter().enumerate() {
                    @let y = 4.0 + row_h * i as f64;
                    @let bw = (w - label_w - 90.0) * share.percent / max;
                    text x=(label_w - 8.0) y=(format!("{:.1}", y + 18.0)) text-anchor="end" font-size="12" fill=(INK) { (truncate(&share.answer_text, 44)) }
                    rect x=(label_w) y=(format!("{:.1}", y + 4.0)) width=(format!("{bw:.1}")) height="18" fill=(intention_colour(share.intention)) {}
                    text x=(format!("{:.1}", label_w + bw + 6.0)) y=(format!("{:.1}", y + 18.0)) font-size="12" fill=(INK) { (share.count) " (" (french_decimal(share.percent)) " %)" }
                }
            }
        }
        div.borne-scroll tabindex="0" { table.borne-table {
            caption { (question.label) " — " (question.respondents) " réponses" @if indicative { ", moins de " (MINIMUM_REVIEWS) " : indicatif" } }
            thead { tr { th scope="col" { "Réponse" } th scope="col" { "Réponses" } th scope="col" { "Part" } } }
            tbody { @for share in &question.distribution { tr {
                th scope="row" { (share.answer_text) } td { (share.count) } td { (french_decimal(share.percent)) " %" }
            } } }
        } }
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

/// The follow-up reasons compared across sites: for each question answered somewhere, a table
/// of each site's shares (12 months).
pub fn reasons_across(sites: &[(&str, &Indicators)]) -> Markup {
    let mut questions: Vec<(&str, &str)> = Vec::new();
    for (_, indicators) in sites {
        for q in indicators.follow_ups.iter().filter(|q| q.respondents > 0) {
            if !questions.iter().any(|(code, _)| *code == q.field_code) {
                questions.push((&q.field_code, &q.label));
            }
        }
    }
    html! {
        @if questions.is_empty() {
            p { "Aucune réponse aux questions complémentaires sur 12 mois." }
        }
        @for (code, label) in questions {
            @let answers: Vec<&str> = sites.iter().flat_map(|(_, i)| i.follow_ups.iter()).filter(|q| q.field_code == code)
                .flat_map(|q| q.distribution.iter().map(|s| s.answer_text.as_str())).fold(Vec::new(), |mut v, a| { if !v.contains(&a) { v.push(a) } v });
            div.borne-scroll tabindex="0" { table.borne-table {
                caption { (label) " — part de chaque réponse par site, 12 mois (« indicatif » sous " (MINIMUM_REVIEWS) " réponses)" }
                thead { tr { th scope="col" { "Site" } th scope="col" { "Réponses" } @for a in &answers { th scope="col" { (a) } } } }
                tbody { @for (site, indicators) in sites {
                    @if let Some(q) = indicators.follow_ups.iter().find(|q| q.field_code == code && q.respondents > 0) {
                        tr {
                            th scope="row" { (site) }
                            td { (q.respondents) @if q.respondents < MINIMUM_REVIEWS { " (indicatif)" } }
                            @for a in &answers {
                                td { (q.distribution.iter().find(|s| s.answer_text == *a).map_or("—".to_string(), |s| format!("{} %", french_decimal(s.percent)))) }
                            }
                        }
                    }
                } }
            } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_end_today_and_the_previous_period_comes_just_before() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 4).unwrap(); // a Wednesday
        let weeks = ranges(today, Grain::Week);
        assert_eq!(weeks.len(), 24);
        let last = weeks.last().unwrap();
        assert_eq!((last.0, last.1), (NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(), today));
        assert_eq!(
            weeks[11].1,
            NaiveDate::from_ymd_opt(2025, 12, 14).unwrap(),
            "the previous period ends the Sunday before"
        );
        let months = ranges(today, Grain::Month);
        assert_eq!(months[12].0, NaiveDate::from_ymd_opt(2025, 4, 1).unwrap());
        assert_eq!(months[0].0, NaiveDate::from_ymd_opt(2024, 4, 1).unwrap());
        assert_eq!(months[1].1, NaiveDate::from_ymd_opt(2024, 5, 31).unwrap());
        let days = ranges(today, Grain::Day);
        assert_eq!(days[29].0, NaiveDate::from_ymd_opt(2026, 2, 2).unwrap());
        assert_eq!(days[30].0, NaiveDate::from_ymd_opt(2026, 2, 3).unwrap());
    }
}
