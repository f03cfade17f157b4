//! The kiosk as a device: three physical buttons, a presence sensor, a status LED, the
//! backlight and opening hours. One trait per device, each with an rppal (or sysfs) backend for
//! the Raspberry Pi and a simulated one that runs anywhere and that the tests drive.
//!
//! Devices only report edges and take levels; what they mean (debouncing, blinking, dimming) is
//! in `logic`, pure and tested with made-up instants, and opening hours are `crate::hours`.
//! What drives the kiosk from them (`run::controller`) sits above both this module and the UI.

pub mod logic;
pub mod panel;
pub mod parts;
pub mod pi;
pub mod sim;
pub mod spi;
pub mod xpt2046;

pub use parts::*;

use crate::config::AccessibilityConfig;

/// Opens the devices the configuration names, on the Pi's GPIO or simulated. When the Pi's GPIO
/// cannot start (not a Pi, a pin busy), says so and falls back to simulated devices, or fails,
/// as `hardware.if_no_pi` says. The simulated board is returned for whoever wants to drive it.
pub fn open_devices(
    cfg: &crate::config::HardwareConfig,
    access: &AccessibilityConfig,
) -> Result<(Devices, Option<std::sync::Arc<sim::Board>>), HwError> {
    use crate::config::HwBackend;
    let backlight = |cfg: &crate::config::HardwareConfig| -> Option<Box<dyn Backlight>> {
        let name = cfg.backlight.as_ref()?;
        match pi::SysfsBacklight::open(std::path::Path::new("/sys/class/backlight"), name.as_deref()) {
            Ok(b) => Some(Box::new(b)),
            Err(e) => {
                tracing::warn!("no backlight control: {e}");
                None
            }
        }
    };
    let keys = keys(cfg.buttons, access);
    let wants_gpio =
        !keys.is_empty() || cfg.presence_pin.is_some() || cfg.led_pin.is_some() || access.headset_pin.is_some();
    if cfg.backend != HwBackend::Simulated && wants_gpio {
        match open_pi(cfg, &keys, access.headset_pin) {
            Ok(mut devices) => {
                devices.backlight = backlight(cfg);
                return Ok((devices, None));
            }
            Err(e) => go_on_without(e, cfg, "avec des appareils simulés")?,
        }
    }
    let board = sim::Board::new();
    let devices = Devices {
        buttons: (!keys.is_empty()).then(|| {
            Box::new(sim::SimButtons { board: board.clone(), keys: keys.clone(), debounce: cfg.debounce })
                as Box<dyn Buttons>
        }),
        headset: access
            .headset_pin
            .map(|pin| Box::new(sim::SimSwitch { board: board.clone(), pin }) as Box<dyn Switch>),
        presence: cfg
            .presence_pin
            .map(|pin| Box::new(sim::SimPresence { board: board.clone(), pin }) as Box<dyn Presence>),
        led: cfg.led_pin.map(|_| Box::new(sim::SimLed(board.clone())) as Box<dyn StatusLed>),
        backlight: backlight(cfg),
    };
    Ok((devices, Some(board)))
}

fn open_pi(cfg: &crate::config::HardwareConfig, keys: &[(u8, Key)], headset: Option<u8>) -> Result<Devices, HwError> {
    let gpio = pi::gpio()?;
    Ok(Devices {
        buttons: (!keys.is_empty())
            .then(|| Box::new(pi::PiButtons::new(gpio.clone(), keys.to_vec(), cfg.debounce)) as Box<dyn Buttons>),
        headset: headset.map(|pin| Box::new(pi::PiSwitch::new(gpio.clone(), pin)) as Box<dyn Switch>),
        presence: cfg.presence_pin.map(|pin| Box::new(pi::PiPresence::new(gpio.clone(), pin)) as Box<dyn Presence>),
        led: match cfg.led_pin {
            Some(pin) => Some(Box::new(pi::PiLed::new(&gpio, pin)?) as Box<dyn StatusLed>),
            None => None,
        },
        backlight: None,
    })
}

