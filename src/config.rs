//! Configuration: TOML parsed into `RawConfig` (serde, unknown keys refused), then validated
//! once into `Config`. The rest of the code never sees raw strings.
//!
//! Looked up in order: `--config FILE`, `$BORNE_CONFIG`, `/etc/borne/borne.toml`; with none of
//! them, the embedded default (`DEFAULT_CONFIG`, also what `borne config default` prints).
//! Every error names the key and its line.

use crate::clock::SyncSource;
use crate::review::{AnswerKind, Intention, Item, JDMA_CODES, Question, SATISFACTION, Satisfaction, Survey, VERBATIM};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The commented example printed by `borne config default`, and the embedded defaults.
pub const DEFAULT_CONFIG: &str = include_str!("default-config.toml");
pub const SYSTEM_CONFIG_PATH: &str = "/etc/borne/borne.toml";
/// Languages the kiosk's interface is translated into.
pub const SUPPORTED_LANGUAGES: [&str; 7] = ["fr", "en", "es", "de", "it", "pt", "ar"];

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub kiosk: RawKiosk,
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub survey: RawSurvey,
    #[serde(default)]
    pub clock: RawClock,
    #[serde(default)]
    pub upload: RawUpload,
    #[serde(default)]
    pub dashboard: RawDashboard,
    #[serde(default)]
    pub hardware: RawHardware,
    #[serde(default)]
    pub hours: RawHours,
    #[serde(default)]
    pub panel: RawPanel,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawPanel {
    pub model: Option<String>,
    pub spi_bus: Option<u8>,
    pub spi_chip_select: Option<u8>,
    pub spi_speed_mhz: Option<u32>,
    pub dc_pin: Option<u8>,
    pub reset_pin: Option<u8>,
    pub backlight_pin: Option<u8>,
    pub width: Option<u16>,
    pub height: Option<u16>,
    pub rotation: Option<u16>,
    pub mirrored: Option<bool>,
    pub invert_colors: Option<bool>,
    pub bgr: Option<bool>,
    pub touch: Option<String>,
    pub touch_chip_select: Option<u8>,
    pub touch_irq_pin: Option<u8>,
    pub touch_calibration: Option<Vec<u16>>,
    pub touch_swap_xy: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawHardware {
    pub backend: Option<String>,
    pub if_no_pi: Option<String>,
    pub buttons: Option<Vec<u8>>,
    pub debounce_ms: Option<u64>,
    pub presence_pin: Option<u8>,
    pub led_pin: Option<u8>,
    pub backlight: Option<String>,
    pub dim_after_min: Option<u64>,
    pub dim_percent: Option<u8>,
    pub pending_alert_h: Option<u64>,
    pub outside_hours: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawHours {
    pub monday: Option<String>,
    pub tuesday: Option<String>,
    pub wednesday: Option<String>,
    pub thursday: Option<String>,
    pub friday: Option<String>,
    pub saturday: Option<String>,
    pub sunday: Option<String>,
    pub closed_dates: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawDashboard {
    pub listen: Option<String>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub session_idle_min: Option<u64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawKiosk {
    pub device_id: Option<String>,
    pub site_name: Option<String>,
    pub languages: Option<Vec<String>>,
    pub response_interval_s: Option<u64>,
    pub inactivity_timeout_s: Option<u64>,
    pub thanks_duration_s: Option<u64>,
    pub fullscreen: Option<bool>,
    pub show_result: Option<bool>,
    pub admin_pin: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub data_dir: Option<PathBuf>,
    pub comment_retention_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSurvey {
    pub comment: Option<bool>,
    pub comment_max_chars: Option<usize>,
    pub min_reviews_for_score: Option<u64>,
    pub follow_up: Option<Vec<RawQuestion>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuestion {
    pub code: String,
    pub label: Option<String>,
    pub kind: Option<String>,
    pub show_after: Option<Vec<String>>,
    pub items: Option<Vec<RawItem>>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawItem {
    pub id: i64,
    pub text: String,
    pub intention: String,
    pub exclusive: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawClock {
    pub sync_source: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpload {
    pub enabled: Option<bool>,
    pub base_url: Option<String>,
    pub token_file: Option<PathBuf>,
    pub product_id: Option<u64>,
    pub form_id: Option<u64>,
    pub button_id: Option<u64>,
    pub batch_size: Option<usize>,
    pub ca_file: Option<PathBuf>,
    pub connect_timeout_s: Option<u64>,
    pub request_timeout_s: Option<u64>,
    pub max_backoff_s: Option<u64>,
    pub heartbeat_interval_s: Option<u64>,
}

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
    pub clock_source: SyncSource,
    pub upload: Option<UploadConfig>,
    pub dashboard: crate::dashboard::DashboardConfig,
    pub hardware: HardwareConfig,
    /// A small SPI panel instead of a KMS/desktop display; `None`: the usual screen.
    pub panel: Option<crate::hw::panel::PanelConfig>,
}

/// Which GPIO backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HwBackend {
    /// rppal on a Raspberry Pi, otherwise (or if a pin is busy) as `if_no_pi` says.
    Auto,
    Rppal,
    Simulated,
}

#[derive(Debug, Clone)]
pub struct HardwareConfig {
    pub backend: HwBackend,
    /// When the Pi's GPIO cannot start: simulate (true) or stop the kiosk (false).
    pub simulate_if_no_pi: bool,
    pub buttons: Option<crate::hw::ButtonPins>,
    pub debounce: Duration,
    pub presence_pin: Option<u8>,
    pub led_pin: Option<u8>,
    /// `None`: no backlight control; `Some(None)`: the first under /sys/class/backlight.
    pub backlight: Option<Option<String>>,
    pub behaviour: crate::hw::controller::Behaviour,
}

/// How the touchscreen behaves.
#[derive(Debug, Clone)]
pub struct ScreenConfig {
    /// Response interval, walk-away timeout and how long « Merci » stays.
    pub timing: crate::kiosk::flow::Timing,
    /// Full screen with no cursor (the console backend is always full screen).
    pub fullscreen: bool,
    /// Show the site's 30-day result on the home screen (engagement 6).
    pub show_result: bool,
    /// The PIN of the on-screen administration panel.
    pub admin_pin: Secret,
}

/// The PIN the embedded configuration ships with; `borne config check` warns about it.
pub const DEFAULT_ADMIN_PIN: &str = "1234";

/// Where and how to upload; present only when uploads are enabled.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    pub base_url: String,
    pub token_file: PathBuf,
    pub product_id: u64,
    pub form_id: u64,
    pub button_id: u64,
    pub batch_size: usize,
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_backoff: Duration,
    pub heartbeat_interval: Option<Duration>,
}

/// A secret read from a file: never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl UploadConfig {
    /// Reads the platform token from its file (first line, trimmed).
    pub fn read_token(&self) -> Result<Secret, String> {
        let text = std::fs::read_to_string(&self.token_file)
            .map_err(|e| format!("impossible de lire le fichier du jeton {} : {e}", self.token_file.display()))?;
        let token = text.lines().next().unwrap_or("").trim().to_string();
        if token.is_empty() {
            return Err(format!("le fichier du jeton {} est vide", self.token_file.display()));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "le fichier du jeton {} contient des espaces ou des caractères de contrôle",
                self.token_file.display()
            ));
        }
        Ok(Secret(token))
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
            Some(span) => (key_path_at(text, span.start), Some(line_of(text, span.start))),
            None => (None, None),
        };
        ConfigError { source: source_name.clone(), key, line, message: french_serde_message(e.message()) }
    })?;
    validate(raw, source).map_err(|(path, message)| ConfigError {
        line: line_of_key(text, &path),
        key: Some(path),
        source: source_name,
        message,
    })
}

type Invalid = (String, String);

fn invalid(key: impl Into<String>, message: impl Into<String>) -> Invalid {
    (key.into(), message.into())
}

fn validate(raw: RawConfig, source: ConfigSource) -> Result<Config, Invalid> {
    let device_id = raw.kiosk.device_id.unwrap_or_else(|| "borne-demo-01".into());
    if device_id.is_empty()
        || device_id.len() > 64
        || !device_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(invalid(
            "kiosk.device_id",
            "1 à 64 caractères parmi lettres sans accent, chiffres, « - », « _ » et « . »",
        ));
    }
    let site_name = raw.kiosk.site_name.unwrap_or_else(|| "Accueil du public".into());
    if site_name.trim().is_empty() || site_name.chars().count() > 120 {
        return Err(invalid("kiosk.site_name", "un nom de 1 à 120 caractères"));
    }
    let languages = raw.kiosk.languages.unwrap_or_else(|| SUPPORTED_LANGUAGES.iter().map(|s| s.to_string()).collect());
    for (i, lang) in languages.iter().enumerate() {
        if !SUPPORTED_LANGUAGES.contains(&lang.as_str()) {
            return Err(invalid(
                format!("kiosk.languages[{i}]"),
                format!("langue « {lang} » non prise en charge (possibles : {})", SUPPORTED_LANGUAGES.join(", ")),
            ));
        }
        if languages[..i].contains(lang) {
            return Err(invalid(format!("kiosk.languages[{i}]"), format!("langue « {lang} » en double")));
        }
    }
    if !languages.iter().any(|l| l == "fr") {
        return Err(invalid("kiosk.languages", "le français (« fr ») est obligatoire : c'est la langue par défaut"));
    }
    let response_interval_s = raw.kiosk.response_interval_s.unwrap_or(5);
    if response_interval_s > 600 {
        return Err(invalid("kiosk.response_interval_s", "au plus 600 secondes"));
    }

    let inactivity_timeout_s = raw.kiosk.inactivity_timeout_s.unwrap_or(30);
    if !(10..=600).contains(&inactivity_timeout_s) {
        return Err(invalid("kiosk.inactivity_timeout_s", "entre 10 et 600 secondes"));
    }
    let thanks_duration_s = raw.kiosk.thanks_duration_s.unwrap_or(4);
    if !(1..=30).contains(&thanks_duration_s) {
        return Err(invalid("kiosk.thanks_duration_s", "entre 1 et 30 secondes"));
    }
    let admin_pin = raw.kiosk.admin_pin.unwrap_or_else(|| DEFAULT_ADMIN_PIN.to_string());
    if !(4..=12).contains(&admin_pin.len()) || !admin_pin.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid("kiosk.admin_pin", "de 4 à 12 chiffres"));
    }
    let screen = ScreenConfig {
        timing: crate::kiosk::flow::Timing {
            response_interval: Duration::from_secs(response_interval_s),
            inactivity_timeout: Duration::from_secs(inactivity_timeout_s),
            thanks_duration: Duration::from_secs(thanks_duration_s),
        },
        fullscreen: raw.kiosk.fullscreen.unwrap_or(false),
        show_result: raw.kiosk.show_result.unwrap_or(true),
        admin_pin: Secret(admin_pin),
    };

    let comment_retention_days = raw.storage.comment_retention_days.unwrap_or(30);
    if comment_retention_days == 0 || comment_retention_days > 3650 {
        return Err(invalid("storage.comment_retention_days", "entre 1 et 3650 jours"));
    }
    if let Some(dir) = &raw.storage.data_dir
        && (dir.as_os_str().is_empty() || dir.is_relative())
    {
        return Err(invalid("storage.data_dir", "un chemin absolu"));
    }

    let comment_max_chars = raw.survey.comment_max_chars.unwrap_or(500);
    if comment_max_chars == 0 || comment_max_chars > crate::review::VERBATIM_MAX_CHARS {
        return Err(invalid(
            "survey.comment_max_chars",
            format!("entre 1 et {} caractères (limite de la plateforme)", crate::review::VERBATIM_MAX_CHARS),
        ));
    }
    let min_reviews_for_score = raw.survey.min_reviews_for_score.unwrap_or(100);
    if min_reviews_for_score == 0 {
        return Err(invalid("survey.min_reviews_for_score", "au moins 1"));
    }
    let follow_ups = match raw.survey.follow_up {
        Some(questions) => {
            questions.into_iter().enumerate().map(|(i, q)| validate_question(i, q)).collect::<Result<Vec<_>, _>>()?
        }
        None => default_follow_ups(),
    };
    for (i, q) in follow_ups.iter().enumerate() {
        if follow_ups[..i].iter().any(|other| other.code == q.code) {
            return Err(invalid(format!("survey.follow_up[{i}].code"), format!("question « {} » en double", q.code)));
        }
    }

    let clock_source = match raw.clock.sync_source.as_deref().unwrap_or("kernel") {
        "kernel" => SyncSource::Kernel,
        "assume_synced" => SyncSource::AssumeSynced,
        other => {
            return Err(invalid("clock.sync_source", format!("« {other} » inconnu : « kernel » ou « assume_synced »")));
        }
    };

    let upload = validate_upload(raw.upload)?;
    let dashboard = validate_dashboard(raw.dashboard)?;
    let hardware = validate_hardware(raw.hardware, raw.hours)?;
    let panel = validate_panel(raw.panel, &hardware)?;
    Ok(Config {
        source,
        device_id,
        site_name,
        response_interval: Duration::from_secs(response_interval_s),
        screen,
        data_dir: raw.storage.data_dir,
        comment_retention_days,
        min_reviews_for_score,
        survey: Survey {
            follow_ups,
            comment_enabled: raw.survey.comment.unwrap_or(true),
            comment_max_chars,
            languages,
        },
        clock_source,
        upload,
        dashboard,
        hardware,
        panel,
    })
}

