//! `[panel]`: a small SPI panel (and its XPT2046 touch) as the kiosk's display. The plain types
//! live here; the driver (`hw::panel`, `hw::xpt2046`) gives them their behaviour.

use super::check::{Invalid, bcm_pin, invalid};
use super::hardware::HardwareConfig;
use super::raw::RawPanel;

/// The panel controllers `mipidsi` drives for the kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelModel {
    Ili9341,
    /// 18-bit colour: over SPI, the ILI9486 takes no other.
    Ili9486,
    St7789,
}

impl PanelModel {
    /// The controller's memory, in its native (portrait) orientation.
    pub fn framebuffer(self) -> (u16, u16) {
        match self {
            PanelModel::Ili9341 | PanelModel::St7789 => (240, 320),
            PanelModel::Ili9486 => (320, 480),
        }
    }
}

/// The controller's size for a picture of `width` × `height` turned by `rotation` degrees.
pub fn native_size(width: u16, height: u16, rotation: u16) -> (u16, u16) {
    if rotation.is_multiple_of(180) { (width, height) } else { (height, width) }
}

/// `[panel]`: how the panel is wired and set up.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelConfig {
    pub model: PanelModel,
    pub spi_bus: u8,
    pub spi_chip_select: u8,
    pub spi_speed_hz: u32,
    pub dc_pin: u8,
    pub reset_pin: Option<u8>,
    pub backlight_pin: Option<u8>,
    /// The picture as the visitor sees it, after `rotation`.
    pub width: u16,
    pub height: u16,
    /// Degrees clockwise: 0, 90, 180 or 270.
    pub rotation: u16,
    pub mirrored: bool,
    pub invert_colors: bool,
    pub bgr: bool,
    pub touch: Option<TouchConfig>,
}

impl PanelConfig {
    /// The kernel's device for chip select `chip_select` on the panel's bus.
    pub fn spidev(&self, chip_select: u8) -> String {
        format!("/dev/spidev{}.{chip_select}", self.spi_bus)
    }

    /// Every pin the panel takes: its own and its SPI bus's.
    pub fn pins(&self) -> Vec<u8> {
        let mut pins = vec![self.dc_pin];
        pins.extend(self.reset_pin);
        pins.extend(self.backlight_pin);
        pins.extend(self.touch.as_ref().and_then(|t| t.irq_pin));
        pins.extend_from_slice(spi_bus_pins(self.spi_bus));
        pins
    }
}

/// The pins of SPI bus `bus` (MISO, MOSI, SCLK and the chip selects).
fn spi_bus_pins(bus: u8) -> &'static [u8] {
    match bus {
        0 => &[7, 8, 9, 10, 11],
        1 => &[16, 17, 18, 19, 20, 21],
        _ => &[],
    }
}

/// An XPT2046 on the same SPI bus as the panel.
#[derive(Debug, Clone, PartialEq)]
pub struct TouchConfig {
    pub chip_select: u8,
    /// The pen interrupt (PENIRQ, low while touched).
    pub irq_pin: Option<u8>,
    pub calibration: TouchCalibration,
}

/// How raw measurements map to the picture: the raw values at its left, top, right and bottom
/// edges (after swapping the axes if the panel's X runs along the picture's height). Either
/// direction works: a larger value on the left mirrors the axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TouchCalibration {
    pub left: u16,
    pub top: u16,
    pub right: u16,
    pub bottom: u16,
    pub swap_xy: bool,
}

pub(super) fn validate_panel(raw: RawPanel, hardware: &HardwareConfig) -> Result<Option<PanelConfig>, Invalid> {
    let Some(model) = validate_model(raw.model.as_deref())? else { return Ok(None) };
    let spi_bus = raw.spi_bus.unwrap_or(0);
    if spi_bus > 6 {
        return Err(invalid("panel.spi_bus", "de 0 à 6 (/dev/spidevB.C)"));
    }
    let spi_chip_select = chip_select("panel.spi_chip_select", raw.spi_chip_select.unwrap_or(0))?;
    let spi_speed_mhz = raw.spi_speed_mhz.unwrap_or(32);
    if !(1..=125).contains(&spi_speed_mhz) {
        return Err(invalid("panel.spi_speed_mhz", "entre 1 et 125 MHz"));
    }
    let dc_pin = bcm_pin("panel.dc_pin", raw.dc_pin.unwrap_or(24))?;
    let reset_pin = raw.reset_pin.map(|p| bcm_pin("panel.reset_pin", p)).transpose()?;
    let backlight_pin = raw.backlight_pin.map(|p| bcm_pin("panel.backlight_pin", p)).transpose()?;
    let (width, height, rotation) = validate_size(model, &raw)?;
    let touch = validate_touch(&raw, spi_chip_select)?;
    let mut pins: Vec<(u8, &str)> = vec![(dc_pin, "panel.dc_pin")];
    pins.extend(reset_pin.map(|p| (p, "panel.reset_pin")));
    pins.extend(backlight_pin.map(|p| (p, "panel.backlight_pin")));
    pins.extend(touch.as_ref().and_then(|t| t.irq_pin).map(|p| (p, "panel.touch_irq_pin")));
    check_pins(&pins, spi_bus, hardware)?;
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
        touch,
    }))
}

