//! Alerts, decided without IO ("plan, then act"): given the rules and what the platform
//! observes at an instant (each kiosk's last heartbeat and oldest pending review, each site's
//! recent answers), say which incidents open and which resolve. Sending the mails, and keeping
//! the incidents across restarts, is the caller's part.
//!
//! As JDMA debounces its alerts: a condition must hold for the whole `debounce` before an
//! incident opens, and be gone for as long before it resolves, so a kiosk that blinks does not
//! mail anyone; and at most one incident per rule and scope opens within `cap` (a flapping
//! condition mails once per cap, not at each flap). One mail when an incident opens, one when it
//! resolves.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a rule watches.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// A kiosk has not been heard from (no heartbeat) for longer than `after`.
    Offline { after: Duration },
    /// A kiosk's oldest review waiting to be sent is older than `age`.
    PendingTooOld { age: Duration },
    /// A site's share of « Pas bien » over the last `window` is above `percent`, from
    /// `minimum_reviews` reviews in that window.
    NegativeShare { window: Duration, percent: f64, minimum_reviews: u64 },
    /// A site's score over the last `window` is `points` or more below its score over the
    /// `window` before it, each from `minimum_reviews` reviews.
    ScoreDrop { window: Duration, points: f64, minimum_reviews: u64 },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub id: String,
    pub condition: Condition,
    /// How long the condition must hold (or be gone) before an incident opens (or resolves).
    pub debounce: Duration,
    /// At most one incident per rule and scope opens within this time.
    pub cap: Duration,
}

/// What an incident is about: a kiosk or a site.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Scope {
    Device(String),
    Site(String),
}

/// A kiosk as observed.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceState {
    pub id: String,
    pub last_seen: Option<DateTime<Utc>>,
    pub registered_at: DateTime<Utc>,
    pub oldest_pending: Option<DateTime<Utc>>,
}

/// A site's satisfaction answers in two consecutive windows: `recent` is
/// `[now - window, now]`, `before` the window before it; counts are (Pas bien, Moyen, Très bien).
#[derive(Debug, Clone, PartialEq)]
pub struct SiteState {
    pub id: String,
    /// Per rule id: the counts over that rule's windows.
    pub windows: BTreeMap<String, SiteWindows>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SiteWindows {
    pub recent: [u64; 3],
    pub before: [u64; 3],
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Opened { rule: String, scope: Scope, at: DateTime<Utc>, detail: String },
    Resolved { rule: String, scope: Scope, at: DateTime<Utc>, opened_at: DateTime<Utc> },
}

/// Where a rule and scope stand.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct Track {
    /// Since when the condition holds without interruption (while no incident is open).
    holding_since: Option<DateTime<Utc>>,
    /// Since when the condition is gone without interruption (while an incident is open).
    clear_since: Option<DateTime<Utc>>,
    open_since: Option<DateTime<Utc>>,
    last_opened: Option<DateTime<Utc>>,
}

/// The incidents' memory between evaluations.
#[derive(Debug, Clone, Default)]
pub struct Evaluator {
    tracks: BTreeMap<(String, Scope), Track>,
    /// The (rule, scope) pairs evaluated since the last `retire_unseen`.
    seen: std::collections::BTreeSet<(String, Scope)>,
}

/// The State's score on ten from (Pas bien, Moyen, Très bien), when there are enough answers.
fn score(counts: [u64; 3], minimum: u64) -> Option<f64> {
    let n: u64 = counts.iter().sum();
    (n > 0 && n >= minimum).then(|| (5.0 * counts[1] as f64 + 10.0 * counts[2] as f64) / n as f64)
}

fn hours(d: Duration) -> i64 {
    d.num_hours()
}