/// A GPIO number of the Pi's header, as rppal and the wiring diagrams count them (BCM).
fn bcm_pin(key: &str, pin: u8) -> Result<u8, Invalid> {
    if pin <= 27 { Ok(pin) } else { Err(invalid(key, "broche BCM de 0 à 27")) }
}

fn validate_hardware(raw: RawHardware, hours: RawHours) -> Result<HardwareConfig, Invalid> {
    use crate::hw::logic::BacklightPolicy;
    use crate::hw::schedule::{Day, OpeningHours, parse_day};
    let backend = match raw.backend.as_deref().unwrap_or("auto") {
        "auto" => HwBackend::Auto,
        "rppal" => HwBackend::Rppal,
        "simulated" => HwBackend::Simulated,
        other => {
            return Err(invalid(
                "hardware.backend",
                format!("« {other} » inconnu : « auto », « rppal » ou « simulated »"),
            ));
        }
    };
    let simulate_if_no_pi = match raw.if_no_pi.as_deref().unwrap_or("simulate") {
        "simulate" => true,
        "stop" => false,
        other => return Err(invalid("hardware.if_no_pi", format!("« {other} » inconnu : « simulate » ou « stop »"))),
    };
    let buttons = match raw.buttons {
        None => None,
        Some(list) if list.is_empty() => None,
        Some(list) => {
            let [a, b, c] = list[..] else {
                return Err(invalid("hardware.buttons", "trois broches : « Pas bien », « Moyen », « Très bien »"));
            };
            for (i, p) in [a, b, c].iter().enumerate() {
                bcm_pin(&format!("hardware.buttons[{i}]"), *p)?;
            }
            if a == b || b == c || a == c {
                return Err(invalid("hardware.buttons", "trois broches différentes"));
            }
            Some(crate::hw::ButtonPins([a, b, c]))
        }
    };
    let presence_pin = raw.presence_pin.map(|p| bcm_pin("hardware.presence_pin", p)).transpose()?;
    let led_pin = raw.led_pin.map(|p| bcm_pin("hardware.led_pin", p)).transpose()?;
    let used: Vec<u8> = buttons.iter().flat_map(|b| b.0).chain(presence_pin).chain(led_pin).collect();
    if (1..used.len()).any(|i| used[..i].contains(&used[i])) {
        return Err(invalid("hardware", "une même broche sert à deux appareils"));
    }
    let debounce_ms = raw.debounce_ms.unwrap_or(30);
    if !(1..=1000).contains(&debounce_ms) {
        return Err(invalid("hardware.debounce_ms", "entre 1 et 1000 ms"));
    }
    let backlight = match raw.backlight.as_deref().unwrap_or("auto") {
        "none" => None,
        "auto" => Some(None),
        name if !name.is_empty() && !name.contains('/') && name != "." && name != ".." => Some(Some(name.to_string())),
        other => {
            return Err(invalid(
                "hardware.backlight",
                format!("« {other} » : « auto », « none » ou un nom de /sys/class/backlight"),
            ));
        }
    };
    let dim_after_min = raw.dim_after_min.unwrap_or(5);
    if !(1..=1440).contains(&dim_after_min) {
        return Err(invalid("hardware.dim_after_min", "entre 1 et 1440 minutes"));
    }
    let dim_percent = raw.dim_percent.unwrap_or(20);
    if dim_percent > 100 {
        return Err(invalid("hardware.dim_percent", "de 0 à 100"));
    }
    let pending_alert_h = raw.pending_alert_h.unwrap_or(24);
    if !(1..=24 * 90).contains(&pending_alert_h) {
        return Err(invalid("hardware.pending_alert_h", "entre 1 et 2160 heures"));
    }
    let off_when_closed = match raw.outside_hours.as_deref().unwrap_or("closed_screen") {
        "closed_screen" => false,
        "screen_off" => true,
        other => {
            return Err(invalid(
                "hardware.outside_hours",
                format!("« {other} » inconnu : « closed_screen » (écran « Fermé ») ou « screen_off »"),
            ));
        }
    };
    let days = [
        ("monday", hours.monday),
        ("tuesday", hours.tuesday),
        ("wednesday", hours.wednesday),
        ("thursday", hours.thursday),
        ("friday", hours.friday),
        ("saturday", hours.saturday),
        ("sunday", hours.sunday),
    ];
    let any_day = days.iter().any(|(_, d)| d.is_some());
    let opening = if any_day {
        let mut week: [Day; 7] = Default::default();
        for (i, (name, text)) in days.into_iter().enumerate() {
            week[i] = parse_day(text.as_deref().unwrap_or("")).map_err(|e| invalid(format!("hours.{name}"), e))?;
        }
        let mut closed_dates = Vec::new();
        for (i, d) in hours.closed_dates.unwrap_or_default().iter().enumerate() {
            let date = chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| {
                invalid(format!("hours.closed_dates[{i}]"), format!("« {d} » : date AAAA-MM-JJ attendue"))
            })?;
            closed_dates.push(date);
        }
        OpeningHours { week, closed_dates }
    } else {
        if hours.closed_dates.is_some_and(|d| !d.is_empty()) {
            return Err(invalid("hours.closed_dates", "des jours fériés demandent aussi les horaires de la semaine"));
        }
        OpeningHours::always()
    };
    Ok(HardwareConfig {
        backend,
        simulate_if_no_pi,
        buttons,
        debounce: Duration::from_millis(debounce_ms),
        presence_pin,
        led_pin,
        backlight,
        behaviour: crate::hw::controller::Behaviour {
            backlight: BacklightPolicy {
                dim_after: Duration::from_secs(dim_after_min * 60),
                dim_percent,
                off_when_closed,
            },
            hours: opening,
            pending_alert: Duration::from_secs(pending_alert_h * 3600),
        },
    })
}