/// `None`: no panel (`model = "none"`, the default).
fn validate_model(model: Option<&str>) -> Result<Option<PanelModel>, Invalid> {
    match model.unwrap_or("none") {
        "none" => Ok(None),
        "ili9341" => Ok(Some(PanelModel::Ili9341)),
        "ili9486" => Ok(Some(PanelModel::Ili9486)),
        "st7789" => Ok(Some(PanelModel::St7789)),
        other => Err(invalid(
            "panel.model",
            format!("« {other} » inconnu : « none », « ili9341 », « ili9486 » ou « st7789 »"),
        )),
    }
}

fn chip_select(key: &str, cs: u8) -> Result<u8, Invalid> {
    if cs <= 2 { Ok(cs) } else { Err(invalid(key, "de 0 à 2 (/dev/spidevB.C)")) }
}

/// The picture's width, height and rotation, which must fit the controller's memory.
fn validate_size(model: PanelModel, raw: &RawPanel) -> Result<(u16, u16, u16), Invalid> {
    let rotation = raw.rotation.unwrap_or(90);
    if ![0, 90, 180, 270].contains(&rotation) {
        return Err(invalid("panel.rotation", "0, 90, 180 ou 270 (degrés)"));
    }
    let (width, height) = (raw.width.unwrap_or(320), raw.height.unwrap_or(240));
    let (native_w, native_h) = native_size(width, height, rotation);
    let (max_w, max_h) = model.framebuffer();
    if width == 0 || height == 0 || native_w > max_w || native_h > max_h {
        return Err(invalid(
            "panel.width",
            format!(
                "{width}×{height} tourné de {rotation}° ne tient pas dans la mémoire de l'écran ({max_w}×{max_h} en portrait)"
            ),
        ));
    }
    Ok((width, height, rotation))
}

fn validate_touch(raw: &RawPanel, panel_chip_select: u8) -> Result<Option<TouchConfig>, Invalid> {
    match raw.touch.as_deref().unwrap_or("none") {
        "none" => Ok(None),
        "xpt2046" => {
            let cs = chip_select("panel.touch_chip_select", raw.touch_chip_select.unwrap_or(1))?;
            if cs == panel_chip_select {
                return Err(invalid("panel.touch_chip_select", "différent de panel.spi_chip_select"));
            }
            let irq_pin = raw.touch_irq_pin.map(|p| bcm_pin("panel.touch_irq_pin", p)).transpose()?;
            let calibration = validate_calibration(raw.touch_calibration.as_deref(), raw.touch_swap_xy)?;
            Ok(Some(TouchConfig { chip_select: cs, irq_pin, calibration }))
        }
        other => Err(invalid("panel.touch", format!("« {other} » inconnu : « none » ou « xpt2046 »"))),
    }
}

fn validate_calibration(values: Option<&[u16]>, swap_xy: Option<bool>) -> Result<TouchCalibration, Invalid> {
    match values.unwrap_or(&[200, 200, 3900, 3900]) {
        &[left, top, right, bottom]
            if left.max(top).max(right).max(bottom) <= 4095 && left != right && top != bottom =>
        {
            Ok(TouchCalibration { left, top, right, bottom, swap_xy: swap_xy.unwrap_or(false) })
        }
        _ => Err(invalid(
            "panel.touch_calibration",
            "quatre mesures brutes de 0 à 4095 : [gauche, haut, droite, bas], gauche ≠ droite et haut ≠ bas",
        )),
    }
}

/// One pin, one job: the panel's pins, the SPI bus's own pins and the other devices' pins.
fn check_pins(pins: &[(u8, &str)], spi_bus: u8, hardware: &HardwareConfig) -> Result<(), Invalid> {
    let spi_pins = spi_bus_pins(spi_bus);
    let others = hardware.pins();
    for (i, (p, key)) in pins.iter().enumerate() {
        if let Some((_, other)) = pins[..i].iter().chain(&others).find(|(q, _)| q == p) {
            return Err(invalid(*key, format!("la broche {p} sert déjà à {other}")));
        }
        if spi_pins.contains(p) {
            return Err(invalid(*key, format!("la broche {p} appartient au bus SPI {spi_bus}")));
        }
    }
    if let Some((p, key)) = others.iter().find(|(p, _)| spi_pins.contains(p)) {
        return Err(invalid(*key, format!("la broche {p} appartient au bus SPI {spi_bus} de l'écran")));
    }
    Ok(())
}
