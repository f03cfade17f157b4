use super::*;
use crate::config::Config;
use borne_model::indicators::indicators;
use borne_model::review::{ReviewDraft, SATISFACTION};

fn review_at(rfc3339: &str, satisfaction: i64, comment: Option<&str>) -> Review {
    let config = Config::embedded();
    let draft = ReviewDraft {
        channel_answers: Vec::new(),
        satisfaction,
        answers: if satisfaction < 3 { vec![("kiosk_motif".into(), 2)] } else { vec![] },
        comment: comment.map(String::from),
        language: "fr".into(),
    };
    let mut answers = config.survey.answers_for(&draft).unwrap();
    if let Some(text) = comment {
        answers.push(Answer {
            parent: None,
            field_code: VERBATIM.into(),
            kind: AnswerKind::Text,
            answer_item_id: 0,
            answer_text: text.into(),
            intention: Intention::Neutral,
        });
    }
    Review {
        client_review_id: Uuid::now_v7(),
        submitted_at: DateTime::parse_from_rfc3339(rfc3339).unwrap(),
        clock: ClockState::Synced,
        boot: None,
        language: "fr".into(),
        answers,
    }
}

/// Puts reviews through a batch and applies the platform's answer, as the uploader does.
fn answer_batch(store: &mut Store, uploaded: &[(Uuid, String)], rejected: &[(Uuid, String)], now: DateTime<Utc>) {
    let batch = Uuid::now_v7();
    let members: Vec<Uuid> = uploaded.iter().chain(rejected).map(|(id, _)| *id).collect();
    assert!(store.create_batch(batch, &members, b"{}", 2, now).unwrap());
    store.complete_batch(batch, uploaded, rejected, now).unwrap();
}

#[test]
fn insert_read_back_and_refuse_duplicates() {
    let mut store = Store::open_in_memory().unwrap();
    let review = review_at("2026-03-14T10:42:17+01:00", 1, Some("Trop d'attente"));
    store.insert_review(&review).unwrap();
    let stored = store.review(review.client_review_id).unwrap().unwrap();
    assert_eq!(stored.review, review);
    assert_eq!(stored.outbox, Outbox::Pending);
    assert!(matches!(store.insert_review(&review), Err(StoreError::DuplicateId(_))));
    assert_eq!(store.outbox_summary().unwrap().total, 1);
}

/// JDMA's help answers keep their channel on the disk (store migration 5).
#[test]
fn per_channel_answers_keep_their_channel() {
    let mut store = Store::open_in_memory().unwrap();
    let mut review = review_at("2026-03-14T10:42:17+01:00", 2, None);
    let help = |code: &str, item: i64, text: &str, intention: Intention, parent: Option<i64>| Answer {
        field_code: code.into(),
        kind: if parent.is_some() { AnswerKind::Radio } else { AnswerKind::Checkbox },
        answer_item_id: item,
        answer_text: text.into(),
        intention,
        parent,
    };
    review.answers.push(help("contact_tried", 9, "Au guichet avec l’administration", Intention::Neutral, None));
    review.answers.push(help("contact_reached", 18, "Non", Intention::Bad, Some(9)));
    store.insert_review(&review).unwrap();
    let stored = store.review(review.client_review_id).unwrap().unwrap();
    assert_eq!(stored.review, review);
    assert_eq!(stored.review.answers.last().unwrap().parent, Some(9));
}

