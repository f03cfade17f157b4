//! The kiosk's health facts — version, identity, stored and pending reviews, upload state,
//! where the dashboard is, disk, uptime, clock — gathered once, then worded for the on-screen
//! administration panel (and `borne run`) and for the dashboard's « État de la borne » page.
//!
//! Invariant: one place reads these facts; the two screens only choose which to show.

use crate::app::App;
use crate::human::{human_duration, local_time};
use crate::store::{OutboxSummary, Store, UplinkStatus};
use std::path::PathBuf;

/// What the kiosk knows of itself at one moment.
#[derive(Debug, Clone)]
pub struct Health {
    pub device_id: String,
    pub site_name: String,
    pub config_source: String,
    pub outbox: Result<OutboxSummary, String>,
    /// `None`: upload disabled.
    pub uplink: Option<Result<UplinkStatus, String>>,
    pub dashboard: String,
    pub data_dir: PathBuf,
    pub store_size_bytes: u64,
    pub disk_free_bytes: Option<u64>,
    pub uptime_s: Option<u64>,
    pub clock_synced: bool,
    /// The survey the platform publishes, as the store holds it.
    pub survey: Result<crate::store::published::PublishedSurvey, String>,
}

/// Which survey runs: the file's, or a version the platform published (and what it refused).
pub fn survey_line(published: &crate::store::published::PublishedSurvey) -> String {
    let mut line = match (published.running, &published.held) {
        (Some(running), Some((held, _))) if running != *held => {
            format!("version {running} de la plateforme ; version {held} reçue, en service au prochain accueil")
        }
        (Some(running), _) => format!("version {running} publiée par la plateforme"),
        (None, Some((held, _))) => format!("celui du fichier ; version {held} reçue, en service au prochain accueil"),
        (None, None) => "celui du fichier de configuration".to_string(),
    };
    if let Some((version, message)) = &published.refused {
        line.push_str(&format!(" — ATTENTION : version {version} refusée : {message}"));
    }
    line
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

impl Health {
    pub fn gather(app: &App, store: &Store) -> Health {
        let clock = app.clock();
        Health {
            device_id: app.config.device_id.clone(),
            site_name: app.config.site_name.clone(),
            config_source: app.config.source.to_string(),
            outbox: store.outbox_summary().map_err(|e| e.to_string()),
            uplink: app.config.upload.as_ref().map(|_| store.uplink_status().map_err(|e| e.to_string())),
            dashboard: dashboard_address(app, store),
            data_dir: app.data_dir.clone(),
            store_size_bytes: store.size_bytes(),
            disk_free_bytes: crate::sys::disk_free_bytes(&app.data_dir),
            uptime_s: crate::sys::uptime_s(),
            clock_synced: crate::clock::Clock::read(&clock).synced,
            survey: store.published_survey().map_err(|e| e.to_string()),
        }
    }

    /// The administration panel's lines (also printed by `borne run` at start).
    pub fn admin_lines(&self) -> Vec<(String, String)> {
        let mut lines = vec![
            ("Version".to_string(), VERSION.to_string()),
            ("Borne".to_string(), format!("{} — {}", self.device_id, self.site_name)),
        ];
        match &self.outbox {
            Ok(summary) => {
                lines.push(("Avis enregistrés".into(), summary.total.to_string()));
                let oldest = summary
                    .oldest_pending_at
                    .map(|t| format!(" (le plus ancien : {})", local_time(t)))
                    .unwrap_or_default();
                lines.push(("En attente d'envoi".into(), format!("{}{oldest}", summary.pending)));
                if summary.rejected > 0 {
                    lines.push(("Rejetés par la plateforme".into(), summary.rejected.to_string()));
                }
            }
            Err(e) => lines.push(("Base de données".into(), format!("illisible : {e}"))),
        }
        let upload = match &self.uplink {
            None => "désactivé".to_string(),
            Some(Ok(status)) if status.auth_refused => match &status.last_error {
                Some(error) => format!("refusé par la plateforme : {error}"),
                None => "jeton ou identité refusés par la plateforme".to_string(),
            },
            Some(Ok(status)) => match (status.last_success_at, &status.last_error) {
                (_, Some(error)) if status.last_error_at > status.last_success_at => format!("en erreur : {error}"),
                (Some(at), _) => format!("dernier envoi réussi le {}", local_time(at)),
                (None, _) => "aucun envoi réussi pour l'instant".to_string(),
            },
            Some(Err(e)) => format!("état illisible : {e}"),
        };
        lines.push(("Envoi à la plateforme".into(), upload));
        lines.push(("Tableau de bord".into(), self.dashboard.clone()));
        lines.push((
            "Questionnaire".into(),
            match &self.survey {
                Ok(published) => survey_line(published),
                Err(e) => format!("illisible : {e}"),
            },
        ));
        let free = self
            .disk_free_bytes
            .map(|b| format!("{} Mo libres", b / 1_000_000))
            .unwrap_or_else(|| "espace libre inconnu".into());
        lines.push((
            "Données".into(),
            format!("{} ({} Mo), {free}", self.data_dir.display(), self.store_size_bytes / 1_000_000),
        ));
        lines
    }

    /// The dashboard's « État de la borne » lines; `served_for_s`: how long this dashboard has run.
    pub fn dashboard_lines(&self, served_for_s: u64) -> Result<Vec<(String, String)>, String> {
        let total = self.outbox.as_ref().map_err(Clone::clone)?.total;
        Ok(vec![
            ("Version".to_string(), VERSION.to_string()),
            ("Identifiant".to_string(), self.device_id.clone()),
            (
                "Système démarré depuis".to_string(),
                self.uptime_s.map(|s| human_duration(s as i64)).unwrap_or_else(|| "inconnu".into()),
            ),
            ("Tableau de bord servi depuis".to_string(), human_duration(served_for_s as i64)),
            (
                "Espace disque libre".to_string(),
                self.disk_free_bytes.map(|b| format!("{} Mo", b / 1_000_000)).unwrap_or_else(|| "inconnu".into()),
            ),
            ("Taille de la base".to_string(), format!("{:.1} Mo", self.store_size_bytes as f64 / 1e6)),
            (
                "Horloge".to_string(),
                if self.clock_synced {
                    "synchronisée".into()
                } else {
                    "non synchronisée (les avis sont notés comme tels)".into()
                },
            ),
            ("Configuration".to_string(), self.config_source.clone()),
            ("Avis enregistrés".into(), total.to_string()),
        ])
    }
}

/// The administration panel's lines for this kiosk now.
pub fn admin_status(app: &App, store: &Store) -> Vec<(String, String)> {
    Health::gather(app, store).admin_lines()
}

/// Where the manager finds the dashboard, in words.
pub fn dashboard_address(app: &App, store: &Store) -> String {
    match store.manager_password_is_set() {
        Ok(true) => {
            let listen = app.config.dashboard.listen;
            let scheme = if app.config.dashboard.tls.is_some() { "https" } else { "http" };
            if listen.ip().is_unspecified() {
                match local_address() {
                    Some(ip) => format!("{scheme}://{ip}:{}/", listen.port()),
                    None => format!("port {} de cette borne ({scheme})", listen.port()),
                }
            } else {
                format!("{scheme}://{listen}/")
            }
        }
        Ok(false) => "fermé : aucun mot de passe (borne passwd)".into(),
        Err(e) => format!("état inconnu : {e}"),
    }
}

/// The address this machine uses on its network (no packet is sent).
fn local_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    socket.local_addr().ok().map(|a| a.ip()).filter(|ip| !ip.is_unspecified())
}
