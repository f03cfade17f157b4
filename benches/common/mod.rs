//! Helpers shared by the benchmarks: machine facts, percentiles, peak memory of a child
//! process, synthetic reviews, and writing a section of `docs/benchmarks.md`.

#![allow(dead_code)]

use borne_model::review::{Answer, AnswerKind, ClockState, Intention, Review, SATISFACTION, VERBATIM};
use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use std::process::Command;

#[allow(unused_imports)]
pub use borne_testkit::workspace_bin;

pub use borne_testkit::Lcg;

/// A realistic year of reviews: weekdays, office hours, 60 % good, 25 % medium, 15 % bad,
/// follow-ups after bad and medium, a comment on one review in five.
pub fn synthetic_review(rng: &mut Lcg, end: DateTime<Utc>, days: i64) -> Review {
    let paris = FixedOffset::east_opt(3600).unwrap();
    let day = rng.below(days as u64) as i64;
    let minute = 8 * 60 + rng.below(10 * 60) as i64;
    let at = end - Duration::days(day) - Duration::hours(24) + Duration::minutes(minute);
    let local = paris.from_utc_datetime(&at.naive_utc());
    let roll = rng.below(100);
    let satisfaction = if roll < 60 {
        3
    } else if roll < 85 {
        2
    } else {
        1
    };
    let labels = ["Pas bien", "Moyen", "Très bien"];
    let intentions = [Intention::Bad, Intention::Medium, Intention::Good];
    let mut answers = vec![Answer {
        parent: None,
        field_code: SATISFACTION.into(),
        kind: AnswerKind::Radio,
        answer_item_id: satisfaction,
        answer_text: labels[(satisfaction - 1) as usize].into(),
        intention: intentions[(satisfaction - 1) as usize],
    }];
    if satisfaction < 3 {
        let item = 1 + rng.below(6) as i64;
        answers.push(Answer {
            parent: None,
            field_code: "kiosk_motif".into(),
            kind: AnswerKind::Checkbox,
            answer_item_id: item,
            answer_text: [
                "L'attente",
                "L'accueil",
                "Les informations reçues",
                "L'orientation",
                "Les locaux",
                "Autre chose",
            ][(item - 1) as usize]
                .into(),
            intention: Intention::Neutral,
        });
    }
    if rng.below(5) == 0 {
        answers.push(Answer {
            parent: None,
            field_code: VERBATIM.into(),
            kind: AnswerKind::Text,
            answer_item_id: 0,
            answer_text: "Accueil correct mais beaucoup d'attente ce matin, il faudrait un guichet de plus.".into(),
            intention: Intention::Neutral,
        });
    }
    Review {
        client_review_id: uuid::Uuid::now_v7(),
        submitted_at: local,
        clock: ClockState::Synced,
        boot: None,
        language: "fr".into(),
        answers,
    }
}

/// Adds `n` synthetic reviews (a year's worth) to a store, 20 000 per transaction.
pub fn fill_store(store: &mut borne::store::Store, n: usize, seed: u64) {
    let mut rng = Lcg(seed);
    let end = Utc::now();
    let mut batch = Vec::with_capacity(20_000);
    for i in 0..n {
        batch.push(synthetic_review(&mut rng, end, 365));
        if batch.len() == 20_000 || i + 1 == n {
            store.import_reviews(&batch).expect("import synthetic reviews");
            batch.clear();
        }
    }
}

#[allow(unused_imports)]
pub use borne_testkit::bench::{machine, ms, percentile, write_section};

/// Runs `borne` to completion and returns (exit success, its peak resident memory in KiB, as
/// it reports it with `BORNE_REPORT_PEAK_RSS`).
pub fn peak_rss_kib(cmd: &mut Command) -> (bool, u64) {
    let out = cmd.env("BORNE_REPORT_PEAK_RSS", "1").stdout(std::process::Stdio::null()).output().expect("spawn");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib =
        stderr.lines().find_map(|l| l.strip_prefix("peak_rss_kib=")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    (out.status.success(), kib)
}
