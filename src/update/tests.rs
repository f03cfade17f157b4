use super::*;
use crate::hours::{Day, parse_day};
use chrono::{Duration, NaiveDate, NaiveTime};

fn config() -> UpdateConfig {
    UpdateConfig {
        source: crate::config::UpdateSource::Folder("https://maj.example/borne/".into()),
        window: (NaiveTime::from_hms_opt(1, 0, 0).unwrap(), NaiveTime::from_hms_opt(5, 0, 0).unwrap()),
        confirm_timeout: std::time::Duration::from_secs(600),
    }
}

fn at(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
}

/// Monday to Friday an office, Saturday morning, Sunday closed.
fn office() -> OpeningHours {
    let weekday = parse_day("08:30-12:00, 13:30-17:00").unwrap();
    let mut week: [Day; 7] = std::array::from_fn(|_| weekday.clone());
    week[5] = parse_day("09:00-12:00").unwrap();
    week[6] = Day::default();
    OpeningHours { week, closed_dates: vec![NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()] }
}

/// Every ten minutes for `days` days from 2026-12-07 (a Monday) 00:00: the instants allowed.
fn allowed_instants(days: i64, hours: &OpeningHours) -> Vec<NaiveDateTime> {
    let start = at("2026-12-07 00:00");
    let end = start + Duration::days(days);
    let mut allowed = Vec::new();
    let mut now = start;
    while now < end {
        if in_window(now, &config(), hours).is_ok() {
            allowed.push(now);
        }
        now += Duration::minutes(10);
    }
    allowed
}

#[test]
fn over_a_year_an_office_installs_only_between_one_and_five_at_night() {
    let allowed = allowed_instants(364, &office());
    // 01:00, 01:10 … 04:50: 24 instants a night, 364 nights.
    assert_eq!(allowed.len(), 24 * 364);
    assert!(allowed.iter().all(|t| t.time() >= NaiveTime::from_hms_opt(1, 0, 0).unwrap()));
    assert!(allowed.iter().all(|t| t.time() < NaiveTime::from_hms_opt(5, 0, 0).unwrap()));
    assert!(allowed.contains(&at("2027-01-01 02:30")), "a closed date is closed at night too");
    assert!(allowed.contains(&at("2027-11-29 04:50")), "still at the end of the year");
}

#[test]
fn the_window_edges() {
    let hours = office();
    assert_eq!(in_window(at("2026-12-08 00:59"), &config(), &hours), Err(Wait::OutsideWindow));
    assert_eq!(in_window(at("2026-12-08 01:00"), &config(), &hours), Ok(()));
    assert_eq!(in_window(at("2026-12-08 04:59"), &config(), &hours), Ok(()));
    assert_eq!(in_window(at("2026-12-08 05:00"), &config(), &hours), Err(Wait::OutsideWindow));
    assert_eq!(in_window(at("2026-12-08 10:00"), &config(), &hours), Err(Wait::OutsideWindow));
}

#[test]
fn a_site_open_at_night_waits_for_its_closed_hours() {
    // A desk that never closes (same as no opening hours): the window alone decides, or it
    // would never be updated.
    let all_day = parse_day("00:00-24:00").unwrap();
    let around_the_clock = OpeningHours { week: std::array::from_fn(|_| all_day.clone()), closed_dates: vec![] };
    assert_eq!(in_window(at("2026-12-08 02:00"), &config(), &around_the_clock), Ok(()));

    // Open until 02:00 on Saturday nights: only 02:00 to 05:00 then.
    let mut late = office();
    late.week[5] = parse_day("00:00-02:00, 09:00-12:00").unwrap();
    let allowed = allowed_instants(364, &late);
    assert_eq!(allowed.len(), 52 * 18 + 312 * 24);
    assert!(!allowed.contains(&at("2026-12-12 01:30")));
    assert!(allowed.contains(&at("2026-12-12 02:00")));
}