/// What the kiosk keeps while it runs on an SPI panel: the panel's backlight (for the
/// controller) and the pen interrupt's pin (closing it would stop the interrupts).
pub struct PanelHold {
    pub backlight: Option<Box<dyn Backlight>>,
    _irq: Option<rppal::gpio::InputPin>,
}

/// Opens the configured SPI panel and makes it this thread's Slint platform, before any window
/// exists. When it cannot open (not a Pi, SPI disabled, a pin busy), says so and goes on with
/// the usual screen, or fails, as `hardware.if_no_pi` says; with simulated devices, the usual
/// screen is used.
pub fn start_panel(cfg: &panel::PanelConfig, hw: &crate::config::HardwareConfig) -> Result<Option<PanelHold>, HwError> {
    if hw.backend == crate::config::HwBackend::Simulated {
        tracing::warn!("hardware.backend = simulated: the SPI panel is not used");
        return Ok(None);
    }
    let (waker, events) = panel::channel();
    match pi::open_panel(cfg, waker.clone()) {
        Ok(opened) => {
            panel::install(opened.panel, waker, events)
                .map_err(|e| HwError::Spi { device: cfg.spidev(cfg.spi_chip_select), detail: e.to_string() })?;
            tracing::info!(model = ?cfg.model, width = cfg.width, height = cfg.height, "drawing on the SPI panel");
            Ok(Some(PanelHold {
                backlight: opened.backlight.map(|b| Box::new(b) as Box<dyn Backlight>),
                _irq: opened.irq,
            }))
        }
        Err(e) => go_on_without(e, hw, "sur l'écran habituel").map(|()| None),
    }
}

/// A device could not start: with `if_no_pi = "simulate"`, says so (journal and console) and
/// lets the kiosk go on as `how` says; otherwise the error stops it.
fn go_on_without(e: HwError, hw: &crate::config::HardwareConfig, how: &str) -> Result<(), HwError> {
    if !hw.simulate_if_no_pi {
        return Err(e);
    }
    tracing::warn!("{e} : la borne continue {how}");
    eprintln!("attention : {e} ; la borne continue {how} (hardware.if_no_pi)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> crate::config::Config {
        crate::config::parse(text, crate::config::ConfigSource::Embedded).unwrap()
    }

    /// This machine is not a Raspberry Pi: the devices and the SPI panel fall back to
    /// simulation (or the usual screen), or stop, as `hardware.if_no_pi` says.
    #[test]
    fn without_a_pi_devices_fall_back_or_stop_as_configured() {
        // On a Pi, this thread does as if there were none (nothing is skipped there).
        if std::path::Path::new("/dev/gpiomem").exists() {
            pi::pretend_no_gpio();
        }
        let devices = "[hardware]\nbuttons = [5, 6, 13]\npresence_pin = 17\nled_pin = 27\nbacklight = \"none\"\n";
        let cfg = config(devices);
        let (opened, board) = open_devices(&cfg.hardware, &cfg.accessibility).expect("falls back to simulated devices");
        assert!(board.is_some(), "a simulated board to drive");
        assert!(opened.buttons.is_some() && opened.presence.is_some() && opened.led.is_some());
        let cfg = config(&format!("{devices}if_no_pi = \"stop\"\n"));
        assert!(matches!(open_devices(&cfg.hardware, &cfg.accessibility), Err(HwError::NoPi(_))), "stops when told to");

        let panel = "[panel]\nmodel = \"ili9341\"\ntouch = \"xpt2046\"\ntouch_irq_pin = 22\n";
        let cfg = config(panel);
        let hold = start_panel(cfg.panel.as_ref().unwrap(), &cfg.hardware).expect("goes on with the usual screen");
        assert!(hold.is_none(), "no panel installed");
        let cfg = config(&format!("[hardware]\nif_no_pi = \"stop\"\n{panel}"));
        match start_panel(cfg.panel.as_ref().unwrap(), &cfg.hardware) {
            Err(e @ HwError::NoPi(_)) => assert!(e.to_string().contains("Raspberry Pi"), "{e}"),
            Err(e) => panic!("expected no Pi, got {e}"),
            Ok(_) => panic!("expected no Pi, got a panel"),
        }
    }
}
