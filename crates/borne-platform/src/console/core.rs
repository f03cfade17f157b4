//! What every console handler shares: the console's parts, who is asking, the failures a
//! handler answers (as a page or as the API's JSON), the viewer's scope, and the days typed.

use super::pages;
use super::proconnect;
use crate::config::ConsoleSettings as Settings;
use crate::storage::console::{Account, ConsoleSession};
use crate::storage::{Site, Storage, StorageError};
use axum::Extension;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use borne_web::auth;
use borne_web::serve::Peer;
use chrono::NaiveDate;
use std::net::IpAddr;
use std::sync::Arc;

/// The console's working parts, held by the platform.
pub struct Console {
    pub settings: Settings,
    pub(super) storage: Storage,
    pub(super) gate: auth::Gate,
    pub(super) proconnect: Option<proconnect::ProConnect>,
    /// The platform's public address when mails are sent (`[alerts] public_url`): links in
    /// invitations and resets point there. Without mail, the console shows the link instead.
    pub(super) mail_base: Option<String>,
    /// Wakes the mail sender at once when the console queued a mail (an invitation is awaited).
    pub mail_queued: Arc<tokio::sync::Notify>,
}

/// What the console's handlers are given.
pub(super) type Shared = Arc<Console>;

impl Console {
    pub fn new(settings: Settings, storage: Storage, mail_base: Option<String>) -> Result<Console, String> {
        let proconnect = settings.proconnect.clone().map(proconnect::ProConnect::new).transpose()?;
        let gate = auth::Gate::new("console");
        let mail_queued = Arc::new(tokio::sync::Notify::new());
        Ok(Console { settings, storage, gate, proconnect, mail_base, mail_queued })
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }
}

/// The client's address (unspecified when the server did not set it).
pub(super) fn peer_ip(peer: Option<Extension<Peer>>) -> IpAddr {
    peer.map(|Extension(Peer(ip))| ip).unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// Who is asking, and the token their forms carry.
#[derive(Clone)]
pub(super) struct Viewer(pub(super) ConsoleSession);

pub enum Failure {
    NotFound,
    BadInput(String),
    Forbidden(String),
    Unavailable(StorageError),
}

impl From<StorageError> for Failure {
    fn from(e: StorageError) -> Failure {
        match e {
            StorageError::Refused(m) => Failure::BadInput(m),
            other => Failure::Unavailable(other),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Failure::NotFound => {
                (StatusCode::NOT_FOUND, "Cette page n'existe pas, ou elle ne vous est pas accessible.".to_string())
            }
            Failure::BadInput(m) => (StatusCode::BAD_REQUEST, m),
            Failure::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            Failure::Unavailable(e) => {
                tracing::error!(error = %e, "console: database unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "La base de données ne répond pas : réessayez dans un instant.".into(),
                )
            }
        };
        (status, html(pages::message(status, &message))).into_response()
    }
}

/// A failure of the console's JSON routes: the API's `{message, code}`, not a page.
pub(super) struct JsonFailure(Failure);

impl From<Failure> for JsonFailure {
    fn from(f: Failure) -> JsonFailure {
        JsonFailure(f)
    }
}

impl From<StorageError> for JsonFailure {
    fn from(e: StorageError) -> JsonFailure {
        JsonFailure(e.into())
    }
}

impl IntoResponse for JsonFailure {
    fn into_response(self) -> Response {
        let (status, code, message) = match self.0 {
            Failure::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND", "site inconnu ou hors de votre périmètre".into()),
            Failure::BadInput(m) => (StatusCode::BAD_REQUEST, "BAD_REQUEST", m),
            Failure::Forbidden(m) => (StatusCode::FORBIDDEN, "FORBIDDEN", m),
            Failure::Unavailable(e) => {
                tracing::error!(error = %e, "console: database unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", "base de données indisponible".into())
            }
        };
        let body = borne_model::wire::ErrorBody { message, code: code.into(), issues: None };
        (status, axum::Json(body)).into_response()
    }
}

pub(super) fn html(markup: maud::Markup) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
}

/// The sites `account` may read, by name.
pub(super) async fn sites_in_scope(storage: &Storage, account: &Account) -> Result<Vec<Site>, Failure> {
    let mut sites: Vec<Site> =
        storage.sites().await?.into_iter().filter(|s| account.sees(&s.id, s.organisation.as_deref())).collect();
    sites.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    Ok(sites)
}

/// The site `id` if `account` may read it; otherwise the same 404 as for no such site.
pub(super) async fn site_in_scope(storage: &Storage, account: &Account, id: &str) -> Result<Site, Failure> {
    sites_in_scope(storage, account).await?.into_iter().find(|s| s.id == id).ok_or(Failure::NotFound)
}

/// Today, the server's local day (set the platform's time zone to the kiosks', as the kiosks
/// count their days in theirs).
pub(super) fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

pub(super) fn date_field(name: &str, value: Option<&str>) -> Result<Option<NaiveDate>, Failure> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => borne_model::days::parse(v).map(Some).map_err(|m| Failure::BadInput(format!("{name} : {m}"))),
    }
}

/// The form's CSRF token against the one expected (the session's, or the sign-in cookie's).
pub(super) fn check_csrf(expected: &str, given: Option<&str>) -> Result<(), Failure> {
    match given {
        Some(given) if auth::constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => {
            Err(Failure::Forbidden("Jeton de formulaire absent ou périmé : rechargez la page puis recommencez.".into()))
        }
    }
}

/// A form's values refused whole when one holds a control character (a NUL, which PostgreSQL
/// cannot store, a line break in a one-line field…): a clear 400, never a database error.
pub(super) fn no_control<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<(), Failure> {
    if values.into_iter().any(|v| v.chars().any(char::is_control)) {
        return Err(Failure::BadInput("Un champ contient un caractère de contrôle : retirez-le.".into()));
    }
    Ok(())
}
