//! The visitor's flow as a pure state machine: events in (taps, time passing, the store's
//! answer), state and effects out. No UI, no clock of its own, no IO: the Slint adapter and the
//! physical buttons feed it, and tests drive it with made-up instants.
//!
//! Rules it enforces:
//! - the rating alone is a valid review; follow-ups and the comment are optional;
//! - « Merci » is shown only once the store said the review is committed;
//! - a visitor who walks away leaves what they gave (rating, chosen answers) stored at the
//!   inactivity timeout; an unsent comment is not "given" and is dropped;
//! - every reset wipes typed text and returns to French;
//! - inside the response interval after an accepted review, smiley taps are counted as
//!   suppressed and nothing is stored or thanked;
//! - when the store cannot write, the kiosk shows « hors service » and recovers by itself.

use crate::config::Timing;
use borne_model::review::{
    ADMINISTRATION_CHANNELS, AnswerKind, PER_CHANNEL, Question, ReviewDraft, Satisfaction, Survey,
};
use std::time::Instant;

/// What the visitor sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Home,
    /// The follow-up question at this index of `Flow::questions`.
    FollowUp(usize),
    Comment,
    /// Waiting for the store: nothing is shown as done yet.
    Saving,
    Thanks,
    OutOfService,
    Closed,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Rate(Satisfaction),
    /// Tick or untick an answer chip of the current follow-up question.
    Toggle(i64),
    /// Validate the current question (« Suivant »).
    Next,
    /// Skip the current question or the comment (« Passer »).
    Skip,
    CommentChanged(String),
    /// « Envoyer ».
    Send,
    Language(String),
    /// The « grand texte / contraste élevé » toggle.
    ToggleLargeText,
    /// The store committed the review (true) or could not (false).
    Committed(bool),
    /// The store can write again (checked by the kiosk while out of service).
    StoreRecovered,
    /// Opening hours: closed (true) or open again (false).
    SetClosed(bool),
    /// Time passes; the flow acts on timeouts.
    Tick,
}

/// What the kiosk must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Commit this review, then report with `Event::Committed`.
    Commit(ReviewDraft),
    /// A tap inside the response interval was ignored.
    Suppressed,
}

pub struct Flow {
    survey: Survey,
    timing: Timing,
    screen: Screen,
    language: String,
    large_text: bool,
    satisfaction: Option<Satisfaction>,
    /// The follow-ups asked after the current rating.
    questions: Vec<Question>,
    /// For each question, the `contact_tried` channel it is asked for (JDMA's help questions,
    /// once per administration channel ticked), or none.
    channels: Vec<Option<i64>>,
    answers: Vec<(String, i64)>,
    /// (code, channel, item) answers to the questions asked per channel.
    channel_answers: Vec<(String, i64, i64)>,
    comment: String,
    last_input: Instant,
    thanked_at: Option<Instant>,
    last_accepted_at: Option<Instant>,
    suppressed: u64,
}

pub const DEFAULT_LANGUAGE: &str = "fr";