#[test]
fn counts_follow_local_days_and_give_the_state_score() {
    let mut store = Store::open_in_memory().unwrap();
    // 23:30 in Paris on the 14th is the 14th locally, though the 14th at 22:30 UTC.
    for (at, s) in [
        ("2026-03-14T23:30:00+01:00", 3),
        ("2026-03-14T09:00:00+01:00", 3),
        ("2026-03-15T09:00:00+01:00", 2),
        ("2026-03-16T09:00:00+01:00", 1),
    ] {
        store.insert_review(&review_at(at, s, None)).unwrap();
    }
    let day = |d: &str| Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap());
    let counts = store.question_counts(DayRange { since: day("2026-03-14"), until: day("2026-03-15") }).unwrap();
    let config = Config::embedded();
    let ind = indicators(&config.survey, &counts, 3);
    assert_eq!(ind.reviews, 3);
    // (10 + 10 + 5) / 3 = 8.33 → 8.3
    assert_eq!(ind.satisfaction.score.value(), Some(8.3));
    assert_eq!(ind.follow_ups[0].respondents, 1);
    let days = store.daily_satisfaction(DayRange::default()).unwrap();
    assert_eq!(days.len(), 3);
    assert_eq!(days[0].satisfaction, [0, 0, 2]);
    let cells = store.weekday_hour_satisfaction(DayRange::default()).unwrap();
    // 2026-03-14 is a Saturday (weekday 5).
    assert!(cells.iter().any(|c| c.weekday == 5 && c.hour == 23 && c.satisfaction == [0, 0, 1]));
}

#[test]
fn outbox_transitions_only_from_pending() {
    let mut store = Store::open_in_memory().unwrap();
    let a = review_at("2026-03-14T10:00:00+01:00", 3, None);
    let b = review_at("2026-03-14T10:01:00+01:00", 1, None);
    store.insert_review(&a).unwrap();
    store.insert_review(&b).unwrap();
    let now = Utc::now();
    answer_batch(&mut store, &[(a.client_review_id, "r-1".into())], &[(b.client_review_id, "bad".into())], now);
    // A review that left `pending` joins no batch again…
    assert!(!store.create_batch(Uuid::now_v7(), &[b.client_review_id], b"{}", 2, now).unwrap());
    // …and a late result from another batch does not move it.
    let late = Uuid::now_v7();
    let c = review_at("2026-03-14T10:02:00+01:00", 2, None);
    store.insert_review(&c).unwrap();
    assert!(store.create_batch(late, &[c.client_review_id], b"{}", 2, now).unwrap());
    store
        .complete_batch(late, &[(b.client_review_id, "r-2".into()), (c.client_review_id, "r-3".into())], &[], now)
        .unwrap();
    let summary = store.outbox_summary().unwrap();
    assert_eq!((summary.pending, summary.uploaded, summary.rejected), (0, 2, 1));
    assert_eq!(summary.oldest_pending_at, None);
    assert_eq!(store.open_batch().unwrap(), None, "answered batches are closed");
    let mut rejected = Vec::new();
    store
        .for_each_review(StatusFilter::Rejected, DayRange::default(), |r| {
            rejected.push(r);
            Ok(())
        })
        .unwrap();
    assert_eq!(rejected.len(), 1);
    assert!(matches!(&rejected[0].outbox, Outbox::Rejected { reason, .. } if reason == "bad"));
}

#[test]
fn retention_erases_old_uploaded_comments_only() {
    let mut store = Store::open_in_memory().unwrap();
    let old_uploaded = review_at("2026-01-01T10:00:00+01:00", 1, Some("vieux commentaire"));
    let old_pending = review_at("2026-01-01T11:00:00+01:00", 1, Some("pas encore envoyé"));
    let recent_uploaded = review_at("2026-03-01T10:00:00+01:00", 2, Some("récent"));
    for r in [&old_uploaded, &old_pending, &recent_uploaded] {
        store.insert_review(r).unwrap();
    }
    let now: DateTime<Utc> = "2026-03-10T00:00:00Z".parse().unwrap();
    answer_batch(
        &mut store,
        &[(old_uploaded.client_review_id, "r-1".into()), (recent_uploaded.client_review_id, "r-2".into())],
        &[],
        now,
    );
    let before = store.question_counts(DayRange::default()).unwrap();
    assert_eq!(store.erase_old_comments(now, 30).unwrap(), 1);
    assert_eq!(store.erase_old_comments(now, 30).unwrap(), 0);
    let erased = store.review(old_uploaded.client_review_id).unwrap().unwrap();
    assert!(erased.comment_erased);
    assert_eq!(erased.review.comment(), None);
    assert_eq!(erased.review.satisfaction().unwrap().answer_item_id, 1);
    assert_eq!(
        store.review(old_pending.client_review_id).unwrap().unwrap().review.comment(),
        Some("pas encore envoyé")
    );
    assert_eq!(store.review(recent_uploaded.client_review_id).unwrap().unwrap().review.comment(), Some("récent"));
    // Counts (the dashboard's history) are untouched.
    assert_eq!(store.question_counts(DayRange::default()).unwrap(), before);
}