fn validate_panel(raw: RawPanel, hardware: &HardwareConfig) -> Result<Option<crate::hw::panel::PanelConfig>, Invalid> {
    use crate::hw::panel::{PanelConfig, PanelModel, TouchCalibration};
    let model = match raw.model.as_deref().unwrap_or("none") {
        "none" => return Ok(None),
        "ili9341" => PanelModel::Ili9341,
        "ili9486" => PanelModel::Ili9486,
        "st7789" => PanelModel::St7789,
        other => {
            return Err(invalid(
                "panel.model",
                format!("« {other} » inconnu : « none », « ili9341 », « ili9486 » ou « st7789 »"),
            ));
        }
    };
    let spi_bus = raw.spi_bus.unwrap_or(0);
    if spi_bus > 6 {
        return Err(invalid("panel.spi_bus", "de 0 à 6 (/dev/spidevB.C)"));
    }
    let chip_select =
        |key: &str, cs: u8| if cs <= 2 { Ok(cs) } else { Err(invalid(key, "de 0 à 2 (/dev/spidevB.C)")) };
    let spi_chip_select = chip_select("panel.spi_chip_select", raw.spi_chip_select.unwrap_or(0))?;
    let spi_speed_mhz = raw.spi_speed_mhz.unwrap_or(32);
    if !(1..=125).contains(&spi_speed_mhz) {
        return Err(invalid("panel.spi_speed_mhz", "entre 1 et 125 MHz"));
    }
    let dc_pin = bcm_pin("panel.dc_pin", raw.dc_pin.unwrap_or(24))?;
    let reset_pin = raw.reset_pin.map(|p| bcm_pin("panel.reset_pin", p)).transpose()?;
    let backlight_pin = raw.backlight_pin.map(|p| bcm_pin("panel.backlight_pin", p)).transpose()?;
    let rotation = raw.rotation.unwrap_or(90);
    if ![0, 90, 180, 270].contains(&rotation) {
        return Err(invalid("panel.rotation", "0, 90, 180 ou 270 (degrés)"));
    }
    let (width, height) = (raw.width.unwrap_or(320), raw.height.unwrap_or(240));
    let (native_w, native_h) = crate::hw::panel::native_size(width, height, rotation);
    let (max_w, max_h) = model.framebuffer();
    if width == 0 || height == 0 || native_w > max_w || native_h > max_h {
        return Err(invalid(
            "panel.width",
            format!(
                "{width}×{height} tourné de {rotation}° ne tient pas dans la mémoire de l'écran ({max_w}×{max_h} en portrait)"
            ),
        ));
    }
    let touch = match raw.touch.as_deref().unwrap_or("none") {
        "none" => None,
        "xpt2046" => {
            let cs = chip_select("panel.touch_chip_select", raw.touch_chip_select.unwrap_or(1))?;
            if cs == spi_chip_select {
                return Err(invalid("panel.touch_chip_select", "différent de panel.spi_chip_select"));
            }
            let irq = raw.touch_irq_pin.map(|p| bcm_pin("panel.touch_irq_pin", p)).transpose()?;
            let calibration = match raw.touch_calibration.as_deref().unwrap_or(&[200, 200, 3900, 3900]) {
                &[left, top, right, bottom]
                    if left.max(top).max(right).max(bottom) <= 4095 && left != right && top != bottom =>
                {
                    TouchCalibration { left, top, right, bottom, swap_xy: raw.touch_swap_xy.unwrap_or(false) }
                }
                _ => {
                    return Err(invalid(
                        "panel.touch_calibration",
                        "quatre mesures brutes de 0 à 4095 : [gauche, haut, droite, bas], gauche ≠ droite et haut ≠ bas",
                    ));
                }
            };
            Some((cs, irq, calibration))
        }
        other => return Err(invalid("panel.touch", format!("« {other} » inconnu : « none » ou « xpt2046 »"))),
    };
    // One pin, one job: the panel's pins, the SPI bus's own pins and the other devices' pins.
    let mut used: Vec<(u8, &str)> = vec![(dc_pin, "panel.dc_pin")];
    used.extend(reset_pin.map(|p| (p, "panel.reset_pin")));
    used.extend(backlight_pin.map(|p| (p, "panel.backlight_pin")));
    used.extend(touch.as_ref().and_then(|t| t.1).map(|p| (p, "panel.touch_irq_pin")));
    let spi_pins: &[u8] = match spi_bus {
        0 => &[7, 8, 9, 10, 11],
        1 => &[16, 17, 18, 19, 20, 21],
        _ => &[],
    };
    let others: Vec<(u8, &str)> = hardware
        .buttons
        .iter()
        .flat_map(|b| b.0)
        .map(|p| (p, "hardware.buttons"))
        .chain(hardware.presence_pin.map(|p| (p, "hardware.presence_pin")))
        .chain(hardware.led_pin.map(|p| (p, "hardware.led_pin")))
        .collect();
    for (i, (p, key)) in used.iter().enumerate() {
        if let Some((_, other)) = used[..i].iter().chain(&others).find(|(q, _)| q == p) {
            return Err(invalid(*key, format!("la broche {p} sert déjà à {other}")));
        }
        if spi_pins.contains(p) {
            return Err(invalid(*key, format!("la broche {p} appartient au bus SPI {spi_bus}")));
        }
    }
    if let Some((p, key)) = others.iter().find(|(p, _)| spi_pins.contains(p)) {
        return Err(invalid(*key, format!("la broche {p} appartient au bus SPI {spi_bus} de l'écran")));
    }
    Ok(Some(PanelConfig {
        model,
        spi_bus,
        spi_chip_select,
        spi_speed_hz: spi_speed_mhz * 1_000_000,
        dc_pin,
        reset_pin,
        backlight_pin,
        width,
        height,
        rotation,
        mirrored: raw.mirrored.unwrap_or(false),
        invert_colors: raw.invert_colors.unwrap_or(false),
        bgr: raw.bgr.unwrap_or(false),
        touch: touch.map(|(chip_select, irq_pin, calibration)| crate::hw::panel::TouchConfig {
            chip_select,
            irq_pin,
            calibration,
        }),
    }))
}

