//! The kiosk on an SPI panel, without the panel: `mipidsi` drives a simulated MIPI DCS
//! controller (an embedded-hal SPI device and D/C pin that decode the commands into a picture
//! memory, as the chip does) and a simulated XPT2046 answers the touch reads.
//!
//! - the chain renderer → line buffer → `DrawTarget` → mipidsi → SPI puts on the controller
//!   exactly the pixels Slint rendered, for each model, in 16 and 18 bits;
//! - the panel's own event loop takes a finger on the XPT2046, through the driver and the
//!   calibration, to a stored review, and leaves « Merci » on the panel.

use crate::common::Scratch;
use borne::config::Config;
use borne::hw::panel::{self, Panel, PanelConfig, PanelModel, TouchCalibration, TouchConfig, XptTouch};
use borne::hw::xpt2046::Xpt2046;
use borne::store::{Integrity, Store};
use borne::ui::headless::Headless;
use borne::ui::screenshots::Scene;
use borne::ui::{Input, Kiosk, KioskParts, Screen};
use embedded_graphics::pixelcolor::raw::RawU16;
use embedded_graphics::pixelcolor::{Rgb565, Rgb666};
use embedded_graphics::prelude::*;
use embedded_hal::spi::{Operation, SpiDevice};
use i_slint_backend_testing::ElementHandle;
use slint::ComponentHandle;
use slint::platform::software_renderer::{LineBufferProvider, Rgb565Pixel};
use std::cell::RefCell;
use std::convert::Infallible;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The controller's side of the wire: commands (D/C low) and their data (D/C high).
#[derive(Default)]
struct Controller {
    data_mode: bool,
    command: u8,
    args: Vec<u8>,
    madctl: Option<u8>,
    colmod: Option<u8>,
    columns: (u16, u16),
    rows: (u16, u16),
    cursor: (u16, u16),
    partial: Vec<u8>,
    width: u16,
    height: u16,
    /// The picture memory as (r, g, b) in the controller's bits (5/6/5 or 6/6/6).
    memory: Vec<(u8, u8, u8)>,
    pixel_bytes: usize,
    outside: usize,
    /// Transactions still to refuse (a loose connector), and how many were.
    refuse: usize,
    refused: usize,
}

impl Controller {
    fn new(width: u16, height: u16) -> Rc<RefCell<Controller>> {
        Rc::new(RefCell::new(Controller {
            width,
            height,
            memory: vec![(0, 0, 0); usize::from(width) * usize::from(height)],
            ..Default::default()
        }))
    }

    fn byte(&mut self, b: u8) {
        if !self.data_mode {
            self.command = b;
            self.args.clear();
            self.partial.clear();
            if b == 0x2C {
                self.cursor = (self.columns.0, self.rows.0);
            }
            return;
        }
        match self.command {
            0x2A | 0x2B => {
                self.args.push(b);
                if self.args.len() == 4 {
                    let start = u16::from_be_bytes([self.args[0], self.args[1]]);
                    let end = u16::from_be_bytes([self.args[2], self.args[3]]);
                    if self.command == 0x2A {
                        self.columns = (start, end);
                    } else {
                        self.rows = (start, end);
                    }
                }
            }
            0x36 => self.madctl = Some(b),
            0x3A => self.colmod = Some(b),
            0x2C => {
                self.pixel_bytes += 1;
                self.partial.push(b);
                let bytes = if self.colmod.unwrap_or(0x55) & 0x7 == 0x6 { 3 } else { 2 };
                if self.partial.len() == bytes {
                    let rgb = if bytes == 2 {
                        let raw = u16::from_be_bytes([self.partial[0], self.partial[1]]);
                        ((raw >> 11) as u8, ((raw >> 5) & 0x3F) as u8, (raw & 0x1F) as u8)
                    } else {
                        (self.partial[0] >> 2, self.partial[1] >> 2, self.partial[2] >> 2)
                    };
                    self.partial.clear();
                    self.put(rgb);
                }
            }
            _ => {}
        }
    }

    fn put(&mut self, rgb: (u8, u8, u8)) {
        let (x, y) = self.cursor;
        if x < self.width && y < self.height {
            self.memory[usize::from(y) * usize::from(self.width) + usize::from(x)] = rgb;
        } else {
            self.outside += 1;
        }
        self.cursor = if x >= self.columns.1 { (self.columns.0, y + 1) } else { (x + 1, y) };
    }
}

#[derive(Clone)]
struct Wire(Rc<RefCell<Controller>>);

impl embedded_hal::spi::ErrorType for Wire {
    type Error = embedded_hal::spi::ErrorKind;
}

