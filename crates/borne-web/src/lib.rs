//! What the kiosk's dashboard and the platform's web server share: the bounded server, and the
//! primitives of a manager's sign-in (argon2id password hashes, sessions, sign-in failures per
//! account and address, constant-time comparison), systemd's readiness notification, and the
//! table of JDMA's back-office figures both show a manager, and clap's words in French.
//!
//! Invariant: no store, no UI: each server keeps its data and pages; only these mechanisms and
//! that one fragment are common, so a fix to one reaches both.

pub mod auth;
pub mod cli;
pub mod cookies;
pub mod dsfr;
pub mod figures;
pub mod serve;
pub mod systemd;
