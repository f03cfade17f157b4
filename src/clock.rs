//! The wall clock, and how far to trust it. A Raspberry Pi has no battery-backed clock: until
//! NTP synchronises, the time can be 1970 or the last saved time. Each reading records whether
//! the kernel considered the clock synchronised, plus the boot id and the monotonic time since
//! boot, so that a timestamp taken before synchronisation can be corrected later in the same
//! boot (`correct_timestamp`).

use borne_model::review::BootStamp;
use chrono::{DateTime, FixedOffset, Local, Offset, TimeZone, Utc};

/// One look at the clocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockReading {
    pub now_utc: DateTime<Utc>,
    pub synced: bool,
    pub boot: Option<BootStamp>,
}

/// How the kiosk decides whether its clock is synchronised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncSource {
    /// The kernel's NTP status (what `timedatectl` shows as "System clock synchronized").
    Kernel,
    /// Trust the clock (a machine whose time is kept by other means).
    AssumeSynced,
}

/// Anything before this is certainly a clock that never synchronised.
const PLAUSIBLE_SINCE_UNIX_S: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

pub trait Clock: Send + Sync {
    fn read(&self) -> ClockReading;
    /// The local UTC offset in force at an instant.
    fn offset_at(&self, instant: DateTime<Utc>) -> FixedOffset;
}

/// The machine's clocks and its local time zone.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    pub source: SyncSource,
}

impl Clock for SystemClock {
    fn read(&self) -> ClockReading {
        let now_utc = Utc::now();
        let plausible = now_utc.timestamp() >= PLAUSIBLE_SINCE_UNIX_S;
        let synced = plausible
            && match self.source {
                SyncSource::Kernel => kernel_says_synced(),
                SyncSource::AssumeSynced => true,
            };
        let boot = match (boot_id(), boottime_ms()) {
            (Some(boot_id), Some(boottime_ms)) => Some(BootStamp { boot_id, boottime_ms }),
            _ => None,
        };
        ClockReading { now_utc, synced, boot }
    }

    fn offset_at(&self, instant: DateTime<Utc>) -> FixedOffset {
        Local.from_utc_datetime(&instant.naive_utc()).offset().fix()
    }
}

/// `adjtimex` with no modes only reads: `TIME_ERROR` or `STA_UNSYNC` mean the kernel's clock is
/// not disciplined by NTP.
fn kernel_says_synced() -> bool {
    // SAFETY: a zeroed timex with modes == 0 is a valid read-only request.
    let mut timex: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut timex) };
    state >= 0 && state != libc::TIME_ERROR && (timex.status & libc::STA_UNSYNC) == 0
}

/// The boot id cannot change while this process lives: read it once.
fn boot_id() -> Option<String> {
    static BOOT_ID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BOOT_ID
        .get_or_init(|| std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string()))
        .clone()
}

/// Milliseconds since boot, suspend included (`CLOCK_BOOTTIME`): unaffected by wall-clock steps.
fn boottime_ms() -> Option<i64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    (rc == 0).then(|| ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000)
}

/// The true instant of a timestamp taken at `taken` on the monotonic clock, given a synchronised
/// reading `now` from the same boot. `None` when it cannot be corrected (another boot, or the
/// reading itself is not synchronised).
pub fn correct_timestamp(taken: &BootStamp, now: &ClockReading) -> Option<DateTime<Utc>> {
    let now_boot = now.boot.as_ref()?;
    if !now.synced || now_boot.boot_id != taken.boot_id || now_boot.boottime_ms < taken.boottime_ms {
        return None;
    }
    let elapsed = chrono::Duration::milliseconds(now_boot.boottime_ms - taken.boottime_ms);
    Some(now.now_utc - elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(boot: &str, ms: i64) -> BootStamp {
        BootStamp { boot_id: boot.into(), boottime_ms: ms }
    }

    #[test]
    fn corrects_within_the_same_boot_only() {
        let now = ClockReading {
            now_utc: "2026-03-14T10:00:00Z".parse().unwrap(),
            synced: true,
            boot: Some(stamp("b1", 3_600_000)),
        };
        let corrected = correct_timestamp(&stamp("b1", 1_800_000), &now).unwrap();
        assert_eq!(corrected, "2026-03-14T09:30:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(correct_timestamp(&stamp("b0", 1_800_000), &now), None);
        let unsynced = ClockReading { synced: false, ..now.clone() };
        assert_eq!(correct_timestamp(&stamp("b1", 1_800_000), &unsynced), None);
    }

    #[test]
    fn system_clock_reads_boot_stamp() {
        let reading = SystemClock { source: SyncSource::AssumeSynced }.read();
        let boot = reading.boot.expect("Linux exposes a boot id and CLOCK_BOOTTIME");
        assert_eq!(boot.boot_id.len(), 36);
        assert!(boot.boottime_ms > 0);
        assert!(reading.synced);
    }
}
