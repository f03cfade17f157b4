//! Configuration: TOML parsed into `RawConfig` (serde, unknown keys refused), then validated
//! once into `Config`. The rest of the code never sees raw strings.
//!
//! Looked up in order: `--config FILE`, `$BORNE_CONFIG`, `/etc/borne/borne.toml`; with none of
//! them, the embedded default (`DEFAULT_CONFIG`, also what `borne config default` prints).
//! Every error names the key and its line.
//!
//! Invariant: this module owns the plain types of every section (`kiosk`, `survey`, `upload`,
//! `dashboard`, `hardware`, `panel`, `accessibility`, `update`) and imports nothing from the modules that use them; each
//! section validates in its own file, one small check per function, each naming its key.

mod accessibility;
mod check;
mod dashboard;
mod hardware;
mod kiosk;
mod locate;
mod panel;
pub mod raw;
mod survey;
mod update;
mod upload;

pub use accessibility::AccessibilityConfig;
pub use dashboard::DashboardConfig;
pub use hardware::{BacklightPolicy, Behaviour, ButtonPins, HardwareConfig, HwBackend};
pub use kiosk::{DEFAULT_ADMIN_PIN, SUPPORTED_LANGUAGES, ScreenConfig, Timing};
pub use panel::{PanelConfig, PanelModel, TouchCalibration, TouchConfig, native_size};
pub use raw::RawConfig;
pub use survey::default_follow_ups;
pub use update::{UpdateConfig, UpdateSource};
pub use upload::{Secret, UploadConfig};

use crate::clock::SyncSource;
use borne_model::review::Survey;
use check::{Invalid, invalid};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The commented example printed by `borne config default`, and the embedded defaults.
pub const DEFAULT_CONFIG: &str = include_str!("../default-config.toml");
pub const SYSTEM_CONFIG_PATH: &str = "/etc/borne/borne.toml";

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    Embedded,
    File(PathBuf),
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::Embedded => f.write_str("configuration par défaut intégrée"),
            ConfigSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: ConfigSource,
    pub device_id: String,
    pub site_name: String,
    pub response_interval: Duration,
    pub screen: ScreenConfig,
    /// `None`: resolved at run time (see `resolve_data_dir`).
    pub data_dir: Option<PathBuf>,
    pub comment_retention_days: u32,
    pub min_reviews_for_score: u64,
    pub survey: Survey,
    /// The `[survey]` keys the site keeps from this file whatever its platform publishes.
    pub survey_keep_local: Vec<String>,
    pub clock_source: SyncSource,
    pub upload: Option<UploadConfig>,
    pub dashboard: DashboardConfig,
    pub hardware: HardwareConfig,
    /// A small SPI panel instead of a KMS/desktop display; `None`: the usual screen.
    pub panel: Option<PanelConfig>,
    /// The speech mode: voice, volume, its buttons and headset socket.
    pub accessibility: AccessibilityConfig,
    /// Updates of the whole system in the field; `None`: off.
    pub update: Option<UpdateConfig>,
}

impl Config {
    /// This configuration with a survey its platform published (contract 1.2) laid over the
    /// file's: the keys the version sets replace the file's, except those the site keeps.
    /// `Err`: why the version cannot run here (the file's survey stays).
    pub fn with_published(&self, text: &str) -> Result<Config, String> {
        let (survey, min_reviews) =
            borne_model::survey_file::overlay(&self.survey, self.min_reviews_for_score, text, &self.survey_keep_local)?;
        Ok(Config { survey, min_reviews_for_score: min_reviews, ..self.clone() })
    }
}

/// A configuration error, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub source: String,
    pub key: Option<String>,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(line) = self.line {
            write!(f, ", ligne {line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ", clé « {key} »")?;
        }
        write!(f, " : {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Finds and loads the configuration, in the documented order.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let from_env = std::env::var_os("BORNE_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from);
    let path = match (explicit, from_env) {
        (Some(path), _) => Some(path.to_path_buf()),
        (None, Some(path)) => Some(path),
        (None, None) => Some(PathBuf::from(SYSTEM_CONFIG_PATH)).filter(|p| p.exists()),
    };
    match path {
        Some(path) => load_file(&path),
        None => parse(DEFAULT_CONFIG, ConfigSource::Embedded),
    }
}

pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        source: path.display().to_string(),
        key: None,
        line: None,
        message: format!("impossible de lire le fichier : {e}"),
    })?;
    parse(&text, ConfigSource::File(path.to_path_buf()))
}

/// Parses and validates configuration text.
pub fn parse(text: &str, source: ConfigSource) -> Result<Config, ConfigError> {
    let source_name = source.to_string();
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let (key, line) = match e.span() {
            Some(span) => (locate::key_path_at(text, span.start), Some(locate::line_of(text, span.start))),
            None => (None, None),
        };
        ConfigError { source: source_name.clone(), key, line, message: locate::french_serde_message(e.message()) }
    })?;
    validate(raw, source).map_err(|(path, message)| ConfigError {
        line: locate::line_of_key(text, &path),
        key: Some(path),
        source: source_name,
        message,
    })
}

