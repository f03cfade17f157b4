//! Times and durations in words, as the site manager reads them (French, local time).

use chrono::{DateTime, Local, Utc};

/// « 45 s », « 12 min », « 5 h », « 3 jours ».
pub fn human_duration(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} jours", s / 86_400),
    }
}

/// A moment in the kiosk's local time: « 02/12/2026 14:05 ».
pub fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&Local).format("%d/%m/%Y %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_words() {
        assert_eq!(human_duration(119), "119 s");
        assert_eq!(human_duration(120), "2 min");
        assert_eq!(human_duration(7199), "119 min");
        assert_eq!(human_duration(7200), "2 h");
        assert_eq!(human_duration(172_799), "47 h");
        assert_eq!(human_duration(172_800), "2 jours");
    }
}
