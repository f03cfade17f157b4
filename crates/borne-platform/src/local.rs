//! Times as a site's people read them: in the site's own time zone (`sites.time_zone`, an IANA
//! name such as `Europe/Paris` or `America/Cayenne`), never in UTC.

use chrono::{DateTime, Utc};

/// The time zone every site has unless told: metropolitan France's.
pub const DEFAULT_TIME_ZONE: &str = "Europe/Paris";

/// Whether `name` is a time zone the platform knows (French message otherwise).
pub fn check(name: &str) -> Result<(), String> {
    jiff::tz::TimeZone::get(name).map(|_| ()).map_err(|_| {
        format!(
            "fuseau horaire inconnu : « {name} » (un nom de la base IANA, par exemple Europe/Paris ou America/Cayenne)"
        )
    })
}

fn zoned(at: DateTime<Utc>, time_zone: &str) -> Option<jiff::ZonedDateTime> {
    let tz = jiff::tz::TimeZone::get(time_zone).ok()?;
    let ts = jiff::Timestamp::from_millisecond(at.timestamp_millis()).ok()?;
    Some(ts.to_zoned_datetime(tz))
}

/// « 07/12/2026 à 12:05 » in `time_zone` (UTC, said so, if the zone is unknown).
pub fn when(at: DateTime<Utc>, time_zone: &str) -> String {
    match zoned(at, time_zone) {
        Some(z) => z.strftime("%d/%m/%Y à %H:%M").to_string(),
        None => at.format("%d/%m/%Y à %H:%M UTC").to_string(),
    }
}

/// « 2026-12-07 12:05:09 » in `time_zone`, for files read by spreadsheets.
pub fn stamp(at: DateTime<Utc>, time_zone: &str) -> String {
    match zoned(at, time_zone) {
        Some(z) => z.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        None => at.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

/// « novembre 2026 »: a month as a French reader names it.
pub fn month_name(month: chrono::NaiveDate) -> String {
    const NAMES: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    use chrono::Datelike;
    format!("{} {}", NAMES[month.month0() as usize], month.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_cayenne_and_reunion_read_their_own_hours() {
        let at: DateTime<Utc> = "2026-12-07T11:05:00Z".parse().unwrap();
        assert_eq!(when(at, "Europe/Paris"), "07/12/2026 à 12:05");
        assert_eq!(when(at, "America/Cayenne"), "07/12/2026 à 08:05");
        assert_eq!(when(at, "Indian/Reunion"), "07/12/2026 à 15:05");
        // Summer time in Paris.
        let july: DateTime<Utc> = "2026-07-01T22:30:00Z".parse().unwrap();
        assert_eq!(stamp(july, "Europe/Paris"), "2026-07-02 00:30:00");
        assert!(check("Europe/Paris").is_ok());
        assert!(check("Europe/Lyon").unwrap_err().contains("fuseau horaire inconnu"));
    }
}
