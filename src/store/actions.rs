//! « Vous nous l'avez dit, on l'a fait »: the actions the site's manager wrote on the dashboard,
//! for the home screen, the poster and the platform. The last list the platform acknowledged is
//! kept in `meta`, so the uploader sends the list only when it changed.

use super::{Result, Store};
use borne_model::actions::{ACTIONS_MAX, Action, newest_first};
use chrono::NaiveDate;
use rusqlite::{TransactionBehavior, params};
use uuid::Uuid;

/// `meta` key: the JSON of the list the platform last acknowledged.
const SENT_KEY: &str = "actions_sent_json";

impl Store {
    /// Keeps a new action (its text already checked with `borne_model::actions`); beyond
    /// [`ACTIONS_MAX`], the oldest goes. Returns it.
    pub fn add_action(&mut self, text: &str, done_on: NaiveDate) -> Result<Action> {
        let action = Action { id: Uuid::now_v7(), text: text.to_string(), done_on };
        let path = self.path.clone();
        let err = |e| super::StoreError::classify(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        tx.execute(
            "INSERT INTO actions (id, text, done_on, written_at) VALUES (?1, ?2, ?3, ?4)",
            params![action.id.to_string(), action.text, action.done_on.to_string(), chrono::Utc::now().to_rfc3339()],
        )
        .map_err(err)?;
        tx.execute(
            "DELETE FROM actions WHERE id NOT IN (SELECT id FROM actions ORDER BY done_on DESC, id DESC LIMIT ?1)",
            [ACTIONS_MAX as i64],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(action)
    }

    /// Removes an action; false when there was none with this id.
    pub fn remove_action(&mut self, id: Uuid) -> Result<bool> {
        let n = self.conn.execute("DELETE FROM actions WHERE id = ?1", [id.to_string()]).map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Every action, newest first.
    pub fn actions(&self) -> Result<Vec<Action>> {
        let mut stmt = self.conn.prepare_cached("SELECT id, text, done_on FROM actions").map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
            .map_err(|e| self.err(e))?;
        let mut actions = Vec::new();
        for row in rows {
            let (id, text, done_on) = row.map_err(|e| self.err(e))?;
            // Rows are written by `add_action` only; one that does not read back is skipped.
            if let (Ok(id), Ok(done_on)) = (id.parse::<Uuid>(), done_on.parse::<NaiveDate>()) {
                actions.push(Action { id, text, done_on });
            }
        }
        newest_first(&mut actions);
        Ok(actions)
    }

    /// The list to send when it differs from the one the platform acknowledged last, with its
    /// JSON (to acknowledge it with). A kiosk that never had an action sends nothing.
    pub fn actions_to_send(&self) -> Result<Option<(Vec<Action>, String)>> {
        let actions = self.actions()?;
        let json = serde_json::to_string(&actions).unwrap_or_default();
        let unchanged = match &self.meta(SENT_KEY)? {
            Some(sent) => *sent == json,
            None => actions.is_empty(),
        };
        Ok((!unchanged).then_some((actions, json)))
    }

    /// The platform acknowledged this list (the JSON `actions_to_send` gave).
    pub fn actions_sent(&mut self, json: &str) -> Result<()> {
        self.set_meta(SENT_KEY, json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn actions_are_kept_newest_first_up_to_the_limit_and_sent_when_changed() {
        let mut store = Store::open_in_memory().unwrap();
        assert_eq!(store.actions_to_send().unwrap(), None, "no action ever: nothing to send");
        let older = store.add_action("Un guichet de plus le lundi matin", day(2)).unwrap();
        let newer = store.add_action("Des chaises en salle d'attente", day(20)).unwrap();
        assert_eq!(store.actions().unwrap(), vec![newer.clone(), older.clone()]);
        let (list, json) = store.actions_to_send().unwrap().expect("a new list");
        assert_eq!(list.len(), 2);
        store.actions_sent(&json).unwrap();
        assert_eq!(store.actions_to_send().unwrap(), None, "acknowledged: nothing more to send");
        assert!(store.remove_action(older.id).unwrap());
        assert!(!store.remove_action(older.id).unwrap());
        let (list, json) = store.actions_to_send().unwrap().expect("changed again");
        assert_eq!(list, vec![newer.clone()]);
        store.actions_sent(&json).unwrap();
        assert!(store.remove_action(newer.id).unwrap());
        let (list, _) = store.actions_to_send().unwrap().expect("emptied: the empty list is sent");
        assert!(list.is_empty());
        // Beyond the limit, the oldest by date goes.
        for d in 1..=(ACTIONS_MAX as u32 + 3) {
            store.add_action(&format!("Action numéro {d}"), day(d)).unwrap();
        }
        let kept = store.actions().unwrap();
        assert_eq!(kept.len(), ACTIONS_MAX);
        assert_eq!(kept[0].done_on, day(ACTIONS_MAX as u32 + 3));
        assert_eq!(kept.last().unwrap().done_on, day(4));
    }
}
