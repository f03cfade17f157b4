//! The figures the dashboard shows, read from the store's hourly counts; served as they are at
//! `/api/stats`.

use crate::app::App;
use crate::store::{DayCounts, DayRange, HourCell, Store};
use anyhow::Result;
use borne_model::indicators::{Indicators, Score, indicators};
use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;

/// One of the four periods of the overview.
#[derive(Debug, Serialize)]
pub struct Period {
    pub key: &'static str,
    pub label: &'static str,
    pub since: NaiveDate,
    pub until: NaiveDate,
    pub indicators: Indicators,
}

/// Satisfaction answers of one day or one week.
#[derive(Debug, Serialize)]
pub struct Bucket {
    pub since: NaiveDate,
    pub label: String,
    /// Counts of « Pas bien », « Moyen », « Très bien ».
    pub satisfaction: [u64; 3],
    pub reviews: u64,
    /// The score on ten, only from the minimum number of reviews on (the State's rule).
    pub score: Option<f64>,
    /// Below that minimum, the score JDMA's back office would still show (no minimum there).
    pub indicative_score: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Overview {
    pub site_name: String,
    pub device_id: String,
    pub today: NaiveDate,
    pub minimum_reviews: u64,
    pub periods: Vec<Period>,
    /// The last 30 days, one bucket per day (days without reviews included).
    pub daily: Vec<Bucket>,
    /// The last 12 weeks (Monday to Sunday), the current one last.
    pub weekly: Vec<Bucket>,
    /// Weekday (Monday = 0) × hour of day over the last 12 months.
    pub heatmap: Vec<HourCell>,
}

impl Overview {
    pub fn period(&self, key: &str) -> Option<&Period> {
        self.periods.iter().find(|p| p.key == key)
    }
}

/// Score on ten of satisfaction counts, one decimal, as the State computes it; `None` below
/// `minimum` reviews.
pub fn score_of(counts: [u64; 3], minimum: u64) -> Option<f64> {
    let n: u64 = counts.iter().sum();
    if n == 0 || n < minimum {
        return None;
    }
    let points = 5.0 * counts[1] as f64 + 10.0 * counts[2] as f64;
    Some((points / n as f64 * 10.0).round() / 10.0)
}

pub use borne_model::indicators::twelve_months_before;

fn days_before(today: NaiveDate, n: u64) -> NaiveDate {
    today.checked_sub_days(Days::new(n)).unwrap_or(today)
}

pub fn overview(app: &App, store: &Store, today: NaiveDate) -> Result<Overview> {
    let minimum = app.config.min_reviews_for_score;
    let spans: [(&'static str, &'static str, NaiveDate); 4] = [
        ("today", "Aujourd'hui", today),
        ("7d", "7 derniers jours", days_before(today, 6)),
        ("30d", "30 derniers jours", days_before(today, 29)),
        ("12m", "12 derniers mois", twelve_months_before(today)),
    ];
    let mut periods = Vec::with_capacity(spans.len());
    for (key, label, since) in spans {
        let counts = store.question_counts(DayRange { since: Some(since), until: Some(today) })?;
        periods.push(Period {
            key,
            label,
            since,
            until: today,
            indicators: indicators(&app.config.survey, &counts, minimum),
        });
    }

    let first_day = days_before(today, 29);
    let days = store.daily_satisfaction(DayRange { since: Some(first_day), until: Some(today) })?;
    let daily = (0..30)
        .map(|i| {
            let day = first_day.checked_add_days(Days::new(i)).unwrap_or(today);
            let counts = days.iter().find(|d| d.day == day).map(|d| d.satisfaction).unwrap_or([0; 3]);
            bucket(day, day.format("%d/%m").to_string(), counts, minimum)
        })
        .collect();

    let this_monday = days_before(today, u64::from(today.weekday().num_days_from_monday()));
    let first_monday = days_before(this_monday, 7 * 11);
    let weeks_days = store.daily_satisfaction(DayRange { since: Some(first_monday), until: Some(today) })?;
    let weekly = (0..12)
        .map(|w| {
            let monday = first_monday.checked_add_days(Days::new(7 * w)).unwrap_or(today);
            let sunday = monday.checked_add_days(Days::new(6)).unwrap_or(today);
            let counts = sum_days(weeks_days.iter().filter(|d| d.day >= monday && d.day <= sunday));
            bucket(monday, format!("S{}", monday.iso_week().week()), counts, minimum)
        })
        .collect();

    let heatmap =
        store.weekday_hour_satisfaction(DayRange { since: Some(twelve_months_before(today)), until: Some(today) })?;
    Ok(Overview {
        site_name: app.config.site_name.clone(),
        device_id: app.config.device_id.clone(),
        today,
        minimum_reviews: minimum,
        periods,
        daily,
        weekly,
        heatmap,
    })
}

fn sum_days<'a>(days: impl Iterator<Item = &'a DayCounts>) -> [u64; 3] {
    days.fold([0; 3], |mut acc, d| {
        for (a, n) in acc.iter_mut().zip(d.satisfaction) {
            *a += n;
        }
        acc
    })
}

fn bucket(since: NaiveDate, label: String, satisfaction: [u64; 3], minimum: u64) -> Bucket {
    let score = score_of(satisfaction, minimum);
    let indicative_score = if score.is_none() { score_of(satisfaction, 1) } else { None };
    Bucket { since, label, satisfaction, reviews: satisfaction.iter().sum(), score, indicative_score }
}

/// The score of a period's satisfaction, when there is one.
pub fn period_score(period: &Period) -> Option<f64> {
    match period.indicators.satisfaction.score {
        Score::Ok { value, .. } => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_the_state_rule() {
        assert_eq!(score_of([28, 44, 240], 100), Some(8.4));
        assert_eq!(score_of([1, 0, 0], 1), Some(0.0));
        assert_eq!(score_of([0, 50, 49], 100), None, "99 reviews: insufficient");
        assert_eq!(score_of([0, 0, 0], 0), None);
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(twelve_months_before(d("2026-11-23")), d("2025-11-24"));
        assert_eq!(twelve_months_before(d("2024-02-29")), d("2023-03-01"));
    }
}