#[test]
fn unsynced_timestamps_are_corrected_in_the_same_boot_and_counts_move() {
    let mut store = Store::open_in_memory().unwrap();
    let mut early = review_at("1970-01-01T00:05:00+00:00", 3, None);
    early.clock = ClockState::Unsynced;
    early.boot = Some(BootStamp { boot_id: "boot-1".into(), boottime_ms: 300_000 });
    let mut other_boot = review_at("1970-01-01T00:06:00+00:00", 1, None);
    other_boot.clock = ClockState::Unsynced;
    other_boot.boot = Some(BootStamp { boot_id: "boot-0".into(), boottime_ms: 360_000 });
    store.insert_review(&early).unwrap();
    store.insert_review(&other_boot).unwrap();

    let unsynced_now = ClockReading {
        now_utc: "1970-01-01T01:00:00Z".parse().unwrap(),
        synced: false,
        boot: Some(BootStamp { boot_id: "boot-1".into(), boottime_ms: 3_600_000 }),
    };
    let paris = |_| FixedOffset::east_opt(3600).unwrap();
    assert_eq!(store.correct_unsynced(&unsynced_now, paris).unwrap(), 0);

    // The clock synchronises one hour after boot: the review was taken 55 minutes earlier.
    let synced_now = ClockReading {
        now_utc: "2026-03-14T10:00:00Z".parse().unwrap(),
        synced: true,
        boot: Some(BootStamp { boot_id: "boot-1".into(), boottime_ms: 3_600_000 }),
    };
    assert_eq!(store.correct_unsynced(&synced_now, paris).unwrap(), 1);
    let corrected = store.review(early.client_review_id).unwrap().unwrap();
    assert_eq!(corrected.review.submitted_at.to_rfc3339(), "2026-03-14T10:05:00+01:00");
    assert_eq!(corrected.review.clock, ClockState::Synced);
    assert!(corrected.clock_corrected);
    let kept = store.review(other_boot.client_review_id).unwrap().unwrap();
    assert_eq!(kept.review.clock, ClockState::Unsynced);

    let day = |d: &str| Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap());
    let in_1970 = store.question_counts(DayRange { since: None, until: day("1970-12-31") }).unwrap();
    assert_eq!(in_1970[SATISFACTION].respondents, 1, "only the other boot's review stays in 1970");
    let in_2026 = store.question_counts(DayRange { since: day("2026-03-14"), until: day("2026-03-14") }).unwrap();
    assert_eq!(in_2026[SATISFACTION].count_of(3), 1);
}

#[test]
fn corrupt_file_is_moved_aside_not_deleted() {
    let dir = std::env::temp_dir().join(format!("borne-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = b"this is not a database, but somebody's data all the same".repeat(100);
    std::fs::write(dir.join(DB_FILE), &garbage).unwrap();
    assert!(matches!(Store::open(&dir, Integrity::Trust), Err(StoreError::Corrupt { .. })));
    let (mut store, report) = Store::open(&dir, Integrity::CheckAndRecover).unwrap();
    let aside = report.moved_aside.expect("moved aside");
    assert_eq!(std::fs::read(&aside).unwrap(), garbage);
    store.insert_review(&review_at("2026-03-14T10:00:00+01:00", 3, None)).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    std::fs::remove_dir_all(&dir).unwrap();
}
