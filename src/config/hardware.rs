//! `[hardware]` and `[hours]`: the GPIO devices (buttons, presence sensor, LED, backlight), how
//! they behave, and the opening hours.

use super::check::{Invalid, bcm_pin, invalid, repeats};
use super::raw::{RawHardware, RawHours};
use crate::hours::{Day, OpeningHours, parse_day};
use std::time::Duration;

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
    pub buttons: Option<ButtonPins>,
    pub debounce: Duration,
    pub presence_pin: Option<u8>,
    pub led_pin: Option<u8>,
    /// `None`: no backlight control; `Some(None)`: the first under /sys/class/backlight.
    pub backlight: Option<Option<String>>,
    pub behaviour: Behaviour,
}

impl HardwareConfig {
    /// The pins these devices take, each with the key that gives it.
    pub fn pins(&self) -> Vec<(u8, &'static str)> {
        labelled_pins(self.buttons, self.presence_pin, self.led_pin)
    }
}

fn labelled_pins(buttons: Option<ButtonPins>, presence: Option<u8>, led: Option<u8>) -> Vec<(u8, &'static str)> {
    let mut pins: Vec<(u8, &'static str)> = buttons.iter().flat_map(|b| b.0).map(|p| (p, "hardware.buttons")).collect();
    pins.extend(presence.map(|p| (p, "hardware.presence_pin")));
    pins.extend(led.map(|p| (p, "hardware.led_pin")));
    pins
}

/// Pin numbers (BCM) of the buttons, in the order « Pas bien », « Moyen », « Très bien ».
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ButtonPins(pub [u8; 3]);

/// How the devices behave around the kiosk: backlight, opening hours, upload alarm.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub backlight: BacklightPolicy,
    pub hours: OpeningHours,
    /// Uploads pending longer than this make the LED blink slowly; `None` when uploads are
    /// off (reviews then wait by design, and no alarm is due).
    pub pending_alert: Option<Duration>,
}

/// Brightness of the backlight, in percent of its maximum (the levels: `hw::logic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklightPolicy {
    pub dim_after: Duration,
    pub dim_percent: u8,
    /// Outside opening hours: off (true) or the « Fermé » screen at the dim level (false).
    pub off_when_closed: bool,
}

pub(super) fn validate_hardware(raw: RawHardware, hours: RawHours) -> Result<HardwareConfig, Invalid> {
    let backend = validate_backend(raw.backend.as_deref())?;
    let simulate_if_no_pi = validate_if_no_pi(raw.if_no_pi.as_deref())?;
    let buttons = validate_buttons(raw.buttons.clone())?;
    let presence_pin = raw.presence_pin.map(|p| bcm_pin("hardware.presence_pin", p)).transpose()?;
    let led_pin = raw.led_pin.map(|p| bcm_pin("hardware.led_pin", p)).transpose()?;
    if repeats(labelled_pins(buttons, presence_pin, led_pin).into_iter().map(|(p, _)| p)) {
        return Err(invalid("hardware", "une même broche sert à deux appareils"));
    }
    let debounce_ms = raw.debounce_ms.unwrap_or(30);
    if !(1..=1000).contains(&debounce_ms) {
        return Err(invalid("hardware.debounce_ms", "entre 1 et 1000 ms"));
    }
    let backlight = validate_backlight_device(raw.backlight.as_deref())?;
    let behaviour = Behaviour {
        backlight: validate_backlight_policy(&raw)?,
        pending_alert: Some(validate_pending_alert(raw.pending_alert_h)?),
        hours: validate_hours(hours)?,
    };
    Ok(HardwareConfig {
        backend,
        simulate_if_no_pi,
        buttons,
        debounce: Duration::from_millis(debounce_ms),
        presence_pin,
        led_pin,
        backlight,
        behaviour,
    })
}

fn validate_backend(backend: Option<&str>) -> Result<HwBackend, Invalid> {
    match backend.unwrap_or("auto") {
        "auto" => Ok(HwBackend::Auto),
        "rppal" => Ok(HwBackend::Rppal),
        "simulated" => Ok(HwBackend::Simulated),
        other => {
            Err(invalid("hardware.backend", format!("« {other} » inconnu : « auto », « rppal » ou « simulated »")))
        }
    }
}