impl SpiDevice for Wire {
    fn transaction(&mut self, operations: &mut [Operation<'_, u8>]) -> Result<(), Self::Error> {
        let mut c = self.0.borrow_mut();
        if c.refuse > 0 {
            c.refuse -= 1;
            c.refused += 1;
            return Err(embedded_hal::spi::ErrorKind::Other);
        }
        for op in operations {
            match op {
                Operation::Write(bytes) => bytes.iter().for_each(|b| c.byte(*b)),
                Operation::Transfer(_, bytes) => bytes.iter().for_each(|b| c.byte(*b)),
                Operation::TransferInPlace(bytes) => bytes.iter().for_each(|b| c.byte(*b)),
                Operation::Read(_) | Operation::DelayNs(_) => {}
            }
        }
        Ok(())
    }
}

/// The D/C pin, wired to the same controller.
struct DcPin(Rc<RefCell<Controller>>);

impl embedded_hal::digital::ErrorType for DcPin {
    type Error = Infallible;
}

impl embedded_hal::digital::OutputPin for DcPin {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.0.borrow_mut().data_mode = false;
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        self.0.borrow_mut().data_mode = true;
        Ok(())
    }
}

struct NoDelay;

impl embedded_hal::delay::DelayNs for NoDelay {
    fn delay_ns(&mut self, _ns: u32) {}
}

fn panel_config(model: PanelModel, width: u16, height: u16, rotation: u16) -> PanelConfig {
    PanelConfig {
        model,
        spi_bus: 0,
        spi_chip_select: 0,
        spi_speed_hz: 32_000_000,
        dc_pin: 24,
        reset_pin: None,
        backlight_pin: None,
        width,
        height,
        rotation,
        mirrored: false,
        invert_colors: false,
        bgr: false,
        touch: None,
    }
}

fn open(cfg: &PanelConfig) -> (Box<dyn borne::hw::spi::PanelSink>, Rc<RefCell<Controller>>) {
    let controller = Controller::new(cfg.width, cfg.height);
    let sink =
        panel::mipidsi_panel(cfg, Wire(controller.clone()), DcPin(controller.clone()), None::<DcPin>, &mut NoDelay)
            .unwrap();
    (sink, controller)
}

/// The renderer's output line by line into a plain buffer: what the panel must end up showing.
pub fn lines(headless: &Headless, width: usize, height: usize) -> Vec<Rgb565Pixel> {
    struct Plain<'a>(&'a mut [Rgb565Pixel], usize);
    impl LineBufferProvider for Plain<'_> {
        type TargetPixel = Rgb565Pixel;
        fn process_line(
            &mut self,
            line: usize,
            range: core::ops::Range<usize>,
            render: impl FnOnce(&mut [Rgb565Pixel]),
        ) {
            render(&mut self.0[line * self.1..][range]);
        }
    }
    let mut out = vec![Rgb565Pixel(0); width * height];
    headless
        .draw_with(|r| {
            r.render_by_line(Plain(&mut out, width));
        })
        .unwrap();
    out
}

#[test]
fn mipidsi_puts_on_the_controller_exactly_what_the_renderer_drew() {
    let headless = Headless::install().unwrap();
    let config = Config::embedded();
    let scene = Scene::new(&config, Store::open_in_memory().unwrap(), Box::new(|_| Vec::new())).unwrap();
    scene.kiosk.window().show().unwrap();
    scene.taps([Input::Rate(3)]);
    scene.type_text("Très bien reçu");
    // (model, visible size, rotation, whether MADCTL swaps rows and columns)
    let cases = [
        (PanelModel::Ili9341, 320, 240, 90, true),
        (PanelModel::St7789, 240, 320, 0, false),
        (PanelModel::Ili9486, 480, 320, 270, true),
        (PanelModel::Ili9341, 240, 320, 180, false),
    ];
    for (model, width, height, rotation, swapped) in cases {
        let cfg = panel_config(model, width, height, rotation);
        let (mut sink, controller) = open(&cfg);
        headless.set_size(u32::from(width), u32::from(height)).unwrap();
        let expected = lines(&headless, usize::from(width), usize::from(height));
        let mut result = Ok(());
        headless.draw_with(|r| result = sink.draw(r)).unwrap();
        result.unwrap();
        let c = controller.borrow();
        let madctl = c.madctl.expect("the driver set the memory access control");
        assert_eq!(madctl & 0x20 != 0, swapped, "{model:?} {rotation}°: MADCTL {madctl:#04x}");
        let eighteen_bits = model == PanelModel::Ili9486;
        assert_eq!(c.colmod.map(|m| m & 0x7), Some(if eighteen_bits { 6 } else { 5 }), "{model:?}: pixel format");
        assert_eq!(c.outside, 0, "{model:?}: no pixel outside the picture");
        let bytes_per_pixel = if eighteen_bits { 3 } else { 2 };
        assert_eq!(
            c.pixel_bytes,
            usize::from(width) * usize::from(height) * bytes_per_pixel,
            "{model:?}: one full frame"
        );
        let mut differ = 0;
        for (got, want) in c.memory.iter().zip(&expected) {
            let want = Rgb565::from(RawU16::new(want.0));
            let want = if eighteen_bits {
                let w = Rgb666::from(want);
                (w.r(), w.g(), w.b())
            } else {
                (want.r(), want.g(), want.b())
            };
            differ += usize::from(*got != want);
        }
        assert_eq!(differ, 0, "{model:?} {width}×{height} at {rotation}°: {differ} pixels differ");
        let coloured = c.memory.iter().filter(|p| **p != (0, 0, 0)).count();
        assert!(coloured > 1000, "{model:?}: the picture has content ({coloured} pixels)");
    }
}

