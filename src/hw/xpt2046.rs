//! The XPT2046 (or ADS7846) resistive touch controller found on cheap SPI panels, over any
//! embedded-hal 1.0 `SpiDevice`.
//!
//! One reading is one SPI transaction: the two pressure measurements, then X and Y three times
//! each (the median drops a noisy sample), the last conversion powering the ADC down with the
//! pen interrupt (PENIRQ) enabled again, so the kiosk can sleep until the next touch.
//!
//! The `xpt2046` crate was not used: it targets a pre-release embedded-hal (1.0.0-alpha.7), which
//! rppal's SPI does not implement, and unwraps bus errors (a panic on a loose wire).

use crate::config::TouchCalibration;
use embedded_hal::spi::SpiDevice;

/// Control bytes: start bit, channel, 12 bits, differential reference; power-down bits 01 keep
/// the reference between conversions (PENIRQ off), 00 power down with PENIRQ on.
const Z1: u8 = 0b1011_0001;
const Z2: u8 = 0b1100_0001;
const X: u8 = 0b1101_0001;
const Y: u8 = 0b1001_0001;
const Y_POWER_DOWN: u8 = 0b1001_0000;

/// The conversions of one reading, in order; each takes three bytes (command, then the 12-bit
/// result over the next 16 clocks).
const SEQUENCE: [u8; 8] = [Z1, Z2, X, X, X, Y, Y, Y_POWER_DOWN];

/// Below this pressure (z1 + 4095 − z2), the panel is not touched: a finger or stylus gives
/// several hundred, the noise of a floating panel a few tens.
pub const PRESSURE_MIN: u16 = 300;

/// One raw reading: positions and pressure, 0 to 4095.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawTouch {
    pub x: u16,
    pub y: u16,
    pub pressure: u16,
}

pub struct Xpt2046<S> {
    spi: S,
}

impl<S: SpiDevice> Xpt2046<S> {
    pub fn new(spi: S) -> Self {
        Xpt2046 { spi }
    }

    /// Reads the panel: `None` when it is not pressed.
    pub fn read(&mut self) -> Result<Option<RawTouch>, S::Error> {
        let mut buffer = [0u8; SEQUENCE.len() * 3];
        for (i, command) in SEQUENCE.iter().enumerate() {
            buffer[i * 3] = *command;
        }
        self.spi.transfer_in_place(&mut buffer)?;
        let mut values = [0u16; SEQUENCE.len()];
        for (i, value) in values.iter_mut().enumerate() {
            *value = ((u16::from(buffer[i * 3 + 1]) << 8) | u16::from(buffer[i * 3 + 2])) >> 3;
        }
        let (z1, z2) = (values[0], values[1]);
        let pressure = (z1 + 4095).saturating_sub(z2);
        if z1 == 0 || pressure < PRESSURE_MIN {
            return Ok(None);
        }
        Ok(Some(RawTouch { x: median(&values[2..5]), y: median(&values[5..8]), pressure }))
    }
}

fn median(three: &[u16]) -> u16 {
    let mut v = [three[0], three[1], three[2]];
    v.sort_unstable();
    v[1]
}

impl TouchCalibration {
    /// The pixel touched on a `width` × `height` picture, clamped to it.
    pub fn to_pixel(&self, raw: RawTouch, width: u16, height: u16) -> (f32, f32) {
        let (rx, ry) = if self.swap_xy { (raw.y, raw.x) } else { (raw.x, raw.y) };
        let axis = |value: u16, from: u16, to: u16, size: u16| -> f32 {
            let t = (f32::from(value) - f32::from(from)) / (f32::from(to) - f32::from(from));
            (t * f32::from(size.saturating_sub(1))).clamp(0.0, f32::from(size.saturating_sub(1)))
        };
        (axis(rx, self.left, self.right, width), axis(ry, self.top, self.bottom, height))
    }

