//! Cheap SPI panels have no KMS driver: Slint's software renderer draws them line by line, each
//! line going through a small buffer to any embedded-graphics `DrawTarget` (a `mipidsi`
//! ILI9341/ILI9486/ST7789 display over rppal's SPI is one). Only the lines that changed are
//! drawn and sent.
//!
//! `panel` runs the kiosk on such a panel; `PanelSink` is what it draws through.

use embedded_graphics_core::pixelcolor::Rgb565;
use embedded_graphics_core::pixelcolor::raw::RawU16;
use embedded_graphics_core::prelude::*;
use embedded_graphics_core::primitives::Rectangle;
use slint::platform::software_renderer::{LineBufferProvider, Rgb565Pixel};

/// Hands each rendered line to a `DrawTarget` with `fill_contiguous`, in the target's colours
/// (RGB 565 as rendered, or converted, e.g. to the RGB 666 an ILI9486 takes over SPI).
pub struct LineBridge<'a, D: DrawTarget> {
    pub target: &'a mut D,
    pub line: Vec<Rgb565Pixel>,
    /// The first error the target reported, if any.
    pub error: Option<D::Error>,
}

impl<'a, D: DrawTarget> LineBridge<'a, D> {
    pub fn new(target: &'a mut D, width: usize) -> Self {
        LineBridge { target, line: vec![Rgb565Pixel(0); width], error: None }
    }
}

impl<D: DrawTarget> LineBufferProvider for &mut LineBridge<'_, D>
where
    D::Color: From<Rgb565>,
{
    type TargetPixel = Rgb565Pixel;

    fn process_line(
        &mut self,
        line: usize,
        range: core::ops::Range<usize>,
        render_fn: impl FnOnce(&mut [Self::TargetPixel]),
    ) {
        let pixels = &mut self.line[range.clone()];
        render_fn(pixels);
        let area = Rectangle::new(Point::new(range.start as i32, line as i32), Size::new(range.len() as u32, 1));
        let colours = pixels.iter().map(|p| D::Color::from(Rgb565::from(RawU16::new(p.0))));
        if let Err(e) = self.target.fill_contiguous(&area, colours)
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }
}

/// A panel the kiosk draws on: each frame's changed lines, through a `LineBridge`.
pub trait PanelSink {
    /// Draws what changed since the last frame (everything on the first).
    fn draw(&mut self, renderer: &slint::platform::software_renderer::SoftwareRenderer) -> Result<(), String>;
}

/// Any embedded-graphics `DrawTarget` as a panel (a `mipidsi::Display` on the device).
pub struct DrawPanel<D> {
    pub target: D,
    pub width: usize,
}

impl<D: DrawTarget> PanelSink for DrawPanel<D>
where
    D::Color: From<Rgb565>,
    D::Error: core::fmt::Debug,
{
    fn draw(&mut self, renderer: &slint::platform::software_renderer::SoftwareRenderer) -> Result<(), String> {
        let mut bridge = LineBridge::new(&mut self.target, self.width);
        renderer.render_by_line(&mut bridge);
        match bridge.error {
            None => Ok(()),
            Some(e) => Err(format!("{e:?}")),
        }
    }
}
