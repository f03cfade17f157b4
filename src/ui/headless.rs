//! Drawing the kiosk without a display: Slint's software renderer into a pixel buffer.
//!
//! `borne screenshots` and the frame benchmarks use it; the SPI panels feed the same renderer
//! line by line. Time is driven by hand, so a frame shows exactly the state it was given.

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::{PhysicalSize, PlatformError, Rgb8Pixel};
use std::cell::{Cell, RefCell};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

#[derive(Default)]
struct Shared {
    window: RefCell<Option<Rc<MinimalSoftwareWindow>>>,
    elapsed: Cell<Duration>,
}

struct HeadlessPlatform(Rc<Shared>);

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, PlatformError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        *self.0.window.borrow_mut() = Some(window.clone());
        Ok(window)
    }

    fn duration_since_start(&self) -> Duration {
        self.0.elapsed.get()
    }
}

/// The installed headless platform: renders the most recently created window.
pub struct Headless(Rc<Shared>);

impl Headless {
    /// Installs the headless platform for this thread. Fails if a platform is already set.
    pub fn install() -> Result<Headless, PlatformError> {
        let shared = Rc::new(Shared::default());
        slint::platform::set_platform(Box::new(HeadlessPlatform(shared.clone())))
            .map_err(|e| PlatformError::Other(e.to_string()))?;
        Ok(Headless(shared))
    }

    /// Moves Slint's clock forward (animations, timers).
    pub fn advance(&self, by: Duration) {
        self.0.elapsed.set(self.0.elapsed.get() + by);
        slint::platform::update_timers_and_animations();
    }

    fn window(&self) -> Result<Rc<MinimalSoftwareWindow>, PlatformError> {
        self.0.window.borrow().clone().ok_or_else(|| PlatformError::Other("no window was created".into()))
    }

    /// Sets the window's size in physical pixels (scale factor 1).
    pub fn set_size(&self, width: u32, height: u32) -> Result<(), PlatformError> {
        let window = self.window()?;
        window.set_size(PhysicalSize::new(width, height));
        Ok(())
    }

    /// Draws one full frame with `draw`, given the renderer (for other pixel formats, or line
    /// by line for SPI panels).
    pub fn draw_with(
        &self,
        draw: impl FnOnce(&slint::platform::software_renderer::SoftwareRenderer),
    ) -> Result<(), PlatformError> {
        let window = self.window()?;
        slint::platform::update_timers_and_animations();
        window.request_redraw();
        window.draw_if_needed(draw);
        Ok(())
    }

    /// Draws one full frame and returns it as RGB pixels, row by row.
    pub fn render(&self) -> Result<Frame, PlatformError> {
        let mut frame = Frame { width: 0, height: 0, pixels: Vec::new() };
        self.render_into(&mut frame)?;
        Ok(frame)
    }

    /// Draws one full frame into `frame`, reusing its buffer (what a display driver does).
    #[inline(never)]
    pub fn render_into(&self, frame: &mut Frame) -> Result<(), PlatformError> {
        let size = self.window()?.size();
        frame.width = size.width;
        frame.height = size.height;
        frame.pixels.resize(size.width as usize * size.height as usize, Rgb8Pixel::new(0, 0, 0));
        self.draw_with(|renderer| {
            renderer.render(&mut frame.pixels, size.width as usize);
        })?;
        frame_drawn(frame);
        Ok(())
    }
}

/// Called once a frame is drawn: a mark for profilers (`callgrind --dump-before=*frame_drawn*`
/// closes a dump that started on entering `render_into`).
#[inline(never)]
pub fn frame_drawn(frame: &Frame) {
    std::hint::black_box(frame);
}

/// One rendered frame.
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<Rgb8Pixel>,
}

impl Frame {
    /// Writes the frame as a PNG file.
    pub fn write_png(&self, path: &Path) -> std::io::Result<()> {
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut encoder = png::Encoder::new(file, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::High);
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        let bytes: Vec<u8> = self.pixels.iter().flat_map(|p| [p.r, p.g, p.b]).collect();
        writer.write_image_data(&bytes).map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    }
}
