//! Touchscreen benchmarks: software-renderer time of one full frame of every screen at both
//! panel sizes (wall time, and instructions under callgrind, which a noisy machine does not
//! change), time from a tap to the next screen drawn (the durable commit included when the
//! tap sends a review), CPU and wake-ups of an idle kiosk over 60 s, and peak memory.
//!
//! Run with `cargo bench --bench ui`. The callgrind part needs `valgrind`; the idle and memory
//! part runs the real kiosk in a window and needs `Xvfb` and `xdotool`: either is skipped,
//! and says so, when missing. Figures go to docs/benchmarks.md.

mod common;

use borne::config::Config;
use borne::store::{Integrity, Store};
use borne::ui::Input;
use borne::ui::headless::{Frame, Headless};
use borne::ui::screenshots::{SIZES, Scene, walk};
use common::*;
use slint::ComponentHandle;
use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BORNE: &str = env!("CARGO_BIN_EXE_borne");
const FRAMES: usize = 25;
const TAPS: usize = 200;

fn no_status() -> borne::ui::StatusLines {
    Box::new(|_| vec![("Version".into(), env!("CARGO_PKG_VERSION").into())])
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--callgrind-child") {
        let width = args[i + 1].parse().unwrap();
        let height = args[i + 2].parse().unwrap();
        callgrind_child(width, height);
        return;
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let config = Config::embedded();
    let headless = Headless::install().unwrap();
    let mut out = String::new();
    writeln!(out, "## Touchscreen (`cargo bench --bench ui`)\n").unwrap();
    writeln!(out, "Machine: {}.\n", machine()).unwrap();

    // 1. Full frames.
    writeln!(out, "### One full frame, software renderer\n").unwrap();
    writeln!(out, "{FRAMES} full redraws of each screen (whole window, RGB888), release build.\n").unwrap();
    writeln!(out, "| screen | 800×480 median | p95 | 1280×720 median | p95 |").unwrap();
    writeln!(out, "|---|---:|---:|---:|---:|").unwrap();
    let mut rows: Vec<(String, Vec<(Duration, Duration)>)> = Vec::new();
    for (width, height) in SIZES {
        let scene = Scene::new(&config, Store::open_in_memory().unwrap(), no_status()).unwrap();
        headless.set_size(width, height).unwrap();
        scene.kiosk.window().show().unwrap();
        let mut frame = Frame { width: 0, height: 0, pixels: Vec::new() };
        let mut index = 0;
        walk(&scene, &config, false, |name, _| {
            let mut times: Vec<Duration> = (0..FRAMES)
                .map(|_| {
                    let t = Instant::now();
                    headless.render_into(&mut frame).unwrap();
                    t.elapsed()
                })
                .collect();
            times.sort();
            if rows.len() <= index {
                rows.push((name.to_string(), Vec::new()));
            }
            rows[index].1.push((percentile(&times, 0.5), percentile(&times, 0.95)));
            index += 1;
            Ok(())
        })
        .unwrap();
    }
    for (name, sizes) in &rows {
        let cells: Vec<String> = sizes.iter().map(|(m, p)| format!("{} ms | {} ms", ms(*m), ms(*p))).collect();
        writeln!(out, "| {name} | {} |", cells.join(" | ")).unwrap();
    }

    // 2. Instructions per frame.
    writeln!(out, "\n### Instructions per full frame (callgrind)\n").unwrap();
    match callgrind() {
        Ok(table) => out.push_str(&table),
        Err(why) => writeln!(out, "Skipped: {why}.").unwrap(),
    }

    // 3. Tap to next screen drawn.
    writeln!(out, "\n### From a tap to the next screen drawn (800×480)\n").unwrap();
    writeln!(
        out,
        "{TAPS} visits on a store file on disk (WAL, synchronous=FULL): the tap goes through the \
         flow, the window's properties are set and one frame is drawn.\n"
    )
    .unwrap();
    out.push_str(&tap_to_draw(&headless, &config));

    // 4. Idle CPU and peak memory of the real kiosk.
    writeln!(out, "\n### Idle kiosk and peak memory\n").unwrap();
    match idle_and_memory(None) {
        Ok(text) => out.push_str(&text),
        Err(why) => writeln!(out, "Skipped: {why}.").unwrap(),
    }
    let hw_config = std::env::temp_dir().join(format!("borne-bench-hw-{}.toml", std::process::id()));
    std::fs::write(
        &hw_config,
        "[hardware]\nbackend = \"simulated\"\nbuttons = [5, 6, 13]\npresence_pin = 17\nled_pin = 27\n\
         backlight = \"none\"\n[hours]\nmonday = \"00:00-24:00\"\ntuesday = \"00:00-24:00\"\n\
         wednesday = \"00:00-24:00\"\nthursday = \"00:00-24:00\"\nfriday = \"00:00-24:00\"\n\
         saturday = \"00:00-24:00\"\nsunday = \"00:00-24:00\"\n",
    )
    .unwrap();
    match idle_and_memory(Some(&hw_config)) {
        Ok(text) => out.push_str(&text),
        Err(why) => writeln!(out, "Devices armed: skipped: {why}.").unwrap(),
    }
    let _ = std::fs::remove_file(&hw_config);
    let mut cmd = Command::new(BORNE);
    let scratch = std::env::temp_dir().join(format!("borne-bench-shots-{}", std::process::id()));
    cmd.arg("screenshots").arg(&scratch);
    let (ok, kib) = peak_rss_kib(&mut cmd);
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(ok, "borne screenshots failed");
    writeln!(
        out,
        "- `borne screenshots` (every screen at 800×480 and 1280×720, software renderer, no display): \
         peak RSS {:.1} MiB (goal < 60 MB).",
        kib as f64 / 1024.0
    )
    .unwrap();
    write_section("ui", &out);
}

