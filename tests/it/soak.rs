//! A kiosk left alone for a year, in minutes: the real kiosk code — the window and its flow
//! (Slint's testing backend, mocked time), the store on disk, the devices' controller with
//! simulated buttons and presence sensor, the housekeeping, the uploader over HTTP to the
//! platform's real `borne-platform` — through 400 simulated days with an injected clock:
//! visits in opening hours (taps and buttons, follow-ups, typed comments), closed dates,
//! reboots whose clock starts wrong and syncs later, power cuts, network outages of several
//! days, a day when the store refuses writes (as on a full disk), restarts.
//!
//! At every simulated midnight: nothing lost (every rating given is on disk or held), nothing
//! twice at the platform, no uploaded comment older than retention + 1 h, hourly counts equal
//! to the reviews, the store growing only with the ratings. `BORNE_SOAK_REPORT=FILE` writes the
//! figures (simulated days per real minute, memory and store size over the year).

use crate::common::*;
use crate::hardware::{PINS, PIR, simulated_devices};
use crate::upload::{DEVICE, receiver_bin};
use borne::clock::{Clock, ClockReading};
use borne::config::{BacklightPolicy, Behaviour};
use borne::hours::{OpeningHours, parse_day};
use borne::hw::Edge;
use borne::hw::sim::Board;
use borne::run::controller::Controller;
use borne::run::housekeeping::Housekeeper;
use borne::store::{DayRange, Integrity, Outbox, StatusFilter, Store};
use borne::ui::{Input, Kiosk, KioskParts, Screen};
use borne::uplink::Uploader;
use borne::uplink::http::HttpTransport;
use borne_model::review::BootStamp;
use chrono::{DateTime, FixedOffset, Timelike, Utc};
use slint::ComponentHandle;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DAYS: i64 = 400;
const STEP: Duration = Duration::from_secs(10 * 60);

/// The simulated world's time: the true time, and what the kiosk's clock says of it.
#[derive(Clone)]
struct SimClock(Arc<Mutex<TimeState>>);

struct TimeState {
    true_now: DateTime<Utc>,
    synced: bool,
    /// How far behind the true time an unsynchronised clock is (restored from the last save).
    lag: chrono::Duration,
    boot_id: String,
    boot_at: DateTime<Utc>,
}

impl SimClock {
    fn state(&self) -> std::sync::MutexGuard<'_, TimeState> {
        self.0.lock().unwrap()
    }

    fn wall(&self) -> DateTime<Utc> {
        let s = self.state();
        if s.synced { s.true_now } else { s.true_now - s.lag }
    }
}

impl Clock for SimClock {
    fn read(&self) -> ClockReading {
        let s = self.state();
        let now_utc = if s.synced { s.true_now } else { s.true_now - s.lag };
        let boottime_ms = (s.true_now - s.boot_at).num_milliseconds();
        ClockReading { now_utc, synced: s.synced, boot: Some(BootStamp { boot_id: s.boot_id.clone(), boottime_ms }) }
    }

    fn offset_at(&self, _: DateTime<Utc>) -> FixedOffset {
        paris()
    }
}

fn paris() -> FixedOffset {
    FixedOffset::east_opt(3600).unwrap()
}

/// A switch on the network between the kiosk and the platform: when down, connections open
/// are cut and new ones are accepted and closed at once.
struct Network {
    url: String,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<std::net::TcpStream>>>,
}

