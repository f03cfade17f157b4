//! The fleet as a network manager sees it: each kiosk's state from its heartbeats and its
//! uploads (a batch is a sign of life too, and empties the kiosk's queue before the next
//! heartbeat says so), sorted and filtered, as a table and as CSV.

use crate::storage::{Device, Site};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// A kiosk is offline after this long without a heartbeat.
pub const OFFLINE_AFTER: Duration = Duration::hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Offline first: what needs someone's attention sorts to the top.
    Offline,
    /// Registered, never heard from.
    Never,
    /// More than two heartbeats missed.
    Silent,
    Online,
    /// Its token revoked: out of the fleet.
    Revoked,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Online => "en ligne",
            State::Silent => "silencieuse",
            State::Offline => "hors ligne",
            State::Never => "jamais connectée",
            State::Revoked => "révoquée",
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            State::Online => "online",
            State::Silent => "silent",
            State::Offline => "offline",
            State::Never => "never",
            State::Revoked => "revoked",
        }
    }
}

/// The state of a kiosk last heard from at `last_seen`, at `now`, when kiosks send a heartbeat
/// every `interval`. A heartbeat brings it back online at once: nothing to acknowledge.
pub fn state(revoked: bool, last_seen: Option<DateTime<Utc>>, now: DateTime<Utc>, interval: Duration) -> State {
    if revoked {
        return State::Revoked;
    }
    let Some(last_seen) = last_seen else { return State::Never };
    let silence = now - last_seen;
    if silence > OFFLINE_AFTER {
        State::Offline
    } else if silence > interval * 2 {
        State::Silent
    } else {
        State::Online
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub device_id: String,
    pub site_id: String,
    pub site_name: String,
    pub state: State,
    pub app_version: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Its last upload: as its heartbeat said, or the last batch received if later.
    pub last_upload_at: Option<DateTime<Utc>>,
    /// Its site's time zone, the times' on the page.
    pub time_zone: String,
    pub pending: Option<i64>,
    /// Age of the oldest review waiting on the kiosk, in hours.
    pub oldest_pending_hours: Option<i64>,
    pub disk_free_bytes: Option<i64>,
    /// The published survey version its screen runs (`None`: its file's), and the last one it
    /// refused, with why.
    pub config_version: Option<i64>,
    pub config_refused: Option<(i64, String)>,
    /// The system it runs, on the Borne image.
    pub system: Option<borne_model::release::SystemState>,
}

impl Row {
    /// What its screen asks, in words.
    pub fn survey_label(&self) -> (String, Option<String>) {
        survey_words(self.config_version, self.config_refused.as_ref())
    }
}

/// A kiosk's survey as its heartbeat says it, in words: « version 12 » or « son fichier », and
/// « version 13 refusée : … ».
pub fn survey_words(running: Option<i64>, refused: Option<&(i64, String)>) -> (String, Option<String>) {
    let running = match running {
        Some(v) => format!("version {v}"),
        None => "son fichier".to_string(),
    };
    (running, refused.map(|(v, why)| format!("version {v} refusée : {why}")))
}

/// The system a kiosk runs, as its heartbeat says it: « 0.3.0 », « 0.3.0 (0.4.0 installée, en
/// attente de redémarrage) », « inconnue » off the Borne image.
pub fn system_words(system: Option<&borne_model::release::SystemState>) -> String {
    match system {
        Some(s) => match &s.pending {
            Some(pending) => format!("{} ({pending} installée, en attente de redémarrage)", s.version),
            None => s.version.clone(),
        },
        None => "inconnue".into(),
    }
}

/// The rows of `devices` whose site is among `sites` (the viewer's scope), at `now`.
pub fn rows(devices: Vec<Device>, sites: &[Site], now: DateTime<Utc>, interval: Duration) -> Vec<Row> {
    let by_id: std::collections::HashMap<&str, &Site> = sites.iter().map(|s| (s.id.as_str(), s)).collect();
    devices
        .into_iter()
        .filter_map(|d| {
            let site = *by_id.get(d.site_id.as_deref()?)?;
            // The heartbeat's count, less the reviews batches brought since: never a queue the
            // kiosk has already sent.
            let pending = d.pending.map(|n| (n - d.reviews_since_heartbeat).max(0));
            let oldest_pending_hours = d
                .oldest_pending_at
                .as_deref()
                .filter(|_| pending.unwrap_or(0) > 0)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| (now - t.with_timezone(&Utc)).num_hours().max(0));
            let last_seen_at = d.last_seen_at.max(d.last_batch_at);
            let told = d.last_upload_at.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            let last_upload_at = told.map(|t| t.with_timezone(&Utc)).max(d.last_batch_at);
            Some(Row {
                state: state(d.revoked_at.is_some(), last_seen_at, now, interval),
                device_id: d.id,
                site_id: site.id.clone(),
                site_name: site.name.clone(),
                time_zone: site.time_zone.clone(),
                app_version: d.app_version,
                last_seen_at,
                last_upload_at,
                pending,
                oldest_pending_hours,
                disk_free_bytes: d.disk_free_bytes,
                config_version: d.config_version,
                config_refused: d.config_refused,
                system: d.system,
            })
        })
        .collect()
}