fn tap_to_draw(headless: &Headless, config: &Config) -> String {
    let dir = std::env::temp_dir().join(format!("borne-bench-ui-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (store, _) = Store::open(&dir, Integrity::CheckAndRecover).unwrap();
    let scene = Scene::new(config, store, no_status()).unwrap();
    headless.set_size(800, 480).unwrap();
    scene.kiosk.window().show().unwrap();
    let mut frame = Frame { width: 0, height: 0, pixels: Vec::new() };
    let timed = |input: Input, frame: &mut Frame| {
        let t = Instant::now();
        scene.kiosk.input(input);
        headless.render_into(frame).unwrap();
        t.elapsed()
    };
    let (mut rate, mut key, mut send) = (Vec::new(), Vec::new(), Vec::new());
    headless.render_into(&mut frame).unwrap();
    for _ in 0..TAPS {
        rate.push(timed(Input::Rate(1), &mut frame));
        timed(Input::Toggle(1), &mut frame);
        timed(Input::Next, &mut frame);
        key.push(timed(Input::Key("a".into()), &mut frame));
        send.push(timed(Input::Send, &mut frame));
        assert_eq!(scene.kiosk.window().get_screen(), borne::ui::Screen::Thanks);
        scene.advance(Duration::from_secs(10));
        headless.render_into(&mut frame).unwrap();
    }
    drop(scene);
    let _ = std::fs::remove_dir_all(&dir);
    let mut out = String::new();
    writeln!(out, "| tap | median | p95 | p99 |").unwrap();
    writeln!(out, "|---|---:|---:|---:|").unwrap();
    for (name, mut times) in [
        ("smiley « Pas bien » → question drawn", rate),
        ("key « a » → comment redrawn", key),
        ("« Envoyer » → review committed to disk → « Merci » drawn", send),
    ] {
        times.sort();
        writeln!(
            out,
            "| {name} | {} ms | {} ms | {} ms |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(percentile(&times, 0.99))
        )
        .unwrap();
    }
    out
}

/// Under callgrind: walks the screens, drawing each once; `render_into` is bracketed by dumps.
fn callgrind_child(width: u32, height: u32) {
    let config = Config::embedded();
    let headless = Headless::install().unwrap();
    let scene = Scene::new(&config, Store::open_in_memory().unwrap(), no_status()).unwrap();
    headless.set_size(width, height).unwrap();
    scene.kiosk.window().show().unwrap();
    let mut frame = Frame { width: 0, height: 0, pixels: Vec::new() };
    walk(&scene, &config, false, |name, _| {
        println!("{name}");
        headless.render_into(&mut frame).unwrap();
        Ok(())
    })
    .unwrap();
}

fn callgrind() -> Result<String, String> {
    let valgrind_ok = Command::new("valgrind").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if !valgrind_ok {
        return Err("valgrind is not installed".into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut columns: Vec<(String, Vec<u64>)> = Vec::new();
    for (width, height) in SIZES {
        let dir = std::env::temp_dir().join(format!("borne-callgrind-{}-{width}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let output = Command::new("valgrind")
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}/cg.out", dir.display()))
            .arg("--dump-before=*Headless*render_into*")
            .arg("--dump-before=*headless*frame_drawn*")
            .arg(&exe)
            .args(["--callgrind-child", &width.to_string(), &height.to_string()])
            .stderr(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if !output.status.success() {
            return Err(format!("callgrind run failed ({})", output.status));
        }
        let names: Vec<String> = String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect();
        // Dumps triggered on reaching frame_drawn hold exactly one frame's instructions (from
        // entering render_into).
        let mut dumps: Vec<(u64, u64)> = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            let part = text.lines().find_map(|l| l.strip_prefix("part:")).and_then(|v| v.trim().parse().ok());
            let after = text.lines().any(|l| l.starts_with("desc: Trigger:") && l.contains("frame_drawn"));
            let total = text
                .lines()
                .find_map(|l| l.strip_prefix("totals:").or_else(|| l.strip_prefix("summary:")))
                .and_then(|v| v.split_whitespace().next()?.parse().ok());
            if let (Some(part), true, Some(total)) = (part, after, total) {
                dumps.push((part, total));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        dumps.sort();
        if dumps.len() != names.len() {
            return Err(format!("{} frame dumps for {} screens", dumps.len(), names.len()));
        }
        for (i, name) in names.iter().enumerate() {
            if columns.len() <= i {
                columns.push((name.clone(), Vec::new()));
            }
            columns[i].1.push(dumps[i].1);
        }
    }
    let mut out = String::from(
        "Instructions executed inside one call of `Headless::render_into` (one full frame), counted by \
         `valgrind --tool=callgrind` dumping on entry and when the frame is drawn: the same on any run of the same binary.\n\n",
    );
    writeln!(out, "| screen | 800×480 | 1280×720 |").unwrap();
    writeln!(out, "|---|---:|---:|").unwrap();
    for (name, counts) in columns {
        let cells: Vec<String> = counts.iter().map(|c| format!("{:.1} M", *c as f64 / 1e6)).collect();
        writeln!(out, "| {name} | {} |", cells.join(" | ")).unwrap();
    }
    Ok(out)
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(program: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {program}")).output().is_ok_and(|o| o.status.success())
}

fn proc_field(pid: u32, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// CPU ticks (user + system) of a process.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The real kiosk in a window under Xvfb (winit, software renderer): a visit made with real
/// clicks, then 60 s untouched.
fn idle_and_memory(config: Option<&std::path::Path>) -> Result<String, String> {
    for tool in ["Xvfb", "xdotool"] {
        if !have(tool) {
            return Err(format!("{tool} is not installed (Debian: xvfb, xdotool)"));
        }
    }
    let display = format!(":{}", 90 + std::process::id() % 100);
    let _xvfb = Killed(
        Command::new("Xvfb")
            .args([display.as_str(), "-screen", "0", "1024x600x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    std::thread::sleep(Duration::from_secs(2));
    let dir = std::env::temp_dir().join(format!("borne-bench-idle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut command = Command::new(BORNE);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let kiosk = Killed(
        command
            .arg("--data-dir")
            .arg(&dir)
            .env("DISPLAY", &display)
            .env("SLINT_BACKEND", "winit-software")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    let pid = kiosk.0.id();
    std::thread::sleep(Duration::from_secs(4));
    let xdotool = |args: &[&str]| {
        Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &display)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    // A visit: « Pas bien », a chip, « Suivant », a few keys, « Envoyer » (800×480 layout).
    let clicks: &[(i32, i32)] = if config.is_some() {
        &[]
    } else {
        &[(136, 220), (140, 160), (676, 412), (43, 190), (116, 190), (190, 190), (715, 63)]
    };
    for &(x, y) in clicks {
        if !xdotool(&["mousemove", &x.to_string(), &y.to_string(), "click", "1"]) {
            return Err("xdotool could not click".into());
        }
        std::thread::sleep(Duration::from_millis(400));
    }
    std::thread::sleep(Duration::from_secs(6));
    let (store, _) = Store::open(&dir, Integrity::Trust).map_err(|e| e.to_string())?;
    let stored = store.outbox_summary().map_err(|e| e.to_string())?.total;
    drop(store);
    let hwm_visit = proc_field(pid, "status", "VmHWM:").ok_or("kiosk not running")?;
    let ticks0 = cpu_ticks(pid).ok_or("kiosk not running")?;
    let switches0 = proc_field(pid, "status", "voluntary_ctxt_switches:").unwrap_or(0)
        + proc_field(pid, "status", "nonvoluntary_ctxt_switches:").unwrap_or(0);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(60));
    let elapsed = t0.elapsed().as_secs_f64();
    let ticks1 = cpu_ticks(pid).ok_or("kiosk died while idle")?;
    let switches1 = proc_field(pid, "status", "voluntary_ctxt_switches:").unwrap_or(0)
        + proc_field(pid, "status", "nonvoluntary_ctxt_switches:").unwrap_or(0);
    let hwm = proc_field(pid, "status", "VmHWM:").unwrap_or(hwm_visit);
    let rss = proc_field(pid, "status", "VmRSS:").unwrap_or(0);
    drop(kiosk);
    let _ = std::fs::remove_dir_all(&dir);
    let hz = 100.0; // USER_HZ on Linux
    let cpu_s = (ticks1 - ticks0) as f64 / hz;
    let mut out = String::new();
    if config.is_some() {
        writeln!(
            out,
            "- With devices armed (`[hardware]`: three buttons, presence sensor, LED, opening hours; simulated \
             on this machine, which has no GPIO, so the controller and its timers run but no rppal interrupt \
             thread): {cpu_s:.2} s of CPU in {elapsed:.0} s ({:.3} %), {} context switches of the UI thread \
             (the LED's health check wakes it once a minute); peak RSS {:.1} MiB.",
            100.0 * cpu_s / elapsed,
            switches1 - switches0,
            hwm as f64 / 1024.0
        )
        .unwrap();
        return Ok(out);
    }
    writeln!(
        out,
        "The release `borne` binary on its embedded configuration, in an 800×480 window under Xvfb \
         (`SLINT_BACKEND=winit-software`); a visit made with real clicks (xdotool: smiley, chip, \
         « Suivant », three keys, « Envoyer »; {stored} review stored), then {elapsed:.0} s untouched.\n"
    )
    .unwrap();
    writeln!(
        out,
        "- Idle: {cpu_s:.2} s of CPU in {elapsed:.0} s ({:.3} %), {} context switches of the \
         kiosk's UI thread (the uploader is off) — no timer runs and nothing redraws when nothing changes.",
        100.0 * cpu_s / elapsed,
        switches1 - switches0
    )
    .unwrap();
    writeln!(
        out,
        "- Kiosk peak RSS (VmHWM) after the visit: {:.1} MiB; resident when idle {:.1} MiB (goal < 60 MB).",
        hwm as f64 / 1024.0,
        rss as f64 / 1024.0
    )
    .unwrap();
    Ok(out)
}
