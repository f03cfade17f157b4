//! The voice of the speech mode: Debian's `espeak-ng` says the words and ALSA's `aplay` plays
//! them, both child processes. espeak-ng writes its samples as it makes them; this module
//! copies them to aplay, scaled to the visit's volume, so the first sample plays while the
//! rest of the sentence is still being made, and a new utterance or a press stops both
//! processes at once (EN 301 549 5.1.3.4: speech stops when the visitor acts).
//!
//! Child processes, not a linked library: a voice that crashes or hangs cannot take the kiosk
//! with it, and stopping is a kill. The same synthesis, volume and samples make the WAV files
//! of `borne speech`.

use crate::config::AccessibilityConfig;
use crate::kiosk::speech::{Speaker, Utterance};
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// espeak-ng's sample rate (16-bit mono) for every voice Borne uses.
pub const SAMPLE_RATE: u32 = 22_050;
/// The size of the WAV header espeak-ng writes before its samples on standard output.
const WAV_HEADER: usize = 44;

/// The espeak-ng voice for a kiosk language.
pub fn voice_of(language: &str) -> &'static str {
    match language {
        "en" => "en-gb",
        "es" => "es",
        "de" => "de",
        "it" => "it",
        "pt" => "pt",
        "ar" => "ar",
        _ => "fr-fr",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error("espeak-ng introuvable ou en échec ({0}) : installez le paquet espeak-ng")]
    Engine(String),
    #[error("sortie de la voix illisible : {0}")]
    Output(String),
}

/// Scales 16-bit little-endian samples to `volume` percent, in place.
pub fn scale(samples: &mut [u8], volume: u8) {
    let gain = f32::from(volume.min(100)) / 100.0;
    for pair in samples.chunks_exact_mut(2) {
        let s = i16::from_le_bytes([pair[0], pair[1]]);
        let scaled = (f32::from(s) * gain).round() as i16;
        pair.copy_from_slice(&scaled.to_le_bytes());
    }
}

/// Starts espeak-ng on `text` in `language`, its samples on its standard output.
fn espeak(text: &str, language: &str, speed: u16) -> Result<Child, VoiceError> {
    Command::new("espeak-ng")
        .args(["-v", voice_of(language), "-s", &speed.to_string(), "--stdout", "--"])
        .arg(text)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| VoiceError::Engine(e.to_string()))
}

/// Reads espeak-ng's WAV header and checks it is the format this module plays.
fn read_header(out: &mut impl Read) -> Result<(), VoiceError> {
    let mut header = [0u8; WAV_HEADER];
    out.read_exact(&mut header).map_err(|e| VoiceError::Output(e.to_string()))?;
    let rate = u32::from_le_bytes([header[24], header[25], header[26], header[27]]);
    let bits = u16::from_le_bytes([header[34], header[35]]);
    let channels = u16::from_le_bytes([header[22], header[23]]);
    if &header[..4] != b"RIFF" || rate != SAMPLE_RATE || bits != 16 || channels != 1 {
        return Err(VoiceError::Output(format!("{rate} Hz, {bits} bits, {channels} canaux")));
    }
    Ok(())
}

/// Says `text` into samples (16-bit mono at `SAMPLE_RATE`), at `volume`: what the kiosk would
/// play, for `borne speech` and the benchmarks.
pub fn synthesize(text: &str, language: &str, speed: u16, volume: u8) -> Result<Vec<i16>, VoiceError> {
    let mut child = espeak(text, language, speed)?;
    let mut out = child.stdout.take().ok_or_else(|| VoiceError::Engine("pas de sortie".into()))?;
    read_header(&mut out)?;
    let mut bytes = Vec::new();
    out.read_to_end(&mut bytes).map_err(|e| VoiceError::Output(e.to_string()))?;
    let status = child.wait().map_err(|e| VoiceError::Engine(e.to_string()))?;
    if !status.success() {
        return Err(VoiceError::Engine(status.to_string()));
    }
    bytes.truncate(bytes.len() / 2 * 2);
    scale(&mut bytes, volume);
    Ok(bytes.chunks_exact(2).map(|p| i16::from_le_bytes([p[0], p[1]])).collect())
}

/// Writes samples as a WAV file.
pub fn write_wav(path: &std::path::Path, samples: &[i16]) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec)?;
    for s in samples {
        writer.write_sample(*s)?;
    }
    writer.finalize()
}

/// The kiosk's voice: espeak-ng into aplay.
pub struct Espeak {
    device: String,
    speed: u16,
    engine: Result<String, String>,
    playing: Mutex<Option<Playing>>,
    /// When the last utterance's first sample reached ALSA.
    first_sample: Arc<Mutex<Option<Instant>>>,
}

struct Playing {
    espeak: Child,
    aplay: Child,
    copier: std::thread::JoinHandle<()>,
}