impl Rule {
    /// Whether the condition holds for a kiosk, with what to say about it.
    fn device_condition(&self, device: &DeviceState, now: DateTime<Utc>) -> Option<Option<String>> {
        match &self.condition {
            Condition::Offline { after } => {
                let since = device.last_seen.unwrap_or(device.registered_at);
                Some((now - since > *after).then(|| format!("aucun signe de vie depuis {} h", hours(now - since))))
            }
            Condition::PendingTooOld { age } => Some(
                device
                    .oldest_pending
                    .filter(|oldest| now - *oldest > *age)
                    .map(|oldest| format!("un avis attend d'être envoyé depuis {} h", hours(now - oldest))),
            ),
            _ => None,
        }
    }

    fn site_condition(&self, site: &SiteState) -> Option<Option<String>> {
        let windows = site.windows.get(&self.id).copied().unwrap_or_default();
        match &self.condition {
            Condition::NegativeShare { percent, minimum_reviews, .. } => {
                let n: u64 = windows.recent.iter().sum();
                let share = if n == 0 { 0.0 } else { 100.0 * windows.recent[0] as f64 / n as f64 };
                Some(
                    (n >= *minimum_reviews && share > *percent)
                        .then(|| format!("{share:.0} % de « Pas bien » sur {n} avis (seuil {percent:.0} %)")),
                )
            }
            Condition::ScoreDrop { points, minimum_reviews, .. } => {
                let (Some(recent), Some(before)) =
                    (score(windows.recent, *minimum_reviews), score(windows.before, *minimum_reviews))
                else {
                    return Some(None);
                };
                Some((before - recent >= *points).then(|| {
                    format!("la note passe de {before:.1} à {recent:.1} / 10 (baisse de {:.1} point)", before - recent)
                }))
            }
            _ => None,
        }
    }
}

