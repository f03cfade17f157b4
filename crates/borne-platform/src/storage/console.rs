//! What the managers' console keeps: accounts (national, network, site), their sessions, and
//! the comments read across a network (full-text search: PostgreSQL's `french` configuration,
//! SQLite's FTS5). The plain types and the interface; each engine has its SQL.

use super::model::{Result, StorageError};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use std::future::Future;

/// A session ends after this long without a request…
pub const SESSION_IDLE: Duration = Duration::minutes(30);
/// …and after this long whatever the activity.
pub const SESSION_MAX: Duration = Duration::hours(12);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every organisation, every site.
    National,
    /// One organisation (a network: a prefecture and its sub-prefectures, a CAF…) and its sites.
    Network,
    /// One site.
    Site,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::National => "national",
            Role::Network => "network",
            Role::Site => "site",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "national" => Some(Role::National),
            "network" => Some(Role::Network),
            "site" => Some(Role::Site),
            _ => None,
        }
    }

    /// Whether an account of this role, with its organisation and site, may read `site` (of
    /// `organisation`): national everything, network its organisation's sites, site its own.
    pub fn covers(
        self,
        own_organisation: Option<&str>,
        own_site: Option<&str>,
        site: &str,
        organisation: Option<&str>,
    ) -> bool {
        match self {
            Role::National => true,
            Role::Network => own_organisation.is_some() && own_organisation == organisation,
            Role::Site => own_site == Some(site),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::National => "administration nationale",
            Role::Network => "responsable de réseau",
            Role::Site => "responsable de site",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The e-mail address, lower-cased: what a manager types, and what ProConnect gives.
    pub id: String,
    pub name: String,
    pub role: Role,
    pub organisation: Option<String>,
    pub site: Option<String>,
    /// argon2id PHC string; none for an account that signs in with ProConnect only.
    pub password_hash: Option<String>,
    pub oidc_subject: Option<String>,
    pub disabled: bool,
}

impl Account {
    /// Whether this account may read `site` (of `organisation`).
    pub fn sees(&self, site: &str, organisation: Option<&str>) -> bool {
        self.role.covers(self.organisation.as_deref(), self.site.as_deref(), site, organisation)
    }
}

#[derive(Debug, Clone)]
pub enum AccountChange {
    Subject(String),
    Password(String),
    Disable,
}

/// A live session: whose, and the token its forms carry.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub account: Account,
    pub csrf: String,
    /// The ProConnect ID token the session was opened with, if it was.
    pub id_token: Option<String>,
}

/// What a new session carries besides its account.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The token its forms carry.
    pub csrf: String,
    /// The ProConnect ID token, when it was opened through ProConnect.
    pub id_token: Option<String>,
}

/// Comments wanted: among `sites`, on the kiosks' local days `[from, to]`, optionally of one
/// satisfaction answer and matching words; newest first.
#[derive(Debug, Clone)]
pub struct CommentQuery {
    pub sites: Vec<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rating: Option<i64>,
    pub text: String,
    /// Only those marked handled (`Some(true)`) or not yet (`Some(false)`).
    pub handled: Option<bool>,
    /// Only those tagged with this theme (empty: any).
    pub theme: String,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comment {
    pub review_id: i64,
    pub site_id: String,
    pub device_id: String,
    /// The kiosk's local time, as it sent it.
    pub submitted_at: String,
    pub rating: Option<i64>,
    pub text: String,
    /// The manager who marked it handled, if one did.
    pub handled_by: Option<String>,
    /// Its network's themes it was tagged with, comma-separated.
    pub tags: String,
}

/// An address a mail can be sent to (as `lettre` reads it), with a domain of at least two
/// labels, within the 254 characters of RFC 5321.
pub(crate) fn valid_email(id: &str) -> bool {
    id.len() <= 254 && id.parse::<lettre::Address>().is_ok_and(|a| a.domain().contains('.'))
}

pub(crate) fn checked(account: &Account) -> Result<()> {
    if !valid_email(&account.id) {
        return Err(StorageError::Refused(format!("adresse électronique invalide : {}", account.id)));
    }
    if account.name.trim().is_empty() {
        return Err(StorageError::Refused("le nom est obligatoire".into()));
    }
    match (account.role, &account.organisation, &account.site) {
        (Role::National, None, None) | (Role::Network, Some(_), None) | (Role::Site, None, Some(_)) => Ok(()),
        (Role::Network, ..) => {
            Err(StorageError::Refused("un compte de réseau a une organisation (--org), seule".into()))
        }
        (Role::Site, ..) => Err(StorageError::Refused("un compte de site a un site (--site), seul".into())),
        (Role::National, ..) => Err(StorageError::Refused("un compte national n'a ni organisation ni site".into())),
    }
}

pub(crate) fn refused_account(e: StorageError) -> StorageError {
    match e {
        StorageError::Refused(detail) if detail.contains("UNIQUE") || detail.contains("unique") => {
            StorageError::Refused("ce compte existe déjà".into())
        }
        StorageError::Refused(_) => StorageError::Refused("organisation ou site inconnu".into()),
        other => other,
    }
}

/// What each engine implements for the managers' console: accounts, sessions, comments.
pub trait Accounts {
    fn add_account(
        &self,
        account: Account,
        unsubscribe_token: String,
        digest: &'static str,
    ) -> impl Future<Output = Result<()>> + Send;
    fn accounts(&self) -> impl Future<Output = Result<Vec<Account>>> + Send;
    fn account_where(
        &self,
        column: &'static str,
        value: String,
    ) -> impl Future<Output = Result<Option<Account>>> + Send;
    fn update_account(&self, id: String, change: AccountChange) -> impl Future<Output = Result<usize>> + Send;
    fn open_session(
        &self,
        id_sha256: String,
        account: String,
        opened: Opened,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn session(
        &self,
        id_sha256: String,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<ConsoleSession>>> + Send;
    fn close_sessions(&self, column: &'static str, value: String) -> impl Future<Output = Result<()>> + Send;
    fn comments(&self, q: CommentQuery) -> impl Future<Output = Result<Vec<Comment>>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_sees_its_scope_only() {
        let account = |role, organisation: Option<&str>, site: Option<&str>| Account {
            id: "a@b.fr".into(),
            name: "A".into(),
            role,
            organisation: organisation.map(String::from),
            site: site.map(String::from),
            password_hash: None,
            oidc_subject: None,
            disabled: false,
        };
        assert!(account(Role::National, None, None).sees("s1", None));
        let network = account(Role::Network, Some("pref-69"), None);
        assert!(network.sees("lyon", Some("pref-69")));
        assert!(!network.sees("paris", Some("pref-75")));
        assert!(!network.sees("orphan", None));
        let site = account(Role::Site, None, Some("lyon"));
        assert!(site.sees("lyon", Some("pref-69")));
        assert!(!site.sees("villefranche", Some("pref-69")));
        assert!(checked(&account(Role::Network, None, None)).is_err());
        assert!(checked(&account(Role::Site, Some("pref-69"), Some("lyon"))).is_err());
        assert!(checked(&account(Role::Site, None, Some("lyon"))).is_ok());
        let mut bad = account(Role::National, None, None);
        bad.id = "pas une adresse".into();
        assert!(checked(&bad).is_err());
    }
}