fn validate_dashboard(raw: RawDashboard) -> Result<crate::dashboard::DashboardConfig, Invalid> {
    let listen = raw.listen.unwrap_or_else(|| "0.0.0.0:8080".into());
    let listen: std::net::SocketAddr = listen.parse().map_err(|_| {
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
    Ok(crate::dashboard::DashboardConfig { listen, tls, session_idle: Duration::from_secs(idle * 60) })
}

fn validate_question(index: usize, raw: RawQuestion) -> Result<Question, Invalid> {
    let at = |field: &str| format!("survey.follow_up[{index}].{field}");
    let code = raw.code;
    if code.is_empty()
        || code.len() > 64
        || !code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(invalid(at("code"), "lettres minuscules sans accent, chiffres et « _ » (64 au plus)"));
    }
    if code == SATISFACTION || code == VERBATIM {
        return Err(invalid(
            at("code"),
            format!("« {code} » est déjà posée par la borne : choisissez une autre question"),
        ));
    }
    let mut show_after = Vec::new();
    for (j, key) in raw.show_after.unwrap_or_default().iter().enumerate() {
        let s = Satisfaction::from_key(key).ok_or_else(|| {
            invalid(
                format!("{}[{j}]", at("show_after")),
                format!("« {key} » inconnu : « pas_bien », « moyen » ou « tres_bien »"),
            )
        })?;
        if !show_after.contains(&s) {
            show_after.push(s);
        }
    }
    if let Some(mut question) = crate::review::jdma_question(&code) {
        // The platform defines these questions: their wording and answers are not ours to change.
        for (field, given) in
            [("label", raw.label.is_some()), ("kind", raw.kind.is_some()), ("items", raw.items.is_some())]
        {
            if given {
                return Err(invalid(
                    at(field),
                    format!("« {code} » est une question de la plateforme : ne précisez que « show_after »"),
                ));
            }
        }
        question.show_after = show_after;
        return Ok(question);
    }
    let label = raw.label.filter(|l| !l.trim().is_empty()).ok_or_else(|| {
        invalid(
            at("label"),
            format!(
                "le texte de la question « {code} » est obligatoire (codes de la plateforme : {})",
                JDMA_CODES.join(", ")
            ),
        )
    })?;
    let kind = match raw.kind.as_deref() {
        Some("radio") => AnswerKind::Radio,
        Some("checkbox") => AnswerKind::Checkbox,
        Some(other) => return Err(invalid(at("kind"), format!("« {other} » inconnu : « radio » ou « checkbox »"))),
        None => return Err(invalid(at("kind"), "obligatoire : « radio » (une réponse) ou « checkbox » (plusieurs)")),
    };
    let raw_items = raw.items.unwrap_or_default();
    if raw_items.is_empty() || raw_items.len() > 12 {
        return Err(invalid(at("items"), "de 1 à 12 réponses possibles"));
    }
    let mut items: Vec<Item> = Vec::with_capacity(raw_items.len());
    for (j, item) in raw_items.into_iter().enumerate() {
        let item_at = |field: &str| format!("survey.follow_up[{index}].items[{j}].{field}");
        if item.id < 0 || items.iter().any(|i| i.id == item.id) {
            return Err(invalid(item_at("id"), format!("identifiant {} négatif ou en double", item.id)));
        }
        if item.text.trim().is_empty() || item.text.chars().count() > 80 {
            return Err(invalid(item_at("text"), "un texte de 1 à 80 caractères"));
        }
        let intention = Intention::parse(&item.intention).ok_or_else(|| {
            invalid(
                item_at("intention"),
                format!("« {} » inconnue : very_good, good, medium, bad, very_bad ou neutral", item.intention),
            )
        })?;
        let exclusive = item.exclusive.unwrap_or(false);
        if exclusive && kind != AnswerKind::Checkbox {
            return Err(invalid(item_at("exclusive"), "n'a de sens que pour une question « checkbox »"));
        }
        items.push(Item { id: item.id, text: item.text, intention, exclusive });
    }
    Ok(Question { code, label, kind, items, show_after })
}

/// After « Pas bien » or « Moyen »: what went wrong.
pub fn default_follow_ups() -> Vec<Question> {
    let items = [
        (1, "L'attente"),
        (2, "L'accueil"),
        (3, "Les informations reçues"),
        (4, "L'orientation"),
        (5, "Les locaux"),
        (6, "Autre chose"),
    ];
    vec![Question {
        code: "kiosk_motif".into(),
        label: "Qu'est-ce qui n'a pas été ?".into(),
        kind: AnswerKind::Checkbox,
        items: items
            .iter()
            .map(|(id, text)| Item { id: *id, text: text.to_string(), intention: Intention::Neutral, exclusive: false })
            .collect(),
        show_after: vec![Satisfaction::Bad, Satisfaction::Medium],
    }]
}

fn validate_upload(raw: RawUpload) -> Result<Option<UploadConfig>, Invalid> {
    if !raw.enabled.unwrap_or(false) {
        return Ok(None);
    }
    let base_url = raw.base_url.ok_or_else(|| invalid("upload.base_url", "obligatoire quand upload.enabled = true"))?;
    let host_and_path = base_url.strip_prefix("https://").or_else(|| base_url.strip_prefix("http://"));
    let url_ok = host_and_path.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        && !base_url.contains(char::is_whitespace);
    if !url_ok {
        return Err(invalid("upload.base_url", format!("« {base_url} » n'est pas une adresse http:// ou https://")));
    }
    let token_file =
        raw.token_file.ok_or_else(|| invalid("upload.token_file", "obligatoire quand upload.enabled = true"))?;
    let id = |key: &str, value: Option<u64>| {
        value.filter(|v| *v > 0).ok_or_else(|| {
            invalid(format!("upload.{key}"), "identifiant de la plateforme obligatoire (entier positif)")
        })
    };
    let product_id = id("product_id", raw.product_id)?;
    let form_id = id("form_id", raw.form_id)?;
    let button_id = id("button_id", raw.button_id)?;
    let batch_size = raw.batch_size.unwrap_or(200);
    if !(1..=500).contains(&batch_size) {
        return Err(invalid("upload.batch_size", "entre 1 et 500 avis (limite du contrat)"));
    }
    let seconds = |key: &str, value: Option<u64>, default: u64, max: u64| {
        let v = value.unwrap_or(default);
        if v == 0 || v > max {
            Err(invalid(format!("upload.{key}"), format!("entre 1 et {max} secondes")))
        } else {
            Ok(Duration::from_secs(v))
        }
    };
    let heartbeat_interval = match raw.heartbeat_interval_s {
        Some(0) => None,
        other => Some(seconds("heartbeat_interval_s", other, 300, 86_400)?),
    };
    Ok(Some(UploadConfig {
        base_url: base_url.trim_end_matches('/').to_string(),
        token_file,
        product_id,
        form_id,
        button_id,
        batch_size,
        ca_file: raw.ca_file,
        connect_timeout: seconds("connect_timeout_s", raw.connect_timeout_s, 10, 300)?,
        request_timeout: seconds("request_timeout_s", raw.request_timeout_s, 30, 600)?,
        max_backoff: seconds("max_backoff_s", raw.max_backoff_s, 1800, 86_400)?,
        heartbeat_interval,
    }))
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

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

/// The dotted path of the deepest key whose key or value covers `offset`.
fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let mut path = Vec::new();
    if find_in_table(doc.as_table(), offset, &mut path) { Some(path.join(".")) } else { None }
}

fn find_in_table(table: &dyn toml_edit::TableLike, offset: usize, path: &mut Vec<String>) -> bool {
    for (key, item) in table.iter() {
        let key_span = table.key(key).and_then(|k| k.span());
        let covers = |span: Option<std::ops::Range<usize>>| span.is_some_and(|s| s.contains(&offset));
        path.push(key.to_string());
        if find_in_item(item, offset, path) {
            return true;
        }
        if covers(key_span) || covers(item.span()) {
            return true;
        }
        path.pop();
    }
    false
}

fn find_in_item(item: &toml_edit::Item, offset: usize, path: &mut Vec<String>) -> bool {
    match item {
        toml_edit::Item::Table(t) => find_in_table(t, offset, path),
        toml_edit::Item::ArrayOfTables(array) => {
            find_indexed(array.iter(), path, |t, path| find_in_table(t, offset, path))
        }
        toml_edit::Item::Value(value) => find_in_value(value, offset, path),
        toml_edit::Item::None => false,
    }
}

fn find_in_value(value: &toml_edit::Value, offset: usize, path: &mut Vec<String>) -> bool {
    match value {
        toml_edit::Value::InlineTable(t) => find_in_table(t, offset, path),
        toml_edit::Value::Array(array) => find_indexed(array.iter(), path, |v, path| {
            find_in_value(v, offset, path) || v.span().is_some_and(|s| s.contains(&offset))
        }),
        _ => false,
    }
}

/// Tries `found` on each element, with `[i]` appended to the last path segment; when none
/// matches, the path is left as it was.
fn find_indexed<T>(
    items: impl Iterator<Item = T>,
    path: &mut Vec<String>,
    mut found: impl FnMut(T, &mut Vec<String>) -> bool,
) -> bool {
    let Some(base) = path.last().cloned() else { return false };
    for (i, item) in items.enumerate() {
        if let Some(last) = path.last_mut() {
            *last = format!("{base}[{i}]");
        }
        if found(item, path) {
            return true;
        }
    }
    if let Some(last) = path.last_mut() {
        *last = base;
    }
    false
}

/// The line where a dotted key path (with `[i]` indexes) is written, or its closest parent.
fn line_of_key(text: &str, path: &str) -> Option<usize> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let mut best: Option<usize> = None;
    let mut table: Option<&dyn toml_edit::TableLike> = Some(doc.as_table());
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let Some((key, found)) = table.and_then(|t| t.get_key_value(name)) else {
            return best;
        };
        if let Some(span) = key.span() {
            best = Some(line_of(text, span.start));
        }
        table = found.as_table_like();
        if let Some(i) = index {
            match found {
                toml_edit::Item::ArrayOfTables(array) => {
                    let Some(t) = array.get(i) else { return best };
                    if let Some(span) = t.span() {
                        best = Some(line_of(text, span.start));
                    }
                    table = Some(t);
                }
                toml_edit::Item::Value(toml_edit::Value::Array(array)) => {
                    let Some(v) = array.get(i) else { return best };
                    if let Some(span) = v.span() {
                        best = Some(line_of(text, span.start));
                    }
                    table = v.as_inline_table().map(|t| t as &dyn toml_edit::TableLike);
                }
                _ => return best,
            }
        }
    }
    best
}

