//! Charts drawn on the server as SVG: no script, no external asset, readable by a screen
//! reader (each chart has a title and each bar or cell its own `<title>`).

use super::data::Bucket;
use crate::store::HourCell;
use borne_model::indicators::{Band, french_decimal};
use maud::{Markup, html};

const BAD: &str = "#ce0500";
const MEDIUM: &str = "#b34000";
const GOOD: &str = "#18753c";
const GRID: &str = "#dddddd";
const INK: &str = "#161616";
const EMPTY: &str = "#f0f0f0";

fn band_colour(score: f64) -> &'static str {
    match Band::of(score) {
        Band::Good => GOOD,
        Band::Medium => MEDIUM,
        Band::Bad => BAD,
    }
}

/// Stacked bars of the answers per day (« Pas bien » at the bottom).
pub fn daily_answers(days: &[Bucket], title: &str) -> Markup {
    let (w, h, left, bottom) = (720.0, 220.0, 36.0, 24.0);
    let max = days.iter().map(|d| d.reviews).max().unwrap_or(0).max(1) as f64;
    let slot = (w - left) / days.len().max(1) as f64;
    let scale = (h - bottom - 8.0) / max;
    html! {
        svg viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(title) class="chart" {
            title { (title) }
            line x1=(left) y1=(h - bottom) x2=(w) y2=(h - bottom) stroke=(INK) {}
            text x=(left - 4.0) y=(h - bottom) text-anchor="end" font-size="11" { "0" }
            text x=(left - 4.0) y="16" text-anchor="end" font-size="11" { (max as u64) }
            line x1=(left) y1="12" x2=(w) y2="12" stroke=(GRID) {}
            @for (i, day) in days.iter().enumerate() {
                @let x = left + slot * i as f64 + slot * 0.15;
                @let bw = slot * 0.7;
                g {
                    title { (day.label) " : " (day.reviews) " avis (Très bien " (day.satisfaction[2]) ", Moyen " (day.satisfaction[1]) ", Pas bien " (day.satisfaction[0]) ")" }
                    @for (y, bh, colour) in stack(day.satisfaction, h - bottom, scale) {
                        rect x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{bw:.1}")) height=(format!("{bh:.1}")) fill=(colour) {}
                    }
                }
                @if i % 5 == 0 || i + 1 == days.len() {
                    text x=(format!("{:.1}", x + bw / 2.0)) y=(h - 8.0) text-anchor=(if i + 1 == days.len() { "end" } else { "middle" }) font-size="11" { (day.label) }
                }
            }
        }
    }
}

/// The segments of one stacked bar, bottom up: (top y, height, colour), empty ones left out.
fn stack(counts: [u64; 3], base: f64, scale: f64) -> Vec<(f64, f64, &'static str)> {
    let mut y = base;
    let mut out = Vec::new();
    for (n, colour) in [(counts[0], BAD), (counts[1], MEDIUM), (counts[2], GOOD)] {
        let bh = n as f64 * scale;
        if n > 0 {
            out.push((y - bh, bh, colour));
        }
        y -= bh;
    }
    out
}