impl Flow {
    pub fn new(survey: Survey, timing: Timing, now: Instant) -> Flow {
        Flow {
            survey,
            timing,
            screen: Screen::Home,
            language: DEFAULT_LANGUAGE.to_string(),
            large_text: false,
            satisfaction: None,
            questions: Vec::new(),
            channels: Vec::new(),
            answers: Vec::new(),
            channel_answers: Vec::new(),
            comment: String::new(),
            last_input: now,
            thanked_at: None,
            last_accepted_at: None,
            suppressed: 0,
        }
    }

    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// Another survey, from the next visit on (the kiosk changes it on its home screen only).
    pub fn set_survey(&mut self, survey: Survey) {
        self.survey = survey;
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    pub fn large_text(&self) -> bool {
        self.large_text
    }

    /// When a `Tick` may next change something; `None` when nothing is waiting on time, so an
    /// idle kiosk needs no timer at all.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.screen {
            Screen::Thanks => self.thanked_at.map(|at| at + self.timing.thanks_duration),
            Screen::FollowUp(_) | Screen::Comment => Some(self.last_input + self.timing.inactivity_timeout),
            Screen::Home if self.language != DEFAULT_LANGUAGE || self.large_text => {
                Some(self.last_input + self.timing.inactivity_timeout)
            }
            _ => None,
        }
    }

    pub fn comment(&self) -> &str {
        &self.comment
    }

    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// The question on screen, when a follow-up is shown.
    pub fn current_question(&self) -> Option<&Question> {
        match self.screen {
            Screen::FollowUp(i) => self.questions.get(i),
            _ => None,
        }
    }

    /// The channel the question on screen is asked for (its id and its text), if it is one of
    /// JDMA's help questions asked per channel.
    pub fn current_channel(&self) -> Option<(i64, String)> {
        let Screen::FollowUp(i) = self.screen else { return None };
        let channel = (*self.channels.get(i)?)?;
        let tried = self.survey.follow_ups.iter().find(|q| q.code == "contact_tried")?;
        Some((channel, tried.item(channel)?.text.clone()))
    }

    /// Items ticked for the question on screen.
    pub fn ticked(&self) -> Vec<i64> {
        let Some(q) = self.current_question() else { return Vec::new() };
        if let Some((channel, _)) = self.current_channel() {
            return self
                .channel_answers
                .iter()
                .filter(|(code, c, _)| *code == q.code && *c == channel)
                .map(|(_, _, item)| *item)
                .collect();
        }
        self.answers.iter().filter(|(code, _)| *code == q.code).map(|(_, item)| *item).collect()
    }

    /// Applies one event at `now`; returns what the kiosk must do.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Effect> {
        if !matches!(event, Event::Tick | Event::Committed(_) | Event::StoreRecovered | Event::SetClosed(_)) {
            self.last_input = now;
        }
        match (self.screen.clone(), event) {
            (_, Event::SetClosed(true)) => {
                // A visit in progress keeps what was given.
                let effects = self.walk_away();
                if effects.is_empty() {
                    self.reset(Screen::Closed);
                }
                effects
            }
            (Screen::Closed, Event::SetClosed(false)) => {
                self.reset(Screen::Home);
                Vec::new()
            }
            (Screen::Home, Event::Rate(s)) => {
                if self.last_accepted_at.is_some_and(|at| now.duration_since(at) < self.timing.response_interval) {
                    self.suppressed += 1;
                    return vec![Effect::Suppressed];
                }
                self.satisfaction = Some(s);
                // With contact_tried asked, JDMA's help questions come per channel ticked, after it.
                let per_channel =
                    self.survey.follow_ups.iter().any(|q| q.code == "contact_tried" && q.is_asked_after(s));
                self.questions = self
                    .survey
                    .follow_ups
                    .iter()
                    .filter(|q| q.is_asked_after(s))
                    .filter(|q| !(per_channel && PER_CHANNEL.contains(&q.code.as_str())))
                    .cloned()
                    .collect();
                self.channels = vec![None; self.questions.len()];
                self.advance_from(None)
            }
            (Screen::Home, Event::Language(lang)) => {
                if self.survey.languages.contains(&lang) {
                    self.language = lang;
                }
                Vec::new()
            }
            (Screen::Home | Screen::FollowUp(_) | Screen::Comment, Event::ToggleLargeText) => {
                self.large_text = !self.large_text;
                Vec::new()
            }
            (Screen::FollowUp(i), Event::Toggle(item)) => {
                if let Some(q) = self.questions.get(i).cloned() {
                    match self.channels.get(i).copied().flatten() {
                        Some(channel) => self.toggle_for_channel(&q, channel, item),
                        None => self.toggle(&q, item),
                    }
                }
                Vec::new()
            }
            (Screen::FollowUp(i), Event::Next) => {
                self.ask_per_channel(i);
                self.advance_from(Some(i))
            }
            (Screen::FollowUp(i), Event::Skip) => {
                if let Some(code) = self.questions.get(i).map(|q| q.code.clone()) {
                    match self.channels.get(i).copied().flatten() {
                        Some(channel) => self.channel_answers.retain(|(c, ch, _)| !(*c == code && *ch == channel)),
                        None => self.answers.retain(|(c, _)| *c != code),
                    }
                }
                self.ask_per_channel(i);
                self.advance_from(Some(i))
            }
            (Screen::Comment, Event::CommentChanged(text)) => {
                self.comment = text.chars().take(self.survey.comment_max_chars).collect();
                Vec::new()
            }
            (Screen::Comment, Event::Send) => self.commit(true),
            (Screen::Comment, Event::Skip) => self.commit(false),
            (Screen::Saving, Event::Committed(true)) => {
                self.last_accepted_at = Some(now);
                self.thanked_at = Some(now);
                // « Merci » in the visitor's language and text size; the rest is wiped now.
                self.end_visit(Screen::Thanks);
                Vec::new()
            }
            (Screen::Saving, Event::Committed(false)) => {
                // Told in the visitor's language, on screen and by the voice (EN 301 549
                // 5.1.3.15); French again once the kiosk is back.
                self.end_visit(Screen::OutOfService);
                Vec::new()
            }
            (Screen::OutOfService, Event::StoreRecovered) => {
                self.reset(Screen::Home);
                Vec::new()
            }
            (Screen::Thanks, Event::Tick) => {
                if self.thanked_at.is_some_and(|at| now.duration_since(at) >= self.timing.thanks_duration) {
                    self.reset(Screen::Home);
                }
                Vec::new()
            }
            (Screen::FollowUp(_) | Screen::Comment, Event::Tick) => {
                if now.duration_since(self.last_input) >= self.timing.inactivity_timeout {
                    self.walk_away()
                } else {
                    Vec::new()
                }
            }
            (Screen::Home, Event::Tick) => {
                // A language or large text chosen by a visitor who then left goes back to the default.
                if now.duration_since(self.last_input) >= self.timing.inactivity_timeout {
                    self.language = DEFAULT_LANGUAGE.to_string();
                    self.large_text = false;
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn toggle(&mut self, question: &Question, item_id: i64) {
        let Some(item) = question.item(item_id) else { return };
        let position = self.answers.iter().position(|(c, i)| *c == question.code && *i == item_id);
        if let Some(p) = position {
            self.answers.remove(p);
            return;
        }
        if question.kind != AnswerKind::Checkbox || item.exclusive {
            self.answers.retain(|(c, _)| *c != question.code);
        } else {
            // Ticking an ordinary item unticks an exclusive one.
            let exclusive: Vec<i64> = question.items.iter().filter(|i| i.exclusive).map(|i| i.id).collect();
            self.answers.retain(|(c, i)| !(*c == question.code && exclusive.contains(i)));
        }
        self.answers.push((question.code.clone(), item_id));
    }

    /// A help question asked for one channel: one answer per channel, tapped again to untick.
    fn toggle_for_channel(&mut self, question: &Question, channel: i64, item_id: i64) {
        if question.item(item_id).is_none() {
            return;
        }
        let same = |(c, ch, _): &(String, i64, i64)| *c == question.code && *ch == channel;
        let was = self.channel_answers.iter().find(|a| same(a)).map(|(_, _, i)| *i);
        self.channel_answers.retain(|a| !same(a));
        if was != Some(item_id) {
            self.channel_answers.push((question.code.clone(), channel, item_id));
        }
    }

    /// After `contact_tried` (question `i`), JDMA's help questions for each administration
    /// channel ticked, in the order of the channels (replacing any asked before).
    fn ask_per_channel(&mut self, i: usize) {
        let (Some(tried), Some(satisfaction)) = (self.questions.get(i).cloned(), self.satisfaction) else { return };
        if tried.code != "contact_tried" || self.channels.get(i).copied().flatten().is_some() {
            return;
        }
        let mut kept: Vec<(Question, Option<i64>)> = Vec::new();
        for (n, (q, ch)) in self.questions.drain(..).zip(self.channels.drain(..)).enumerate() {
            if n <= i || ch.is_none() {
                kept.push((q, ch));
            }
        }
        let ticked: Vec<i64> = tried
            .items
            .iter()
            .map(|item| item.id)
            .filter(|id| {
                ADMINISTRATION_CHANNELS.contains(id) && self.answers.iter().any(|(c, a)| *c == tried.code && a == id)
            })
            .collect();
        let asked: Vec<Question> = PER_CHANNEL
            .iter()
            .filter_map(|code| {
                self.survey.follow_ups.iter().find(|q| q.code == *code && q.is_asked_after(satisfaction))
            })
            .cloned()
            .collect();
        let per_channel = ticked.iter().flat_map(|c| asked.iter().map(move |q| (q.clone(), Some(*c))));
        let (before, after): (Vec<_>, Vec<_>) = kept.into_iter().enumerate().partition(|(n, _)| *n <= i);
        for (q, ch) in before.into_iter().map(|(_, x)| x).chain(per_channel).chain(after.into_iter().map(|(_, x)| x)) {
            self.questions.push(q);
            self.channels.push(ch);
        }
    }

    /// Moves to the question after `current` (or the first), then the comment, then commits.
    fn advance_from(&mut self, current: Option<usize>) -> Vec<Effect> {
        let next = current.map_or(0, |i| i + 1);
        if next < self.questions.len() {
            self.screen = Screen::FollowUp(next);
            return Vec::new();
        }
        if self.survey.comment_enabled {
            self.screen = Screen::Comment;
            return Vec::new();
        }
        self.commit(false)
    }

    fn commit(&mut self, with_comment: bool) -> Vec<Effect> {
        let Some(satisfaction) = self.satisfaction else {
            self.reset(Screen::Home);
            return Vec::new();
        };
        let comment = (with_comment && !self.comment.trim().is_empty()).then(|| self.comment.clone());
        // Only the channels still ticked keep their help answers.
        let channel_answers = self
            .channel_answers
            .iter()
            .filter(|(_, ch, _)| self.answers.iter().any(|(c, a)| c == "contact_tried" && a == ch))
            .cloned()
            .collect();
        let draft = ReviewDraft {
            channel_answers,
            satisfaction: satisfaction.item_id(),
            answers: self.answers.clone(),
            comment,
            language: self.language.clone(),
        };
        // Typed text leaves the flow's memory now: the draft goes to the store, nowhere else.
        self.comment.clear();
        self.screen = Screen::Saving;
        vec![Effect::Commit(draft)]
    }

    /// The visitor left: what they gave is stored, the unsent comment is not.
    fn walk_away(&mut self) -> Vec<Effect> {
        match self.screen {
            Screen::FollowUp(_) | Screen::Comment => self.commit(false),
            _ => Vec::new(),
        }
    }

    /// Wipes the visit but keeps its language and text size for the screen that ends it.
    fn end_visit(&mut self, screen: Screen) {
        let (language, large_text) = (std::mem::take(&mut self.language), self.large_text);
        self.reset(screen);
        self.language = language;
        self.large_text = large_text;
    }

    fn reset(&mut self, screen: Screen) {
        self.screen = screen;
        self.language = DEFAULT_LANGUAGE.to_string();
        self.large_text = false;
        self.satisfaction = None;
        self.questions.clear();
        self.channels.clear();
        self.answers.clear();
        self.channel_answers.clear();
        self.comment.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::time::Duration;

    fn flow() -> (Flow, Instant) {
        let now = Instant::now();
        (Flow::new(Config::embedded().survey, Timing::default(), now), now)
    }

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn committed(effects: Vec<Effect>) -> ReviewDraft {
        match effects.as_slice() {
            [Effect::Commit(draft)] => draft.clone(),
            other => panic!("expected one commit, got {other:?}"),
        }
    }

    #[test]
    fn smiley_chip_comment_send_then_thanks_only_after_commit() {
        let (mut f, t0) = flow();
        assert!(f.handle(Event::Language("en".into()), t0).is_empty());
        f.handle(Event::Rate(Satisfaction::Bad), t0);
        assert_eq!(f.screen(), &Screen::FollowUp(0));
        f.handle(Event::Toggle(1), t0);
        f.handle(Event::Toggle(3), t0);
        f.handle(Event::Toggle(3), t0);
        f.handle(Event::Toggle(5), t0);
        assert_eq!(f.ticked(), vec![1, 5]);
        f.handle(Event::Next, t0);
        assert_eq!(f.screen(), &Screen::Comment);
        f.handle(Event::CommentChanged("Trop d'attente".into()), t0);
        let draft = committed(f.handle(Event::Send, t0 + s(1)));
        assert_eq!(draft.satisfaction, 1);
        assert_eq!(draft.answers, vec![("kiosk_motif".to_string(), 1), ("kiosk_motif".to_string(), 5)]);
        assert_eq!(draft.comment.as_deref(), Some("Trop d'attente"));
        assert_eq!(draft.language, "en");
        assert_eq!(f.screen(), &Screen::Saving, "no « Merci » before the store answers");
        assert_eq!(f.comment(), "", "typed text is gone from the flow");
        f.handle(Event::Committed(true), t0 + s(1));
        assert_eq!(f.screen(), &Screen::Thanks);
        assert_eq!(f.language(), "en", "thanked in their language");
        f.handle(Event::Tick, t0 + s(3));
        assert_eq!(f.screen(), &Screen::Thanks);
        assert_eq!(f.next_deadline(), Some(t0 + s(5)));
        f.handle(Event::Tick, t0 + s(5));
        assert_eq!(f.screen(), &Screen::Home);
        assert_eq!(f.language(), "fr", "the next visitor starts in French");
        assert_eq!(f.next_deadline(), None, "an idle kiosk waits on nothing");
    }

    #[test]
    fn good_rating_skips_the_follow_up_and_an_empty_comment_is_none() {
        let (mut f, t0) = flow();
        f.handle(Event::Rate(Satisfaction::Good), t0);
        assert_eq!(f.screen(), &Screen::Comment);
        f.handle(Event::CommentChanged("   ".into()), t0);
        let draft = committed(f.handle(Event::Send, t0));
        assert_eq!((draft.satisfaction, draft.answers.len(), draft.comment), (3, 0, None));
    }

    #[test]
    fn walking_away_stores_what_was_given_but_not_an_unsent_comment() {
        let (mut f, t0) = flow();
        f.handle(Event::Rate(Satisfaction::Medium), t0);
        f.handle(Event::Toggle(2), t0 + s(2));
        assert!(f.handle(Event::Tick, t0 + s(31)).is_empty(), "the timeout counts from the last tap");
        let draft = committed(f.handle(Event::Tick, t0 + s(32)));
        assert_eq!(draft.answers, vec![("kiosk_motif".to_string(), 2)]);

        let (mut f, t0) = flow();
        f.handle(Event::Rate(Satisfaction::Good), t0);
        f.handle(Event::CommentChanged("mon nom est…".into()), t0);
        let draft = committed(f.handle(Event::Tick, t0 + s(30)));
        assert_eq!(draft.comment, None);
        f.handle(Event::Committed(true), t0 + s(30));
        assert_eq!(f.comment(), "");
    }

    #[test]
    fn taps_inside_the_response_interval_are_suppressed() {
        let (mut f, t0) = flow();
        f.handle(Event::Rate(Satisfaction::Good), t0);
        committed(f.handle(Event::Skip, t0));
        f.handle(Event::Committed(true), t0);
        f.handle(Event::Tick, t0 + s(4));
        assert_eq!(f.screen(), &Screen::Home);
        assert_eq!(f.handle(Event::Rate(Satisfaction::Bad), t0 + s(4)), vec![Effect::Suppressed]);
        assert_eq!(f.screen(), &Screen::Home, "nothing stored, nothing thanked");
        assert_eq!(f.suppressed(), 1);
        f.handle(Event::Rate(Satisfaction::Bad), t0 + s(5));
        assert_eq!(f.screen(), &Screen::FollowUp(0));
    }

    #[test]
    fn store_failure_shows_out_of_service_and_recovers() {
        let (mut f, t0) = flow();
        f.handle(Event::Language("de".into()), t0);
        f.handle(Event::Rate(Satisfaction::Good), t0);
        f.handle(Event::CommentChanged("bien".into()), t0);
        committed(f.handle(Event::Send, t0));
        f.handle(Event::Committed(false), t0);
        assert_eq!(f.screen(), &Screen::OutOfService);
        assert_eq!((f.language(), f.comment()), ("de", ""), "told in their language; the text is gone");
        assert!(f.handle(Event::Rate(Satisfaction::Good), t0).is_empty(), "no review taken while out of service");
        f.handle(Event::StoreRecovered, t0 + s(10));
        assert_eq!(f.screen(), &Screen::Home);
        assert_eq!(f.language(), "fr");
        // A failed commit is no accepted review: no response interval starts.
        f.handle(Event::Rate(Satisfaction::Good), t0 + s(10));
        assert_eq!(f.screen(), &Screen::Comment);
    }

    #[test]
    fn language_resets_after_a_walk_away_on_home_and_closing_keeps_a_visit() {
        let (mut f, t0) = flow();
        f.handle(Event::Language("ar".into()), t0);
        f.handle(Event::Language("xx".into()), t0);
        assert_eq!(f.language(), "ar");
        f.handle(Event::Tick, t0 + s(31));
        assert_eq!(f.language(), "fr");

        let (mut f, t0) = flow();
        f.handle(Event::Rate(Satisfaction::Bad), t0);
        let draft = committed(f.handle(Event::SetClosed(true), t0));
        assert_eq!(draft.satisfaction, 1);
        let (mut f, t0) = flow();
        f.handle(Event::SetClosed(true), t0);
        assert_eq!(f.screen(), &Screen::Closed);
        assert!(f.handle(Event::Rate(Satisfaction::Good), t0).is_empty());
        f.handle(Event::SetClosed(false), t0);
        assert_eq!(f.screen(), &Screen::Home);
    }

    #[test]
    fn exclusive_and_single_choice_items() {
        let mut survey = Config::embedded().survey;
        let mut tried = borne_model::review::jdma_question("contact_tried").unwrap();
        tried.show_after = vec![];
        survey.follow_ups = vec![borne_model::review::jdma_question("comprehension").unwrap(), tried];
        let t0 = Instant::now();
        let mut f = Flow::new(survey.clone(), Timing::default(), t0);
        f.handle(Event::Rate(Satisfaction::Good), t0);
        f.handle(Event::Toggle(4), t0);
        f.handle(Event::Toggle(8), t0);
        assert_eq!(f.ticked(), vec![8], "radio: one answer");
        f.handle(Event::Next, t0);
        f.handle(Event::Toggle(9), t0);
        f.handle(Event::Toggle(10), t0);
        f.handle(Event::Toggle(17), t0);
        assert_eq!(f.ticked(), vec![17], "the exclusive item clears the others");
        f.handle(Event::Toggle(9), t0);
        assert_eq!(f.ticked(), vec![9], "and is cleared by them");
        f.handle(Event::Next, t0);
        let draft = committed(f.handle(Event::Skip, t0));
        // Whatever the flow produces, the survey accepts.
        assert!(survey.answers_for(&draft).is_ok());
    }

    /// JDMA's help questions, once per administration channel ticked, in the channels' order; a
    /// channel unticked takes its answers with it; the survey turns them into child answers.
    #[test]
    fn help_questions_are_asked_for_each_channel_ticked() {
        let mut survey = Config::embedded().survey;
        let q = |code: &str| borne_model::review::jdma_question(code).unwrap();
        survey.follow_ups = vec![q("contact_tried"), q("contact_reached"), q("contact_satisfaction")];
        let t0 = Instant::now();
        let mut f = Flow::new(survey.clone(), Timing::default(), t0);
        f.handle(Event::Rate(Satisfaction::Medium), t0);
        assert_eq!(f.current_question().map(|q| q.code.as_str()), Some("contact_tried"));
        for item in [10, 13, 9] {
            f.handle(Event::Toggle(item), t0);
        }
        f.handle(Event::Next, t0);
        // Desk (9) before phone (10), as contact_tried lists them; « une personne proche » (13) is not the administration's.
        let mut asked = Vec::new();
        let mut answer = |f: &mut Flow, item: i64| {
            asked.push((f.current_question().unwrap().code.clone(), f.current_channel().unwrap().0));
            f.handle(Event::Toggle(item), t0);
            f.handle(Event::Next, t0)
        };
        answer(&mut f, 17);
        assert_eq!(f.current_channel().map(|c| c.1), Some("Au guichet avec l’administration".to_string()));
        answer(&mut f, 22);
        answer(&mut f, 18);
        let effects = answer(&mut f, 20);
        assert_eq!(
            asked,
            [
                ("contact_reached".into(), 9),
                ("contact_satisfaction".into(), 9),
                ("contact_reached".into(), 10),
                ("contact_satisfaction".into(), 10)
            ]
        );
        let draft = match effects.as_slice() {
            [] => committed(f.handle(Event::Skip, t0)),
            _ => committed(effects),
        };
        let answers = survey.answers_for(&draft).unwrap();
        let children: Vec<(String, i64, Option<i64>)> = answers
            .iter()
            .filter(|a| a.parent.is_some())
            .map(|a| (a.field_code.clone(), a.answer_item_id, a.parent))
            .collect();
        assert_eq!(
            children,
            [
                ("contact_reached".into(), 17, Some(9)),
                ("contact_satisfaction".into(), 22, Some(9)),
                ("contact_reached".into(), 18, Some(10)),
                ("contact_satisfaction".into(), 20, Some(10))
            ]
        );
        assert_eq!(borne_model::review::check_channels(&answers), Ok(()));
        // No channel of the administration ticked: no help question.
        let mut f = Flow::new(survey.clone(), Timing::default(), t0);
        f.handle(Event::Rate(Satisfaction::Good), t0);
        f.handle(Event::Toggle(17), t0);
        f.handle(Event::Next, t0);
        assert_eq!(f.screen(), &Screen::Comment);
        // A draft naming a channel not ticked is refused by the survey.
        let mut forged = draft.clone();
        forged.channel_answers.push(("contact_reached".into(), 11, 17));
        assert!(matches!(
            survey.answers_for(&forged),
            Err(borne_model::review::InvalidReview::Channel { channel: 11, .. })
        ));
    }
}
