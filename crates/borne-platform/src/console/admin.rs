//! The administration, by role, without a shell: organisations and their names, sites, kiosks
//! (registered with their token shown once beside the exact lines of `borne.toml` to paste,
//! revoked, moved), accounts (invited by e-mail, disabled), and each manager's summaries.
//!
//! National accounts administer everything; a network's manager its organisation (its name,
//! its sites, their kiosks, its managers); a site's manager its site's kiosks. Every form
//! carries the session's CSRF token; a mistake brings the page back, 400, with what was typed.

use super::admin_pages::{self as view, AdminData, Notice};
use super::core::{Failure, Shared, Viewer, html, sites_in_scope};
use super::links;
use super::store::Admin;
use crate::notify::OrgRules;
use crate::storage::admin::Handling;
use crate::storage::alerting::Digest;
use crate::storage::console::{Account, Role};
use crate::storage::{Site, StorageError};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use std::collections::HashMap;

type Fields = HashMap<String, String>;

/// The lines of a kiosk's `/etc/borne/borne.toml` that make it upload to `base_url` as `device`
/// of `site`, with a PIN for the staff menu drawn at random.
pub fn kiosk_config(device: &str, site: Option<&Site>, button: Option<i64>, base_url: &str) -> String {
    // Six digits from a random token (the default PIN is refused once uploads are on).
    let pin: String = borne_web::auth::random_token()
        .bytes()
        .filter(u8::is_ascii_digit)
        .chain(std::iter::repeat(b'7'))
        .take(6)
        .map(char::from)
        .collect();
    let id_line = |key: &str, value: Option<i64>| match value {
        Some(v) => format!("{key} = {v}\n"),
        None => format!("{key} = 1  # le site n'en impose pas : tout entier positif convient\n"),
    };
    let mut out = format!(
        "[kiosk]\ndevice_id = \"{device}\"\n\
         admin_pin = \"{pin}\"  # le code du personnel (menu caché de l'écran), tiré au hasard : notez-le\n\n\
         [upload]\nenabled = true\nbase_url = \"{}\"\ntoken_file = \"/etc/borne/token\"\n",
        base_url.trim_end_matches('/')
    );
    out += &id_line("product_id", site.and_then(|s| s.product_id));
    out += &id_line("form_id", site.and_then(|s| s.form_id));
    out += &id_line("button_id", site.and_then(|s| s.button_id).or(button));
    out
}

