//! The kiosk's housekeeping while it runs — a kiosk stays up for months, so none of this waits
//! for a restart:
//! - retention: comments of uploaded reviews erased after `storage.comment_retention_days`, at
//!   least every hour, and at the next look (within `TICK`) after the wall clock jumped by more
//!   than `CLOCK_JUMP` against the monotonic clock (a Pi's clock jumps when NTP first syncs);
//! - clock correction: timestamps taken before synchronisation corrected as soon as the clock is
//!   synchronised, uploads on or off (reviews already in a persisted batch keep theirs: their
//!   exact bytes may already be at the platform);
//! - the write-ahead log checkpointed and truncated every hour, so it stays bounded even while
//!   the dashboard's readers keep connections open.
//!
//! `Schedule` decides from the clocks alone (pure, tested over simulated months); `Housekeeper`
//! applies it to a store; `spawn` runs it on its own thread and connection.

use crate::app::App;
use crate::clock::{Clock, ClockReading};
use crate::store::{Integrity, Store};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How often the housekeeping looks at the clocks.
pub const TICK: Duration = Duration::from_secs(30);
/// Retention (and the WAL checkpoint) at least this often.
pub const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// A wall-clock step larger than this, against the monotonic clock, is a jump.
pub const CLOCK_JUMP: Duration = Duration::from_secs(300);

/// What is due at one look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Due {
    pub retention: bool,
    pub correction: bool,
    pub checkpoint: bool,
}

/// When each task last ran, and the clocks at the last look.
#[derive(Debug, Default)]
pub struct Schedule {
    last_look: Option<(Instant, DateTime<Utc>)>,
    last_retention: Option<Instant>,
    synced: bool,
}

impl Schedule {
    /// What is due now, given the monotonic instant and a reading of the wall clock.
    pub fn due(&mut self, mono: Instant, reading: &ClockReading) -> Due {
        let jumped = self.last_look.is_some_and(|(mono_then, wall_then)| {
            let mono_ms = mono.saturating_duration_since(mono_then).as_millis() as i64;
            let wall_ms = (reading.now_utc - wall_then).num_milliseconds();
            wall_ms.abs_diff(mono_ms) > CLOCK_JUMP.as_millis() as u64
        });
        let hourly = self.last_retention.is_none_or(|at| mono.saturating_duration_since(at) >= RETENTION_EVERY);
        let became_synced = reading.synced && !self.synced;
        let due = Due {
            retention: hourly || jumped,
            correction: reading.synced && (became_synced || jumped || hourly),
            checkpoint: hourly,
        };
        if jumped {
            tracing::info!(now = %reading.now_utc, "wall clock jumped: housekeeping now");
        }
        self.last_look = Some((mono, reading.now_utc));
        if due.retention {
            self.last_retention = Some(mono);
        }
        self.synced = reading.synced;
        due
    }
}

/// What one look did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Done {
    pub due: Due,
    pub corrected: usize,
    pub erased: usize,
}

/// The housekeeping of one store, with the clock it reads.
pub struct Housekeeper {
    pub store: Store,
    clock: Box<dyn Clock>,
    retention_days: u32,
    schedule: Schedule,
}

impl Housekeeper {
    pub fn new(store: Store, clock: Box<dyn Clock>, retention_days: u32) -> Housekeeper {
        Housekeeper { store, clock, retention_days, schedule: Schedule::default() }
    }

    /// One look at the clocks at the monotonic instant `mono`, and what it made due.
    pub fn tick(&mut self, mono: Instant) -> Result<Done> {
        let reading = self.clock.read();
        let due = self.schedule.due(mono, &reading);
        let mut done = Done { due, ..Done::default() };
        if due.correction {
            done.corrected = self.store.correct_unsynced(&reading, |at| self.clock.offset_at(at))?;
            if done.corrected > 0 {
                tracing::info!(corrected = done.corrected, "timestamps corrected after clock synchronisation");
            }
        }
        if due.retention {
            done.erased = self.store.erase_old_comments(reading.now_utc, self.retention_days)?;
            if done.erased > 0 {
                tracing::info!(erased = done.erased, "old comments erased");
            }
        }
        if due.checkpoint {
            self.store.checkpoint()?;
        }
        Ok(done)
    }
}

/// The housekeeping thread, until `stop`.
pub struct Handle {
    stop: mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Handle {
    pub fn stop(mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs the housekeeping on its own thread and store connection: a first look at once (the
/// start's retention and correction), then one every `TICK`.
pub fn spawn(app: &App) -> Result<Handle> {
    let store = app.open_store(Integrity::Trust)?;
    let mut keeper = Housekeeper::new(store, Box::new(app.clock()), app.config.comment_retention_days);
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new().name("housekeeping".into()).spawn(move || {
        loop {
            if let Err(e) = keeper.tick(Instant::now()) {
                tracing::warn!("housekeeping: {e:#}");
            }
            match stopped.recv_timeout(TICK) {
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                _ => return,
            }
        }
    })?;
    Ok(Handle { stop, thread: Some(thread) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(at: DateTime<Utc>, synced: bool) -> ClockReading {
        ClockReading { now_utc: at, synced, boot: None }
    }

    /// A month of looks every 30 s: retention every hour and never more often, correction once
    /// the clock syncs, and a jump of the wall clock acted on at the very next look.
    #[test]
    fn a_month_of_looks() {
        let t0 = Instant::now();
        let wall0: DateTime<Utc> = "2026-03-01T08:00:00Z".parse().unwrap();
        let mut schedule = Schedule::default();
        let look = |s: &mut Schedule, i: u32, wall_shift_s: i64, synced: bool| {
            let mono = t0 + TICK * i;
            let wall = wall0 + chrono::Duration::seconds(30 * i64::from(i) + wall_shift_s);
            s.due(mono, &reading(wall, synced))
        };
        // First look: everything but the correction (not synced yet).
        assert_eq!(look(&mut schedule, 0, 0, false), Due { retention: true, correction: false, checkpoint: true });
        let mut retentions = 0;
        let mut corrections = 0;
        let looks_per_hour = 3600 / TICK.as_secs() as u32;
        for i in 1..=looks_per_hour * 24 * 30 {
            // NTP syncs after ten minutes; the wall clock runs with the monotonic one.
            let due = look(&mut schedule, i, 0, i >= 20);
            retentions += u32::from(due.retention);
            corrections += u32::from(due.correction);
            if i == 20 {
                assert!(due.correction, "corrected as soon as the clock syncs");
            }
            if i % looks_per_hour == 0 {
                assert!(due.retention && due.checkpoint, "hourly, at look {i}");
            } else {
                assert!(!due.retention, "no retention between the hours, at look {i}");
            }
        }
        assert_eq!(retentions, 24 * 30, "once an hour over the month");
        assert_eq!(corrections, 24 * 30 + 1, "when synced, then hourly");
        // Seven looks after the last hourly one, the wall clock leaps 31 days between two looks:
        // acted on at the next one, not at the next hour.
        let i = looks_per_hour * 24 * 30 + 7;
        let due = look(&mut schedule, i, 31 * 86_400, true);
        assert!(due.retention && due.correction, "{due:?}");
        // Small drifts (NTP slewing) are not jumps.
        assert!(!look(&mut schedule, i + 1, 31 * 86_400 + 2, true).retention);
        // A step backwards counts too.
        assert!(look(&mut schedule, i + 2, 31 * 86_400 - 3600, true).retention);
    }
}