    /// The raw reading that lands on pixel (`x`, `y`): the inverse of `to_pixel` (simulations).
    pub fn to_raw(&self, x: f32, y: f32, width: u16, height: u16) -> (u16, u16) {
        let axis = |p: f32, from: u16, to: u16, size: u16| -> u16 {
            let t = p / f32::from(size.saturating_sub(1).max(1));
            (f32::from(from) + t * (f32::from(to) - f32::from(from))).round().clamp(0.0, 4095.0) as u16
        };
        let (rx, ry) = (axis(x, self.left, self.right, width), axis(y, self.top, self.bottom, height));
        if self.swap_xy { (ry, rx) } else { (rx, ry) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal_mock::eh1::spi::{Mock, Transaction};

    /// What the controller answers: each 12-bit value in the two bytes after its command.
    fn answer(values: [u16; 8]) -> Vec<u8> {
        values.iter().flat_map(|v| [0, (v << 3 >> 8) as u8, (v << 3) as u8]).collect()
    }

    fn commands() -> Vec<u8> {
        SEQUENCE.iter().flat_map(|c| [*c, 0, 0]).collect()
    }

    fn reading(values: [u16; 8]) -> Option<RawTouch> {
        let expectations = [
            Transaction::transaction_start(),
            Transaction::transfer_in_place(commands(), answer(values)),
            Transaction::transaction_end(),
        ];
        let mut spi = Mock::new(&expectations);
        let touch = Xpt2046::new(spi.clone()).read().unwrap();
        spi.done();
        touch
    }

    #[test]
    fn a_press_is_read_in_one_transaction_with_the_median_of_three() {
        // z1 = 600, z2 = 3000: pressure 1695. X samples 1000, 2100 (noise), 1010; Y 3000 ×3.
        let touch = reading([600, 3000, 1000, 2100, 1010, 3000, 2990, 3005]);
        assert_eq!(touch, Some(RawTouch { x: 1010, y: 3000, pressure: 1695 }));
        // The last conversion powers down with PENIRQ enabled (PD bits 00).
        assert_eq!(SEQUENCE.last().unwrap() & 0b11, 0);
        assert!(SEQUENCE[..7].iter().all(|c| c & 0b11 == 0b01));
    }

    #[test]
    fn no_pressure_is_no_touch() {
        assert_eq!(reading([0, 4095, 0, 0, 0, 0, 0, 0]), None, "released panel");
        assert_eq!(reading([50, 4000, 1500, 1500, 1500, 1500, 1500, 1500]), None, "pressure 145: noise");
    }

    #[test]
    fn a_bus_error_is_an_error_not_a_panic() {
        // A loose wire: the bus fails every transfer (the mock cannot inject errors).
        struct Broken;
        impl embedded_hal::spi::ErrorType for Broken {
            type Error = embedded_hal::spi::ErrorKind;
        }
        impl SpiDevice for Broken {
            fn transaction(
                &mut self,
                _: &mut [embedded_hal::spi::Operation<'_, u8>],
            ) -> Result<(), embedded_hal::spi::ErrorKind> {
                Err(embedded_hal::spi::ErrorKind::Other)
            }
        }
        assert_eq!(Xpt2046::new(Broken).read(), Err(embedded_hal::spi::ErrorKind::Other));
    }

    #[test]
    fn calibration_maps_edges_to_edges_in_both_directions() {
        let c = TouchCalibration { left: 3900, top: 200, right: 200, bottom: 3900, swap_xy: true };
        // Axes swapped: the raw Y runs along the picture's width, mirrored.
        let raw = RawTouch { x: 200, y: 3900, pressure: 1000 };
        assert_eq!(c.to_pixel(raw, 320, 240), (0.0, 0.0));
        let raw = RawTouch { x: 3900, y: 200, pressure: 1000 };
        assert_eq!(c.to_pixel(raw, 320, 240), (319.0, 239.0));
        // Beyond the calibrated edges: clamped to the picture.
        let raw = RawTouch { x: 4095, y: 0, pressure: 1000 };
        assert_eq!(c.to_pixel(raw, 320, 240), (319.0, 239.0));
        // to_raw is the inverse (to the ADC's resolution).
        for (x, y) in [(0.0, 0.0), (160.0, 120.0), (300.5, 17.0), (319.0, 239.0)] {
            let (rx, ry) = c.to_raw(x, y, 320, 240);
            let (px, py) = c.to_pixel(RawTouch { x: rx, y: ry, pressure: 1000 }, 320, 240);
            assert!((px - x).abs() < 0.5 && (py - y).abs() < 0.5, "({x}, {y}) → ({px}, {py})");
        }
    }
}