#[test]
fn a_site_without_opening_hours_follows_the_window_alone() {
    let always = OpeningHours::always();
    assert_eq!(in_window(at("2026-12-08 03:00"), &config(), &always), Ok(()));
    assert_eq!(in_window(at("2026-12-08 14:00"), &config(), &always), Err(Wait::OutsideWindow));
    assert_eq!(allowed_instants(7, &always).len(), 7 * 24);
}

#[test]
fn what_is_installed_and_what_waits() {
    let night = at("2026-12-08 02:00");
    let hours = office();
    let mut state = State::default();
    assert_eq!(should_install("1.1", "1.0", &state, night, &config(), &hours), Ok(()));
    assert_eq!(should_install("1.0", "1.0", &state, night, &config(), &hours), Err(Wait::UpToDate));
    assert_eq!(
        should_install("1.1", "1.0", &state, at("2026-12-08 11:00"), &config(), &hours),
        Err(Wait::OutsideWindow)
    );
    // An older version offered by the fleet is a roll-back: installed like any other.
    assert_eq!(
        should_install("0.9", "1.0", &state, night, &config(), &hours),
        Err(Wait::Older { newest: "1.0".into() }),
        "a version older than the running one is never installed"
    );
    state.pending = Some(Pending { version: "1.1".into(), slot: Slot::B });
    assert_eq!(should_install("1.2", "1.0", &state, night, &config(), &hours), Err(Wait::Pending));
    state.reject_pending();
    assert_eq!(state.pending, None);
    assert_eq!(should_install("1.1", "1.0", &state, night, &config(), &hours), Err(Wait::Rejected));
    assert_eq!(should_install("1.2", "1.0", &state, night, &config(), &hours), Ok(()));
}

#[test]
fn a_boot_is_ordinary_a_trial_or_a_fall_back() {
    let mut state = State::default();
    assert_eq!(after_boot(&state, Slot::A), AfterBoot::Ordinary);
    let pending = Pending { version: "1.1".into(), slot: Slot::B };
    state.pending = Some(pending.clone());
    assert_eq!(after_boot(&state, Slot::B), AfterBoot::Trial(pending.clone()));
    assert_eq!(after_boot(&state, Slot::A), AfterBoot::FellBack(pending));
    state.reject_pending();
    state.pending = Some(Pending { version: "1.1".into(), slot: Slot::B });
    state.reject_pending();
    assert_eq!(state.rejected, vec!["1.1".to_string()], "a version is rejected once");
}

#[test]
fn the_booted_slot_comes_from_the_kernel_command_line() {
    assert_eq!(Slot::booted("root=/dev/vda4 ro rauc.slot=A quiet"), Some(Slot::A));
    assert_eq!(Slot::booted("root=/dev/mmcblk0p5 rauc.slot=B"), Some(Slot::B));
    assert_eq!(Slot::booted("root=/dev/vda4 ro quiet"), None);
    assert_eq!(Slot::booted("rauc.slot=C"), None);
    assert_eq!(Slot::A.other(), Slot::B);
}

