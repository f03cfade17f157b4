//! Sites compared: each site's score over 30 days and 12 rolling months (the State's rule: a
//! score only from 100 reviews), how the 12-month score moved in 30 days, and a ranking. Read
//! from the per-site counts, three reads whatever the number of sites.

use crate::storage::{Site, Storage, StorageError, indicators_of, period_indicators};
use borne_model::indicators::{Indicators, twelve_months_before};
use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;
use std::collections::HashMap;

pub use crate::public::MINIMUM_REVIEWS;

#[derive(Debug, Clone, Serialize)]
pub struct SiteLine {
    pub site_id: String,
    pub site_name: String,
    pub organisation: Option<String>,
    /// The organisation's name, as the administration gave it (its id without one).
    pub organisation_name: Option<String>,
    pub kiosks: usize,
    /// The last 30 days, today included.
    pub last_30_days: Indicators,
    /// The twelve rolling months ending today.
    pub last_12_months: Indicators,
    /// The 12-month score now minus the same score 30 days ago, when both exist.
    pub change_30_days: Option<f64>,
    /// 1 for the best 12-month score; none without a score.
    pub rank: Option<usize>,
}

impl SiteLine {
    /// Share of « Pas bien » over 12 months, in percent.
    pub fn negative_percent(&self) -> Option<f64> {
        let s = &self.last_12_months.satisfaction;
        (s.respondents > 0).then(|| s.distribution.iter().find(|d| d.answer_item_id == 1).map_or(0.0, |d| d.percent))
    }
}

fn by_site(counts: Vec<crate::storage::SiteCounts>) -> HashMap<String, Vec<crate::storage::ItemCount>> {
    counts.into_iter().map(|c| (c.site_id, c.items)).collect()
}

/// The lines of `sites`, best 12-month score first (then the sites without a score, most
/// reviews first), on `today` (the kiosks' local day).
pub async fn comparison(
    storage: &Storage,
    sites: &[Site],
    kiosks: &HashMap<String, usize>,
    today: NaiveDate,
) -> Result<Vec<SiteLine>, StorageError> {
    let ids: Vec<String> = sites.iter().map(|s| s.id.clone()).collect();
    let month = by_site(storage.counts_of_sites(&ids, today - Duration::days(29), today).await?);
    let year = by_site(storage.counts_of_sites(&ids, twelve_months_before(today), today).await?);
    let then = today - Duration::days(30);
    let year_before = by_site(storage.counts_of_sites(&ids, twelve_months_before(then), then).await?);
    let take = |map: &HashMap<String, Vec<_>>, id: &str| {
        indicators_of(map.get(id).cloned().unwrap_or_default(), MINIMUM_REVIEWS, Vec::new())
    };
    let mut questions = storage.kiosk_questions_of(&ids).await?;
    let names = super::store::Admin(storage).organisations().await?;
    let name_of = |id: &String| names.iter().find(|o| &o.id == id).map_or_else(|| id.clone(), |o| o.name.clone());
    let mut lines: Vec<SiteLine> = sites
        .iter()
        .map(|site| {
            // The 12 months with the site's own questions answered in them: the reasons.
            let items = year.get(&site.id).cloned().unwrap_or_default();
            let asked = questions.remove(&site.id).unwrap_or_default();
            let last_12_months = period_indicators(items, MINIMUM_REVIEWS, asked);
            let before = take(&year_before, &site.id);
            let change_30_days = match (last_12_months.satisfaction.score.value(), before.satisfaction.score.value()) {
                (Some(now), Some(then)) => Some(borne_model::indicators::round_to_tenth(now - then)),
                _ => None,
            };
            SiteLine {
                site_id: site.id.clone(),
                site_name: site.name.clone(),
                organisation: site.organisation.clone(),
                organisation_name: site.organisation.as_ref().map(name_of),
                kiosks: kiosks.get(&site.id).copied().unwrap_or(0),
                last_30_days: take(&month, &site.id),
                last_12_months,
                change_30_days,
                rank: None,
            }
        })
        .collect();
    lines.sort_by(|a, b| {
        let (sa, sb) = (a.last_12_months.satisfaction.score.value(), b.last_12_months.satisfaction.score.value());
        match (sa, sb) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => b.last_12_months.reviews.cmp(&a.last_12_months.reviews),
        }
        .then_with(|| a.site_name.cmp(&b.site_name))
    });
    // Equal scores share a rank (1, 2, 2, 4).
    let mut previous: Option<(f64, usize)> = None;
    for (i, line) in lines.iter_mut().enumerate() {
        let Some(score) = line.last_12_months.satisfaction.score.value() else { break };
        let rank = match previous {
            Some((p, r)) if p == score => r,
            _ => i + 1,
        };
        line.rank = Some(rank);
        previous = Some((score, rank));
    }
    Ok(lines)
}

/// A point of a site's trend: the 12-month score at the end of a month, and that month's reviews.
#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    pub month: NaiveDate,
    pub reviews_in_month: u64,
    pub rolling_12_months: Indicators,
}

/// The last twelve months of `site`, oldest first (the current month up to `today`): each
/// month's counts are read once (whole months from the monthly counts), and each point's twelve
/// months are the sum of twelve of them.
pub async fn trend(storage: &Storage, site: &str, today: NaiveDate) -> Result<Vec<TrendPoint>, StorageError> {
    let first_of_this_month = today.with_day(1).unwrap_or(today);
    let mut months = Vec::new();
    for back in (0..23u32).rev() {
        let Some(month) = first_of_this_month.checked_sub_months(chrono::Months::new(back)) else { continue };
        let end = month.checked_add_months(chrono::Months::new(1)).map_or(today, |n| n - Duration::days(1)).min(today);
        let items: Vec<_> =
            storage.site_counts(Some(site), month, end).await?.into_iter().flat_map(|c| c.items).collect();
        months.push((month, items));
    }
    let mut points = Vec::new();
    for i in months.len().saturating_sub(12)..months.len() {
        let window = months[i.saturating_sub(11)..=i].iter().flat_map(|(_, items)| items.iter().cloned());
        points.push(TrendPoint {
            month: months[i].0,
            reviews_in_month: indicators_of(months[i].1.clone(), MINIMUM_REVIEWS, Vec::new()).reviews,
            rolling_12_months: indicators_of(window, MINIMUM_REVIEWS, Vec::new()),
        });
    }
    Ok(points)
}