fn validate_if_no_pi(if_no_pi: Option<&str>) -> Result<bool, Invalid> {
    match if_no_pi.unwrap_or("simulate") {
        "simulate" => Ok(true),
        "stop" => Ok(false),
        other => Err(invalid("hardware.if_no_pi", format!("« {other} » inconnu : « simulate » ou « stop »"))),
    }
}

fn validate_buttons(buttons: Option<Vec<u8>>) -> Result<Option<ButtonPins>, Invalid> {
    let Some(list) = buttons.filter(|list| !list.is_empty()) else { return Ok(None) };
    let [a, b, c] = list[..] else {
        return Err(invalid("hardware.buttons", "trois broches : « Pas bien », « Moyen », « Très bien »"));
    };
    for (i, p) in [a, b, c].iter().enumerate() {
        bcm_pin(&format!("hardware.buttons[{i}]"), *p)?;
    }
    if a == b || b == c || a == c {
        return Err(invalid("hardware.buttons", "trois broches différentes"));
    }
    Ok(Some(ButtonPins([a, b, c])))
}

fn validate_backlight_device(backlight: Option<&str>) -> Result<Option<Option<String>>, Invalid> {
    match backlight.unwrap_or("auto") {
        "none" => Ok(None),
        "auto" => Ok(Some(None)),
        name if !name.is_empty() && !name.contains('/') && name != "." && name != ".." => {
            Ok(Some(Some(name.to_string())))
        }
        other => Err(invalid(
            "hardware.backlight",
            format!("« {other} » : « auto », « none » ou un nom de /sys/class/backlight"),
        )),
    }
}

fn validate_backlight_policy(raw: &RawHardware) -> Result<BacklightPolicy, Invalid> {
    let dim_after_min = raw.dim_after_min.unwrap_or(5);
    if !(1..=1440).contains(&dim_after_min) {
        return Err(invalid("hardware.dim_after_min", "entre 1 et 1440 minutes"));
    }
    let dim_percent = raw.dim_percent.unwrap_or(20);
    if dim_percent > 100 {
        return Err(invalid("hardware.dim_percent", "de 0 à 100"));
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
    Ok(BacklightPolicy { dim_after: Duration::from_secs(dim_after_min * 60), dim_percent, off_when_closed })
}

fn validate_pending_alert(hours: Option<u64>) -> Result<Duration, Invalid> {
    let pending_alert_h = hours.unwrap_or(24);
    if !(1..=24 * 90).contains(&pending_alert_h) {
        return Err(invalid("hardware.pending_alert_h", "entre 1 et 2160 heures"));
    }
    Ok(Duration::from_secs(pending_alert_h * 3600))
}

/// `[hours]`: no weekday given means always open (and then no closed dates).
fn validate_hours(hours: RawHours) -> Result<OpeningHours, Invalid> {
    let days = [
        ("monday", hours.monday),
        ("tuesday", hours.tuesday),
        ("wednesday", hours.wednesday),
        ("thursday", hours.thursday),
        ("friday", hours.friday),
        ("saturday", hours.saturday),
        ("sunday", hours.sunday),
    ];
    if !days.iter().any(|(_, d)| d.is_some()) {
        if hours.closed_dates.is_some_and(|d| !d.is_empty()) {
            return Err(invalid("hours.closed_dates", "des jours fériés demandent aussi les horaires de la semaine"));
        }
        return Ok(OpeningHours::always());
    }
    let mut week: [Day; 7] = Default::default();
    for (i, (name, text)) in days.into_iter().enumerate() {
        week[i] = parse_day(text.as_deref().unwrap_or("")).map_err(|e| invalid(format!("hours.{name}"), e))?;
    }
    let mut closed_dates = Vec::new();
    for (i, d) in hours.closed_dates.unwrap_or_default().iter().enumerate() {
        let date = chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .map_err(|_| invalid(format!("hours.closed_dates[{i}]"), format!("« {d} » : date AAAA-MM-JJ attendue")))?;
        closed_dates.push(date);
    }
    Ok(OpeningHours { week, closed_dates })
}
