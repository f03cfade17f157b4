//! SPI panel benchmarks: what one visit costs on a small panel — render and encode time of each
//! frame through `LineBridge` and `mipidsi` (only what changed is rendered and sent), the
//! bytes put on the SPI bus and the time they take at the configured clock — and the CPU an
//! idle kiosk on a panel uses, with the XPT2046's pen interrupt armed and without it (polled).
//!
//! Run with `cargo bench --bench panel`. The SPI device here counts bytes instead of clocking
//! them out; the bus time is computed from the count. Figures go to docs/benchmarks.md.

mod common;

use borne::config::Config;
use borne::hw::panel::{self, Panel, PanelConfig, PanelModel, Touch};
use borne::hw::spi::PanelSink;
use borne::store::Store;
use borne::ui::Input;
use borne::ui::headless::Headless;
use borne::ui::screenshots::Scene;
use common::*;
use embedded_hal::spi::{Operation, SpiDevice};
use slint::ComponentHandle;
use slint::platform::software_renderer::RepaintBufferType;
use std::cell::Cell;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::process::Command;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const VISITS: usize = 20;
const SPI_HZ: u32 = 32_000_000;
const IDLE: Duration = Duration::from_secs(30);

/// An SPI device that counts the bytes it is given.
#[derive(Clone, Default)]
struct Counting(Rc<Cell<usize>>);

impl embedded_hal::spi::ErrorType for Counting {
    type Error = Infallible;
}

