//! What every figure is computed from: a question's answers counted by item over a period.
//!
//! Invariant: plain data, no IO; the State's indicators (`indicators`) and JDMA's
//! (`backoffice`) both read it, neither the other.

/// How many times each answer item of a question was given over a period, plus how many
/// reviews answered the question at all (for checkbox questions the two differ).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuestionCounts {
    pub respondents: u64,
    pub by_item: Vec<(i64, u64)>,
}

impl QuestionCounts {
    pub fn count_of(&self, item_id: i64) -> u64 {
        self.by_item.iter().filter(|(id, _)| *id == item_id).map(|(_, n)| n).sum()
    }
}
