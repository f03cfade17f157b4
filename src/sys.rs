//! Small facts about the machine: free disk space and uptime.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Bytes available to unprivileged writers on the file system holding `path`.
pub fn disk_free_bytes(path: &Path) -> Option<u64> {
    let c_path = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `stat` is a plain C struct, written by statvfs on success only.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) };
    (rc == 0).then(|| stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// Seconds since the machine booted.
pub fn uptime_s() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    let first = text.split_whitespace().next()?;
    first.parse::<f64>().ok().map(|s| s as u64)
}

/// This process's peak resident memory (`VmHWM`), in KiB. Unlike `ru_maxrss`, it starts afresh
/// at exec, so it does not include the parent's memory.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub use borne_web::systemd::sd_notify;

/// Half the watchdog interval systemd expects pings within (`$WATCHDOG_USEC`), if any.
pub fn watchdog_interval() -> Option<std::time::Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| std::time::Duration::from_micros(usec / 2))
}

/// The `app_version` the kiosk reports to the platform (contract v1: `borne/VERSION`), and its
/// HTTP clients' user agent.
pub fn app_version() -> String {
    format!("borne/{}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_disk_and_uptime() {
        assert!(disk_free_bytes(Path::new("/")).is_some());
        assert!(disk_free_bytes(Path::new("/does/not/exist")).is_none());
        assert!(uptime_s().is_some());
        assert!(peak_rss_kib().is_some_and(|kib| kib > 0));
    }
}