impl Evaluator {
    /// The memory as JSON, to keep between evaluations (and across restarts and instances).
    pub fn to_json(&self) -> String {
        let entries: Vec<(&(String, Scope), &Track)> = self.tracks.iter().collect();
        serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into())
    }

    /// The memory kept by `to_json`; an unreadable one starts afresh (incidents then open
    /// again once, which is better than never).
    pub fn from_json(text: &str) -> Evaluator {
        let entries: Vec<((String, Scope), Track)> = serde_json::from_str(text).unwrap_or_default();
        Evaluator { tracks: entries.into_iter().collect(), seen: Default::default() }
    }

    /// Evaluates every rule at `now` and returns the incidents that open and resolve.
    pub fn evaluate(
        &mut self,
        rules: &[Rule],
        devices: &[DeviceState],
        sites: &[SiteState],
        now: DateTime<Utc>,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        for rule in rules {
            for device in devices {
                if let Some(holds) = rule.device_condition(device, now) {
                    self.step(rule, Scope::Device(device.id.clone()), holds, now, &mut events);
                }
            }
            for site in sites {
                if let Some(holds) = rule.site_condition(site) {
                    self.step(rule, Scope::Site(site.id.clone()), holds, now, &mut events);
                }
            }
        }
        events
    }

    fn step(&mut self, rule: &Rule, scope: Scope, holds: Option<String>, now: DateTime<Utc>, events: &mut Vec<Event>) {
        self.seen.insert((rule.id.clone(), scope.clone()));
        let track = self.tracks.entry((rule.id.clone(), scope.clone())).or_default();
        match (track.open_since, holds) {
            (None, Some(detail)) => {
                let since = *track.holding_since.get_or_insert(now);
                let capped = track.last_opened.is_some_and(|last| now - last < rule.cap);
                if now - since >= rule.debounce && !capped {
                    track.open_since = Some(now);
                    track.last_opened = Some(now);
                    track.clear_since = None;
                    events.push(Event::Opened { rule: rule.id.clone(), scope, at: now, detail });
                }
            }
            (None, None) => track.holding_since = None,
            (Some(_), Some(_)) => track.clear_since = None,
            (Some(opened_at), None) => {
                let since = *track.clear_since.get_or_insert(now);
                if now - since >= rule.debounce {
                    track.open_since = None;
                    track.holding_since = None;
                    track.clear_since = None;
                    events.push(Event::Resolved { rule: rule.id.clone(), scope, at: now, opened_at });
                }
            }
        }
    }

    /// Ends the round: what was not evaluated since the last round is gone (a kiosk revoked, a
    /// site or a rule removed, a rule turned off): its open incident resolves now, without the
    /// debounce (there is nothing left to watch), and its memory is forgotten.
    pub fn retire_unseen(&mut self, now: DateTime<Utc>) -> Vec<Event> {
        let seen = std::mem::take(&mut self.seen);
        let gone: Vec<(String, Scope)> = self.tracks.keys().filter(|key| !seen.contains(*key)).cloned().collect();
        let mut events = Vec::new();
        for key in gone {
            if let Some(Track { open_since: Some(opened_at), .. }) = self.tracks.remove(&key) {
                let (rule, scope) = key;
                events.push(Event::Resolved { rule, scope, at: now, opened_at });
            }
        }
        events
    }

    /// The incidents open now: (rule, scope, opened at).
    pub fn open(&self) -> Vec<(String, Scope, DateTime<Utc>)> {
        self.tracks
            .iter()
            .filter_map(|((rule, scope), t)| t.open_since.map(|at| (rule.clone(), scope.clone(), at)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_no_longer_watched_resolves_at_once() {
        let rule = offline_rule();
        let device = |id: &str| DeviceState {
            id: id.into(),
            last_seen: Some(t0()),
            registered_at: t0() - Duration::days(30),
            oldest_pending: None,
        };
        let mut evaluator = Evaluator::default();
        let mut now = t0();
        let mut opened = Vec::new();
        for _ in 0..48 {
            now += Duration::hours(1);
            opened.extend(evaluator.evaluate(std::slice::from_ref(&rule), &[device("d1"), device("d2")], &[], now));
            assert!(evaluator.retire_unseen(now).is_empty(), "both are watched");
        }
        assert_eq!(evaluator.open().len(), 2, "both silent: {opened:?}");
        // d1 is revoked: it is no longer among the kiosks evaluated.
        now += Duration::hours(1);
        let events = evaluator.evaluate(std::slice::from_ref(&rule), &[device("d2")], &[], now);
        assert!(events.is_empty());
        let retired = evaluator.retire_unseen(now);
        assert!(
            matches!(&retired[..], [Event::Resolved { scope: Scope::Device(id), at, .. }] if id == "d1" && *at == now),
            "{retired:?}"
        );
        assert_eq!(evaluator.open().len(), 1);
        // Its memory is gone: the JSON keeps d2 only.
        assert!(!evaluator.to_json().contains("\"d1\""), "{}", evaluator.to_json());
    }

    fn t0() -> DateTime<Utc> {
        "2026-03-02T06:00:00Z".parse().unwrap()
    }

    fn offline_rule() -> Rule {
        Rule {
            id: "hors-ligne".into(),
            condition: Condition::Offline { after: Duration::hours(24) },
            debounce: Duration::minutes(5),
            cap: Duration::hours(2),
        }
    }

    fn device(id: &str, last_seen: DateTime<Utc>) -> DeviceState {
        DeviceState {
            id: id.into(),
            last_seen: Some(last_seen),
            registered_at: t0() - Duration::days(30),
            oldest_pending: None,
        }
    }

    /// A week simulated minute by minute: a kiosk heard from every 5 minutes, then silent for
    /// 30 hours, then back; another always fine.
    #[test]
    fn an_offline_kiosk_opens_one_incident_and_resolves_it_once() {
        let rules = [offline_rule()];
        let mut evaluator = Evaluator::default();
        let mut events = Vec::new();
        let mut last_seen = t0();
        let silent_from = t0() + Duration::days(2);
        let back_at = silent_from + Duration::hours(30);
        for minute in 0..(7 * 24 * 60) {
            let now = t0() + Duration::minutes(minute);
            if minute % 5 == 0 && !(now >= silent_from && now < back_at) {
                last_seen = now;
            }
            let devices = [device("borne-a", last_seen), device("borne-b", now)];
            events.extend(evaluator.evaluate(&rules, &devices, &[], now));
        }
        assert_eq!(events.len(), 2, "{events:#?}");
        let Event::Opened { scope, at, detail, .. } = &events[0] else { panic!("{events:?}") };
        assert_eq!(scope, &Scope::Device("borne-a".into()));
        // Silent for 24 h (beyond the last heartbeat), then 5 minutes of debounce.
        assert_eq!(
            *at,
            silent_from - Duration::minutes(5) + Duration::hours(24) + Duration::minutes(1) + Duration::minutes(5)
        );
        assert!(detail.contains("aucun signe de vie depuis 24 h"), "{detail}");
        let Event::Resolved { at, opened_at, .. } = &events[1] else { panic!("{events:?}") };
        assert_eq!(*at, back_at + Duration::minutes(5), "resolved once back for the debounce");
        assert_eq!(opened_at, &events_opened_at(&events[0]));
        assert!(evaluator.open().is_empty());
    }

    fn events_opened_at(event: &Event) -> DateTime<Utc> {
        match event {
            Event::Opened { at, .. } => *at,
            Event::Resolved { opened_at, .. } => *opened_at,
        }
    }

    /// A kiosk that blinks (silent just past the limit, back, silent again) every 20 minutes
    /// mails at most once per cap of 2 hours, and a blink shorter than the debounce never.
    /// Evaluating with the memory saved and read back at every minute (as each minute's
    /// evaluation may run on another instance) gives the same incidents as one evaluator.
    #[test]
    fn the_memory_survives_a_round_trip_through_json() {
        let rules = [offline_rule()];
        let (mut kept, mut events_kept, mut events_saved) = (Evaluator::default(), Vec::new(), Vec::new());
        let mut saved = Evaluator::default().to_json();
        for minute in 0..(3 * 24 * 60) {
            let now = t0() + Duration::minutes(minute);
            let last_seen = if !(60..=40 * 60).contains(&minute) { now } else { t0() + Duration::minutes(60) };
            let devices = [device("borne-a", last_seen)];
            events_kept.extend(kept.evaluate(&rules, &devices, &[], now));
            let mut restored = Evaluator::from_json(&saved);
            events_saved.extend(restored.evaluate(&rules, &devices, &[], now));
            saved = restored.to_json();
        }
        assert_eq!(events_kept.len(), 2, "{events_kept:?}");
        assert_eq!(events_saved, events_kept);
        assert!(Evaluator::from_json("pas du json").open().is_empty());
    }

    #[test]
    fn a_flapping_condition_mails_once_per_cap() {
        let rule = Rule { debounce: Duration::minutes(5), cap: Duration::hours(2), ..offline_rule() };
        let mut evaluator = Evaluator::default();
        let mut opened = Vec::new();
        // Over 12 hours, the condition holds 12 minutes out of every 20.
        for minute in 0..(12 * 60) {
            let now = t0() + Duration::minutes(minute);
            let holds = minute % 20 < 12;
            let last_seen = if holds { now - Duration::hours(25) } else { now };
            for e in evaluator.evaluate(std::slice::from_ref(&rule), &[device("borne-a", last_seen)], &[], now) {
                if let Event::Opened { at, .. } = e {
                    opened.push(at);
                }
            }
        }
        assert_eq!(opened.len(), 6, "one per two hours over twelve: {opened:?}");
        assert!(opened.windows(2).all(|w| w[1] - w[0] >= Duration::hours(2)));
        // Shorter than the debounce: nothing at all.
        let mut evaluator = Evaluator::default();
        let mut events = Vec::new();
        for minute in 0..(12 * 60) {
            let now = t0() + Duration::minutes(minute);
            let last_seen = if minute % 20 < 4 { now - Duration::hours(25) } else { now };
            events.extend(evaluator.evaluate(std::slice::from_ref(&rule), &[device("borne-a", last_seen)], &[], now));
        }
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn site_rules_follow_the_answers_of_their_windows() {
        let negative = Rule {
            id: "pas-bien".into(),
            condition: Condition::NegativeShare { window: Duration::days(7), percent: 30.0, minimum_reviews: 20 },
            debounce: Duration::zero(),
            cap: Duration::hours(24),
        };
        let drop = Rule {
            id: "baisse".into(),
            condition: Condition::ScoreDrop { window: Duration::days(30), points: 1.0, minimum_reviews: 50 },
            debounce: Duration::zero(),
            cap: Duration::hours(24),
        };
        let site = |negative_counts: [u64; 3], recent: [u64; 3], before: [u64; 3]| SiteState {
            id: "caf-61".into(),
            windows: BTreeMap::from([
                ("pas-bien".to_string(), SiteWindows { recent: negative_counts, before: [0; 3] }),
                ("baisse".to_string(), SiteWindows { recent, before }),
            ]),
        };
        let rules = [negative, drop];
        let mut evaluator = Evaluator::default();
        // 8 « Pas bien » out of 20 (40 %) and a score from 8.0 to 6.5: both open.
        let now = t0();
        let events = evaluator.evaluate(&rules, &[], &[site([8, 2, 10], [20, 25, 55], [5, 30, 65])], now);
        let details: Vec<String> = events
            .iter()
            .map(|e| match e {
                Event::Opened { rule, detail, .. } => format!("{rule}: {detail}"),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(details.len(), 2, "{details:?}");
        assert!(details[0].contains("40 % de « Pas bien » sur 20 avis"), "{details:?}");
        assert!(details[1].contains("de 8.0 à 6.8"), "{details:?}");
        // Too few reviews in the window: the share alone says nothing; the incident resolves.
        let events =
            evaluator.evaluate(&rules, &[], &[site([8, 2, 5], [20, 25, 55], [5, 30, 65])], now + Duration::hours(1));
        assert!(matches!(&events[..], [Event::Resolved { rule, .. }] if rule == "pas-bien"), "{events:?}");
        // The score recovers: the drop resolves.
        let events =
            evaluator.evaluate(&rules, &[], &[site([0, 0, 5], [5, 30, 65], [5, 30, 65])], now + Duration::hours(2));
        assert!(matches!(&events[..], [Event::Resolved { rule, .. }] if rule == "baisse"), "{events:?}");
    }

    #[test]
    fn a_kiosk_never_heard_from_counts_from_its_registration_and_pending_age_is_watched() {
        let pending = Rule {
            id: "attente".into(),
            condition: Condition::PendingTooOld { age: Duration::hours(48) },
            debounce: Duration::zero(),
            cap: Duration::hours(2),
        };
        let mut evaluator = Evaluator::default();
        let never = DeviceState { id: "neuve".into(), last_seen: None, registered_at: t0(), oldest_pending: None };
        assert!(
            evaluator
                .evaluate(&[offline_rule()], std::slice::from_ref(&never), &[], t0() + Duration::hours(23))
                .is_empty()
        );
        let events =
            evaluator.evaluate(&[offline_rule()], std::slice::from_ref(&never), &[], t0() + Duration::hours(30));
        assert!(events.is_empty(), "the debounce starts when the condition is first seen");
        let events =
            evaluator.evaluate(&[offline_rule()], &[never], &[], t0() + Duration::hours(30) + Duration::minutes(5));
        assert_eq!(events.len(), 1);
        let stuck = DeviceState {
            id: "bloquee".into(),
            last_seen: Some(t0()),
            registered_at: t0(),
            oldest_pending: Some(t0() - Duration::hours(49)),
        };
        let events = evaluator.evaluate(std::slice::from_ref(&pending), &[stuck], &[], t0());
        assert!(matches!(&events[..], [Event::Opened { detail, .. }] if detail.contains("depuis 49 h")), "{events:?}");
    }
}