impl Network {
    fn set_up(&self, up: bool) {
        if !up && self.up.load(Ordering::SeqCst) {
            for stream in self.open.lock().unwrap().drain(..) {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
        self.up.store(up, Ordering::SeqCst);
    }
}

fn network(target: &str) -> Network {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let up = Arc::new(AtomicBool::new(true));
    let open = Arc::new(Mutex::new(Vec::new()));
    let (target, is_up, tracked) = (target.trim_start_matches("http://").to_string(), up.clone(), open.clone());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            if !is_up.load(Ordering::SeqCst) {
                continue;
            }
            let Ok(server) = std::net::TcpStream::connect(&target) else { continue };
            {
                let mut tracked = tracked.lock().unwrap();
                tracked.retain(|s: &std::net::TcpStream| s.peer_addr().is_ok());
                tracked.push(client.try_clone().unwrap());
            }
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server.try_clone().unwrap(), client.try_clone().unwrap()),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    Network { url, up, open }
}

struct Platform {
    _process: borne_testkit::PlatformProcess,
    url: String,
    db: std::path::PathBuf,
}

fn platform(dir: &Path) -> Platform {
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, format!("soak-token {DEVICE}\n")).unwrap();
    let db = dir.join("platform.db");
    let args = [std::ffi::OsStr::new("--tokens"), tokens.as_os_str(), "--db".as_ref(), db.as_os_str()];
    let process = borne_testkit::PlatformProcess::start(&receiver_bin(), "127.0.0.1:0", &args);
    Platform { url: process.url.clone(), _process: process, db }
}

