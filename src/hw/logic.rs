//! The devices' behaviour, without devices: debouncing, the status LED's pattern and the
//! backlight's level. Pure, driven by made-up instants in tests.

use crate::config::BacklightPolicy;
use std::time::{Duration, Instant};

/// Software debouncing of a push button: a press counts on the edge to pressed, and any edge
/// within `window` of the last accepted one is contact bounce.
#[derive(Debug, Clone)]
pub struct Debouncer {
    window: Duration,
    last_edge: Option<Instant>,
    pressed: bool,
}

impl Debouncer {
    pub fn new(window: Duration) -> Debouncer {
        Debouncer { window, last_edge: None, pressed: false }
    }

    /// Feeds the pin's level (true: pressed) at `at`; returns true for a new press.
    pub fn edge(&mut self, pressed: bool, at: Instant) -> bool {
        if pressed == self.pressed {
            return false;
        }
        if self.last_edge.is_some_and(|last| at.saturating_duration_since(last) < self.window) {
            return false;
        }
        self.last_edge = Some(at);
        self.pressed = pressed;
        pressed
    }
}

/// What the status LED shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedPattern {
    /// All is well.
    Steady,
    /// Reviews have waited for upload longer than the threshold: 1 s on, 1 s off.
    SlowBlink,
    /// The store cannot write: 0.2 s on, 0.2 s off.
    FastBlink,
}

impl LedPattern {
    /// `threshold`: `None` when nothing is uploaded (reviews then wait by design).
    pub fn for_state(store_writes: bool, oldest_pending: Option<Duration>, threshold: Option<Duration>) -> LedPattern {
        if !store_writes {
            LedPattern::FastBlink
        } else if oldest_pending.zip(threshold).is_some_and(|(age, threshold)| age > threshold) {
            LedPattern::SlowBlink
        } else {
            LedPattern::Steady
        }
    }

    /// Half a period (none for steady).
    pub fn half_period(self) -> Option<Duration> {
        match self {
            LedPattern::Steady => None,
            LedPattern::SlowBlink => Some(Duration::from_secs(1)),
            LedPattern::FastBlink => Some(Duration::from_millis(200)),
        }
    }

    /// Whether the LED is lit `since` the pattern started.
    pub fn lit(self, since: Duration) -> bool {
        match self.half_period() {
            None => true,
            Some(half) => (since.as_millis() / half.as_millis().max(1)).is_multiple_of(2),
        }
    }
}

impl BacklightPolicy {
    /// The backlight's level, in percent: full while someone was seen lately in opening hours,
    /// dimmed after `dim_after`, and off or dimmed when closed.
    pub fn level(&self, open: bool, since_presence: Duration) -> u8 {
        if !open {
            return if self.off_when_closed { 0 } else { self.dim_percent };
        }
        if since_presence >= self.dim_after { self.dim_percent } else { 100 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debouncing_keeps_one_press_per_push() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut d = Debouncer::new(Duration::from_millis(30));
        // A push with contact bounce: down, up, down within a few ms, then released.
        let presses = [(true, 0), (false, 2), (true, 4), (false, 9), (true, 12), (false, 80)]
            .iter()
            .filter(|(level, at)| d.edge(*level, ms(*at)))
            .count();
        assert_eq!(presses, 1);
        // A second push later counts.
        assert!(d.edge(true, ms(200)));
        assert!(!d.edge(true, ms(260)), "held: no repeat");
        assert!(!d.edge(false, ms(210)), "release inside the window is bounce");
        assert!(!d.edge(false, ms(300)));
        assert!(d.edge(true, ms(400)));
    }

    #[test]
    fn led_states() {
        let day = Duration::from_secs(86_400);
        assert_eq!(LedPattern::for_state(true, None, Some(day)), LedPattern::Steady);
        assert_eq!(LedPattern::for_state(true, Some(day / 2), Some(day)), LedPattern::Steady);
        assert_eq!(LedPattern::for_state(true, Some(day * 2), Some(day)), LedPattern::SlowBlink);
        assert_eq!(LedPattern::for_state(false, Some(day * 2), Some(day)), LedPattern::FastBlink);
        // Uploads off: reviews wait by design, however old, and the LED stays steady.
        assert_eq!(LedPattern::for_state(true, Some(day * 365), None), LedPattern::Steady);
        let lit = |p: LedPattern| (0..8).map(|i| p.lit(Duration::from_millis(i * 250))).collect::<Vec<_>>();
        assert_eq!(lit(LedPattern::Steady), [true; 8]);
        assert_eq!(lit(LedPattern::SlowBlink), [true, true, true, true, false, false, false, false]);
        assert_eq!(lit(LedPattern::FastBlink), [true, false, true, false, false, true, false, true]);
    }

    #[test]
    fn backlight_dims_without_presence_and_follows_opening_hours() {
        let p = BacklightPolicy { dim_after: Duration::from_secs(300), dim_percent: 20, off_when_closed: true };
        assert_eq!(p.level(true, Duration::from_secs(10)), 100);
        assert_eq!(p.level(true, Duration::from_secs(300)), 20);
        assert_eq!(p.level(false, Duration::ZERO), 0);
        let closed_screen = BacklightPolicy { off_when_closed: false, ..p };
        assert_eq!(closed_screen.level(false, Duration::ZERO), 20);
    }
}
