//! What the alerts keep: each organisation's rules, the evaluator's memory (one row, claimed by
//! one instance a minute), the incidents, and the mails to send (an outbox: a mail decided is
//! committed with the decision, then sent, retried until the SMTP server takes it).

use super::console::Role;
use super::model::{Result, Site};
use chrono::{DateTime, Duration, Utc};
use std::future::Future;

/// How often a manager receives a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Digest {
    None,
    Daily,
    Weekly,
    Monthly,
}

impl Digest {
    /// A new account's summaries: weekly for a network's or a site's manager (their own sites);
    /// none for a national account, whose scope is every site (it asks for them if it wants them).
    pub fn default_for(role: Role) -> Digest {
        match role {
            Role::National => Digest::None,
            Role::Network | Role::Site => Digest::Weekly,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Digest::None => "none",
            Digest::Daily => "daily",
            Digest::Weekly => "weekly",
            Digest::Monthly => "monthly",
        }
    }

    pub fn parse(text: &str) -> Option<Digest> {
        match text {
            "none" => Some(Digest::None),
            "daily" => Some(Digest::Daily),
            "weekly" => Some(Digest::Weekly),
            "monthly" => Some(Digest::Monthly),
            _ => None,
        }
    }
}

/// A manager as the alerts see them.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscriber {
    pub email: String,
    pub role: Role,
    pub organisation: Option<String>,
    pub site: Option<String>,
    pub alerts: bool,
    pub digest: Digest,
    pub digest_sent_at: Option<DateTime<Utc>>,
    pub unsubscribe_token: String,
}

impl Subscriber {
    /// Whether this manager's scope holds `site` (as their console shows it).
    pub fn sees(&self, site: &Site) -> bool {
        self.role.covers(self.organisation.as_deref(), self.site.as_deref(), &site.id, site.organisation.as_deref())
    }
}

/// An incident that opens or resolves, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentChange {
    Opened {
        rule: String,
        scope_kind: String,
        scope_id: String,
        site_id: Option<String>,
        detail: String,
        at: DateTime<Utc>,
    },
    Resolved {
        rule: String,
        scope_kind: String,
        scope_id: String,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewMail {
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub unsubscribe_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub unsubscribe_url: Option<String>,
    pub attempts: i64,
}

/// What became of one attempt to send a mail.
#[derive(Debug, Clone, PartialEq)]
pub enum MailOutcome {
    Sent(DateTime<Utc>),
    /// Tried again at `at`.
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    /// Given up for good at `at`: kept, and shown, never sent.
    Abandoned {
        error: String,
        at: DateTime<Utc>,
    },
}

/// A mail given up for good (an address the server refuses, or too many failures).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AbandonedMail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub abandoned_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Incident {
    pub id: i64,
    pub rule: String,
    pub scope_kind: String,
    pub scope_id: String,
    pub site_id: Option<String>,
    pub detail: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The manager who saw it in the console.
    pub acknowledged_by: Option<String>,
    /// The manager who closed it (else it resolved by itself).
    pub closed_by: Option<String>,
    /// What the manager wrote when seeing or closing it.
    pub note: Option<String>,
}

/// What one evaluation decided, committed at once with the evaluator's memory.
#[derive(Debug, Clone, Default)]
pub struct TickOutcome {
    pub tracks: String,
    pub incidents: Vec<IncidentChange>,
    pub mails: Vec<NewMail>,
    pub digests_sent: Vec<String>,
}

/// A mail's claim lasts this long: if its sender dies, another sends it after.
pub(crate) const CLAIM: Duration = Duration::minutes(2);

/// What each engine implements for alerts: subscribers, the evaluation round, the mail outbox, incidents.
pub trait Alerting {
    fn subscribers(&self) -> impl Future<Output = Result<Vec<Subscriber>>> + Send;
    fn claim_tick(
        &self,
        holder: String,
        now: DateTime<Utc>,
        every: Duration,
    ) -> impl Future<Output = Result<Option<String>>> + Send;
    fn commit_tick(
        &self,
        holder: String,
        outcome: TickOutcome,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool>> + Send;
    fn claim_mail(&self, now: DateTime<Utc>) -> impl Future<Output = Result<Option<OutboxMail>>> + Send;
    fn mail_done(&self, id: i64, outcome: MailOutcome) -> impl Future<Output = Result<()>> + Send;
    /// The mails given up, newest first.
    fn abandoned_mails(&self, limit: u32) -> impl Future<Output = Result<Vec<AbandonedMail>>> + Send;
    fn incidents(&self, sites: Vec<String>, limit: u32) -> impl Future<Output = Result<Vec<Incident>>> + Send;
    fn unsubscribe(&self, token: String) -> impl Future<Output = Result<usize>> + Send;
    fn set_text(&self, sql: &'static str, key: String, value: String) -> impl Future<Output = Result<usize>> + Send;
    fn get_text(&self, sql: &'static str, key: String) -> impl Future<Output = Result<Option<String>>> + Send;
}
