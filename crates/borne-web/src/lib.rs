//! What the kiosk's dashboard and the platform's web server share: the bounded server, and the
//! primitives of a manager's sign-in (argon2id password hashes, sessions, sign-in failures per
//! account and address, constant-time comparison), and systemd's readiness notification.
//!
//! Invariant: no store, no UI: each server keeps its data and pages; only these mechanisms are
//! common, so a fix to one reaches both.

pub mod auth;
pub mod cookies;
pub mod serve;
pub mod systemd;
