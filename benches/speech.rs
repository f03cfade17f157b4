//! Speech mode benchmarks: the time from a button press to the first spoken sample handed to
//! ALSA (the kiosk's real path: window, flow, words from the translations, espeak-ng, the
//! volume, aplay), and the CPU a whole spoken visit costs (this process and the voice's child
//! processes, from /proc).
//!
//! Run with `cargo bench --bench speech` (or `--profile dev`, which the figures then say). Needs `espeak-ng` and `aplay` (alsa-utils); plays
//! into ALSA's `null` device, which takes samples as fast as they come, so the visit's wall
//! time is synthesis time, not listening time. Figures go to docs/benchmarks.md.

mod common;

use borne::config::Config;
use borne::kiosk::speech::Speaker;
use borne::speech::Espeak;
use borne::store::Store;
use borne::ui::headless::Headless;
use borne::ui::{Input, Kiosk, KioskParts, SpeechKey};
use common::*;
use slint::ComponentHandle;
use std::cell::Cell;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::{Duration, Instant};

const PRESSES: usize = 30;

/// CPU time (user + system) of this process and of its waited-for children, in seconds.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    let tick = |i: usize| fields[i - 3].parse::<f64>().unwrap() / 100.0;
    (tick(14) + tick(15), tick(16) + tick(17))
}

/// Waits for the first sample of the utterance asked for at `pressed`.
fn first_sample(espeak: &Espeak, pressed: Instant) -> Duration {
    let deadline = pressed + Duration::from_secs(10);
    loop {
        if let Some(at) = espeak.first_sample_at().filter(|at| *at >= pressed) {
            return at - pressed;
        }
        assert!(Instant::now() < deadline, "no sample within 10 s");
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let mut config = Config::embedded();
    config.accessibility.audio_device = "null".into();
    let _headless = Headless::install().unwrap();
    let espeak = Rc::new(Espeak::new(&config.accessibility));
    assert!(espeak.describe().starts_with("prête"), "{}", espeak.describe());
    let time = Rc::new(Cell::new(Instant::now()));
    let clock = time.clone();
    let parts = KioskParts {
        speaker: espeak.clone(),
        ..KioskParts::new(Store::open_in_memory().unwrap(), &config, Rc::new(move || clock.get()))
    };
    let kiosk = Kiosk::new(parts).unwrap();
    kiosk.window().show().unwrap();
    let press = |input: Input| -> Duration {
        let pressed = Instant::now();
        kiosk.input(input);
        first_sample(&espeak, pressed)
    };
    let advance = |by: Duration| {
        time.set(time.get() + by);
        kiosk.tick();
    };

    // 1. Press → first sample, interrupting what was being said, as a visitor's presses do.
    let mut home = Vec::new();
    let mut choice = Vec::new();
    press(Input::Speech(SpeechKey::Speak));
    for _ in 0..PRESSES {
        // On the home screen the speak button goes to the next language and reads it all.
        home.push(press(Input::Speech(SpeechKey::Speak)));
    }
    espeak.stop();
    advance(Duration::from_secs(60));
    press(Input::Speech(SpeechKey::Speak));
    press(Input::Rate(1));
    for _ in 0..PRESSES {
        // The right button on the follow-up: the next choice, said.
        choice.push(press(Input::Rate(3)));
    }
    espeak.stop();
    home.sort();
    choice.sort();

    // 2. A whole spoken visit, each utterance heard to its end. (The follow-up left above is
    // stored as a walk-away, thanked, then the home screen comes back.)
    advance(Duration::from_secs(60));
    advance(Duration::from_secs(60));
    let before = kiosk.with_store(|s| s.outbox_summary().unwrap().total);
    let (self0, children0) = cpu_seconds();
    let started = Instant::now();
    let mut utterances = 0;
    let mut step = |input: Input| {
        kiosk.input(input);
        espeak.wait();
        utterances += 1;
    };
    step(Input::Speech(SpeechKey::Speak));
    step(Input::Rate(1));
    step(Input::Rate(2)); // choose « L'attente »
    step(Input::Rate(3));
    step(Input::Rate(3));
    step(Input::Rate(2)); // choose « Les informations reçues »
    for _ in 0..4 {
        step(Input::Rate(1)); // back, past « Passer », to « Suivant »
    }
    step(Input::Rate(2)); // the comment
    step(Input::Rate(2)); // « Envoyer »: « Merci »
    let wall = started.elapsed();
    let (self1, children1) = cpu_seconds();
    let reviews = kiosk.with_store(|s| s.outbox_summary().unwrap().total);
    assert_eq!(reviews, before + 1, "the visit was stored");

    let mut out = String::new();
    writeln!(out, "## Speech mode (`cargo bench --bench speech`)\n").unwrap();
    writeln!(out, "Machine: {}. espeak-ng {}, ALSA `null` device.\n", machine(), espeak_version()).unwrap();
    writeln!(out, "### Press → first spoken sample\n").unwrap();
    writeln!(
        out,
        "From the press handed to the kiosk to the first sample written to aplay ({PRESSES} presses each, \
         each interrupting the last utterance; {}).\n",
        if cfg!(debug_assertions) { "debug build, `--profile dev`" } else { "release build" }
    )
    .unwrap();
    writeln!(out, "| press | median ms | p95 ms | max ms |").unwrap();
    writeln!(out, "|---|---:|---:|---:|").unwrap();
    for (what, sorted) in [
        ("speak on the home screen (next language, whole screen read)", &home),
        ("right button on a follow-up (next choice)", &choice),
    ] {
        writeln!(
            out,
            "| {what} | {} | {} | {} |",
            ms(percentile(sorted, 0.5)),
            ms(percentile(sorted, 0.95)),
            ms(*sorted.last().unwrap())
        )
        .unwrap();
    }
    writeln!(out, "\n### CPU of a spoken visit\n").unwrap();
    writeln!(
        out,
        "A visit by the buttons alone ({utterances} utterances: the home screen, « Pas bien », two choices, \
         « Suivant », the comment, « Envoyer », « Merci »), each synthesised and played whole.\n"
    )
    .unwrap();
    writeln!(out, "| | seconds |").unwrap();
    writeln!(out, "|---|---:|").unwrap();
    writeln!(out, "| wall time (synthesis; a listener takes about a minute) | {:.2} |", wall.as_secs_f64()).unwrap();
    writeln!(out, "| CPU of the kiosk process | {:.2} |", self1 - self0).unwrap();
    writeln!(out, "| CPU of espeak-ng and aplay | {:.2} |", children1 - children0).unwrap();
    print!("{out}");
    write_section("speech", &out);
}

fn espeak_version() -> String {
    let out = std::process::Command::new("espeak-ng").arg("--version").output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().nth(3).unwrap_or("?").to_string()
}
