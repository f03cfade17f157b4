//! A kiosk that stays up: its housekeeping, with an injected wall clock, against a store whose
//! reviews went through the real uploader to the platform's real binary.

use crate::common::*;
use crate::upload::{DEVICE, kiosk, kiosk_config, start_receiver};
use borne::clock::{Clock, ClockReading};
use borne::config::Config;
use borne::run::housekeeping::{Housekeeper, TICK};
use borne::store::{DayRange, Integrity, StatusFilter, Store};
use borne_model::review::ReviewDraft;
use chrono::{DateTime, FixedOffset, Utc};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A wall clock the test moves: the real time plus a shift, synchronised.
#[derive(Clone, Default)]
struct ShiftedClock(Arc<Mutex<chrono::Duration>>);

impl ShiftedClock {
    fn jump(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ShiftedClock {
    fn read(&self) -> ClockReading {
        ClockReading { now_utc: Utc::now() + *self.0.lock().unwrap(), synced: true, boot: None }
    }

    fn offset_at(&self, _: DateTime<Utc>) -> FixedOffset {
        FixedOffset::east_opt(3600).unwrap()
    }
}

fn comments(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    store
        .for_each_review(StatusFilter::All, DayRange::default(), |r| {
            out.extend(r.review.comment().map(str::to_string));
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn a_running_kiosk_erases_uploaded_comments_right_after_a_31_day_clock_jump() {
    let dir = Scratch::new("housekeeping-jump");
    let data = dir.path().join("data");
    let receiver = start_receiver(dir.path(), &format!("good-token {DEVICE}\n"), &[]);
    let config_path = kiosk_config(dir.path(), &receiver.url, "good-token", 50);
    let config = borne::config::load_file(&config_path).unwrap();
    let clock = ShiftedClock::default();
    let (mut store, _) = Store::open(&data, Integrity::CheckAndRecover).unwrap();
    for i in 0..5 {
        let draft = ReviewDraft {
            channel_answers: Vec::new(),
            satisfaction: 3,
            answers: vec![],
            comment: Some(format!("Accueil aimable numéro {i}")),
            language: "fr".into(),
        };
        borne::kiosk::commit_review(&mut store, &config.survey, &clock, &draft).unwrap();
    }
    // The real uploader sends them to the platform: they are `uploaded` with their comments.
    run_ok(kiosk(&config_path, &data).args(["upload", "--once"]));
    assert_eq!(store.outbox_summary().unwrap().uploaded, 5);
    // A sixth review is not uploaded: its comment stays whatever the clock says.
    let pending = ReviewDraft { comment: Some("Pas encore envoyé".into()), ..draft_good() };
    borne::kiosk::commit_review(&mut store, &config.survey, &clock, &pending).unwrap();

    // The kiosk's housekeeping on its own connection, looking every TICK (simulated monotonic time).
    let (own, _) = Store::open(&data, Integrity::Trust).unwrap();
    let mut keeper = Housekeeper::new(own, Box::new(clock.clone()), config.comment_retention_days);
    let t0 = Instant::now();
    let first = keeper.tick(t0).unwrap();
    assert!(first.due.retention);
    assert_eq!(first.erased, 0, "nothing is old yet");
    for i in 1..=10 {
        assert_eq!(keeper.tick(t0 + TICK * i).unwrap().erased, 0);
    }
    assert_eq!(comments(&store).len(), 6);
    // The wall clock leaps 31 days ahead (a Pi's first NTP sync after weeks off): the next look,
    // at most TICK (30 s) later, erases the five uploaded comments; no restart.
    clock.jump(chrono::Duration::days(31));
    let after = keeper.tick(t0 + TICK * 11).unwrap();
    assert!(after.due.retention);
    assert_eq!(after.erased, 5);
    assert_eq!(comments(&store), vec!["Pas encore envoyé".to_string()]);
    assert_eq!(store.outbox_summary().unwrap().total, 6, "ratings and counts stay");
}

fn draft_good() -> ReviewDraft {
    ReviewDraft { channel_answers: Vec::new(), satisfaction: 3, answers: vec![], comment: None, language: "fr".into() }
}

#[test]
fn the_write_ahead_log_is_cut_back_after_a_long_reader_let_it_grow() {
    let dir = Scratch::new("housekeeping-wal");
    let config = Config::embedded();
    let clock = ShiftedClock::default();
    let (mut store, _) = Store::open(dir.path(), Integrity::CheckAndRecover).unwrap();
    let (own, _) = Store::open(dir.path(), Integrity::Trust).unwrap();
    let mut keeper = Housekeeper::new(own, Box::new(clock.clone()), config.comment_retention_days);
    let wal = dir.path().join("borne.db-wal");
    let wal_bytes = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let t0 = Instant::now();
    keeper.tick(t0).unwrap();
    // A long read (a big export, a slow browser) holds a snapshot: no checkpoint can reset the
    // log meanwhile, and visitors' commits make it grow.
    let long_reader = rusqlite::Connection::open(dir.path().join("borne.db")).unwrap();
    long_reader.execute_batch("BEGIN").unwrap();
    let _: i64 = long_reader.query_row("SELECT count(*) FROM reviews", [], |r| r.get(0)).unwrap();
    for _ in 0..600 {
        let draft = ReviewDraft { comment: Some("x".repeat(400)), ..draft_good() };
        borne::kiosk::commit_review(&mut store, &config.survey, &clock, &draft).unwrap();
    }
    let grown = wal_bytes();
    assert!(grown > 4 * 1024 * 1024, "the log grew to {grown} bytes behind the long reader");
    long_reader.execute_batch("COMMIT").unwrap();
    // The next hourly look checkpoints and truncates it.
    keeper.tick(t0 + std::time::Duration::from_secs(3600)).unwrap();
    let after = wal_bytes();
    assert!(after < 1024 * 1024, "the log is cut back after the hourly checkpoint: {after} bytes (was {grown})");
}