/// A simulated XPT2046: answers each conversion from where the finger is (raw values); fails
/// as many reads as `fail` says.
#[derive(Clone)]
struct Xpt(Arc<Mutex<Option<(u16, u16)>>>, Arc<AtomicUsize>);

impl embedded_hal::spi::ErrorType for Xpt {
    type Error = embedded_hal::spi::ErrorKind;
}

impl SpiDevice for Xpt {
    fn transaction(&mut self, operations: &mut [Operation<'_, u8>]) -> Result<(), Self::Error> {
        if self.1.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(embedded_hal::spi::ErrorKind::Other);
        }
        let finger = *self.0.lock().unwrap();
        for op in operations {
            if let Operation::TransferInPlace(buffer) = op {
                for conversion in buffer.chunks_mut(3) {
                    let value: u16 = match (conversion[0] >> 4 & 0x7, finger) {
                        (0b011, Some(_)) => 700,  // Z1
                        (0b100, Some(_)) => 2600, // Z2
                        (0b101, Some((x, _))) => x,
                        (0b001, Some((_, y))) => y,
                        (0b100, None) => 4095,
                        _ => 0,
                    };
                    conversion[1] = (value << 3 >> 8) as u8;
                    conversion[2] = (value << 3) as u8;
                }
            }
        }
        Ok(())
    }
}

/// The headless renders of the home screen and of « Merci » at `width` × `height`, as RGB 565
/// (another thread: its own Slint platform).
fn expected_home_and_merci(width: u16, height: u16) -> (Vec<u16>, Vec<u16>) {
    std::thread::spawn(move || {
        let headless = Headless::install().unwrap();
        // As on the panel: a kiosk on an empty store.
        let parts = KioskParts::new(Store::open_in_memory().unwrap(), &Config::embedded(), Rc::new(Instant::now));
        let kiosk = Kiosk::new(parts).unwrap();
        headless.set_size(u32::from(width), u32::from(height)).unwrap();
        kiosk.window().show().unwrap();
        let raw = |p: Vec<Rgb565Pixel>| p.iter().map(|p| p.0).collect::<Vec<u16>>();
        let home = raw(lines(&headless, usize::from(width), usize::from(height)));
        kiosk.input(Input::Rate(3));
        kiosk.input(Input::Skip);
        assert_eq!(kiosk.window().get_screen(), Screen::Thanks);
        (home, raw(lines(&headless, usize::from(width), usize::from(height))))
    })
    .join()
    .unwrap()
}

/// Pixels of the controller's memory that differ from `expected`.
fn differing(c: &Controller, expected: &[u16]) -> usize {
    c.memory
        .iter()
        .zip(expected)
        .filter(|(got, want)| {
            let want = Rgb565::from(RawU16::new(**want));
            **got != (want.r(), want.g(), want.b())
        })
        .count()
}

thread_local! {
    /// The simulated controller, for checks run on the UI thread.
    static PANEL: RefCell<Option<Rc<RefCell<Controller>>>> = const { RefCell::new(None) };
}

/// Runs `f` on the UI thread (through the event loop) and returns its result.
fn on_ui<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    slint::invoke_from_event_loop(move || {
        let _ = tx.send(f());
    })
    .ok()?;
    rx.recv_timeout(Duration::from_secs(10)).ok()
}