#[test]
fn manifests_are_checked_before_anything_is_downloaded() {
    let good = br#"{"version":"0.2.0+42","bundle":"borne-0.2.0.raucb","sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","size":1234}"#;
    let manifest = Manifest::parse(good).unwrap();
    assert_eq!(manifest.version, "0.2.0+42");
    assert_eq!(manifest.size, 1234);
    let bad = [
        (r#"{"version":"1","bundle":"../etc/x.raucb","sha256":"00","size":1}"#, "nom de paquet"),
        (r#"{"version":"1","bundle":"x.tar","sha256":"00","size":1}"#, "nom de paquet"),
        (r#"{"version":"1 2","bundle":"x.raucb","sha256":"00","size":1}"#, "version"),
        (r#"{"version":"1","bundle":"x.raucb","sha256":"00","size":1}"#, "sha256"),
        (
            r#"{"version":"1","bundle":"x.raucb","sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","size":0}"#,
            "taille",
        ),
        (r#"{"version":"1","bundle":"x.raucb","sha256":"00","size":1,"extra":true}"#, "illisible"),
        ("not json", "illisible"),
    ];
    for (body, expected) in bad {
        let error = Manifest::parse(body.as_bytes()).unwrap_err();
        assert!(error.contains(expected), "{body}: {error}");
    }
}

#[test]
fn updates_only_go_forward_past_every_version_confirmed_here() {
    let night = at("2026-12-08 02:30");
    let hours = OpeningHours::always();
    // dpkg's order: a Debian revision and a suffix after it count, a tilde goes before.
    assert!(newer("0.1.0-1+essai.2", "0.1.0-1+essai.1"));
    assert!(newer("0.1.0-1+essai.1", "0.1.0-1"));
    assert!(!newer("1.0~rc1", "1.0"));
    assert!(newer("1.10", "1.9"), "numbers, not text");
    assert!(!newer("pas une version !", "1.0"), "what cannot be read is never newer");
    // 1.2 confirmed, then the kiosk fell back to a slot that still holds 1.0 (or was
    // reinstalled): 1.1 is still older than what this kiosk has run.
    let mut state = State { pending: Some(Pending { version: "1.2".into(), slot: Slot::B }), ..State::default() };
    state.confirm_pending();
    assert_eq!((state.pending.as_ref(), state.confirmed.as_deref()), (None, Some("1.2")));
    assert_eq!(
        should_install("1.1", "1.0", &state, night, &config(), &hours),
        Err(Wait::Older { newest: "1.2".into() })
    );
    assert_eq!(should_install("1.3", "1.0", &state, night, &config(), &hours), Ok(()));
    // Confirming an older version than one confirmed before keeps the newest as the floor.
    state.pending = Some(Pending { version: "1.1".into(), slot: Slot::A });
    state.confirm_pending();
    assert_eq!(state.confirmed.as_deref(), Some("1.2"));
    // A state written before this field existed reads as no version confirmed.
    let old: State = serde_json::from_str(r#"{"pending": null, "rejected": ["0.9"]}"#).unwrap();
    assert_eq!(old.confirmed, None);
    // The signed bundle's own version decides, whatever the manifest says.
    assert!(agent::check_signed("1.3", "1.3", "1.2").is_ok());
    assert!(agent::check_signed("1.1", "9.9", "1.2").unwrap_err().contains("le manifeste annonce 9.9"));
    assert!(agent::check_signed("1.1", "1.1", "1.2").unwrap_err().contains("retour en arrière"));
}

#[test]
fn the_heartbeat_says_the_running_system_and_what_the_agent_gave_up() {
    let dir = std::env::temp_dir().join(format!("borne-system-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let release = dir.join("borne-release");
    assert_eq!(agent::system_state(&release, &dir), None, "off the image: nothing said");
    std::fs::write(&release, "0.3.0+7\n").unwrap();
    let said = agent::system_state(&release, &dir).unwrap();
    assert_eq!((said.version.as_str(), said.pending, said.rejected.len()), ("0.3.0+7", None, 0));
    let mut state = State {
        pending: Some(Pending { version: "0.4.0".into(), slot: Slot::B }),
        rejected: (0..25).map(|n| format!("0.2.{n}")).collect(),
        ..State::default()
    };
    state.rejected.push("pas une version".into());
    agent::save_state(&dir, &state).unwrap();
    let said = agent::system_state(&release, &dir).unwrap();
    assert_eq!(said.pending.as_deref(), Some("0.4.0"));
    assert_eq!(said.rejected.len(), borne_model::release::MAX_REJECTED);
    assert_eq!(said.rejected.last().map(String::as_str), Some("0.2.24"), "the newest are kept");
    assert!(said.check().is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}