/// A CSV writer for French spreadsheets: `;` between cells (the comma is the decimal mark) and
/// a byte-order mark, without which Excel reads UTF-8 as Windows-1252.
pub(crate) fn french_csv() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().delimiter(b';').from_writer("\u{feff}".as_bytes().to_vec())
}

/// The columns a table may be sorted by, with their French names in the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    State,
    Device,
    Site,
    Version,
    LastSeen,
    Pending,
    OldestPending,
    DiskFree,
}

pub const SORT_KEYS: [(SortKey, &str, &str); 8] = [
    (SortKey::State, "etat", "État"),
    (SortKey::Device, "borne", "Borne"),
    (SortKey::Site, "site", "Site"),
    (SortKey::Version, "version", "Version"),
    (SortKey::LastSeen, "vue", "Dernier signal"),
    (SortKey::Pending, "attente", "Avis en attente"),
    (SortKey::OldestPending, "anciennete", "Plus ancien en attente"),
    (SortKey::DiskFree, "disque", "Disque libre"),
];

impl SortKey {
    pub fn parse(slug: &str) -> Option<SortKey> {
        SORT_KEYS.iter().find(|(_, s, _)| *s == slug).map(|(k, _, _)| *k)
    }
}

/// Sorts in place; ties keep the device order. Absent values sort last either way.
pub fn sort(rows: &mut [Row], key: SortKey, descending: bool) {
    use std::cmp::Ordering;
    fn some_first<T: Ord>(a: &Option<T>, b: &Option<T>, descending: bool) -> Ordering {
        match (a, b) {
            (Some(a), Some(b)) => {
                if descending {
                    b.cmp(a)
                } else {
                    a.cmp(b)
                }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    rows.sort_by(|a, b| {
        let plain = |o: Ordering| if descending { o.reverse() } else { o };
        let primary = match key {
            SortKey::State => plain(a.state.cmp(&b.state)),
            SortKey::Device => plain(a.device_id.cmp(&b.device_id)),
            SortKey::Site => plain(a.site_name.cmp(&b.site_name)),
            SortKey::Version => some_first(&a.app_version, &b.app_version, descending),
            SortKey::LastSeen => some_first(&a.last_seen_at, &b.last_seen_at, descending),
            SortKey::Pending => some_first(&a.pending, &b.pending, descending),
            SortKey::OldestPending => some_first(&a.oldest_pending_hours, &b.oldest_pending_hours, descending),
            SortKey::DiskFree => some_first(&a.disk_free_bytes, &b.disk_free_bytes, descending),
        };
        primary.then_with(|| a.device_id.cmp(&b.device_id))
    });
}

use borne_model::spreadsheet::text_cell;

/// The fleet as CSV (French headers, as the table).
pub fn csv(rows: &[Row]) -> String {
    let mut out = french_csv();
    let _ = out.write_record([
        "borne",
        "site",
        "nom du site",
        "etat",
        "version",
        "dernier signal (heure du site)",
        "dernier envoi (heure du site)",
        "avis en attente",
        "plus ancien en attente (heures)",
        "disque libre (octets)",
        "questionnaire",
        "questionnaire refusé",
        "système",
    ]);
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        let _ = out.write_record([
            text_cell(&r.device_id),
            text_cell(&r.site_id),
            text_cell(&r.site_name),
            r.state.label().to_string(),
            text_cell(&r.app_version.clone().unwrap_or_default()),
            r.last_seen_at.map(|t| crate::local::stamp(t, &r.time_zone)).unwrap_or_default(),
            r.last_upload_at.map(|t| crate::local::stamp(t, &r.time_zone)).unwrap_or_default(),
            opt(r.pending),
            opt(r.oldest_pending_hours),
            opt(r.disk_free_bytes),
            text_cell(&r.survey_label().0),
            text_cell(&r.survey_label().1.unwrap_or_default()),
            text_cell(&system_words(r.system.as_ref())),
        ]);
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kiosk heard from once, then silent, followed minute by minute for two days (an injected
    /// clock): online for two intervals, silent until 24 h, then offline; a heartbeat brings it
    /// back at once.
    #[test]
    fn states_follow_the_heartbeats_over_days() {
        let interval = Duration::minutes(5);
        let start = DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z").unwrap().with_timezone(&Utc);
        let mut transitions = Vec::new();
        let mut last = None;
        for minute in 0..=(2 * 24 * 60) {
            let now = start + Duration::minutes(minute);
            let s = state(false, Some(start), now, interval);
            if last != Some(s) {
                transitions.push((minute, s));
                last = Some(s);
            }
        }
        assert_eq!(transitions, vec![(0, State::Online), (11, State::Silent), (24 * 60 + 1, State::Offline)]);
        let later = start + Duration::days(3);
        assert_eq!(state(false, Some(later), later + Duration::seconds(30), interval), State::Online);
        assert_eq!(state(false, None, later, interval), State::Never);
        assert_eq!(state(true, Some(later), later, interval), State::Revoked);
    }

    fn row(id: &str, state: State, pending: Option<i64>) -> Row {
        Row {
            device_id: id.into(),
            site_id: "s".into(),
            site_name: "S".into(),
            state,
            app_version: None,
            last_seen_at: None,
            last_upload_at: None,
            time_zone: "Europe/Paris".into(),
            pending,
            oldest_pending_hours: None,
            disk_free_bytes: None,
            config_version: None,
            config_refused: None,
            system: None,
        }
    }

    #[test]
    fn sorting_puts_what_is_unknown_last() {
        let mut rows =
            vec![row("a", State::Online, Some(3)), row("b", State::Offline, None), row("c", State::Silent, Some(40))];
        sort(&mut rows, SortKey::Pending, true);
        assert_eq!(rows.iter().map(|r| r.device_id.as_str()).collect::<Vec<_>>(), ["c", "a", "b"]);
        sort(&mut rows, SortKey::Pending, false);
        assert_eq!(rows.iter().map(|r| r.device_id.as_str()).collect::<Vec<_>>(), ["a", "c", "b"]);
        sort(&mut rows, SortKey::State, false);
        assert_eq!(rows.iter().map(|r| r.device_id.as_str()).collect::<Vec<_>>(), ["b", "c", "a"]);
        assert_eq!(SortKey::parse("attente"), Some(SortKey::Pending));
        assert_eq!(SortKey::parse("'; drop"), None);
    }
}
