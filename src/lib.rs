//! Borne: firmware for the satisfaction kiosk of French public services.
//! See ARCHITECTURE.md for the map and the direction of dependencies.

pub mod app;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod dashboard;
pub mod export;
pub mod health;
pub mod hours;
pub mod human;
pub mod hw;
pub mod kiosk;
pub mod redact;
pub mod run;
pub mod speech;
pub mod store;
pub mod sys;
pub mod ui;
pub mod update;
pub mod uplink;
