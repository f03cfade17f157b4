//! Opening hours: per weekday, with closed dates. Pure: no clock of its own.

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime};

/// One weekday's opening spans, e.g. 08:30–12:00 and 13:30–17:00.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Day(pub Vec<(NaiveTime, NaiveTime)>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpeningHours {
    /// Monday first.
    pub week: [Day; 7],
    pub closed_dates: Vec<NaiveDate>,
}

impl OpeningHours {
    /// Always open (no opening hours configured).
    pub fn always() -> OpeningHours {
        let all = Day(vec![(NaiveTime::MIN, NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN))]);
        OpeningHours { week: std::array::from_fn(|_| all.clone()), closed_dates: Vec::new() }
    }

    pub fn is_open(&self, at: NaiveDateTime) -> bool {
        if self.closed_dates.contains(&at.date()) {
            return false;
        }
        let day = &self.week[at.weekday().num_days_from_monday() as usize];
        // A span ending at « 24:00 » (stored as 23:59:59) runs to midnight.
        day.0.iter().any(|(from, to)| at.time() >= *from && (at.time() < *to || *to == end_of_day()))
    }

    /// The next instant after `at` when `is_open` changes, looking up to 400 days ahead.
    pub fn next_change(&self, at: NaiveDateTime) -> Option<NaiveDateTime> {
        let open = self.is_open(at);
        let mut candidates = Vec::new();
        for offset in 0..=400u64 {
            let date = at.date().checked_add_days(Days::new(offset))?;
            // Midnight matters for closed dates and for spans ending at the day's end.
            candidates.push(date.and_time(NaiveTime::MIN));
            for (from, to) in &self.week[date.weekday().num_days_from_monday() as usize].0 {
                candidates.push(date.and_time(*from));
                candidates.push(date.and_time(*to));
            }
            candidates.retain(|c| *c > at);
            candidates.sort();
            if let Some(next) = candidates.iter().find(|c| self.is_open(**c) != open) {
                return Some(*next);
            }
            candidates.clear();
        }
        None
    }
}

fn end_of_day() -> NaiveTime {
    NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN)
}

/// Parses « 08:30-12:00, 13:30-17:00 » (empty or « fermé »: closed all day).
pub fn parse_day(text: &str) -> Result<Day, String> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("fermé") || text.eq_ignore_ascii_case("ferme") {
        return Ok(Day::default());
    }
    let mut spans = Vec::new();
    for part in text.split(',') {
        let (from, to) = part
            .split_once('-')
            .ok_or_else(|| format!("« {} » : plage attendue sous la forme 08:30-12:00", part.trim()))?;
        let time = |t: &str| {
            let t = t.trim();
            if t == "24:00" {
                return NaiveTime::from_hms_opt(23, 59, 59).ok_or_else(|| "heure invalide".to_string());
            }
            NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| format!("« {t} » : heure attendue sous la forme HH:MM"))
        };
        let (from, to) = (time(from)?, time(to)?);
        if from >= to {
            return Err(format!("« {} » : la fin doit suivre le début", part.trim()));
        }
        spans.push((from, to));
    }
    spans.sort();
    if spans.windows(2).any(|w| w[0].1 > w[1].0) {
        return Err("plages qui se chevauchent".into());
    }
    Ok(Day(spans))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn week() -> OpeningHours {
        let office = parse_day("08:30-12:00, 13:30-17:00").unwrap();
        let mut week: [Day; 7] = std::array::from_fn(|_| office.clone());
        week[2] = parse_day("08:30-12:00").unwrap(); // Wednesday morning only
        week[5] = parse_day("fermé").unwrap();
        week[6] = Day::default();
        OpeningHours { week, closed_dates: vec![NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()] }
    }

    #[test]
    fn parses_days_and_refuses_nonsense() {
        assert_eq!(parse_day("fermé").unwrap(), Day::default());
        assert_eq!(parse_day(" 09:00-12:00 ").unwrap().0.len(), 1);
        for bad in ["9h-12h", "12:00-09:00", "08:00-12:00, 11:00-14:00", "08:00", "25:00-26:00"] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn open_and_next_change_over_a_week_with_a_closed_date() {
        let h = week();
        // 2026-12-21 is a Monday; the 25th (Friday) is closed.
        assert!(!h.is_open(at("2026-12-21 08:29")));
        assert!(h.is_open(at("2026-12-21 08:30")));
        assert!(!h.is_open(at("2026-12-21 12:30")));
        assert_eq!(h.next_change(at("2026-12-21 12:30")), Some(at("2026-12-21 13:30")));
        assert_eq!(h.next_change(at("2026-12-23 10:00")), Some(at("2026-12-23 12:00")));
        assert_eq!(h.next_change(at("2026-12-23 12:00")), Some(at("2026-12-24 08:30")));
        assert!(!h.is_open(at("2026-12-25 10:00")), "closed date");
        // Thursday 17:00 → next opening is Monday (Friday closed date, weekend closed).
        assert_eq!(h.next_change(at("2026-12-24 17:00")), Some(at("2026-12-28 08:30")));
        assert!(OpeningHours::always().is_open(at("2026-12-25 03:00")));
        let all_day =
            OpeningHours { week: std::array::from_fn(|_| parse_day("00:00-24:00").unwrap()), closed_dates: vec![] };
        let last_second = at("2026-12-21 23:59") + chrono::Duration::milliseconds(59_500);
        assert!(all_day.is_open(last_second), "« 24:00 » runs to midnight");
        assert_eq!(all_day.next_change(at("2026-12-21 12:00")), None);
    }
}
