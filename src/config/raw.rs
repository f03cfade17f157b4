//! The configuration as written: serde shapes with every key optional and unknown keys
//! refused. Validation turns them into the typed sections.

pub use borne_model::survey_file::{RawItem, RawQuestion, RawSurvey};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    #[serde(default)]
    pub accessibility: RawAccessibility,
    #[serde(default)]
    pub update: RawUpdate,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpdate {
    pub enabled: Option<bool>,
    pub url: Option<String>,
    pub platform: Option<bool>,
    pub window: Option<String>,
    pub confirm_timeout_s: Option<u64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccessibility {
    pub speech: Option<bool>,
    pub audio_device: Option<String>,
    pub volume: Option<u8>,
    pub volume_step: Option<u8>,
    pub speed: Option<u16>,
    pub speak_pin: Option<u8>,
    pub volume_up_pin: Option<u8>,
    pub volume_down_pin: Option<u8>,
    pub headset_pin: Option<u8>,
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
pub struct RawClock {
    pub sync_source: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpload {
    pub enabled: Option<bool>,
    pub base_url: Option<String>,
    pub allow_insecure_http: Option<bool>,
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
    pub survey_poll_s: Option<u64>,
}
