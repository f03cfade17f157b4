//! Borne: firmware for the satisfaction kiosk of French public services.
//! See ARCHITECTURE.md for the map.

pub mod accept;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod dashboard;
pub mod export;
pub mod hw;
pub mod kiosk;
pub mod receiver;
pub mod redact;
pub mod review;
pub mod store;
pub mod sys;
pub mod ui;
pub mod uplink;
