//! What the kiosk and the platform share, and never copy: a review in the national platform's
//! model (JDMA), the indicators as the State computes them, and the wire types of upload
//! contract v1.
//!
//! Invariant: no IO, no UI, no database: pure types and functions, so both programs link it
//! without pulling each other's dependencies.

pub mod actions;
pub mod backoffice;
pub mod counts;
pub mod days;
pub mod indicators;
pub mod release;
pub mod review;
pub mod spreadsheet;
pub mod survey_file;
pub mod wire;