/// The score per week, in the State's colour bands; a week below the minimum has a pale, dashed
/// bar (its indicative score), a week without reviews a flat mark.
pub fn weekly_scores(weeks: &[Bucket], minimum: u64, title: &str) -> Markup {
    let (w, h, left, bottom) = (720.0, 220.0, 36.0, 24.0);
    let slot = (w - left) / weeks.len().max(1) as f64;
    let scale = (h - bottom - 12.0) / 10.0;
    html! {
        svg viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(title) class="chart" {
            title { (title) }
            @for mark in [0.0, 5.0, 8.0, 10.0] {
                @let y = h - bottom - mark * scale;
                line x1=(left) y1=(format!("{y:.1}")) x2=(w) y2=(format!("{y:.1}")) stroke=(if mark == 0.0 { INK } else { GRID }) {}
                text x=(left - 4.0) y=(format!("{:.1}", y + 4.0)) text-anchor="end" font-size="11" { (mark as u8) }
            }
            @for (i, week) in weeks.iter().enumerate() {
                @let x = left + slot * i as f64 + slot * 0.2;
                @let bw = slot * 0.6;
                g {
                    @match (week.score, week.indicative_score) {
                        (Some(score), _) => {
                            title { (week.label) " : " (french_decimal(score)) "/10 sur " (week.reviews) " avis" }
                            rect x=(format!("{x:.1}")) y=(format!("{:.1}", h - bottom - score * scale)) width=(format!("{bw:.1}"))
                                height=(format!("{:.1}", score * scale)) fill=(band_colour(score)) {}
                        }
                        (None, Some(score)) => {
                            title { (week.label) " : note indicative " (french_decimal(score)) "/10 sur " (week.reviews) " avis (moins de " (minimum) ")" }
                            rect class="indicative" x=(format!("{x:.1}")) y=(format!("{:.1}", h - bottom - score * scale)) width=(format!("{bw:.1}"))
                                height=(format!("{:.1}", score * scale)) fill=(band_colour(score)) fill-opacity="0.35"
                                stroke=(band_colour(score)) stroke-dasharray="4 3" {}
                        }
                        (None, None) => {
                            title { (week.label) " : aucun avis" }
                            rect x=(format!("{x:.1}")) y=(format!("{:.1}", h - bottom - 4.0)) width=(format!("{bw:.1}")) height="4" fill=(EMPTY) stroke=(GRID) {}
                        }
                    }
                }
                text x=(format!("{:.1}", x + bw / 2.0)) y=(h - 8.0) text-anchor="middle" font-size="11" { (week.label) }
            }
        }
    }
}

const WEEKDAYS: [&str; 7] = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."];

/// Weekday × hour of day: the number of reviews in each cell, shaded by volume, with the score
/// in its band colour where the cell reaches the minimum.
pub fn heatmap(cells: &[HourCell], minimum: u64, title: &str) -> Markup {
    let first = cells.iter().map(|c| c.hour).min().unwrap_or(8).min(8);
    let last = cells.iter().map(|c| c.hour).max().unwrap_or(18).max(18);
    let hours: Vec<u8> = (first..=last).collect();
    let (left, top, cw, ch) = (44.0, 20.0, 40.0, 30.0);
    let w = left + cw * hours.len() as f64 + 4.0;
    let h = top + ch * 7.0 + 4.0;
    let max = cells.iter().map(|c| c.satisfaction.iter().sum::<u64>()).max().unwrap_or(0).max(1) as f64;
    html! {
        svg viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(title) class="chart heatmap" {
            title { (title) }
            @for (j, hour) in hours.iter().enumerate() {
                text x=(format!("{:.1}", left + cw * j as f64 + cw / 2.0)) y="14" text-anchor="middle" font-size="11" { (hour) "h" }
            }
            @for (day, name) in WEEKDAYS.iter().enumerate() {
                text x=(left - 6.0) y=(format!("{:.1}", top + ch * day as f64 + ch / 2.0 + 4.0)) text-anchor="end" font-size="11" { (name) }
                @for (j, hour) in hours.iter().enumerate() {
                    @let counts = cells.iter().find(|c| usize::from(c.weekday) == day && c.hour == *hour).map(|c| c.satisfaction).unwrap_or([0; 3]);
                    @let n: u64 = counts.iter().sum();
                    @let score = super::data::score_of(counts, minimum);
                    @let x = left + cw * j as f64;
                    @let y = top + ch * day as f64;
                    g {
                        title {
                            (name) " " (hour) "h : " (n) " avis"
                            @if let Some(s) = score { ", " (french_decimal(s)) "/10" }
                        }
                        rect x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(cw - 2.0) height=(ch - 2.0)
                            fill="#000091" fill-opacity=(format!("{:.2}", 0.06 + 0.5 * n as f64 / max)) {}
                        @if let Some(s) = score {
                            rect x=(format!("{x:.1}")) y=(format!("{:.1}", y + ch - 6.0)) width=(cw - 2.0) height="4" fill=(band_colour(s)) {}
                        }
                        @if n > 0 {
                            text x=(format!("{:.1}", x + cw / 2.0 - 1.0)) y=(format!("{:.1}", y + ch / 2.0 + 3.0)) text-anchor="middle" font-size="11" fill=(INK) { (n) }
                        }
                    }
                }
            }
        }
    }
}