fn validate(raw: RawConfig, source: ConfigSource) -> Result<Config, Invalid> {
    let identity = kiosk::validate_identity(&raw.kiosk)?;
    let languages = kiosk::validate_languages(raw.kiosk.languages.clone())?;
    let screen = kiosk::validate_screen(&raw.kiosk)?;
    let comment_retention_days = validate_retention(raw.storage.comment_retention_days)?;
    let data_dir = validate_data_dir(raw.storage.data_dir)?;
    let survey_keep_local = borne_model::survey_file::keep_local(&raw.survey)?;
    let (survey, min_reviews_for_score) = survey::validate_survey(raw.survey, languages)?;
    let clock_source = validate_clock(raw.clock.sync_source.as_deref())?;
    let upload = upload::validate_upload(raw.upload)?;
    if upload.is_some() {
        check_ready_for_the_field(&identity.device_id, &screen)?;
    }
    let dashboard = dashboard::validate_dashboard(raw.dashboard)?;
    let mut hardware = hardware::validate_hardware(raw.hardware, raw.hours)?;
    if upload.is_none() {
        hardware.behaviour.pending_alert = None;
    }
    let panel = panel::validate_panel(raw.panel, &hardware)?;
    let accessibility = accessibility::validate_accessibility(raw.accessibility)?;
    check_pins_apart(&hardware, panel.as_ref(), &accessibility)?;
    let update = update::validate_update(raw.update, upload.is_some())?;
    Ok(Config {
        source,
        device_id: identity.device_id,
        site_name: identity.site_name,
        response_interval: screen.timing.response_interval,
        screen,
        data_dir,
        comment_retention_days,
        min_reviews_for_score,
        survey,
        survey_keep_local,
        clock_source,
        upload,
        dashboard,
        hardware,
        panel,
        accessibility,
        update,
    })
}

/// The speech mode's buttons and socket take pins no other device uses.
fn check_pins_apart(
    hardware: &HardwareConfig,
    panel: Option<&PanelConfig>,
    accessibility: &AccessibilityConfig,
) -> Result<(), Invalid> {
    let mut others: Vec<u8> = hardware.pins().into_iter().map(|(p, _)| p).collect();
    if let Some(panel) = panel {
        others.extend(panel.pins());
    }
    match accessibility.pins().find(|p| others.contains(p)) {
        Some(pin) => Err(invalid("accessibility", format!("la broche {pin} sert déjà à un autre appareil"))),
        None => Ok(()),
    }
}

/// A kiosk that uploads is in the field: the demonstration identity and the PIN everyone knows
/// are refused there.
fn check_ready_for_the_field(device_id: &str, screen: &ScreenConfig) -> Result<(), Invalid> {
    if device_id == kiosk::DEMO_DEVICE_ID {
        return Err(invalid(
            "kiosk.device_id",
            format!(
                "« {device_id} » est l'identifiant de démonstration : donnez à la borne celui que la plateforme \
                 lui attribue avant d'activer l'envoi (upload.enabled)"
            ),
        ));
    }
    if screen.admin_pin.expose() == DEFAULT_ADMIN_PIN {
        return Err(invalid(
            "kiosk.admin_pin",
            format!(
                "le code par défaut « {DEFAULT_ADMIN_PIN} » est refusé quand l'envoi est activé : choisissez-en un autre"
            ),
        ));
    }
    Ok(())
}

fn validate_retention(days: Option<u32>) -> Result<u32, Invalid> {
    let days = days.unwrap_or(30);
    if days == 0 || days > 3650 {
        return Err(invalid("storage.comment_retention_days", "entre 1 et 3650 jours"));
    }
    Ok(days)
}

fn validate_data_dir(dir: Option<PathBuf>) -> Result<Option<PathBuf>, Invalid> {
    if let Some(dir) = &dir
        && (dir.as_os_str().is_empty() || dir.is_relative())
    {
        return Err(invalid("storage.data_dir", "un chemin absolu"));
    }
    Ok(dir)
}

fn validate_clock(sync_source: Option<&str>) -> Result<SyncSource, Invalid> {
    match sync_source.unwrap_or("kernel") {
        "kernel" => Ok(SyncSource::Kernel),
        "assume_synced" => Ok(SyncSource::AssumeSynced),
        other => Err(invalid("clock.sync_source", format!("« {other} » inconnu : « kernel » ou « assume_synced »"))),
    }
}

impl Config {
    /// The built-in configuration.
    pub fn embedded() -> Config {
        match parse(DEFAULT_CONFIG, ConfigSource::Embedded) {
            Ok(config) => config,
            // A test proves the embedded text parses; this branch cannot run.
            Err(e) => unreachable!("embedded configuration is invalid: {e}"),
        }
    }

    /// The data directory: the configured one, else `$STATE_DIRECTORY` (systemd), else a
    /// per-user location.
    pub fn resolve_data_dir(&self, override_dir: Option<&Path>) -> PathBuf {
        if let Some(dir) = override_dir {
            return dir.to_path_buf();
        }
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        if let Some(state) = std::env::var_os("STATE_DIRECTORY").filter(|v| !v.is_empty()) {
            // systemd may pass several, colon-separated: the first is ours.
            let first = state.to_string_lossy().split(':').next().unwrap_or_default().to_string();
            return PathBuf::from(first);
        }
        directories::ProjectDirs::from("fr", "Borne", "borne")
            .map(|dirs| dirs.data_local_dir().to_path_buf())
            .unwrap_or_else(|| PathBuf::from("borne-data"))
    }
}

#[cfg(test)]
mod tests;
