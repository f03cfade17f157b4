//! Integration tests: the built binaries, run as a user runs them, on real files.

mod common;
mod dashboard;
mod fleet;
mod foundation;
mod hardware;
mod housekeeping;
mod identity;
mod jdma;
mod layering;
mod panel;
mod published;
mod soak;
mod ui;
mod updates;
mod upload;