/// What the platform holds for this kiosk: (rows, distinct review ids).
fn held_by_platform(db: &Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT count(*), count(DISTINCT client_review_id) FROM reviews WHERE device_id = ?1",
        [DEVICE],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

/// One boot of the kiosk: the parts `run::kiosk` puts together, on simulated devices.
struct Boot {
    kiosk: Rc<Kiosk>,
    controller: Rc<Controller>,
    board: Arc<Board>,
    keeper: Housekeeper,
    uploader: Uploader<HttpTransport>,
}

fn boot(data: &Path, config: &borne::config::Config, clock: &SimClock, base: Instant) -> Boot {
    let (store, _) = Store::open(data, Integrity::CheckAndRecover).unwrap();
    let now: Rc<dyn Fn() -> Instant> =
        Rc::new(move || base + Duration::from_millis(i_slint_backend_testing::get_mocked_time()));
    let parts = KioskParts { clock: Box::new(clock.clone()), ..KioskParts::new(store, config, now.clone()) };
    let kiosk = Kiosk::new(parts).unwrap();
    kiosk.window().window().set_size(slint::LogicalSize::new(800.0, 480.0));
    kiosk.window().show().unwrap();
    let board = Board::new();
    let devices = simulated_devices(&board);
    let behaviour = Behaviour {
        backlight: BacklightPolicy { dim_after: Duration::from_secs(300), dim_percent: 20, off_when_closed: false },
        hours: opening_hours(),
        pending_alert: Some(Duration::from_secs(24 * 3600)),
    };
    let wall_clock = clock.clone();
    let wall = Rc::new(move || (wall_clock.wall() + paris()).naive_utc());
    let controller = Controller::start(&kiosk, devices, behaviour, now, wall).unwrap();
    let (own, _) = Store::open(data, Integrity::Trust).unwrap();
    let keeper = Housekeeper::new(own, Box::new(clock.clone()), config.comment_retention_days);
    let upload = config.upload.clone().unwrap();
    let (uploader_store, _) = Store::open(data, Integrity::Trust).unwrap();
    let uploader = Uploader::new(
        uploader_store,
        HttpTransport::new(&upload).unwrap(),
        &upload,
        &config.device_id,
        Box::new(clock.clone()),
    )
    .unwrap();
    Boot { kiosk, controller, board, keeper, uploader }
}

fn opening_hours() -> OpeningHours {
    let office = parse_day("08:30-12:00, 13:30-17:00").unwrap();
    let mut week: [borne::hours::Day; 7] = std::array::from_fn(|_| office.clone());
    week[5] = parse_day("").unwrap();
    week[6] = parse_day("").unwrap();
    let closed = ["2027-01-01", "2027-04-05", "2027-05-01", "2027-07-14", "2027-11-11", "2027-12-25"];
    OpeningHours { week, closed_dates: closed.iter().map(|d| d.parse().unwrap()).collect() }
}

/// The simulated world: time, network, platform, and what was given.
struct World {
    clock: SimClock,
    base: Instant,
    rng: Lcg,
    /// Ratings given: taken by the kiosk (its screen left the home screen).
    given: u64,
}

impl World {
    /// Lets `d` pass: the kiosk's timers fire, the true time moves.
    fn pass(&mut self, d: Duration) {
        self.clock.state().true_now += chrono::Duration::from_std(d).unwrap();
        i_slint_backend_testing::mock_elapsed_time(d);
    }

    fn instant(&self) -> Instant {
        self.base + Duration::from_millis(i_slint_backend_testing::get_mocked_time())
    }

    /// One visitor: a smiley (a tap, or a button one time in five), maybe follow-up chips and a
    /// typed comment, then « Merci ».
    fn visit(&mut self, b: &Boot) {
        let rating = [1, 2, 3, 3, 3][self.rng.below(5) as usize];
        b.board.edge(Edge { pin: PIR, active: true, at: self.instant() });
        b.controller.poll();
        if self.rng.below(5) == 0 {
            let pin = PINS.0[rating as usize - 1];
            for (active, after_ms) in [(true, 0), (false, 80)] {
                self.pass(Duration::from_millis(after_ms));
                b.board.edge(Edge { pin, active, at: self.instant() });
            }
            b.controller.poll();
        } else {
            b.kiosk.input(Input::Rate(rating));
        }
        let screen = b.kiosk.window().get_screen();
        if screen == Screen::Home || screen == Screen::OutOfService || screen == Screen::Closed {
            return;
        }
        self.given += 1;
        if b.kiosk.window().get_screen() == Screen::FollowUp {
            b.kiosk.input(Input::Toggle(1 + self.rng.below(6) as i64));
            b.kiosk.input(Input::Next);
        }
        if b.kiosk.window().get_screen() == Screen::Comment {
            if self.rng.below(4) == 0 {
                for c in "Accueil aimable".chars() {
                    b.kiosk.input(Input::Key(c.to_string()));
                }
                b.kiosk.input(Input::Send);
            } else {
                b.kiosk.input(Input::Skip);
            }
        }
        // « Merci », then the response interval before the next visitor.
        self.pass(Duration::from_secs(6));
    }
}

/// The figures of one simulated midnight.
struct Midnight {
    day: i64,
    reviews: u64,
    pending: u64,
    store_bytes: u64,
    rss_kib: u64,
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Everything that must hold at every midnight.
fn check_midnight(day: i64, world: &World, b: &Boot, data: &Path, platform_db: &Path, retention_days: u32) -> Midnight {
    let (store, _) = Store::open(data, Integrity::Trust).unwrap();
    let summary = store.outbox_summary().unwrap();
    let when = world.clock.state().true_now;
    // Nothing lost: every rating given is on disk, or held in memory while the store refuses.
    assert_eq!(summary.total + b.kiosk.held() as u64, world.given, "day {day} ({when}): ratings given vs kept");
    // Nothing twice: the platform holds each review once, and exactly those marked uploaded.
    let (rows, distinct) = held_by_platform(platform_db);
    assert_eq!(rows, distinct, "day {day}: a review twice at the platform");
    assert_eq!(distinct as u64, summary.uploaded, "day {day}: platform vs kiosk's uploaded");
    // No uploaded comment older than retention + 1 h.
    let limit = when - chrono::Duration::days(i64::from(retention_days)) - chrono::Duration::hours(1);
    let mut stale = Vec::new();
    store
        .for_each_review(StatusFilter::All, DayRange::default(), |r| {
            if matches!(r.outbox, Outbox::Uploaded { .. })
                && r.review.comment().is_some()
                && r.review.submitted_at.with_timezone(&Utc) < limit
            {
                stale.push(r.review.submitted_at);
            }
            Ok(())
        })
        .unwrap();
    assert!(stale.is_empty(), "day {day}: uploaded comments kept past retention: {:?}", &stale[..stale.len().min(3)]);
    // The hourly counts are the reviews.
    let counts = store.question_counts(DayRange::default()).unwrap();
    assert_eq!(counts.get("satisfaction").map_or(0, |c| c.respondents), summary.total, "day {day}: counts");
    // The store grows with the ratings only (comments are erased; the WAL is cut back hourly).
    let store_bytes = store.size_bytes();
    assert!(
        store_bytes <= 1024 * 1024 + 2048 * summary.total,
        "day {day}: {store_bytes} bytes for {} reviews",
        summary.total
    );
    Midnight { day, reviews: summary.total, pending: summary.pending, store_bytes, rss_kib: rss_kib() }
}

#[test]
fn a_year_left_alone() {
    i_slint_backend_testing::init_no_event_loop();
    let dir = Scratch::new("soak");
    let data = dir.path().join("data");
    let platform = platform(dir.path());
    let net = network(&platform.url);
    std::fs::write(dir.path().join("token"), "soak-token\n").unwrap();
    let config = borne::config::parse(
        &format!(
            "[kiosk]\ndevice_id = \"{DEVICE}\"\nadmin_pin = \"4821\"\n\n[upload]\nenabled = true\n\
             allow_insecure_http = true\nbase_url = \"{}\"\ntoken_file = \"{}\"\nproduct_id = 1\nform_id = 2\n\
             button_id = 3\nbatch_size = 100\nconnect_timeout_s = 2\nrequest_timeout_s = 5\n",
            net.url,
            dir.path().join("token").display()
        ),
        borne::config::ConfigSource::Embedded,
    )
    .unwrap();
    let start: DateTime<Utc> = "2027-01-03T23:00:00Z".parse().unwrap(); // Monday 4 January, 00:00 in Paris
    let clock = SimClock(Arc::new(Mutex::new(TimeState {
        true_now: start,
        synced: true,
        lag: chrono::Duration::zero(),
        boot_id: uuid::Uuid::now_v7().to_string(),
        boot_at: start - chrono::Duration::hours(1),
    })));
    let mut world = World { clock: clock.clone(), base: Instant::now(), rng: Lcg(seed()), given: 0 };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut b = boot(&data, &config, &clock, world.base);
    let real_start = Instant::now();
    let mut midnights = Vec::new();
    let mut sync_at: Option<DateTime<Utc>> = None;
    let days: i64 = std::env::var("BORNE_SOAK_DAYS").ok().and_then(|d| d.parse().ok()).unwrap_or(DAYS);
    for day in 0..days {
        let local_date = |c: &SimClock| (c.state().true_now + paris()).date_naive();
        let date = local_date(&clock);
        // The year's incidents, by day.
        let outage = (60..65).contains(&day) || (200..208).contains(&day);
        net.set_up(!outage);
        while local_date(&clock) == date {
            let step_start = clock.state().true_now;
            let local = (step_start + paris()).naive_utc();
            let (hour, minute) = (local.hour(), local.minute());
            // Reboots: a power cut at night with the clock restored from its last save, a
            // restart mid-morning; the clock synchronises a little over an hour later.
            let reboot = match (day % 45, hour, minute) {
                (10, 3, 0) => Some((Duration::from_secs(3 * 3600), false)),
                (30, 10, 0) => Some((Duration::from_secs(10 * 60), true)),
                _ => None,
            };
            if let Some((down, orderly)) = reboot {
                if orderly {
                    b.kiosk.shutdown();
                }
                drop(b);
                world.pass(down);
                {
                    let mut s = clock.state();
                    s.synced = false;
                    s.lag = chrono::Duration::from_std(down).unwrap() + chrono::Duration::minutes(7);
                    s.boot_id = uuid::Uuid::now_v7().to_string();
                    s.boot_at = s.true_now;
                }
                sync_at = Some(clock.state().true_now + chrono::Duration::minutes(70));
                b = boot(&data, &config, &clock, world.base);
            }
            if sync_at.is_some_and(|at| clock.state().true_now >= at) {
                clock.state().synced = true;
                sync_at = None;
            }
            // A day when the store refuses writes (as when the disk is full), 10:00 to 09:00.
            if (day, hour, minute) == (120, 10, 0) {
                b.kiosk.with_store(|s| s.refuse_writes(true)).unwrap();
            }
            if (day, hour, minute) == (121, 9, 0) {
                b.kiosk.with_store(|s| s.refuse_writes(false)).unwrap();
            }
            // Visitors while open: none to three every ten minutes.
            if b.kiosk.window().get_screen() != Screen::Closed && (9..17).contains(&hour) {
                for _ in 0..world.rng.below(4) {
                    world.visit(&b);
                }
            }
            // On to the next ten-minute mark (what the visits and any reboot took included).
            let now = clock.state().true_now;
            let step_s = STEP.as_secs() as i64;
            let next = DateTime::<Utc>::from_timestamp((now.timestamp() / step_s + 1) * step_s, 0).unwrap();
            world.pass((next - now).to_std().unwrap_or_default());
            b.keeper.tick(world.instant()).unwrap();
            if minute < 10 {
                let report = runtime.block_on(b.uploader.drain()).unwrap();
                if std::env::var_os("BORNE_SOAK_DEBUG").is_some() && report.stopped_on.is_some() {
                    eprintln!("day {day} {hour}:00 drain stopped: {:?}", report.stopped_on);
                }
            }
        }
        if std::env::var_os("BORNE_SOAK_DEBUG").is_some() {
            let (store, _) = Store::open(&data, Integrity::Trust).unwrap();
            let s = store.outbox_summary().unwrap();
            eprintln!(
                "day {day}: total {} pending {} uploaded {} unsynced {}",
                s.total, s.pending, s.uploaded, s.unsynced_clock
            );
        }
        let midnight = check_midnight(day, &world, &b, &data, &platform.db, config.comment_retention_days);
        if day == 63 {
            // Monday, in the middle of the first outage: the day's reviews wait.
            assert!(midnight.pending > 0, "the outage held the day's reviews back");
        }
        if !outage {
            // Uploads every hour: with the network up, nothing given by day waits past midnight
            // (and after an outage, the backlog leaves the day the network comes back).
            assert_eq!(midnight.pending, 0, "day {day}: reviews still waiting with the network up");
        }
        midnights.push(midnight);
    }
    // The year's end: the network is up, everything pending is sent.
    net.set_up(true);
    let report = runtime.block_on(b.uploader.drain()).unwrap();
    assert_eq!(report.stopped_on, None);
    let last = check_midnight(days, &world, &b, &data, &platform.db, config.comment_retention_days);
    let (store, _) = Store::open(&data, Integrity::Trust).unwrap();
    let summary = store.outbox_summary().unwrap();
    assert_eq!(summary.pending, 0, "everything reached the platform");
    // The span simulated, from the clock (BORNE_SOAK_DAYS may shorten the run).
    let simulated_days = (clock.state().true_now - start).num_days();
    assert!(simulated_days >= days, "{simulated_days} days simulated, {days} asked");
    assert!(summary.total as i64 > 12 * simulated_days, "{simulated_days} days of visits: {}", summary.total);
    assert!(store.integrity_check().unwrap() == "ok");
    let real_minutes = real_start.elapsed().as_secs_f64() / 60.0;
    if let Ok(path) = std::env::var("BORNE_SOAK_REPORT") {
        let mut text = format!(
            "simulated_days={simulated_days} real_minutes={real_minutes:.2} days_per_minute={:.0} reviews={} rejected={}\n",
            simulated_days as f64 / real_minutes,
            last.reviews,
            summary.rejected
        );
        for m in midnights.iter().filter(|m| m.day % 50 == 0).chain([&last]) {
            text.push_str(&format!(
                "day={} reviews={} store_bytes={} rss_kib={}\n",
                m.day, m.reviews, m.store_bytes, m.rss_kib
            ));
        }
        std::fs::write(path, text).unwrap();
    }
}
