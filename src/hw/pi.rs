//! The Raspberry Pi's devices: GPIO through rppal (interrupts on their own thread, no polling
//! loop) and the backlight through `/sys/class/backlight`.

use super::logic::Debouncer;
use super::parts::{
    Backlight, Buttons, HwError, Key, OnPresence, OnPress, OnSwitch, Presence, StatusLed, Switch, key_of,
};
use rppal::gpio::{Event, Gpio, InputPin, OutputPin, Trigger};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

thread_local! {
    static NO_GPIO: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// From now on, this thread acts as if the machine had no GPIO: on a Pi, a test checks what a
/// machine without one does (the same for a whole process: `BORNE_NO_GPIO=1`).
pub fn pretend_no_gpio() {
    NO_GPIO.with(|flag| flag.set(true));
}

/// Opens the GPIO controller; fails clearly on a machine that is not a Pi.
pub fn gpio() -> Result<Gpio, HwError> {
    if NO_GPIO.with(std::cell::Cell::get) || std::env::var_os("BORNE_NO_GPIO").is_some() {
        return Err(HwError::NoPi("BORNE_NO_GPIO : la borne fait comme s'il n'y avait pas de GPIO".into()));
    }
    Gpio::new().map_err(|e| HwError::NoPi(e.to_string()))
}

/// How a GPIO error on `pin` is reported: the pin is taken, or cannot do what was asked.
fn busy(pin: u8) -> impl FnOnce(rppal::gpio::Error) -> HwError {
    move |e| HwError::PinBusy { pin, detail: e.to_string() }
}

fn input(gpio: &Gpio, pin: u8) -> Result<InputPin, HwError> {
    Ok(gpio.get(pin).map_err(busy(pin))?.into_input_pullup())
}

/// Buttons wired between the pin and ground (internal pull-up: pressed is low).
pub struct PiButtons {
    gpio: Gpio,
    keys: Vec<(u8, Key)>,
    debounce: Duration,
    held: Vec<InputPin>,
}

impl PiButtons {
    pub fn new(gpio: Gpio, keys: Vec<(u8, Key)>, debounce: Duration) -> PiButtons {
        PiButtons { gpio, keys, debounce, held: Vec::new() }
    }
}

impl Buttons for PiButtons {
    fn start(&mut self, on_press: OnPress) -> Result<(), HwError> {
        let on_press = Arc::new(on_press);
        for &(pin, _) in &self.keys {
            let mut input = input(&self.gpio, pin)?;
            let mut debouncer = Debouncer::new(self.debounce);
            let (keys, on_press) = (self.keys.clone(), on_press.clone());
            input
                .set_async_interrupt(Trigger::Both, None, move |event: Event| {
                    let pressed = event.trigger == Trigger::FallingEdge;
                    if debouncer.edge(pressed, Instant::now())
                        && let Some(key) = key_of(&keys, pin)
                    {
                        on_press(key);
                    }
                })
                .map_err(busy(pin))?;
            self.held.push(input);
        }
        Ok(())
    }
}

/// A PIR sensor whose output goes high on presence.
pub struct PiPresence {
    gpio: Gpio,
    pin: u8,
    held: Option<InputPin>,
}

impl PiPresence {
    pub fn new(gpio: Gpio, pin: u8) -> PiPresence {
        PiPresence { gpio, pin, held: None }
    }
}

impl Presence for PiPresence {
    fn start(&mut self, on_presence: OnPresence) -> Result<(), HwError> {
        let pin = self.pin;
        let mut input = self.gpio.get(pin).map_err(busy(pin))?.into_input();
        input.set_async_interrupt(Trigger::RisingEdge, None, move |_| on_presence()).map_err(busy(pin))?;
        self.held = Some(input);
        Ok(())
    }
}

/// The headset socket's detection switch, between the pin and ground (internal pull-up):
/// low while a plug is in. Both edges, after 50 ms of settling (a plug bounces as it goes in).
pub struct PiSwitch {
    gpio: Gpio,
    pin: u8,
    held: Option<InputPin>,
}

impl PiSwitch {
    pub fn new(gpio: Gpio, pin: u8) -> PiSwitch {
        PiSwitch { gpio, pin, held: None }
    }
}

impl Switch for PiSwitch {
    fn start(&mut self, on_change: OnSwitch) -> Result<(), HwError> {
        let pin = self.pin;
        let mut input = input(&self.gpio, pin)?;
        input
            .set_async_interrupt(Trigger::Both, Some(Duration::from_millis(50)), move |event: Event| {
                on_change(event.trigger == Trigger::FallingEdge)
            })
            .map_err(busy(pin))?;
        self.held = Some(input);
        Ok(())
    }
}

pub struct PiLed(OutputPin);

impl PiLed {
    pub fn new(gpio: &Gpio, pin: u8) -> Result<PiLed, HwError> {
        Ok(PiLed(gpio.get(pin).map_err(busy(pin))?.into_output_low()))
    }
}

impl StatusLed for PiLed {
    fn set(&mut self, lit: bool) {
        if lit { self.0.set_high() } else { self.0.set_low() }
    }
}

/// A backlight of `/sys/class/backlight/<name>`: `brightness` out of `max_brightness`.
pub struct SysfsBacklight {
    dir: PathBuf,
    max: u32,
}

impl SysfsBacklight {
    /// The named device directory, or with `None` the first one under `root`.
    pub fn open(root: &Path, name: Option<&str>) -> Result<SysfsBacklight, HwError> {
        let err = |detail: String| HwError::Backlight { path: root.display().to_string(), detail };
        let dir = match name {
            Some(name) => root.join(name),
            None => {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(root)
                    .map_err(|e| err(e.to_string()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .collect();
                entries.sort();
                entries.into_iter().next().ok_or_else(|| err("aucun rétroéclairage".into()))?
            }
        };
        let max = std::fs::read_to_string(dir.join("max_brightness"))
            .map_err(|e| err(format!("{}/max_brightness : {e}", dir.display())))?
            .trim()
            .parse::<u32>()
            .map_err(|e| err(format!("max_brightness illisible : {e}")))?;
        Ok(SysfsBacklight { dir, max })
    }
}

impl Backlight for SysfsBacklight {
    fn set_percent(&mut self, percent: u8) -> Result<(), HwError> {
        let value = (u64::from(self.max) * u64::from(percent.min(100)) / 100) as u32;
        std::fs::write(self.dir.join("brightness"), format!("{value}\n"))
            .map_err(|e| HwError::Backlight { path: self.dir.display().to_string(), detail: e.to_string() })?;
        // bl_power: 0 on, 4 off (FB_BLANK_POWERDOWN), where the driver has it.
        let power = self.dir.join("bl_power");
        if power.exists() {
            let _ = std::fs::write(power, if value == 0 { "4\n" } else { "0\n" });
        }
        Ok(())
    }
}

/// A backlight on a GPIO pin (an SPI panel's LED pin): on or off, no dimming.
pub struct PinBacklight(OutputPin);

impl Backlight for PinBacklight {
    fn set_percent(&mut self, percent: u8) -> Result<(), HwError> {
        if percent > 0 {
            self.0.set_high()
        } else {
            self.0.set_low()
        }
        Ok(())
    }
}

/// An SPI panel on the Pi, what drives its backlight (if wired), and the pen interrupt's pin,
/// kept open as long as the panel.
pub struct PiPanel {
    pub panel: super::panel::Panel,
    pub backlight: Option<PinBacklight>,
    pub irq: Option<InputPin>,
}

/// Opens the configured SPI panel: rppal's SPI (the kernel's spidev drives chip select), its
/// data/command and reset pins, `mipidsi` for the controller; the XPT2046 on its own chip
/// select, its pen interrupt waking the kiosk through `waker`.
pub fn open_panel(cfg: &super::panel::PanelConfig, waker: super::panel::Waker) -> Result<PiPanel, HwError> {
    use super::panel::{Panel, XptTouch, mipidsi_panel};
    use rppal::spi::{Bus, Mode, SimpleHalSpiDevice, SlaveSelect, Spi};
    let gpio = gpio()?;
    let output = |pin: u8| -> Result<OutputPin, HwError> { Ok(gpio.get(pin).map_err(busy(pin))?.into_output_high()) };
    let bus = match cfg.spi_bus {
        0 => Bus::Spi0,
        1 => Bus::Spi1,
        2 => Bus::Spi2,
        3 => Bus::Spi3,
        4 => Bus::Spi4,
        5 => Bus::Spi5,
        _ => Bus::Spi6,
    };
    let spi = |cs: u8, speed: u32| -> Result<SimpleHalSpiDevice, HwError> {
        let select = match cs {
            0 => SlaveSelect::Ss0,
            1 => SlaveSelect::Ss1,
            _ => SlaveSelect::Ss2,
        };
        Spi::new(bus, select, speed, Mode::Mode0)
            .map(SimpleHalSpiDevice::new)
            .map_err(|e| HwError::Spi { device: cfg.spidev(cs), detail: e.to_string() })
    };
    let backlight = cfg.backlight_pin.map(output).transpose()?.map(PinBacklight);
    let dc = output(cfg.dc_pin)?;
    let reset = cfg.reset_pin.map(output).transpose()?;
    let sink =
        mipidsi_panel(cfg, spi(cfg.spi_chip_select, cfg.spi_speed_hz)?, dc, reset, &mut rppal::hal::Delay::new())
            .map_err(|detail| HwError::Spi { device: cfg.spidev(cfg.spi_chip_select), detail })?;
    let (mut touch, mut irq) = (None, None);
    if let Some(t) = &cfg.touch {
        // The XPT2046 takes a clock of up to 2.5 MHz.
        let driver = super::xpt2046::Xpt2046::new(spi(t.chip_select, 2_000_000)?);
        touch = Some(Box::new(XptTouch { driver, calibration: t.calibration, width: cfg.width, height: cfg.height })
            as Box<dyn super::panel::Touch>);
        if let Some(pin) = t.irq_pin {
            let mut input = input(&gpio, pin)?;
            input.set_async_interrupt(Trigger::FallingEdge, None, move |_| waker.touch()).map_err(busy(pin))?;
            irq = Some(input);
        }
    }
    let touch_irq = irq.is_some();
    Ok(PiPanel { panel: Panel { width: cfg.width, height: cfg.height, sink, touch, touch_irq }, backlight, irq })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_backlight_writes_the_level_out_of_its_maximum() {
        let root = std::env::temp_dir().join(format!("borne-backlight-{}", std::process::id()));
        let dir = root.join("10-0045");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("max_brightness"), "255\n").unwrap();
        std::fs::write(dir.join("brightness"), "255\n").unwrap();
        std::fs::write(dir.join("bl_power"), "0\n").unwrap();
        let mut b = SysfsBacklight::open(&root, None).unwrap();
        b.set_percent(20).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("brightness")).unwrap(), "51\n");
        b.set_percent(0).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("bl_power")).unwrap(), "4\n");
        assert!(SysfsBacklight::open(&root.join("nope"), None).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_pi_can_be_told_to_do_as_if_it_had_no_gpio() {
        // Another thread keeps its GPIO: the pretence is this thread's.
        pretend_no_gpio();
        let err = gpio().expect_err("no GPIO, as told");
        assert!(err.to_string().contains("BORNE_NO_GPIO"), "{err}");
        let other = std::thread::spawn(|| gpio().err().map(|e| e.to_string())).join().unwrap();
        assert!(!other.is_some_and(|e| e.contains("BORNE_NO_GPIO")), "the pretence stays on its thread");
    }

    #[test]
    fn no_pi_is_reported_clearly() {
        // Without a Pi, rppal must say so, not panic. On a Pi, its GPIO opens, and a machine
        // without one is then pretended.
        if std::path::Path::new("/dev/gpiomem").exists() {
            assert!(gpio().is_ok(), "a Pi's GPIO opens");
            pretend_no_gpio();
        }
        let err = gpio().expect_err("no GPIO here");
        assert!(err.to_string().contains("Raspberry Pi"), "{err}");
    }
}
