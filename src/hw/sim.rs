//! Simulated devices: pins whose levels a test (or a developer without a Pi) sets by hand. They
//! go through the same debouncing and callbacks as the real ones.

use super::logic::Debouncer;
use super::parts::{
    Backlight, Buttons, Edge, HwError, Key, OnPresence, OnPress, OnSwitch, Presence, StatusLed, Switch, key_of,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Handler = Box<dyn FnMut(Edge) + Send>;

/// The simulated board: what was wired, and what the outputs show.
#[derive(Default)]
pub struct Board {
    inputs: Mutex<Vec<(u8, Handler)>>,
    /// Every level the LED was set to.
    pub led: Mutex<Vec<bool>>,
    /// Every backlight level set, in percent.
    pub backlight: Mutex<Vec<u8>>,
}

impl Board {
    pub fn new() -> Arc<Board> {
        Arc::new(Board::default())
    }

    /// Sets an input pin's level, as a finger or a body would; runs its handler on this thread.
    pub fn edge(&self, edge: Edge) {
        let mut inputs = self.inputs.lock().unwrap_or_else(|e| e.into_inner());
        for (pin, handler) in inputs.iter_mut() {
            if *pin == edge.pin {
                handler(edge);
            }
        }
    }

    fn wire(&self, pin: u8, handler: Handler) {
        self.inputs.lock().unwrap_or_else(|e| e.into_inner()).push((pin, handler));
    }

    pub fn led_now(&self) -> Option<bool> {
        self.led.lock().unwrap_or_else(|e| e.into_inner()).last().copied()
    }

    pub fn backlight_now(&self) -> Option<u8> {
        self.backlight.lock().unwrap_or_else(|e| e.into_inner()).last().copied()
    }
}

pub struct SimButtons {
    pub board: Arc<Board>,
    pub keys: Vec<(u8, Key)>,
    pub debounce: Duration,
}

impl Buttons for SimButtons {
    fn start(&mut self, on_press: OnPress) -> Result<(), HwError> {
        let on_press = Arc::new(on_press);
        for &(pin, _) in &self.keys {
            let mut debouncer = Debouncer::new(self.debounce);
            let keys = self.keys.clone();
            let on_press = on_press.clone();
            self.board.wire(
                pin,
                Box::new(move |edge| {
                    if debouncer.edge(edge.active, edge.at)
                        && let Some(key) = key_of(&keys, edge.pin)
                    {
                        on_press(key);
                    }
                }),
            );
        }
        Ok(())
    }
}

pub struct SimPresence {
    pub board: Arc<Board>,
    pub pin: u8,
}

impl Presence for SimPresence {
    fn start(&mut self, on_presence: OnPresence) -> Result<(), HwError> {
        self.board.wire(
            self.pin,
            Box::new(move |edge| {
                if edge.active {
                    on_presence();
                }
            }),
        );
        Ok(())
    }
}

/// A switch (the headset socket): both edges reported, active while the plug is in.
pub struct SimSwitch {
    pub board: Arc<Board>,
    pub pin: u8,
}

impl Switch for SimSwitch {
    fn start(&mut self, on_change: OnSwitch) -> Result<(), HwError> {
        self.board.wire(self.pin, Box::new(move |edge| on_change(edge.active)));
        Ok(())
    }
}

pub struct SimLed(pub Arc<Board>);

impl StatusLed for SimLed {
    fn set(&mut self, lit: bool) {
        self.0.led.lock().unwrap_or_else(|e| e.into_inner()).push(lit);
    }
}

pub struct SimBacklight(pub Arc<Board>);

impl Backlight for SimBacklight {
    fn set_percent(&mut self, percent: u8) -> Result<(), HwError> {
        self.0.backlight.lock().unwrap_or_else(|e| e.into_inner()).push(percent.min(100));
        Ok(())
    }
}
