//! The kiosk on a small SPI panel (ILI9341, ILI9486, ST7789), which has no KMS driver: a Slint
//! platform of its own whose event loop renders with the software renderer, line by line,
//! through `spi::LineBridge` into the panel (a `mipidsi` display over rppal's SPI on the Pi),
//! and turns the XPT2046's readings into pointer events.
//!
//! Only what changed is rendered and sent (the panel keeps its picture). The loop sleeps until
//! the next Slint timer, a message (`slint::invoke_from_event_loop`, quitting) or the pen
//! interrupt; it polls the touch controller only while a finger is down, or all the time at
//! `POLL_WITHOUT_IRQ` when no PENIRQ pin is wired.

use super::spi::PanelSink;
use super::xpt2046::Xpt2046;
pub use crate::config::{PanelConfig, PanelModel, TouchCalibration, TouchConfig, native_size};
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{EventLoopProxy, Platform, PointerEventButton, WindowAdapter, WindowEvent};
use slint::{EventLoopError, LogicalPosition, PhysicalSize, PlatformError};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// While a finger is down, the panel is read this often.
pub const POLL_PRESSED: Duration = Duration::from_millis(10);
/// Without a PENIRQ pin, the panel is read this often, touched or not.
pub const POLL_WITHOUT_IRQ: Duration = Duration::from_millis(33);
/// After a pen interrupt, the panel is read this many times (every `POLL_PRESSED`) before the
/// loop sleeps again: a finger landing may not press hard enough at the first reading, and
/// PENIRQ stays low while it stays down, so no second interrupt would come.
pub const POLLS_AFTER_IRQ: u8 = 5;
/// While an animation runs, frames are drawn this often.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(16);
/// After the panel refused a frame, it is tried again this often (everything redrawn).
pub const RETRY_DRAW: Duration = Duration::from_secs(1);

/// Where the panel is touched, in picture pixels, or `None`.
pub trait Touch {
    fn read(&mut self) -> Result<Option<(f32, f32)>, String>;
}

/// An XPT2046 read through its calibration.
pub struct XptTouch<S> {
    pub driver: Xpt2046<S>,
    pub calibration: TouchCalibration,
    pub width: u16,
    pub height: u16,
}

impl<S: embedded_hal::spi::SpiDevice> Touch for XptTouch<S> {
    fn read(&mut self) -> Result<Option<(f32, f32)>, String> {
        let raw = self.driver.read().map_err(|e| format!("{e:?}"))?;
        Ok(raw.map(|raw| {
            // What an installer reads to calibrate (`RUST_LOG=borne=debug`).
            tracing::debug!(raw.x, raw.y, raw.pressure, "touch");
            self.calibration.to_pixel(raw, self.width, self.height)
        }))
    }
}

/// Turns successive readings into pointer events: a press, moves, and a release once two
/// readings in a row find no contact (a resistive panel misses one now and then mid-touch).
#[derive(Debug, Default)]
pub struct TouchTracker {
    at: Option<(f32, f32)>,
    misses: u8,
}

impl TouchTracker {
    pub fn pressed(&self) -> bool {
        self.at.is_some()
    }

    pub fn update(&mut self, reading: Option<(f32, f32)>) -> Option<WindowEvent> {
        let position = |(x, y): (f32, f32)| LogicalPosition::new(x, y);
        match (self.at, reading) {
            (None, Some(p)) => {
                self.at = Some(p);
                self.misses = 0;
                Some(WindowEvent::PointerPressed { position: position(p), button: PointerEventButton::Left })
            }
            (Some(q), Some(p)) => {
                self.misses = 0;
                if (p.0 - q.0).abs() < 1.0 && (p.1 - q.1).abs() < 1.0 {
                    return None;
                }
                self.at = Some(p);
                Some(WindowEvent::PointerMoved { position: position(p) })
            }
            (Some(q), None) => {
                self.misses += 1;
                if self.misses < 2 {
                    return None;
                }
                self.at = None;
                Some(WindowEvent::PointerReleased { position: position(q), button: PointerEventButton::Left })
            }
            (None, None) => None,
        }
    }
}

enum Message {
    Touch,
    Invoke(Box<dyn FnOnce() + Send>),
    Quit,
}

/// Wakes the panel's event loop from any thread: the pen interrupt's handler calls `touch`.
#[derive(Clone)]
pub struct Waker(Sender<Message>);

impl Waker {
    pub fn touch(&self) {
        let _ = self.0.send(Message::Touch);
    }
}

/// The receiving end of a `Waker`, handed to `install`.
pub struct Events(Receiver<Message>);

pub fn channel() -> (Waker, Events) {
    let (tx, rx) = mpsc::channel();
    (Waker(tx), Events(rx))
}

/// Slint's `invoke_from_event_loop` and `quit_event_loop` go through the same channel.
impl EventLoopProxy for Waker {
    fn quit_event_loop(&self) -> Result<(), EventLoopError> {
        self.0.send(Message::Quit).map_err(|_| EventLoopError::EventLoopTerminated)
    }

