//! « Vous nous l'avez dit, on l'a fait » (Services Publics +, engagement 7): what a site changed
//! after its visitors spoke, written by its manager on the kiosk's dashboard, shown on the
//! kiosk's home screen and its poster, and published by the platform on the site's public page.
//!
//! One set of rules for both programs: the kiosk refuses what the platform would refuse.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest text of an action, in characters: a sentence a visitor reads standing.
pub const TEXT_MAX: usize = 200;
/// The shortest.
pub const TEXT_MIN: usize = 5;
/// A kiosk keeps at most this many actions (the oldest goes when one more is written).
pub const ACTIONS_MAX: usize = 20;
/// No action is dated before this day.
pub const FIRST_DAY: (i32, u32, u32) = (2000, 1, 1);

/// One improvement, as the kiosk and the platform exchange it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Chosen by the kiosk when the manager writes it; stable across sends.
    pub id: Uuid,
    /// What was done, in the manager's words (French).
    pub text: String,
    /// When it was done (the site's local day).
    pub done_on: NaiveDate,
}

/// The text as kept: spaces and line breaks collapsed into single spaces, trimmed; refused when
/// too short, too long or holding control characters. Errors are in French, for the manager.
pub fn clean_text(text: &str) -> Result<String, String> {
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err("le texte contient des caractères de contrôle".into());
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let n = text.chars().count();
    if n < TEXT_MIN {
        return Err(format!("le texte est trop court ({n} caractères ; au moins {TEXT_MIN})"));
    }
    if n > TEXT_MAX {
        return Err(format!("le texte est trop long ({n} caractères ; au plus {TEXT_MAX})"));
    }
    Ok(text)
}

/// The date, refused before 2000 or after `today` (« on l'a fait »: it is done).
pub fn check_date(done_on: NaiveDate, today: NaiveDate) -> Result<(), String> {
    let first = NaiveDate::from_ymd_opt(FIRST_DAY.0, FIRST_DAY.1, FIRST_DAY.2).unwrap_or(NaiveDate::MIN);
    if done_on < first {
        return Err(format!("la date {} est trop ancienne", done_on.format("%d/%m/%Y")));
    }
    if done_on > today {
        return Err(format!(
            "la date {} est dans l'avenir : une action s'affiche une fois faite",
            done_on.format("%d/%m/%Y")
        ));
    }
    Ok(())
}

/// A whole list as received: at most [`ACTIONS_MAX`], ids unique, each text clean as kept and
/// each date possible. `today` is the receiver's day, plus one for kiosks a time zone ahead.
pub fn check_list(actions: &[Action], today: NaiveDate) -> Result<(), String> {
    if actions.len() > ACTIONS_MAX {
        return Err(format!("{} actions : au plus {ACTIONS_MAX}", actions.len()));
    }
    let mut ids = std::collections::HashSet::new();
    for (i, a) in actions.iter().enumerate() {
        if !ids.insert(a.id) {
            return Err(format!("actions[{i}] : identifiant {} en double", a.id));
        }
        let cleaned = clean_text(&a.text).map_err(|e| format!("actions[{i}] : {e}"))?;
        if cleaned != a.text {
            return Err(format!("actions[{i}] : texte non normalisé (espaces en trop)"));
        }
        check_date(a.done_on, today.succ_opt().unwrap_or(today)).map_err(|e| format!("actions[{i}] : {e}"))?;
    }
    Ok(())
}

/// Newest first: by day done, then by id (UUID v7: the order they were written).
pub fn newest_first(actions: &mut [Action]) {
    actions.sort_by(|a, b| b.done_on.cmp(&a.done_on).then(b.id.cmp(&a.id)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn texts_are_collapsed_and_bounded() {
        assert_eq!(
            clean_text("  Plus de   chaises\n en salle d'attente ").unwrap(),
            "Plus de chaises en salle d'attente"
        );
        assert!(clean_text("abc").unwrap_err().contains("trop court"));
        assert!(clean_text(&"é".repeat(TEXT_MAX)).is_ok());
        assert!(clean_text(&"é".repeat(TEXT_MAX + 1)).unwrap_err().contains("trop long"));
        assert!(clean_text("Ouvert le\u{7}samedi").unwrap_err().contains("contrôle"));
    }

    #[test]
    fn dates_are_done_not_planned() {
        let today = day(2026, 12, 3);
        assert!(check_date(today, today).is_ok());
        assert!(check_date(day(2026, 12, 4), today).unwrap_err().contains("avenir"));
        assert!(check_date(day(1999, 12, 31), today).unwrap_err().contains("ancienne"));
    }

    #[test]
    fn lists_are_checked_whole() {
        let today = day(2026, 12, 3);
        let a = |text: &str| Action { id: Uuid::now_v7(), text: text.into(), done_on: today };
        assert!(check_list(&[a("Un guichet de plus le lundi")], today).is_ok());
        let one = a("Un guichet de plus le lundi");
        assert!(check_list(&[one.clone(), one], today).unwrap_err().contains("double"));
        assert!(check_list(&[a("trop  d'espaces ici")], today).unwrap_err().contains("normalisé"));
        let many: Vec<Action> = (0..=ACTIONS_MAX).map(|_| a("Un guichet de plus")).collect();
        assert!(check_list(&many, today).unwrap_err().contains("au plus"));
        // A kiosk a time zone ahead may already be on tomorrow.
        let tomorrow = Action { done_on: day(2026, 12, 4), ..a("Un guichet de plus") };
        assert!(check_list(&[tomorrow], today).is_ok());
    }
}