fn wait_for(what: &str, ok: &dyn Fn() -> bool) -> Result<(), String> {
    let until = Instant::now() + Duration::from_secs(20);
    while !ok() {
        if Instant::now() > until {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

#[test]
fn a_finger_on_the_panel_records_a_review_and_leaves_merci_on_it() {
    const W: u16 = 320;
    const H: u16 = 240;
    let dir = Scratch::new("panel-loop");
    let (home, merci) = expected_home_and_merci(W, H);
    let calibration = TouchCalibration { left: 3800, top: 300, right: 250, bottom: 3750, swap_xy: true };
    let mut cfg = panel_config(PanelModel::Ili9341, W, H, 90);
    cfg.touch = Some(TouchConfig { chip_select: 1, irq_pin: Some(17), calibration });
    let (sink, controller) = open(&cfg);
    // A loose connector at start: the panel refuses the first frame's first write.
    controller.borrow_mut().refuse = 1;
    PANEL.with(|p| *p.borrow_mut() = Some(controller.clone()));
    let finger = Arc::new(Mutex::new(None));
    let touch_fails = Arc::new(AtomicUsize::new(0));
    let touch =
        XptTouch { driver: Xpt2046::new(Xpt(finger.clone(), touch_fails.clone())), calibration, width: W, height: H };
    let (waker, events) = panel::channel();
    let pen = waker.clone();
    panel::install(Panel { width: W, height: H, sink, touch: Some(Box::new(touch)), touch_irq: true }, waker, events)
        .unwrap();

    let config = Config::embedded();
    let (store, _) = Store::open(dir.path(), Integrity::CheckAndRecover).unwrap();
    let kiosk = Kiosk::new(KioskParts::new(store, &config, Rc::new(Instant::now))).unwrap();
    kiosk.window().show().unwrap();
    let window = kiosk.window().as_weak();
    let data_dir = dir.path().to_path_buf();
    let fail_touch = touch_fails.clone();

    // A visitor, on another thread as the pen interrupt is: finds a button through the event
    // loop, presses the panel there (PENIRQ wakes the loop), lifts the finger.
    let visitor = std::thread::spawn(move || {
        let find = |label: &'static str| -> Option<(f32, f32, Screen)> {
            let window = window.clone();
            on_ui(move || {
                let app = window.upgrade().unwrap();
                let found = ElementHandle::find_by_accessible_label(&app, label).next();
                found.map(|e| {
                    let (p, s) = (e.absolute_position(), e.size());
                    (p.x + s.width / 2.0, p.y + s.height / 2.0, app.get_screen())
                })
            })
            .flatten()
        };
        let panel_shows = |expected: Arc<Vec<u16>>| {
            on_ui(move || PANEL.with(|p| differing(&p.borrow().as_ref().unwrap().borrow(), &expected))) == Some(0)
        };
        let press = |label: &'static str| -> Result<(), String> {
            let at = std::cell::Cell::new(None);
            wait_for(label, &|| {
                at.set(find(label));
                at.get().is_some()
            })?;
            let (x, y, _) = at.get().unwrap();
            *finger.lock().unwrap() = Some(calibration.to_raw(x, y, W, H));
            pen.touch();
            std::thread::sleep(Duration::from_millis(120));
            *finger.lock().unwrap() = None;
            Ok(())
        };
        let reviews =
            || Store::open(&data_dir, Integrity::Trust).map(|(s, _)| s.outbox_summary().unwrap().total).unwrap_or(0);
        let visit = || -> Result<(), String> {
            // The refused frame is drawn again, whole: the panel shows the home screen exactly.
            let home = Arc::new(home);
            wait_for("the home screen on the panel", &|| panel_shows(home.clone()))?;
            // The first touch read fails (the loop reads again) and the finger still lands.
            fail_touch.store(1, Ordering::SeqCst);
            press("Très bien")?;
            press("Passer")?;
            wait_for("the review on disk", &|| reviews() == 1)?;
            let merci = Arc::new(merci);
            wait_for("« Merci » on the panel", &|| panel_shows(merci.clone()))
        };
        let result = visit();
        // Whatever happened, the event loop ends and the test reports it.
        slint::quit_event_loop().map_err(|e| e.to_string()).and(result)
    });
    slint::run_event_loop().unwrap();
    visitor.join().unwrap().unwrap();

    assert_eq!(kiosk.window().get_screen(), Screen::Thanks);
    let (store, _) = Store::open(dir.path(), Integrity::Trust).unwrap();
    let stored = store.unbatched_pending(10).unwrap();
    assert_eq!(stored.len(), 1);
    let satisfaction = stored[0].review.satisfaction().expect("a satisfaction answer");
    assert_eq!(satisfaction.answer_item_id, 3, "« Très bien »");
    let c = controller.borrow();
    assert_eq!(c.refused, 1, "the panel refused one write");
    assert_eq!(touch_fails.load(Ordering::SeqCst), 0, "the failing touch read happened");
    eprintln!("{} pixel bytes sent for the visit", c.pixel_bytes);
}
