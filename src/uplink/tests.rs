//! The uploader against a scripted transport, with tokio's paused clock: backoff and
//! Retry-After are checked in virtual time, not with sleeps.

use super::*;
use crate::clock::{SyncSource, SystemClock};
use crate::config::Config;
use crate::uplink::plan::Outcome;
use borne_model::review::ReviewDraft;
use borne_model::wire::{self, BatchResponse, ResultStatus, ReviewResult};
use chrono::NaiveDate;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Answers from a script; once the script is empty, accepts everything. Records when each
/// send happened (tokio's clock) and what it carried.
/// When a batch was sent, its key, its body and its members.
type Sent = (tokio::time::Instant, Uuid, Vec<u8>, Vec<Uuid>);

#[derive(Clone, Default)]
struct Scripted {
    script: Arc<Mutex<VecDeque<Outcome>>>,
    sends: Arc<Mutex<Vec<Sent>>>,
}

impl Scripted {
    fn new(script: Vec<Outcome>) -> Scripted {
        Scripted { script: Arc::new(Mutex::new(script.into())), sends: Default::default() }
    }
}

fn accept_all(ids: &[Uuid]) -> Outcome {
    Outcome::Answered(BatchResponse {
        results: ids
            .iter()
            .map(|id| ReviewResult {
                client_review_id: id.to_string(),
                status: ResultStatus::Accepted,
                review_id: Some(format!("r-{id}")),
                retryable: None,
                error: None,
            })
            .collect(),
    })
}

impl Transport for Scripted {
    async fn send(&self, batch: &OpenBatch) -> Outcome {
        self.sends.lock().unwrap().push((
            tokio::time::Instant::now(),
            batch.batch_id,
            batch.body_gzip.clone(),
            batch.review_ids.clone(),
        ));
        let next = self.script.lock().unwrap().pop_front();
        next.unwrap_or_else(|| accept_all(&batch.review_ids))
    }

    async fn heartbeat(&self, _: &wire::Heartbeat) -> Result<(), String> {
        Ok(())
    }
}

fn upload_config(batch_size: usize) -> UploadConfig {
    UploadConfig {
        base_url: "http://127.0.0.1:9".into(),
        token_file: "/nonexistent".into(),
        product_id: 1,
        form_id: 2,
        button_id: 3,
        batch_size,
        ca_file: None,
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        max_backoff: Duration::from_secs(1800),
        heartbeat_interval: None,
        survey_poll: None,
    }
}

fn store_with(n: usize) -> Store {
    let config = Config::embedded();
    let mut store = Store::open_in_memory().unwrap();
    let clock = SystemClock { source: SyncSource::AssumeSynced };
    for i in 0..n {
        let draft = ReviewDraft { satisfaction: (i % 3) as i64 + 1, language: "fr".into(), ..Default::default() };
        crate::kiosk::commit_review(&mut store, &config.survey, &clock, &draft).unwrap();
    }
    store
}