/// serde's messages, in French where they are the common ones.
fn french_serde_message(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = expected.trim_start_matches(", expected ").replace("one of ", "").replace('`', "");
        return format!("clé « {field} » inconnue (clés possibles : {expected})");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        return format!("type incorrect : {rest}");
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        return format!("clé « {} » obligatoire", rest.trim_end_matches('`'));
    }
    format!("syntaxe TOML invalide : {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Config, ConfigError> {
        parse(text, ConfigSource::File("test.toml".into()))
    }

    #[test]
    fn an_spi_panel_is_checked_against_its_controller_and_the_other_pins() {
        assert_eq!(Config::embedded().panel, None, "no SPI panel unless asked");
        let panel = |extra: &str| parse_text(&format!("[hardware]\nbuttons = [5, 6, 13]\n[panel]\n{extra}"));
        let cfg = panel("model = \"ili9341\"\ntouch = \"xpt2046\"\ntouch_irq_pin = 17\n").unwrap();
        let p = cfg.panel.expect("a panel");
        assert_eq!(
            (p.model, p.width, p.height, p.rotation, p.dc_pin),
            (crate::hw::panel::PanelModel::Ili9341, 320, 240, 90, 24)
        );
        let touch = p.touch.expect("touch");
        assert_eq!((touch.chip_select, touch.irq_pin), (1, Some(17)));
        assert_eq!(p.spi_speed_hz, 32_000_000);
        // A 480×320 picture fits an ILI9486, not an ILI9341.
        assert!(panel("model = \"ili9486\"\nwidth = 480\nheight = 320\n").is_ok());
        let cases = [
            ("model = \"ssd1306\"\n", "panel.model"),
            ("model = \"ili9341\"\nwidth = 480\nheight = 320\n", "panel.width"),
            ("model = \"st7789\"\nrotation = 45\n", "panel.rotation"),
            ("model = \"st7789\"\ndc_pin = 13\n", "panel.dc_pin"),
            ("model = \"st7789\"\nreset_pin = 10\n", "panel.reset_pin"),
            ("model = \"st7789\"\nreset_pin = 24\n", "panel.reset_pin"),
            ("model = \"st7789\"\ntouch = \"xpt2046\"\ntouch_chip_select = 0\n", "panel.touch_chip_select"),
            ("model = \"st7789\"\ntouch = \"xpt2046\"\ntouch_calibration = [1, 2, 3]\n", "panel.touch_calibration"),
            (
                "model = \"st7789\"\ntouch = \"xpt2046\"\ntouch_calibration = [100, 100, 100, 3000]\n",
                "panel.touch_calibration",
            ),
            ("model = \"st7789\"\nspi_speed_mhz = 0\n", "panel.spi_speed_mhz"),
            ("model = \"st7789\"\ntouch = \"ft6236\"\n", "panel.touch"),
        ];
        for (text, key) in cases {
            let err = panel(text).expect_err(text);
            assert_eq!(err.key.as_deref(), Some(key), "{text}: {err}");
            assert!(!err.message.is_empty());
        }
        // A button on the panel's SPI bus is refused too.
        let err = parse_text("[hardware]\nbuttons = [5, 6, 9]\n[panel]\nmodel = \"st7789\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("hardware.buttons"), "{err}");
    }

    #[test]
    fn embedded_default_is_valid_and_matches_built_in_defaults() {
        let config = Config::embedded();
        assert_eq!(config.device_id, "borne-demo-01");
        assert_eq!(config.survey.comment_max_chars, 500);
        assert_eq!(config.min_reviews_for_score, 100);
        assert_eq!(config.comment_retention_days, 30);
        assert_eq!(config.survey.follow_ups, default_follow_ups());
        assert!(config.upload.is_none());
        // An empty file means the same as the embedded text.
        let empty = parse_text("").unwrap();
        assert_eq!(empty.survey.follow_ups, config.survey.follow_ups);
        assert_eq!(empty.survey.languages, config.survey.languages);
    }

    #[test]
    fn commented_example_names_every_key() {
        // Uncomment every "# key = value" line: the result must still parse (so each is a real
        // key) and must mention every key of the schema.
        let uncommented: String = DEFAULT_CONFIG
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.split_once(" = ").is_some_and(|(k, _)| !k.contains(' ')) => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let raw: RawConfig = toml::from_str(&uncommented).expect("uncommented example parses");
        let printed = toml::to_string(&raw).unwrap();
        let full = toml::to_string(&full_raw()).unwrap();
        let keys = |text: &str| -> std::collections::BTreeSet<String> {
            text.lines().filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_string())).collect()
        };
        let missing: Vec<_> = keys(&full).difference(&keys(&printed)).cloned().collect();
        assert!(missing.is_empty(), "keys missing from the example: {missing:?}");
    }

    fn full_raw() -> RawConfig {
        RawConfig {
            kiosk: RawKiosk {
                device_id: Some("a".into()),
                site_name: Some("a".into()),
                languages: Some(vec!["fr".into()]),
                response_interval_s: Some(1),
                inactivity_timeout_s: Some(1),
                thanks_duration_s: Some(1),
                fullscreen: Some(true),
                show_result: Some(true),
                admin_pin: Some("1".into()),
            },
            storage: RawStorage { data_dir: Some("/a".into()), comment_retention_days: Some(1) },
            survey: RawSurvey {
                comment: Some(true),
                comment_max_chars: Some(1),
                min_reviews_for_score: Some(1),
                follow_up: Some(vec![RawQuestion {
                    code: "a".into(),
                    label: Some("a".into()),
                    kind: Some("radio".into()),
                    show_after: Some(vec!["moyen".into()]),
                    items: Some(vec![RawItem {
                        id: 1,
                        text: "a".into(),
                        intention: "good".into(),
                        exclusive: Some(false),
                    }]),
                }]),
            },
            clock: RawClock { sync_source: Some("kernel".into()) },
            upload: RawUpload {
                enabled: Some(true),
                base_url: Some("http://a".into()),
                token_file: Some("/a".into()),
                product_id: Some(1),
                form_id: Some(1),
                button_id: Some(1),
                batch_size: Some(1),
                ca_file: Some("/a".into()),
                connect_timeout_s: Some(1),
                request_timeout_s: Some(1),
                max_backoff_s: Some(1),
                heartbeat_interval_s: Some(1),
            },
            dashboard: RawDashboard {
                listen: Some("a".into()),
                tls_cert_file: Some("/a".into()),
                tls_key_file: Some("/a".into()),
                session_idle_min: Some(1),
            },
            hardware: RawHardware {
                backend: Some("a".into()),
                if_no_pi: Some("a".into()),
                buttons: Some(vec![1]),
                debounce_ms: Some(1),
                presence_pin: Some(1),
                led_pin: Some(1),
                backlight: Some("a".into()),
                dim_after_min: Some(1),
                dim_percent: Some(1),
                pending_alert_h: Some(1),
                outside_hours: Some("a".into()),
            },
            hours: RawHours {
                monday: Some("a".into()),
                tuesday: Some("a".into()),
                wednesday: Some("a".into()),
                thursday: Some("a".into()),
                friday: Some("a".into()),
                saturday: Some("a".into()),
                sunday: Some("a".into()),
                closed_dates: Some(vec!["a".into()]),
            },
            panel: RawPanel {
                model: Some("a".into()),
                spi_bus: Some(1),
                spi_chip_select: Some(1),
                spi_speed_mhz: Some(1),
                dc_pin: Some(1),
                reset_pin: Some(1),
                backlight_pin: Some(1),
                width: Some(1),
                height: Some(1),
                rotation: Some(1),
                mirrored: Some(true),
                invert_colors: Some(true),
                bgr: Some(true),
                touch: Some("a".into()),
                touch_chip_select: Some(1),
                touch_irq_pin: Some(1),
                touch_calibration: Some(vec![1]),
                touch_swap_xy: Some(true),
            },
        }
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = parse_text("[kiosk]\ndevice_id = \"x\"\ncolour = \"red\"\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("kiosk.colour"));
        assert!(err.message.contains("colour"), "{err}");
        let shown = err.to_string();
        assert!(shown.contains("ligne 3") && shown.contains("kiosk.colour"), "{shown}");

        let err = parse_text("[survey]\n\n[[survey.follow_up]]\ncode = \"x\"\nfoo = 1\n").unwrap_err();
        assert_eq!(err.line, Some(5));
        assert_eq!(err.key.as_deref(), Some("survey.follow_up[0].foo"));

        let err = parse_text("[nope]\n").unwrap_err();
        assert_eq!(err.line, Some(1));
    }

    #[test]
    fn wrong_type_and_bad_values_name_key_and_line() {
        let err = parse_text("[kiosk]\nresponse_interval_s = \"five\"\n").unwrap_err();
        assert_eq!((err.line, err.key.as_deref()), (Some(2), Some("kiosk.response_interval_s")));

        let err = parse_text("[upload]\nenabled = true\nbase_url = \"ftp://x\"\n").unwrap_err();
        assert_eq!((err.line, err.key.as_deref()), (Some(3), Some("upload.base_url")));

        let err = parse_text("[kiosk]\nlanguages = [\"fr\",\n  \"xx\"]\n").unwrap_err();
        assert_eq!((err.line, err.key.as_deref()), (Some(3), Some("kiosk.languages[1]")));

        let text = "[[survey.follow_up]]\ncode = \"a\"\nlabel = \"Q\"\nkind = \"radio\"\nitems = [\n { id = 1, text = \"x\", intention = \"good\" },\n { id = 2, text = \"y\", intention = \"great\" },\n]\n";
        let err = parse_text(text).unwrap_err();
        assert_eq!((err.line, err.key.as_deref()), (Some(7), Some("survey.follow_up[0].items[1].intention")));

        let err = parse_text("[storage]\ncomment_retention_days = 0\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        let err = parse_text("[kiosk\n").unwrap_err();
        assert_eq!(err.line, Some(1));
        assert!(err.message.contains("TOML"));
    }

    #[test]
    fn follow_ups_can_be_none_jdma_or_custom() {
        let none = parse_text("[survey]\nfollow_up = []\n").unwrap();
        assert!(none.survey.follow_ups.is_empty());
        let jdma =
            parse_text("[[survey.follow_up]]\ncode = \"comprehension\"\nshow_after = [\"tres_bien\"]\n").unwrap();
        assert_eq!(jdma.survey.follow_ups[0].items.len(), 5);
        assert_eq!(jdma.survey.follow_ups[0].show_after, vec![Satisfaction::Good]);
        let err = parse_text("[[survey.follow_up]]\ncode = \"comprehension\"\nlabel = \"x\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("survey.follow_up[0].label"));
        let err = parse_text("[[survey.follow_up]]\ncode = \"satisfaction\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("survey.follow_up[0].code"));
    }

    #[test]
    fn upload_section_and_secret() {
        let dir = std::env::temp_dir().join(format!("borne-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token = dir.join("token");
        std::fs::write(&token, "abc123\n").unwrap();
        let text = format!(
            "[upload]\nenabled = true\nbase_url = \"http://127.0.0.1:1/\"\ntoken_file = \"{}\"\nproduct_id = 1\nform_id = 2\nbutton_id = 3\n",
            token.display()
        );
        let config = parse_text(&text).unwrap();
        let upload = config.upload.unwrap();
        assert_eq!(upload.base_url, "http://127.0.0.1:1");
        let secret = upload.read_token().unwrap();
        assert_eq!(secret.expose(), "abc123");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        let err = parse_text("[upload]\nenabled = true\nbase_url = \"http://x\"\ntoken_file = \"/t\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("upload.product_id"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