    fn invoke_from_event_loop(&self, event: Box<dyn FnOnce() + Send>) -> Result<(), EventLoopError> {
        self.0.send(Message::Invoke(event)).map_err(|_| EventLoopError::EventLoopTerminated)
    }
}

/// A panel, its touch (if any) and whether the touch has a pen interrupt.
pub struct Panel {
    pub width: u16,
    pub height: u16,
    pub sink: Box<dyn PanelSink>,
    pub touch: Option<Box<dyn Touch>>,
    pub touch_irq: bool,
}

struct PanelPlatform {
    panel: RefCell<Panel>,
    window: RefCell<Option<Rc<MinimalSoftwareWindow>>>,
    waker: Waker,
    events: Receiver<Message>,
    start: Instant,
}

/// Makes the panel this thread's Slint platform: windows created afterwards draw on it, and
/// `slint::run_event_loop` runs its loop.
pub fn install(panel: Panel, waker: Waker, events: Events) -> Result<(), PlatformError> {
    let platform = PanelPlatform {
        panel: RefCell::new(panel),
        window: RefCell::new(None),
        waker,
        events: events.0,
        start: Instant::now(),
    };
    slint::platform::set_platform(Box::new(platform)).map_err(|e| PlatformError::Other(e.to_string()))
}

impl Platform for PanelPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, PlatformError> {
        // The panel keeps its picture: each frame only renders and sends what changed.
        let window = MinimalSoftwareWindow::new(RepaintBufferType::ReusedBuffer);
        let panel = self.panel.borrow();
        window.set_size(PhysicalSize::new(u32::from(panel.width), u32::from(panel.height)));
        *self.window.borrow_mut() = Some(window.clone());
        Ok(window)
    }

    fn duration_since_start(&self) -> Duration {
        self.start.elapsed()
    }

    fn new_event_loop_proxy(&self) -> Option<Box<dyn EventLoopProxy>> {
        Some(Box::new(self.waker.clone()))
    }

    fn run_event_loop(&self) -> Result<(), PlatformError> {
        let mut tracker = TouchTracker::default();
        let mut polls_left = 0u8;
        let mut touch_failing = false;
        let mut draw_failing = false;
        loop {
            slint::platform::update_timers_and_animations();
            let window = self.window.borrow().clone();
            // The panel is borrowed for reading and drawing only, not while messages run.
            let mut panel_ref = self.panel.borrow_mut();
            let panel = &mut *panel_ref;
            if let Some(touch) = panel.touch.as_mut() {
                polls_left = polls_left.saturating_sub(1);
                let reading = match touch.read() {
                    Ok(reading) => {
                        if touch_failing {
                            tracing::info!("touch panel read again");
                        }
                        touch_failing = false;
                        reading
                    }
                    Err(e) => {
                        if !touch_failing {
                            tracing::error!("touch panel unreadable: {e}");
                        }
                        touch_failing = true;
                        // No contact read: a finger down is released, not held forever.
                        None
                    }
                };
                if let (Some(event), Some(window)) = (tracker.update(reading), &window) {
                    window.dispatch_event_with_result(event)?;
                }
            }
            if let Some(window) = &window {
                if draw_failing {
                    window.request_redraw();
                }
                window.draw_if_needed(|renderer| {
                    if draw_failing {
                        // The panel may hold anything after a failed frame: draw it all.
                        renderer.set_repaint_buffer_type(RepaintBufferType::NewBuffer);
                    }
                    match panel.sink.draw(renderer) {
                        Ok(()) => {
                            if draw_failing {
                                tracing::info!("panel drawn again");
                                renderer.set_repaint_buffer_type(RepaintBufferType::ReusedBuffer);
                            }
                            draw_failing = false;
                        }
                        Err(e) => {
                            if !draw_failing {
                                tracing::error!("panel refused a frame: {e}");
                            }
                            draw_failing = true;
                        }
                    }
                });
            }
            let mut wait = slint::platform::duration_until_next_timer_update();
            let mut sooner = |d: Duration| wait = Some(wait.map_or(d, |w| w.min(d)));
            if window.as_ref().is_some_and(|w| w.has_active_animations()) {
                sooner(FRAME_INTERVAL);
            }
            if tracker.pressed() || polls_left > 0 {
                sooner(POLL_PRESSED);
            } else if panel.touch.is_some() && !panel.touch_irq {
                sooner(POLL_WITHOUT_IRQ);
            }
            if draw_failing {
                sooner(RETRY_DRAW);
            }
            drop(panel_ref);
            let message = match wait {
                Some(d) => match self.events.recv_timeout(d) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return Ok(()),
                },
                None => match self.events.recv() {
                    Ok(m) => Some(m),
                    Err(_) => return Ok(()),
                },
            };
            // Handle that message and whatever else has arrived, in order.
            for message in message.into_iter().chain(std::iter::from_fn(|| self.events.try_recv().ok())) {
                match message {
                    Message::Touch => polls_left = POLLS_AFTER_IRQ,
                    Message::Invoke(f) => f(),
                    Message::Quit => return Ok(()),
                }
            }
        }
    }
}

