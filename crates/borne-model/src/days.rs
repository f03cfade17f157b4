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
    }
}
