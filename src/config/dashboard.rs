//! `[dashboard]`: where and how the manager's dashboard listens.

use super::check::{Invalid, invalid};
use super::raw::RawDashboard;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where and how the dashboard listens.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    pub listen: SocketAddr,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub session_idle: Duration,
}

pub(super) fn validate_dashboard(raw: RawDashboard) -> Result<DashboardConfig, Invalid> {
    let listen = raw.listen.unwrap_or_else(|| "0.0.0.0:8080".into());
    let listen: SocketAddr = listen.parse().map_err(|_| {
        invalid("dashboard.listen", format!("« {listen} » : adresse et port attendus, par exemple « 0.0.0.0:8080 »"))
    })?;
    let tls = match (raw.tls_cert_file, raw.tls_key_file) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some((cert, key)),
        (Some(_), None) => return Err(invalid("dashboard.tls_key_file", "requis avec dashboard.tls_cert_file")),
        (None, Some(_)) => return Err(invalid("dashboard.tls_cert_file", "requis avec dashboard.tls_key_file")),
    };
    let idle = raw.session_idle_min.unwrap_or(30);
    if !(1..=1440).contains(&idle) {
        return Err(invalid("dashboard.session_idle_min", "entre 1 et 1440 minutes"));
    }
    Ok(DashboardConfig { listen, tls, session_idle: Duration::from_secs(idle * 60) })
}