/// Bytes of pixels per SPI write: the kernel's spidev refuses larger transfers by default
/// (`bufsiz`, 4096).
pub const SPI_CHUNK: usize = 4096;

/// The configured controller, driven by `mipidsi` over an SPI device, a data/command pin and an
/// optional reset pin (without one, a software reset): initialised, ready to draw on.
pub fn mipidsi_panel<SPI, DC, RST>(
    cfg: &PanelConfig,
    spi: SPI,
    dc: DC,
    reset: Option<RST>,
    delay: &mut impl embedded_hal::delay::DelayNs,
) -> Result<Box<dyn PanelSink>, String>
where
    SPI: embedded_hal::spi::SpiDevice + 'static,
    DC: embedded_hal::digital::OutputPin + 'static,
    RST: embedded_hal::digital::OutputPin + 'static,
{
    use mipidsi::models::{ILI9341Rgb565, ILI9486Rgb666, ST7789};
    // The interface borrows its buffer for its whole life; one panel lives as long as the
    // process, so its 4 KiB are leaked on purpose.
    let buffer: &'static mut [u8] = Box::leak(vec![0u8; SPI_CHUNK].into_boxed_slice());
    let di = mipidsi::interface::SpiInterface::new(spi, dc, buffer);
    match cfg.model {
        PanelModel::Ili9341 => init_display(ILI9341Rgb565, di, reset, cfg, delay),
        PanelModel::Ili9486 => init_display(ILI9486Rgb666, di, reset, cfg, delay),
        PanelModel::St7789 => init_display(ST7789, di, reset, cfg, delay),
    }
}

fn init_display<DI, M, RST>(
    model: M,
    di: DI,
    reset: Option<RST>,
    cfg: &PanelConfig,
    delay: &mut impl embedded_hal::delay::DelayNs,
) -> Result<Box<dyn PanelSink>, String>
where
    DI: mipidsi::interface::Interface + 'static,
    DI::Error: core::fmt::Debug,
    M: mipidsi::models::Model + 'static,
    M::ColorFormat:
        mipidsi::interface::InterfacePixelFormat<DI::Word> + From<embedded_graphics_core::pixelcolor::Rgb565>,
    RST: embedded_hal::digital::OutputPin + 'static,
{
    use super::spi::DrawPanel;
    use mipidsi::options::{ColorInversion, ColorOrder, Orientation, Rotation};
    let rotation = Rotation::try_from_degree(i32::from(cfg.rotation)).map_err(|_| "rotation : 0, 90, 180 ou 270")?;
    let mut orientation = Orientation::new().rotate(rotation);
    if cfg.mirrored {
        orientation = orientation.flip_horizontal();
    }
    let (native_w, native_h) = native_size(cfg.width, cfg.height, cfg.rotation);
    let builder = mipidsi::Builder::new(model, di)
        .display_size(native_w, native_h)
        .orientation(orientation)
        .invert_colors(if cfg.invert_colors { ColorInversion::Inverted } else { ColorInversion::Normal })
        .color_order(if cfg.bgr { ColorOrder::Bgr } else { ColorOrder::Rgb });
    let width = usize::from(cfg.width);
    match reset {
        Some(pin) => {
            let target = builder.reset_pin(pin).init(delay).map_err(|e| format!("{e:?}"))?;
            Ok(Box::new(DrawPanel { target, width }))
        }
        None => {
            let target = builder.init(delay).map_err(|e| format!("{e:?}"))?;
            Ok(Box::new(DrawPanel { target, width }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_become_a_press_moves_and_one_release() {
        let mut t = TouchTracker::default();
        assert!(t.update(None).is_none());
        assert!(matches!(t.update(Some((10.0, 20.0))), Some(WindowEvent::PointerPressed { .. })));
        assert!(t.pressed());
        assert!(t.update(Some((10.4, 20.3))).is_none(), "jitter under a pixel is not a move");
        assert!(matches!(t.update(Some((30.0, 20.0))), Some(WindowEvent::PointerMoved { .. })));
        assert!(t.update(None).is_none(), "one missed contact is not a release");
        assert!(t.update(Some((30.0, 20.0))).is_none());
        assert!(t.update(None).is_none());
        match t.update(None) {
            Some(WindowEvent::PointerReleased { position, .. }) => {
                assert_eq!(position, LogicalPosition::new(30.0, 20.0))
            }
            other => panic!("expected a release, got {other:?}"),
        }
        assert!(!t.pressed());
        assert!(t.update(None).is_none());
    }
}