impl Espeak {
    /// The voice `cfg` asks for; whether espeak-ng answers is checked once, here.
    pub fn new(cfg: &AccessibilityConfig) -> Espeak {
        let engine = Command::new("espeak-ng")
            .arg("--version")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| e.to_string())
            .map(|out| {
                let text = String::from_utf8_lossy(&out.stdout).to_string();
                let version = text.split_whitespace().skip_while(|w| *w != "text-to-speech:").nth(1);
                version.unwrap_or("?").to_string()
            });
        if let Err(e) = &engine {
            tracing::warn!("no voice for the speech mode: espeak-ng: {e}");
        }
        Espeak {
            device: cfg.audio_device.clone(),
            speed: cfg.speed,
            engine,
            playing: Mutex::new(None),
            first_sample: Arc::new(Mutex::new(None)),
        }
    }

    /// When the last utterance's first sample reached ALSA, once it has.
    pub fn first_sample_at(&self) -> Option<Instant> {
        *self.first_sample.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the current utterance has been played whole (benchmarks, `borne speech`).
    pub fn wait(&self) {
        self.finish(false);
    }

    /// Ends the current utterance: killed (`kill`) or played to its end; its processes reaped.
    fn finish(&self, kill: bool) {
        let playing = self.playing.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut p) = playing {
            if kill {
                let _ = p.espeak.kill();
                let _ = p.aplay.kill();
            }
            let _ = p.copier.join();
            let _ = p.espeak.wait();
            let _ = p.aplay.wait();
        }
    }

    fn start(&self, u: &Utterance) -> Result<Playing, VoiceError> {
        let mut espeak = espeak(&u.text, &u.language, self.speed)?;
        let aplay = Command::new("aplay")
            .args(["-q", "-D", &self.device, "-t", "raw", "-f", "S16_LE", "-c", "1", "-r", &SAMPLE_RATE.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut aplay = match aplay {
            Ok(aplay) => aplay,
            Err(e) => {
                let _ = espeak.kill();
                let _ = espeak.wait();
                return Err(VoiceError::Output(format!("aplay : {e} (paquet alsa-utils)")));
            }
        };
        let (Some(from), Some(to)) = (espeak.stdout.take(), aplay.stdin.take()) else {
            return Err(VoiceError::Output("tubes absents".into()));
        };
        let (volume, first_sample) = (u.volume, self.first_sample.clone());
        let copier = std::thread::Builder::new()
            .name("voice".into())
            .spawn(move || copy(from, to, volume, &first_sample))
            .map_err(|e| VoiceError::Output(e.to_string()))?;
        Ok(Playing { espeak, aplay, copier })
    }
}

/// Copies espeak-ng's samples to aplay, scaled, noting when the first one went through.
fn copy(mut from: ChildStdout, mut to: ChildStdin, volume: u8, first_sample: &Mutex<Option<Instant>>) {
    if let Err(e) = read_header(&mut from) {
        tracing::warn!("voice: {e}");
        return;
    }
    let mut buf = [0u8; 2048];
    let mut carry: Option<u8> = None;
    let mut first = true;
    loop {
        let mut n = match &carry {
            Some(b) => {
                buf[0] = *b;
                1
            }
            None => 0,
        };
        match from.read(&mut buf[n..]) {
            Ok(0) | Err(_) => return,
            Ok(read) => n += read,
        }
        // Samples are two bytes: an odd byte waits for the next read.
        carry = (n % 2 == 1).then(|| buf[n - 1]);
        let whole = n / 2 * 2;
        scale(&mut buf[..whole], volume);
        if to.write_all(&buf[..whole]).is_err() {
            return;
        }
        if first && whole > 0 {
            first = false;
            *first_sample.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
    }
}

impl Speaker for Espeak {
    fn say(&self, utterance: Utterance) {
        self.stop();
        if self.engine.is_err() {
            return;
        }
        *self.first_sample.lock().unwrap_or_else(|e| e.into_inner()) = None;
        match self.start(&utterance) {
            Ok(playing) => *self.playing.lock().unwrap_or_else(|e| e.into_inner()) = Some(playing),
            Err(e) => tracing::warn!("voice: {e}"),
        }
    }

    fn stop(&self) {
        self.finish(true);
    }

    fn describe(&self) -> String {
        match &self.engine {
            Ok(version) => format!("prête (espeak-ng {version}, sortie ALSA « {} »)", self.device),
            Err(e) => format!("sans voix : espeak-ng introuvable ({e})"),
        }
    }
}

impl Drop for Espeak {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_scales_samples_and_never_overflows() {
        let mut bytes: Vec<u8> = [1000i16, -1000, i16::MAX, i16::MIN].iter().flat_map(|s| s.to_le_bytes()).collect();
        scale(&mut bytes, 50);
        let out: Vec<i16> = bytes.chunks_exact(2).map(|p| i16::from_le_bytes([p[0], p[1]])).collect();
        assert_eq!(out, [500, -500, 16384, -16384]);
        let mut loud: Vec<u8> = i16::MIN.to_le_bytes().to_vec();
        scale(&mut loud, 200);
        assert_eq!(i16::from_le_bytes([loud[0], loud[1]]), i16::MIN, "above 100 % is full scale");
    }

    #[test]
    fn every_language_has_its_own_voice() {
        let voices: Vec<&str> = crate::config::SUPPORTED_LANGUAGES.iter().map(|l| voice_of(l)).collect();
        for (i, v) in voices.iter().enumerate() {
            assert!(!voices[..i].contains(v), "{v} twice");
        }
    }
}