fn uploader(store: Store, transport: Scripted, batch_size: usize) -> Uploader<Scripted> {
    Uploader::new(
        store,
        transport,
        &upload_config(batch_size),
        "borne-test",
        Box::new(SystemClock { source: SyncSource::AssumeSynced }),
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn transient_errors_resend_the_same_key_and_bytes_with_growing_jittered_backoff() {
    let transport = Scripted::new(vec![
        Outcome::Transient("503".into()),
        Outcome::Transient("reset".into()),
        Outcome::Transient("timeout".into()),
    ]);
    run_for(uploader(store_with(10), transport.clone(), 200), Duration::from_secs(7200)).await;
    let sends = transport.sends.lock().unwrap();
    assert_eq!(sends.len(), 4, "three failures then success");
    for s in sends.iter() {
        assert_eq!(s.1, sends[0].1, "same Idempotency-Key");
        assert_eq!(s.2, sends[0].2, "same body");
    }
    // Full jitter within [0.25 s, 2 s × 2^n].
    for (n, pair) in sends.windows(2).enumerate() {
        let gap = pair[1].0 - pair[0].0;
        assert!(gap >= Duration::from_millis(250), "gap {n}: {gap:?}");
        assert!(gap <= Duration::from_secs(2 << n) + Duration::from_millis(1), "gap {n}: {gap:?}");
    }
}

/// Runs the uploader's loop for `virtual_time` of tokio's paused clock (no real waiting), then
/// stops it.
async fn run_for(up: Uploader<Scripted>, virtual_time: Duration) {
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(up.run(shutdown, Arc::new(tokio::sync::Notify::new()), "/nonexistent".into(), None, None));
    tokio::time::sleep(virtual_time).await;
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let transport =
        Scripted::new(vec![Outcome::SlowDown { retry_after: Some(Duration::from_secs(120)), message: "429".into() }]);
    run_for(uploader(store_with(3), transport.clone(), 200), Duration::from_secs(600)).await;
    let sends = transport.sends.lock().unwrap();
    assert_eq!(sends.len(), 2);
    let gap = sends[1].0 - sends[0].0;
    assert!(gap >= Duration::from_secs(120), "waited {gap:?}");
    assert!(gap < Duration::from_secs(121), "waited {gap:?}");
}

#[tokio::test(start_paused = true)]
async fn refused_token_waits_an_hour_and_keeps_everything_pending() {
    let transport =
        Scripted::new(vec![Outcome::AuthRefused("jeton refusé".into()), Outcome::AuthRefused("jeton refusé".into())]);
    let mut up = uploader(store_with(5), transport.clone(), 200);
    assert!(matches!(up.step().await.unwrap(), Step::Wait { auth_refused: true, .. }));
    assert_eq!(up.store().outbox_summary().unwrap().pending, 5);
    let status = up.store().uplink_status().unwrap();
    assert!(status.auth_refused);
    // What was refused, with the identity sent and what to fix.
    let error = status.last_error.unwrap();
    assert!(error.starts_with("jeton refusé — identité envoyée : device_id « borne-test », product_id 1"), "{error}");
    run_for(up, Duration::from_secs(3 * 3600)).await;
    let sends = transport.sends.lock().unwrap();
    assert_eq!(sends.len(), 3, "refused, refused an hour later, accepted an hour after");
    assert!(sends[2].0 - sends[1].0 >= Duration::from_secs(3600));
}

#[tokio::test]
async fn bad_request_bisects_to_the_bad_review_and_sends_the_rest() {
    let mut store = store_with(8);
    let ids: Vec<Uuid> = store.unbatched_pending(100).unwrap().iter().map(|r| r.review.client_review_id).collect();
    let bad = ids[5];
    // A receiver that refuses any batch holding the bad review as a whole.
    #[derive(Clone, Default)]
    struct Picky(Arc<Mutex<usize>>, Uuid);
    impl Transport for Picky {
        async fn send(&self, batch: &OpenBatch) -> Outcome {
            *self.0.lock().unwrap() += 1;
            if batch.review_ids.contains(&self.1) {
                Outcome::BadRequest("verbatim invalide".into())
            } else {
                accept_all(&batch.review_ids)
            }
        }
        async fn heartbeat(&self, _: &wire::Heartbeat) -> Result<(), String> {
            Ok(())
        }
    }
    let picky = Picky(Default::default(), bad);
    store.set_uplink_status(&UplinkStatus::default()).unwrap();
    let mut up = Uploader::new(
        store,
        picky.clone(),
        &upload_config(200),
        "borne-test",
        Box::new(SystemClock { source: SyncSource::AssumeSynced }),
    )
    .unwrap();
    let report = up.drain().await.unwrap();
    assert_eq!(report, DrainReport { uploaded: 7, rejected: 1, stopped_on: None });
    let summary = up.store().outbox_summary().unwrap();
    assert_eq!((summary.pending, summary.uploaded, summary.rejected), (0, 7, 1));
    let rejected = up.store().review(bad).unwrap().unwrap();
    assert!(
        matches!(rejected.outbox, crate::store::Outbox::Rejected { ref reason, .. } if reason.contains("verbatim invalide"))
    );
    // 8 → 4+4 → 2+2 → 1+1: a handful of sends, not one per review.
    assert!(*picky.0.lock().unwrap() <= 8);
}

#[tokio::test]
async fn too_large_halves_batches_and_conflict_rekeys() {
    let transport = Scripted::new(vec![Outcome::TooLarge, Outcome::Conflict("autre corps".into())]);
    let mut up = uploader(store_with(10), transport.clone(), 10);
    let report = up.drain().await.unwrap();
    assert_eq!(report.uploaded, 10);
    let sends = transport.sends.lock().unwrap();
    assert_eq!(sends[0].3.len(), 10);
    assert_eq!(sends[1].3.len(), 5, "halved after 413");
    assert_ne!(sends[2].1, sends[1].1, "a new key after 409");
    assert_eq!(up.store().outbox_summary().unwrap().pending, 0);
}

#[tokio::test]
async fn batches_respect_the_configured_size_and_the_body_is_the_contract() {
    let transport = Scripted::new(vec![]);
    let mut up = uploader(store_with(25), transport.clone(), 10);
    up.drain().await.unwrap();
    let sends = transport.sends.lock().unwrap();
    assert_eq!(sends.iter().map(|s| s.3.len()).collect::<Vec<_>>(), vec![10, 10, 5]);
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&sends[0].2[..]), &mut json).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(body["schema_version"], 1);
    assert_eq!(body["batch_id"], sends[0].1.to_string());
    assert_eq!(body["source"]["device_id"], "borne-test");
    assert_eq!(body["source"]["button_id"], 3);
    assert!(body["source"]["app_version"].as_str().unwrap().starts_with("borne/"));
    let review = &body["reviews"][0];
    assert_eq!(review["answers"][0]["field_code"], "satisfaction");
    assert_eq!(review["answers"][0]["answer_text"], "Pas bien");
    assert_eq!(review["clock"], "synced");
    let at = review["submitted_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
}

#[tokio::test]
async fn the_next_batch_is_built_during_a_send_but_never_more_than_one_ahead() {
    let transport = Scripted::new(vec![
        Outcome::Transient("503".into()),
        Outcome::Transient("503".into()),
        Outcome::Transient("503".into()),
    ]);
    let mut up = uploader(store_with(1500), transport.clone(), 500);
    for _ in 0..3 {
        assert!(matches!(up.step().await.unwrap(), Step::Wait { .. }));
        // The failing batch and one prepared behind it; the rest stays unbatched.
        assert_eq!(up.store().unbatched_pending(10_000).unwrap().len(), 500);
    }
    let report = up.drain().await.unwrap();
    assert_eq!(report.uploaded, 1500);
    let sends = transport.sends.lock().unwrap();
    let keys: Vec<Uuid> = sends.iter().map(|s| s.1).collect();
    assert_eq!(keys[..4], [keys[0]; 4], "the failing batch is retried before the one prepared behind it");
    assert_eq!(sends.len(), 6);
}

/// A platform's answers to `PUT /v1/actions`, from a script, and what it was sent.
#[derive(Clone, Default)]
struct ActionsPlatform {
    answers: Arc<Mutex<VecDeque<ActionsOutcome>>>,
    puts: Arc<Mutex<Vec<(tokio::time::Instant, wire::ActionsUpdate)>>>,
}

impl Transport for ActionsPlatform {
    async fn send(&self, batch: &OpenBatch) -> Outcome {
        accept_all(&batch.review_ids)
    }

    async fn heartbeat(&self, _: &wire::Heartbeat) -> Result<(), String> {
        Ok(())
    }

    async fn put_actions(&self, update: &wire::ActionsUpdate) -> ActionsOutcome {
        self.puts.lock().unwrap().push((tokio::time::Instant::now(), update.clone()));
        self.answers.lock().unwrap().pop_front().unwrap_or(ActionsOutcome::Accepted)
    }
}

/// The list goes when it changed, once acknowledged it does not go again; a platform of contract
/// 1.0 (404) is asked again a day later, a failure five minutes later — over a simulated week.
#[tokio::test(start_paused = true)]
async fn actions_are_sent_when_changed_and_asked_again_later_of_an_older_platform() {
    let platform = ActionsPlatform::default();
    let mut up = Uploader::new(
        Store::open_in_memory().unwrap(),
        platform.clone(),
        &upload_config(100),
        "borne-test",
        Box::new(SystemClock { source: SyncSource::AssumeSynced }),
    )
    .unwrap();
    let start = tokio::time::Instant::now();
    let hour = Duration::from_secs(3600);
    // A kiosk with no action sends nothing, ever.
    for _ in 0..24 {
        assert_eq!(up.sync_actions().await.unwrap(), None);
        tokio::time::advance(hour).await;
    }
    assert!(platform.puts.lock().unwrap().is_empty());
    // The platform is still on contract 1.0 for two days, then fails once, then takes it.
    platform.answers.lock().unwrap().extend([
        ActionsOutcome::Unsupported,
        ActionsOutcome::Unsupported,
        ActionsOutcome::Failed("HTTP 503".into()),
    ]);
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let action = up.store.add_action("Un guichet de plus le lundi matin", day).unwrap();
    let t0 = tokio::time::Instant::now();
    for _ in 0..(7 * 24 * 12) {
        up.sync_actions().await.unwrap();
        tokio::time::advance(Duration::from_secs(300)).await;
    }
    let puts = platform.puts.lock().unwrap().clone();
    let at: Vec<Duration> = puts.iter().map(|(t, _)| *t - t0).collect();
    assert_eq!(
        at,
        vec![Duration::ZERO, 24 * hour, 48 * hour, 48 * hour + Duration::from_secs(300)],
        "at once, a day later, a day later, five minutes later, then nothing (acknowledged)"
    );
    assert!(puts.iter().all(|(_, u)| u.device_id == "borne-test" && u.actions == vec![action.clone()]));
    // Removed: the empty list goes once.
    up.store.remove_action(action.id).unwrap();
    assert!(matches!(up.sync_actions().await.unwrap(), Some(ActionsOutcome::Accepted)));
    assert_eq!(up.sync_actions().await.unwrap(), None);
    let last = platform.puts.lock().unwrap().last().unwrap().1.clone();
    assert!(last.actions.is_empty());
    assert!(start.elapsed() > Duration::from_secs(7 * 24 * 3600));
}

/// When the survey was asked for, and the versions the ask named.
type Ask = (tokio::time::Instant, Vec<u64>);

/// A platform's answers to `GET /v1/survey`, from a script, and the asks it got.
#[derive(Clone, Default)]
struct SurveyPlatform {
    answers: Arc<Mutex<VecDeque<SurveyOutcome>>>,
    asks: Arc<Mutex<Vec<Ask>>>,
}

impl Transport for SurveyPlatform {
    async fn send(&self, batch: &OpenBatch) -> Outcome {
        accept_all(&batch.review_ids)
    }

    async fn heartbeat(&self, _: &wire::Heartbeat) -> Result<(), String> {
        Ok(())
    }

    async fn get_survey(&self, _: &str, known: &[u64]) -> SurveyOutcome {
        self.asks.lock().unwrap().push((tokio::time::Instant::now(), known.to_vec()));
        self.answers.lock().unwrap().pop_front().unwrap_or(SurveyOutcome::Unchanged)
    }
}

/// A version the kiosk's rules accept is held (and its questions' texts go with the batches);
/// one they refuse is reported and the one held stays; « none for you » brings the file's survey
/// back; asked every `survey_poll_s`, and a day later of a platform of contract 1.1.
#[tokio::test(start_paused = true)]
async fn published_surveys_are_checked_held_or_refused_and_asked_at_their_interval() {
    let platform = SurveyPlatform::default();
    let mut config = Config::embedded();
    let upload = UploadConfig { survey_poll: Some(Duration::from_secs(300)), ..upload_config(100) };
    config.upload = Some(upload.clone());
    let mut up = Uploader::new(
        Store::open_in_memory().unwrap(),
        platform.clone(),
        &upload,
        "borne-test",
        Box::new(SystemClock { source: SyncSource::AssumeSynced }),
    )
    .unwrap()
    .with_published_survey(config.clone());
    let good = "[survey]\n[[survey.follow_up]]\ncode = \"kiosk_attente\"\nlabel = \"Avez-vous attendu ?\"\n\
                kind = \"radio\"\nitems = [{ id = 1, text = \"Oui\", intention = \"bad\" }]\n";
    let bad = "[survey]\ncomment_max_chars = 0\n";
    let answer = |o: SurveyOutcome| platform.answers.lock().unwrap().push_back(o);
    let published =
        |version: u64, text: &str| SurveyOutcome::Published(wire::PublishedSurvey { version, survey: text.into() });
    let start = tokio::time::Instant::now();
    let poll = Duration::from_secs(300);

    answer(published(7, good));
    assert!(matches!(up.sync_survey().await.unwrap(), Some(SurveyOutcome::Published(_))));
    let held = up.store().published_survey().unwrap();
    assert_eq!(held.held, Some((7, good.to_string())));
    assert_eq!(up.labels.get("kiosk_attente").map(String::as_str), Some("Avez-vous attendu ?"));
    assert!(!up.labels.contains_key("kiosk_motif"), "the file's question is replaced: {:?}", up.labels);
    assert_eq!(up.sync_survey().await.unwrap(), None, "not before the interval");

    tokio::time::advance(poll).await;
    answer(published(8, bad));
    up.sync_survey().await.unwrap();
    let after = up.store().published_survey().unwrap();
    assert_eq!(after.held, Some((7, good.to_string())), "the version held stays");
    let (version, why) = after.refused.clone().unwrap();
    assert_eq!(version, 8);
    assert!(why.contains("survey.comment_max_chars"), "{why}");
    up.store.set_running_survey(Some(7)).unwrap();
    let beat = up.heartbeat_body();
    assert_eq!(beat.config_version, Some(7));
    assert_eq!(beat.config_refused.map(|r| r.version), Some(8));

    tokio::time::advance(poll).await;
    up.sync_survey().await.unwrap();
    tokio::time::advance(poll).await;
    answer(SurveyOutcome::NoneForThisKiosk);
    up.sync_survey().await.unwrap();
    let cleared = up.store().published_survey().unwrap();
    assert_eq!((cleared.held, cleared.refused), (None, None));
    assert_eq!(up.labels, labels_of(&config.survey), "the file's questions again");

    // A platform of contract 1.1: asked again a day later, not at the interval.
    tokio::time::advance(poll).await;
    answer(SurveyOutcome::Unsupported);
    up.sync_survey().await.unwrap();
    for _ in 0..(24 * 12 - 1) {
        tokio::time::advance(poll).await;
        assert_eq!(up.sync_survey().await.unwrap(), None);
    }
    tokio::time::advance(poll).await;
    assert!(up.sync_survey().await.unwrap().is_some(), "a day later");

    let asks = platform.asks.lock().unwrap();
    let at: Vec<u64> = asks.iter().map(|(t, _)| (*t - start).as_secs()).collect();
    assert_eq!(at, vec![0, 300, 600, 900, 1200, 1200 + 86_400]);
    let known: Vec<Vec<u64>> = asks.iter().map(|(_, k)| k.clone()).collect();
    assert_eq!(known, vec![vec![], vec![7], vec![7, 8], vec![7, 8], vec![], vec![]]);
}

/// A batch whose identity changed in the configuration is made again under a new key only when
/// the platform cannot hold it: refused for its identity (or never sent). After an answer that
/// may have been lost (a timeout), it goes again as it was: same key, same bytes.
#[tokio::test(start_paused = true)]
async fn a_batch_is_made_again_with_a_new_identity_only_when_the_platform_cannot_hold_it() {
    let with = |device: &str, store: Store, transport: Scripted| {
        Uploader::new(
            store,
            transport,
            &upload_config(200),
            device,
            Box::new(SystemClock { source: SyncSource::AssumeSynced }),
        )
        .unwrap()
    };
    let device_of = |body: &[u8]| batch_source(body).unwrap().device_id;
    for (first_answer, made_again) in [
        (Outcome::AuthRefused("jeton refusé (HTTP 403)".into()), true),
        (Outcome::Transient("la plateforme n'a pas répondu à temps".into()), false),
    ] {
        let transport = Scripted::new(vec![first_answer]);
        let mut typo = with("borne-typo", store_with(10), transport.clone());
        assert!(matches!(typo.step().await.unwrap(), Step::Wait { .. }));
        let mut fixed = with("borne-fixed", typo.store, transport.clone());
        assert!(matches!(fixed.step().await.unwrap(), Step::Progress { uploaded: 10, .. }));
        let sends = transport.sends.lock().unwrap();
        assert_eq!(sends.len(), 2);
        assert_eq!(device_of(&sends[0].2), "borne-typo");
        if made_again {
            assert_ne!(sends[1].1, sends[0].1, "a new key");
            assert_eq!(device_of(&sends[1].2), "borne-fixed", "the identity now");
        } else {
            assert_eq!((sends[1].1, &sends[1].2), (sends[0].1, &sends[0].2), "the same key and bytes");
        }
        assert_eq!(sends[1].3.len(), 10, "every review, once");
        assert_eq!(fixed.store().outbox_summary().unwrap().pending, 0);
    }
}
