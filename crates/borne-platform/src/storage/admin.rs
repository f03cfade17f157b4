//! What the console's administration keeps besides accounts and sites: organisations' names,
//! kiosks moved between sites, and single-use links (the first administrator's, invitations,
//! password resets) — only a token's SHA-256 is kept, with its expiry and when it was used.

use super::alerting::NewMail;
use super::model::Result;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::future::Future;

/// How long an invitation stays valid.
pub const INVITATION_VALID: Duration = Duration::days(7);
/// How long a password reset link stays valid.
pub const RESET_VALID: Duration = Duration::hours(1);
/// How long the first administrator's link stays valid (`serve` prints a new one each start
/// while no account exists).
pub const SETUP_VALID: Duration = Duration::days(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Creates the first, national, account: no account exists yet.
    Setup,
    /// Sets the password of an account created by an invitation.
    Invitation,
    /// Sets a new password on an account that forgot it.
    Reset,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Setup => "setup",
            LinkKind::Invitation => "invitation",
            LinkKind::Reset => "reset",
        }
    }

    pub fn parse(text: &str) -> Option<LinkKind> {
        [LinkKind::Setup, LinkKind::Invitation, LinkKind::Reset].into_iter().find(|k| k.as_str() == text)
    }
}

/// A link to keep, with the mail that carries it (in the same transaction: no link without
/// its mail queued, no mail whose link was not kept).
#[derive(Debug, Clone)]
pub struct NewLink {
    pub token_sha256: String,
    pub kind: LinkKind,
    pub account: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub mail: Option<NewMail>,
}

/// A link still valid: what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidLink {
    pub kind: LinkKind,
    pub account: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub id: String,
    pub name: String,
}

/// A whole review, as the console opens it from a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullReview {
    pub id: i64,
    pub site_id: String,
    pub device_id: String,
    /// The kiosk's local time, as it sent it.
    pub submitted_at: String,
    /// Each answer: its question's code, the text the kiosk sent for the question (if any), the
    /// answer's text.
    pub answers: Vec<(String, Option<String>, String)>,
    pub handled_by: Option<String>,
    pub tags: String,
}

/// What a manager does with an incident in the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handling {
    /// Seen: someone is on it (the incident stays open until its condition ends).
    Acknowledge { by: String, note: Option<String> },
    /// Closed by hand, with what was done.
    Close { by: String, note: String },
}

/// What each engine implements for the administration.
pub trait Administration {
    fn organisations(&self) -> impl Future<Output = Result<Vec<Organisation>>> + Send;
    /// Creates the organisation or renames it.
    fn name_organisation(&self, id: String, name: String) -> impl Future<Output = Result<()>> + Send;
    /// Moves a kiosk to another site (its reviews stay with the site they were given at).
    fn move_device(&self, device: String, site: String) -> impl Future<Output = Result<usize>> + Send;
    fn save_link(&self, link: NewLink, now: DateTime<Utc>) -> impl Future<Output = Result<()>> + Send;
    /// The link of this hash, if unused and unexpired at `now`.
    fn valid_link(
        &self,
        token_sha256: String,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<ValidLink>>> + Send;
    /// Uses the link once: marks it used (and every other unused link of its account), sets the
    /// account's password when it has one. `None` when it was used, expired or unknown.
    fn use_link(
        &self,
        token_sha256: String,
        password_hash: String,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<ValidLink>>> + Send;
    /// Handles the incident `id` if it is at one of `sites`; how many were changed (0: not in
    /// scope, unknown, or already so).
    fn handle_incident(
        &self,
        id: i64,
        sites: Vec<String>,
        handling: Handling,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<usize>> + Send;
    /// The review `id` if it is at one of `sites`.
    fn review(&self, id: i64, sites: Vec<String>) -> impl Future<Output = Result<Option<FullReview>>> + Send;
    /// Marks a comment's review handled (or not) and tags it, if it is at one of `sites`; how
    /// many were changed (0: not in scope, or unknown).
    fn follow_up_comment(
        &self,
        id: i64,
        sites: Vec<String>,
        handled_by: Option<String>,
        tags: String,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<usize>> + Send;
    /// Whether the account receives alert mails.
    fn set_alerts(&self, account: String, on: bool) -> impl Future<Output = Result<usize>> + Send;
    /// Links of this account created since `since` (a reset is asked at most so often).
    fn recent_links(&self, account: String, since: DateTime<Utc>) -> impl Future<Output = Result<u64>> + Send;
}
