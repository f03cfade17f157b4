//! What every section's validation shares: an error names its key, and GPIO pins are checked alike.

/// A validation error: the dotted key path (with `[i]` indexes) and the message.
pub(super) type Invalid = (String, String);

pub(super) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Invalid {
    (key.into(), message.into())
}

/// Whether a pin comes twice.
pub(super) fn repeats(pins: impl IntoIterator<Item = u8>) -> bool {
    let pins: Vec<u8> = pins.into_iter().collect();
    (1..pins.len()).any(|i| pins[..i].contains(&pins[i]))
}

/// A GPIO number of the Pi's header, as rppal and the wiring diagrams count them (BCM).
pub(super) fn bcm_pin(key: &str, pin: u8) -> Result<u8, Invalid> {
    if pin <= 27 { Ok(pin) } else { Err(invalid(key, "broche BCM de 0 à 27")) }
}
