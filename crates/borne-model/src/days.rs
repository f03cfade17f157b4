//! The days a person may type (filters, exports, command lines): 2000-01-01 to 2100-12-31.
//! Outside, a date is refused before any arithmetic: chrono's calendar ends at year 262143,
//! where "the next month" no longer exists, and a loop over months or a day's offset would
//! never end or would panic.

use chrono::NaiveDate;

/// The first day a filter may name.
pub const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => panic!("2000-01-01 is a date"),
};

/// The last day a filter may name.
pub const LATEST: NaiveDate = match NaiveDate::from_ymd_opt(2100, 12, 31) {
    Some(d) => d,
    None => panic!("2100-12-31 is a date"),
};

/// A day typed as `AAAA-MM-JJ`, within [`EARLIEST`]–[`LATEST`]; the error, in French, says
/// which of the two went wrong (the caller names the field).
pub fn parse(text: &str) -> Result<NaiveDate, String> {
    let text = text.trim();
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("« {text} » n'est pas une date : la forme attendue est AAAA-MM-JJ"))?;
    check(day)?;
    Ok(day)
}

/// `day` is within the years a filter may name.
pub fn check(day: NaiveDate) -> Result<(), String> {
    if (EARLIEST..=LATEST).contains(&day) {
        Ok(())
    } else {
        Err(format!("« {day} » est hors des dates acceptées (de {EARLIEST} à {LATEST})"))
    }
}

/// The start of a period typed as a day (its midnight, UTC) or an RFC 3339 instant.
pub fn since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let instant = match chrono::DateTime::parse_from_rfc3339(text.trim()) {
        Ok(t) => t.with_timezone(&chrono::Utc),
        Err(_) => parse(text)
            .map_err(|m| format!("{m} (ou un instant RFC 3339)"))?
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("{text:?} : date (2026-03-01) ou instant RFC 3339 attendu"))?,
    };
    check(instant.date_naive())?;
    Ok(instant)
}

/// The end of a period, excluded: after a day typed (through its end, UTC), or an instant.
pub fn until(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    match parse(text) {
        Ok(day) => Ok((day + chrono::Duration::days(1)).and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()),
        Err(_) => since(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_far_out_are_refused_not_computed_with() {
        assert_eq!(parse(" 2026-03-01 ").unwrap(), NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert!(parse("2000-01-01").is_ok() && parse("2100-12-31").is_ok());
        for bad in ["+262142-12-31", "-0001-01-01", "1999-12-31", "2101-01-01", "262143-01-01"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("hors des dates") || err.contains("AAAA-MM-JJ"), "{bad}: {err}");
        }
        assert!(parse("2026-02-30").unwrap_err().contains("AAAA-MM-JJ"));
        assert!(parse("").is_err() && parse("\0").is_err());
        assert_eq!(since("2026-03-01").unwrap().to_rfc3339(), "2026-03-01T00:00:00+00:00");
        assert_eq!(until("2026-03-01").unwrap().to_rfc3339(), "2026-03-02T00:00:00+00:00");
        assert_eq!(until("2026-03-01T10:00:00+01:00").unwrap().to_rfc3339(), "2026-03-01T09:00:00+00:00");
        assert!(since("3000-01-01T00:00:00Z").unwrap_err().contains("hors des dates"));
    }
}
