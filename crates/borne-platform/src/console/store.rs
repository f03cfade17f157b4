//! The administration's storage calls, on whichever engine holds the platform.

use crate::storage::Storage;
use crate::storage::admin::{Administration, FullReview, Handling, LinkKind, NewLink, Organisation, ValidLink};
use crate::storage::alerting::Alerting;
use crate::storage::alerting::NewMail;
use crate::storage::model::Result;
use chrono::{DateTime, Duration, Utc};

macro_rules! engine {
    ($storage:expr, $s:ident => $body:expr) => {
        match $storage {
            Storage::Sqlite($s) => $body,
            Storage::Postgres($s) => $body,
        }
    };
}

pub(crate) struct Admin<'a>(pub &'a Storage);

impl Admin<'_> {
    pub async fn organisations(&self) -> Result<Vec<Organisation>> {
        engine!(self.0, s => s.organisations().await)
    }

    pub async fn name_organisation(&self, id: &str, name: &str) -> Result<()> {
        engine!(self.0, s => s.name_organisation(id.to_string(), name.to_string()).await)
    }

    /// Whether the kiosk was moved (false: no such kiosk or site).
    pub async fn move_device(&self, device: &str, site: &str) -> Result<bool> {
        Ok(engine!(self.0, s => s.move_device(device.to_string(), site.to_string()).await)? > 0)
    }

    /// A new single-use link: its token (to put in the address; only its hash is kept).
    pub async fn new_link(
        &self,
        kind: LinkKind,
        account: Option<&str>,
        valid: Duration,
        mail: impl FnOnce(&str) -> Option<NewMail>,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let token = borne_web::auth::random_token();
        let link = NewLink {
            token_sha256: crate::storage::token_hash(&token),
            kind,
            account: account.map(str::to_string),
            expires_at: now + valid,
            mail: mail(&token),
        };
        engine!(self.0, s => s.save_link(link, now).await)?;
        Ok(token)
    }

    pub async fn valid_link(&self, token: &str, now: DateTime<Utc>) -> Result<Option<ValidLink>> {
        engine!(self.0, s => s.valid_link(crate::storage::token_hash(token), now).await)
    }

    pub async fn use_link(&self, token: &str, password_hash: &str, now: DateTime<Utc>) -> Result<Option<ValidLink>> {
        engine!(self.0, s => s.use_link(crate::storage::token_hash(token), password_hash.to_string(), now).await)
    }

    /// Whether the incident was changed (false: outside `sites`, unknown, or already so).
    pub async fn handle_incident(&self, id: i64, sites: Vec<String>, handling: Handling) -> Result<bool> {
        Ok(engine!(self.0, s => s.handle_incident(id, sites, handling, Utc::now()).await)? > 0)
    }

    pub async fn review(&self, id: i64, sites: Vec<String>) -> Result<Option<FullReview>> {
        engine!(self.0, s => s.review(id, sites).await)
    }

    /// Whether the comment was followed up (false: outside `sites`, or unknown).
    pub async fn follow_up_comment(
        &self,
        id: i64,
        sites: Vec<String>,
        handled_by: Option<String>,
        tags: String,
    ) -> Result<bool> {
        Ok(engine!(self.0, s => s.follow_up_comment(id, sites, handled_by, tags, Utc::now()).await)? > 0)
    }

    /// An organisation's themes for tagging comments, one per line.
    pub async fn themes(&self, organisation: &str) -> Result<Vec<String>> {
        let sql = "SELECT themes FROM organisations WHERE id = ?1";
        let text = engine!(self.0, s => s.get_text(sql, organisation.to_string()).await)?.unwrap_or_default();
        Ok(text.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect())
    }

    pub async fn set_themes(&self, organisation: &str, themes: &[String]) -> Result<()> {
        let sql = "UPDATE organisations SET themes = ?2 WHERE id = ?1";
        engine!(self.0, s => s.set_text(sql, organisation.to_string(), themes.join(", ")).await)?;
        Ok(())
    }

    pub async fn set_alerts(&self, account: &str, on: bool) -> Result<()> {
        engine!(self.0, s => s.set_alerts(account.to_string(), on).await)?;
        Ok(())
    }

    pub async fn recent_links(&self, account: &str, since: DateTime<Utc>) -> Result<u64> {
        engine!(self.0, s => s.recent_links(account.to_string(), since).await)
    }
}