impl SpiDevice for Counting {
    fn transaction(&mut self, operations: &mut [Operation<'_, u8>]) -> Result<(), Infallible> {
        for op in operations.iter() {
            let n = match op {
                Operation::Write(b) => b.len(),
                Operation::Transfer(_, b) => b.len(),
                Operation::TransferInPlace(b) => b.len(),
                Operation::Read(b) => b.len(),
                Operation::DelayNs(_) => 0,
            };
            self.0.set(self.0.get() + std::hint::black_box(n));
        }
        Ok(())
    }
}

struct Pin;

impl embedded_hal::digital::ErrorType for Pin {
    type Error = Infallible;
}

impl embedded_hal::digital::OutputPin for Pin {
    fn set_low(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

struct NoDelay;

impl embedded_hal::delay::DelayNs for NoDelay {
    fn delay_ns(&mut self, _: u32) {}
}

fn panel_config(model: PanelModel, width: u16, height: u16) -> PanelConfig {
    PanelConfig {
        model,
        spi_bus: 0,
        spi_chip_select: 0,
        spi_speed_hz: SPI_HZ,
        dc_pin: 24,
        reset_pin: None,
        backlight_pin: None,
        width,
        height,
        rotation: 90,
        mirrored: false,
        invert_colors: false,
        bgr: false,
        touch: None,
    }
}

fn open(cfg: &PanelConfig) -> (Box<dyn PanelSink>, Rc<Cell<usize>>) {
    let bytes = Counting::default();
    let sink = panel::mipidsi_panel(cfg, bytes.clone(), Pin, None::<Pin>, &mut NoDelay).unwrap();
    (sink, bytes.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--idle-child") {
        idle_child(args[i + 1] == "irq");
        return;
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let mut out = String::new();
    writeln!(out, "## SPI panel (`cargo bench --bench panel`)\n").unwrap();
    writeln!(out, "Machine: {}.\n", machine()).unwrap();
    writeln!(out, "### One visit, frame by frame\n").unwrap();
    writeln!(
        out,
        "{VISITS} visits (« Très bien », a key, « Envoyer »), each frame rendered line by line and \
         encoded by `mipidsi` for an SPI device that counts bytes: only the changed area is \
         rendered and sent (the first frame is the whole picture). Bus time is the byte count at \
         {} MHz (computed; the Pi's SPI clock runs at the configured rate, the panel accepts \
         up to its datasheet's limit).\n",
        SPI_HZ / 1_000_000
    )
    .unwrap();
    writeln!(out, "| panel | frame | render + encode median | p95 | bytes on the bus | bus time |").unwrap();
    writeln!(out, "|---|---|---:|---:|---:|---:|").unwrap();
    let headless = Headless::install().unwrap();
    let config = Config::embedded();
    for (name, model, width, height) in [
        ("ILI9341 320×240, 16 bits", PanelModel::Ili9341, 320, 240),
        ("ILI9486 480×320, 18 bits", PanelModel::Ili9486, 480, 320),
    ] {
        let steps = ["home (first frame)", "« Très bien » → comment", "one key typed", "« Envoyer » → « Merci »"];
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); steps.len()];
        let mut bytes = vec![0usize; steps.len()];
        for _ in 0..VISITS {
            let (mut sink, counted) = open(&panel_config(model, width, height));
            let scene = Scene::new(&config, Store::open_in_memory().unwrap(), Box::new(|_| Vec::new())).unwrap();
            headless.set_size(u32::from(width), u32::from(height)).unwrap();
            scene.kiosk.window().show().unwrap();
            for (step, input) in
                [None, Some(Input::Rate(3)), Some(Input::Key("B".into())), Some(Input::Send)].into_iter().enumerate()
            {
                if let Some(input) = input {
                    scene.kiosk.input(input);
                }
                let before = counted.get();
                let t = Instant::now();
                headless
                    .draw_with(|r| {
                        r.set_repaint_buffer_type(RepaintBufferType::ReusedBuffer);
                        sink.draw(r).unwrap();
                    })
                    .unwrap();
                times[step].push(t.elapsed());
                bytes[step] = counted.get() - before;
            }
        }
        for (step, label) in steps.iter().enumerate() {
            times[step].sort();
            let bus = Duration::from_secs_f64(bytes[step] as f64 * 8.0 / f64::from(SPI_HZ));
            writeln!(
                out,
                "| {name} | {label} | {} ms | {} ms | {} | {} ms |",
                ms(percentile(&times[step], 0.5)),
                ms(percentile(&times[step], 0.95)),
                bytes[step],
                ms(bus)
            )
            .unwrap();
        }
    }

    writeln!(out, "\n### Idle kiosk on a panel\n").unwrap();
    writeln!(
        out,
        "The panel's own event loop on the home screen, untouched for {} s (after 2 s of start-up), \
         with an XPT2046 that reads « not touched »; CPU time of the whole process (getrusage).\n",
        IDLE.as_secs()
    )
    .unwrap();
    writeln!(out, "| touch | CPU | touch reads | frames drawn |").unwrap();
    writeln!(out, "|---|---:|---:|---:|").unwrap();
    for (label, mode) in [("pen interrupt (PENIRQ) wired", "irq"), ("no PENIRQ: polled every 33 ms", "poll")] {
        let output = Command::new(std::env::current_exe().unwrap()).args(["--idle-child", mode]).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let line = String::from_utf8_lossy(&output.stdout).trim().to_string();
        writeln!(out, "| {label} | {line} |").unwrap();
    }
    write_section("panel", &out);
}

fn cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

struct Untouched(Arc<AtomicUsize>);

impl Touch for Untouched {
    fn read(&mut self) -> Result<Option<(f32, f32)>, String> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(None)
    }
}

struct CountFrames(Box<dyn PanelSink>, Arc<AtomicUsize>);

impl PanelSink for CountFrames {
    fn draw(&mut self, renderer: &slint::platform::software_renderer::SoftwareRenderer) -> Result<(), String> {
        self.1.fetch_add(1, Ordering::Relaxed);
        self.0.draw(renderer)
    }
}

/// Runs the panel's event loop with the kiosk's home screen; prints "CPU | reads | frames".
fn idle_child(irq: bool) {
    let (sink, _) = open(&panel_config(PanelModel::Ili9341, 320, 240));
    let (reads, frames) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (waker, events) = panel::channel();
    let panel = Panel {
        width: 320,
        height: 240,
        sink: Box::new(CountFrames(sink, frames.clone())),
        touch: Some(Box::new(Untouched(reads.clone()))),
        touch_irq: irq,
    };
    panel::install(panel, waker, events).unwrap();
    let scene = Scene::new(&Config::embedded(), Store::open_in_memory().unwrap(), Box::new(|_| Vec::new())).unwrap();
    scene.kiosk.window().show().unwrap();
    let measure = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        let (c0, r0, f0) = (cpu(), reads.load(Ordering::Relaxed), frames.load(Ordering::Relaxed));
        std::thread::sleep(IDLE);
        let (c1, r1, f1) = (cpu(), reads.load(Ordering::Relaxed), frames.load(Ordering::Relaxed));
        slint::quit_event_loop().unwrap();
        format!(
            "{:.3} s ({:.3} %) | {} | {}",
            (c1 - c0).as_secs_f64(),
            (c1 - c0).as_secs_f64() * 100.0 / IDLE.as_secs_f64(),
            r1 - r0,
            f1 - f0
        )
    });
    slint::run_event_loop().unwrap();
    println!("{}", measure.join().unwrap());
}