/// Where kiosks reach this platform: its public address when configured, else the address
/// the browser used.
fn base_url(platform: &Shared, headers: &HeaderMap) -> String {
    if let Some(base) = &platform.mail_base {
        return base.clone();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("ADRESSE-DE-CETTE-PLATEFORME");
    let scheme = if platform.settings.secure_cookies { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// Whether `account` administers organisation `org` (its name, themes and alert rules): a
/// national account every one, a network's manager its own.
fn administers(account: &Account, org: &str) -> bool {
    account.role == Role::National || (account.role == Role::Network && account.organisation.as_deref() == Some(org))
}

/// Everything the page shows this viewer.
async fn data(platform: &Shared, account: &Account) -> Result<AdminData, Failure> {
    let storage = platform.storage();
    let sites = sites_in_scope(storage, account).await?;
    let organisations: Vec<_> = Admin(storage)
        .organisations()
        .await?
        .into_iter()
        .filter(|o| account.role == Role::National || account.organisation.as_deref() == Some(o.id.as_str()))
        .collect();
    let devices = storage
        .devices()
        .await?
        .into_iter()
        .filter(|d| d.site_id.as_ref().is_some_and(|s| sites.iter().any(|x| &x.id == s)))
        .collect();
    let accounts = match account.role {
        Role::Site => vec![],
        _ => storage
            .accounts()
            .await?
            .into_iter()
            .filter(|a| match account.role {
                Role::National => true,
                _ => {
                    a.organisation == account.organisation
                        || a.site.as_ref().is_some_and(|s| sites.iter().any(|x| &x.id == s))
                }
            })
            .collect(),
    };
    let me = storage.subscribers().await?.into_iter().find(|s| s.email == account.id);
    let mut rules = Vec::new();
    if account.role != Role::Site {
        for org in &organisations {
            let own: Option<OrgRules> =
                storage.alert_rules(&org.id).await?.and_then(|json| serde_json::from_str(&json).ok());
            let themes = Admin(storage).themes(&org.id).await?;
            rules.push((org.clone(), own.unwrap_or_default(), themes));
        }
    }
    Ok(AdminData {
        organisations,
        sites,
        devices,
        accounts,
        digest: me.as_ref().map(|s| s.digest),
        alerts: me.as_ref().map(|s| s.alerts),
        rules,
        mail: platform.mail_base.is_some(),
    })
}

/// `?fait=…`: what a form just did, for the page's notice.
#[derive(serde::Deserialize, Default)]
pub(super) struct Done {
    pub(super) fait: Option<String>,
}

/// `GET /console/administration`.
pub(super) async fn page(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Query(done): Query<Done>,
) -> Result<Response, Failure> {
    let data = data(&platform, &session.account).await?;
    let notice = done.fait.as_deref().and_then(view::done_notice).map(Notice::Done);
    Ok(html(view::page(&session, &data, notice.as_ref())))
}

/// The page again, 400, with the mistake and what was typed in `section`'s form.
async fn again(platform: &Shared, viewer: &Viewer, section: &'static str, fields: Fields, message: String) -> Response {
    match data(platform, &viewer.0.account).await {
        Ok(data) => {
            let notice = Notice::Mistake { section, message, fields };
            (StatusCode::BAD_REQUEST, html(view::page(&viewer.0, &data, Some(&notice)))).into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn done(code: &str) -> Response {
    Redirect::to(&format!("/console/administration?fait={code}")).into_response()
}

fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields.get(name).map(|v| v.trim()).unwrap_or("")
}

/// A one-line name of 1 to 200 characters.
fn name_field(fields: &Fields, name: &str, what: &str) -> Result<String, String> {
    let value = field(fields, name);
    if value.is_empty() || value.chars().count() > 200 || value.chars().any(char::is_control) {
        return Err(format!("{what} : de 1 à 200 caractères, sur une ligne."));
    }
    Ok(value.to_string())
}

fn refused(e: Failure) -> Result<String, Failure> {
    match e {
        Failure::BadInput(m) | Failure::Forbidden(m) => Ok(m),
        other => Err(other),
    }
}

/// Runs a form's work: the CSRF token checked first; a refusal brings the page back.
async fn run<F, Fut>(platform: Shared, viewer: Viewer, section: &'static str, fields: Fields, work: F) -> Response
where
    F: FnOnce(Shared, Account, Fields) -> Fut,
    Fut: std::future::Future<Output = Result<Response, Failure>>,
{
    if let Err(e) = super::core::check_csrf(&viewer.0.csrf, fields.get("csrf").map(String::as_str)) {
        return e.into_response();
    }
    let checked = match super::core::no_control(fields.values().map(String::as_str)) {
        Ok(()) => work(platform.clone(), viewer.0.account.clone(), fields.clone()).await,
        Err(e) => Err(e),
    };
    match checked {
        Ok(response) => response,
        Err(e) => match refused(e) {
            Ok(message) => again(&platform, &viewer, section, fields, message).await,
            Err(e) => e.into_response(),
        },
    }
}

/// `POST /console/administration/organisations`: an organisation created or renamed.
pub(super) async fn organisation(
    State(platform): State<Shared>,
    Extension(viewer): Extension<Viewer>,
    Form(fields): Form<Fields>,
) -> Response {
    run(platform, viewer, "organisations", fields, |platform, account, fields| async move {
        let id = field(&fields, "id").to_string();
        let name = name_field(&fields, "name", "Nom de l'organisation").map_err(Failure::BadInput)?;
        crate::storage::check_id("organisation", &id)?;
        if !administers(&account, &id) {
            return Err(Failure::Forbidden(
                "Seule l'administration nationale crée des organisations ; un réseau renomme la sienne.".into(),
            ));
        }
        Admin(platform.storage()).name_organisation(&id, &name).await?;
        tracing::info!(by = %account.id, organisation = %id, "organisation named");
        Ok(done("organisation"))
    })
    .await
}

/// `POST /console/administration/sites`: a site added (in the network's own organisation).
pub(super) async fn site(
    State(platform): State<Shared>,
    Extension(viewer): Extension<Viewer>,
    Form(fields): Form<Fields>,
) -> Response {
    run(platform, viewer, "sites", fields, |platform, account, fields| async move {
        let organisation = match account.role {
            Role::National => Some(field(&fields, "organisation").to_string()).filter(|o| !o.is_empty()),
            Role::Network => account.organisation.clone(),
            Role::Site => return Err(Failure::Forbidden("Un responsable de site n'ajoute pas de site.".into())),
        };
        let name = name_field(&fields, "name", "Nom du site").map_err(Failure::BadInput)?;
        let zone =
            Some(field(&fields, "time_zone")).filter(|z| !z.is_empty()).unwrap_or(crate::local::DEFAULT_TIME_ZONE);
        let site = Site {
            id: field(&fields, "id").to_string(),
            name,
            organisation,
            product_id: None,
            form_id: None,
            button_id: None,
            time_zone: zone.to_string(),
        };
        if platform.storage().sites().await?.iter().any(|s| s.id == site.id) {
            return Err(Failure::BadInput(format!("Le site {} existe déjà.", site.id)));
        }
        platform.storage().add_site(&site).await?;
        tracing::info!(by = %account.id, site = %site.id, "site added");
        Ok(done("site"))
    })
    .await
}

/// The site `id` among those `account` may administer kiosks of.
async fn own_site(platform: &Shared, account: &Account, id: &str) -> Result<Site, Failure> {
    sites_in_scope(platform.storage(), account)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| Failure::BadInput(format!("Site inconnu ou hors de votre périmètre : {id}")))
}

/// The kiosk `id` if it is at a site `account` administers.
async fn own_device(platform: &Shared, account: &Account, id: &str) -> Result<(), Failure> {
    let sites = sites_in_scope(platform.storage(), account).await?;
    let device = platform.storage().devices().await?.into_iter().find(|d| d.id == id);
    match device.and_then(|d| d.site_id) {
        Some(site) if sites.iter().any(|s| s.id == site) => Ok(()),
        _ => Err(Failure::BadInput(format!("Borne inconnue ou hors de votre périmètre : {id}"))),
    }
}

/// `POST /console/administration/bornes`: a kiosk registered; its token and configuration,
/// shown once.
pub(super) async fn register(
    State(platform): State<Shared>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    let session = viewer.0.clone();
    run(platform, viewer, "bornes", fields, |platform, account, fields| async move {
        let site = own_site(&platform, &account, field(&fields, "site")).await?;
        let device = field(&fields, "id").to_string();
        if platform.storage().devices().await?.iter().any(|d| d.id == device) {
            return Err(Failure::BadInput(format!("La borne {device} existe déjà.")));
        }
        let token = platform.storage().add_device(&device, &site.id).await?;
        tracing::info!(by = %account.id, device = %device, site = %site.id, "kiosk registered");
        let config = kiosk_config(&device, Some(&site), None, &base_url(&platform, &headers));
        let mut response = html(view::registered(&session, &device, &site, &config, &token));
        response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
        Ok(response)
    })
    .await
}

/// `POST /console/administration/bornes/revoquer`.
pub(super) async fn revoke(
    State(platform): State<Shared>,
    Extension(viewer): Extension<Viewer>,
    Form(fields): Form<Fields>,
) -> Response {
    run(platform, viewer, "bornes", fields, |platform, account, fields| async move {
        let device = field(&fields, "device").to_string();
        own_device(&platform, &account, &device).await?;
        platform.storage().revoke_device(&device).await?;
        tracing::info!(by = %account.id, device = %device, "kiosk revoked");
        Ok(done("revoquee"))
    })
    .await
}

/// `POST /console/administration/bornes/deplacer`.
pub(super) async fn relocate(
    State(platform): State<Shared>,
    Extension(viewer): Extension<Viewer>,
    Form(fields): Form<Fields>,
) -> Response {
    run(platform, viewer, "bornes", fields, |platform, account, fields| async move {
        let device = field(&fields, "device").to_string();
        own_device(&platform, &account, &device).await?;
        let site = own_site(&platform, &account, field(&fields, "site")).await?;
        if !Admin(platform.storage()).move_device(&device, &site.id).await? {
            return Err(Failure::BadInput(format!("La borne {device} n'a pas pu être déplacée.")));
        }
        tracing::info!(by = %account.id, device = %device, site = %site.id, "kiosk moved");
        Ok(done("deplacee"))
    })
    .await
}

/// Whether `by` may give `role` over `organisation`/`site` (of `site_org`).
fn may_grant(by: &Account, role: Role, organisation: Option<&str>, site_org: Option<Option<&str>>) -> bool {
    match by.role {
        Role::National => true,
        Role::Network => match role {
            Role::National => false,
            Role::Network => organisation == by.organisation.as_deref(),
            Role::Site => site_org.is_some_and(|o| o.is_some() && o == by.organisation.as_deref()),
        },
        Role::Site => false,
    }
}

/// `POST /console/administration/comptes`: a manager invited (an account without password
/// and a single-use link mailed to choose it).
pub(super) async fn invite(
    State(platform): State<Shared>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    let session = viewer.0.clone();
    let base = base_url(&platform, &headers);
    run(platform, viewer, "comptes", fields, |platform, by, fields| async move {
        let role = Role::parse(field(&fields, "role")).ok_or_else(|| Failure::BadInput("Rôle inconnu.".into()))?;
        let name = name_field(&fields, "name", "Nom affiché").map_err(Failure::BadInput)?;
        let (organisation, site) = match role {
            Role::National => (None, None),
            Role::Network => (Some(field(&fields, "organisation").to_string()).filter(|o| !o.is_empty()), None),
            Role::Site => (None, Some(field(&fields, "site").to_string()).filter(|s| !s.is_empty())),
        };
        match (role, &organisation, &site) {
            (Role::Network, None, _) => {
                return Err(Failure::BadInput("Choisissez l'organisation du responsable de réseau.".into()));
            }
            (Role::Site, _, None) => {
                return Err(Failure::BadInput("Choisissez le site du responsable de site.".into()));
            }
            _ => {}
        }
        let sites = platform.storage().sites().await?;
        let site_org =
            site.as_deref().map(|s| sites.iter().find(|x| x.id == s).and_then(|x| x.organisation.as_deref()));
        if !may_grant(&by, role, organisation.as_deref(), site_org) {
            return Err(Failure::Forbidden("Ce rôle, sur ce périmètre, n'est pas à votre portée.".into()));
        }
        let account = Account {
            id: field(&fields, "email").to_lowercase(),
            name,
            role,
            organisation,
            site,
            password_hash: None,
            oidc_subject: None,
            disabled: false,
        };
        platform.storage().add_account(account.clone()).await.map_err(|e| match e {
            StorageError::Refused(m) => Failure::BadInput(format!("Invitation refusée : {m}.")),
            other => Failure::Unavailable(other),
        })?;
        tracing::info!(by = %by.id, account = %account.id, role = account.role.as_str(), "manager invited");
        match links::invite(&platform, &account, &by.name).await? {
            None => Ok(done("invitation")),
            Some(token) => Ok(html(view::invited_without_mail(&session, &account, &links::address(&base, &token)))),
        }
    })
    .await
}

/// `POST /console/administration/comptes/desactiver`.
pub(super) async fn disable(
    State(platform): State<Shared>,
    Extension(viewer): Extension<Viewer>,
    Form(fields): Form<Fields>,
) -> Response {
    run(platform, viewer, "comptes", fields, |platform, by, fields| async move {
        let email = field(&fields, "email").to_lowercase();
        if email == by.id {
            return Err(Failure::BadInput("Vous ne pouvez pas désactiver votre propre compte.".into()));
        }
        let target = platform.storage().account(&email).await?;
        let sites = platform.storage().sites().await?;
        let allowed = target.as_ref().is_some_and(|t| {
            let site_org =
                t.site.as_deref().map(|s| sites.iter().find(|x| x.id == s).and_then(|x| x.organisation.as_deref()));
            may_grant(&by, t.role, t.organisation.as_deref(), site_org)
        });
        if !allowed {
            return Err(Failure::BadInput(format!("Compte inconnu ou hors de votre périmètre : {email}")));
        }
        platform.storage().disable_account(&email).await?;
        tracing::info!(by = %by.id, account = %email, "account disabled");
        Ok(done("desactive"))
    })
    .await
}

/// `POST /console/administration/resumes`: how often the viewer receives a summary.
pub(super) async fn digest(
    State(platform): State<Shared>,
    Extension(viewer): Extension<Viewer>,
    Form(fields): Form<Fields>,
) -> Response {
    run(platform, viewer, "resumes", fields, |platform, account, fields| async move {
        let digest = Digest::parse(field(&fields, "digest")).ok_or_else(|| {
            Failure::BadInput("Fréquence inconnue (jamais, chaque jour, chaque semaine ou chaque mois).".into())
        })?;
        platform.storage().set_digest(&account.id, digest).await?;
        Admin(platform.storage()).set_alerts(&account.id, field(&fields, "alerts") == "oui").await?;
        Ok(done("resumes"))
    })
    .await
}

/// An organisation's alert rules typed in the form: whole numbers, or decimals for the shares
/// and points, each named in French when it is not one.
fn typed_rules(fields: &Fields) -> Result<OrgRules, Failure> {
    fn whole(fields: &Fields, name: &str, what: &str) -> Result<u32, Failure> {
        field(fields, name)
            .parse()
            .map_err(|_| Failure::BadInput(format!("{what} : un nombre entier de 0 à 4294967295.")))
    }
    fn decimal(fields: &Fields, name: &str, what: &str) -> Result<f64, Failure> {
        field(fields, name)
            .replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| Failure::BadInput(format!("{what} : un nombre (virgule permise).")))
    }
    let rules = OrgRules {
        offline_hours: whole(fields, "offline_hours", "Borne silencieuse depuis (heures)")?,
        pending_hours: whole(fields, "pending_hours", "Avis en attente depuis (heures)")?,
        negative_percent: decimal(fields, "negative_percent", "Part de « Pas bien » (%)")?,
        negative_days: whole(fields, "negative_days", "Sur (jours)")?,
        negative_minimum: whole(fields, "negative_minimum", "À partir de (avis)")? as u64,
        drop_points: decimal(fields, "drop_points", "Baisse de la note (points)")?,
        drop_days: whole(fields, "drop_days", "Sur (jours)")?,
        drop_minimum: whole(fields, "drop_minimum", "À partir de (avis)")? as u64,
        debounce_minutes: whole(fields, "debounce_minutes", "Délai avant d'ouvrir (minutes)")?,
        cap_hours: whole(fields, "cap_hours", "Au plus un incident par règle en (heures)")?,
    };
    rules.check().map_err(|m| Failure::BadInput(format!("Règles refusées : {m}.")))?;
    Ok(rules)
}

/// `POST /console/administration/alertes`: an organisation's alert rules (0 turns a rule off).
pub(super) async fn alert_rules(
    State(platform): State<Shared>,
    Extension(viewer): Extension<Viewer>,
    Form(fields): Form<Fields>,
) -> Response {
    run(platform, viewer, "alertes", fields, |platform, account, fields| async move {
        let org = field(&fields, "organisation").to_string();
        if !administers(&account, &org) {
            return Err(Failure::Forbidden("Ces règles ne sont pas celles de votre organisation.".into()));
        }
        let rules = typed_rules(&fields)?;
        let json = serde_json::to_string(&rules).map_err(|e| Failure::BadInput(e.to_string()))?;
        platform.storage().set_alert_rules(&org, &json).await?;
        tracing::info!(by = %account.id, organisation = %org, "alert rules changed");
        Ok(done("alertes"))
    })
    .await
}

/// `POST /console/incidents/{id}`: an incident seen (« pris en compte ») or closed with what was
/// done, by a manager whose scope holds its site.
pub(super) async fn incident(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, Failure> {
    super::core::check_csrf(&session.csrf, fields.get("csrf").map(String::as_str))?;
    super::core::no_control(fields.values().map(String::as_str))?;
    let id: i64 = id.parse().map_err(|_| Failure::NotFound)?;
    let note = field(&fields, "note").to_string();
    if note.chars().count() > 500 {
        return Err(Failure::BadInput("Le commentaire fait au plus 500 caractères.".into()));
    }
    let by = session.account.name.clone();
    let handling = match field(&fields, "action") {
        "vu" => Handling::Acknowledge { by, note: Some(note).filter(|n| !n.is_empty()) },
        "clore" if note.is_empty() => {
            return Err(Failure::BadInput("Pour clôturer un incident, dites ce qui a été fait.".into()));
        }
        "clore" => Handling::Close { by, note },
        _ => return Err(Failure::BadInput("Action inconnue (vu ou clore).".into())),
    };
    let sites: Vec<String> =
        sites_in_scope(platform.storage(), &session.account).await?.into_iter().map(|s| s.id).collect();
    if !Admin(platform.storage()).handle_incident(id, sites, handling).await? {
        return Err(Failure::BadInput("Incident inconnu, hors de votre périmètre, ou déjà traité.".into()));
    }
    tracing::info!(account = %session.account.id, incident = id, "incident handled");
    Ok(Redirect::to("/console/#incidents").into_response())
}

/// `POST /console/administration/themes`: the themes a network tags its comments with.
pub(super) async fn themes(
    State(platform): State<Shared>,
    Extension(viewer): Extension<Viewer>,
    Form(fields): Form<Fields>,
) -> Response {
    run(platform, viewer, "themes", fields, |platform, account, fields| async move {
        let org = field(&fields, "organisation").to_string();
        if !administers(&account, &org) {
            return Err(Failure::Forbidden("Ces thèmes ne sont pas ceux de votre organisation.".into()));
        }
        let themes = super::review::parse_themes(field(&fields, "themes")).map_err(Failure::BadInput)?;
        Admin(platform.storage()).set_themes(&org, &themes).await?;
        Ok(done("themes"))
    })
    .await
}
