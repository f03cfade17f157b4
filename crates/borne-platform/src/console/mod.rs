//! The managers' console (`/console/…`): national administrators, network managers and site
//! managers sign in and see their scope only — the fleet of kiosks and their state, the sites
//! compared and ranked, each site's indicators (the figures its kiosks show), and the comments.
//!
//! Security posture of the kiosk's dashboard: argon2id passwords checked one at a time; only
//! failures count, per account and per address, in the database (every instance waits alike:
//! 1 s, 2 s, 4 s… up to 5 min for an account, 15 min for an address); sessions in the database (any instance serves any
//! request; only the hash of the cookie is kept), a CSRF token in every form, a strict CSP, no
//! caching. Scope is decided once per request from the session's account: a site outside it
//! is answered exactly like a site that does not exist.

mod admin;
mod admin_pages;
mod charts;
mod comments;
mod core;
pub mod fleet;
mod links;
pub mod pages;
pub mod proconnect;
mod review;
pub mod sites;
mod store;
mod survey;
mod updates;

use crate::storage::console::{Account, Opened};
use crate::storage::{Site, Storage, StorageError};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use borne_web::auth;
use borne_web::cookies;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use std::collections::HashMap;

pub use self::admin::kiosk_config;
pub use self::core::Console;
use self::core::*;
pub use self::links::first_setup;

const SESSION_COOKIE: &str = "borne_console";
const LOGIN_CSRF_COOKIE: &str = "borne_console_login";
/// Only the design system's and the console's own stylesheets and fonts; no script at all; forms
/// post to the console only.
const CSP: &str = "default-src 'none'; style-src 'self'; font-src 'self'; img-src 'self' data:; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";
pub use pages::COMMENTS_PER_PAGE;

pub use crate::config::ConsoleSettings as Settings;

/// The client's address, set on each request by the server (`borne_web::serve`).
pub use borne_web::serve::Peer;

pub fn router<S>(state: Shared) -> Router<S> {
    let protected = Router::new()
        .route("/console/", get(sites_page))
        .route("/console/bornes", get(fleet_page))
        .route("/console/bornes.csv", get(fleet_csv))
        .route("/console/commentaires.csv", get(comments::comments_csv))
        .route("/console/commentaires.xlsx", get(comments::comments_xlsx))
        .route("/console/sites/{site}", get(site_page))
        .route("/console/sites/{site}/indicateurs.json", get(site_json))
        .route("/console/sites/{site}/avis-jdma.csv", get(site_export_csv))
        .route("/console/sites/{site}/avis-jdma.xlsx", get(site_export_xlsx))
        .route("/console/commentaires", get(comments::comments_page))
        .route("/console/administration", get(admin::page))
        .route("/console/administration/organisations", post(admin::organisation))
        .route("/console/administration/sites", post(admin::site))
        .route("/console/administration/bornes", post(admin::register))
        .route("/console/administration/bornes/revoquer", post(admin::revoke))
        .route("/console/administration/bornes/deplacer", post(admin::relocate))
        .route("/console/administration/comptes", post(admin::invite))
        .route("/console/administration/comptes/desactiver", post(admin::disable))
        .route("/console/administration/resumes", post(admin::digest))
        .route("/console/administration/alertes", post(admin::alert_rules))
        .route("/console/administration/themes", post(admin::themes))
        .route("/console/questionnaire", get(survey::page).post(survey::publish))
        .route("/console/questionnaire/retour", post(survey::rollback))
        .route("/console/mises-a-jour", get(updates::page).post(updates::act))
        .route("/console/avis/{id}", get(review::open).post(review::follow_up))
        .route("/console/incidents/{id}", post(admin::incident))
        .route("/console/deconnexion", post(logout))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_session));
    Router::new()
        .merge(protected)
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/connexion", get(login_form).post(login))
        .route("/console/lien/{token}", get(links::open).post(links::set))
        .route("/console/mot-de-passe-oublie", get(links::forgotten_form).post(links::forgotten))
        .route("/console/proconnect", get(proconnect_start))
        .route("/console/proconnect/retour", get(proconnect_return))
        .route("/console/desabonnement/{token}", get(unsubscribe_form).post(unsubscribe))
        .route(
            "/console/style.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")],
                    pages::STYLE.as_str(),
                )
            }),
        )
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// The console's routes not found are the console's 404 page (the API keeps its JSON one).
pub fn is_console_path(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

pub fn not_found() -> Response {
    Failure::NotFound.into_response()
}

/// The console's error page for an error the framework answered by itself (405, 413…).
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "Cette adresse ne s'utilise pas ainsi.".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => "Formulaire trop volumineux.".to_string(),
        _ => format!("Demande incorrecte : {message}"),
    };
    (status, html(pages::message(status, &message))).into_response()
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn set_cookie(platform: &Console, name: &str, value: &str, path: &str, max_age: Option<u64>) -> HeaderValue {
    cookies::set(name, value, path, platform.settings.secure_cookies, max_age)
}

async fn require_session(State(platform): State<Shared>, mut request: Request, next: Next) -> Response {
    let session = match cookies::get(request.headers(), SESSION_COOKIE) {
        Some(id) => match platform.storage().session(&id, Utc::now()).await {
            Ok(session) => session,
            Err(e) => return Failure::Unavailable(e).into_response(),
        },
        None => None,
    };
    let Some(session) = session else {
        let path = request.uri().path();
        if path.ends_with(".json") {
            let body = borne_model::wire::ErrorBody {
                message: "connexion nécessaire".into(),
                code: "UNAUTHORIZED".into(),
                issues: None,
            };
            return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        }
        if path.ends_with(".csv") {
            return (StatusCode::UNAUTHORIZED, "connexion nécessaire\n").into_response();
        }
        if request.method() == axum::http::Method::POST {
            return Failure::Forbidden("Votre session a expiré : reconnectez-vous.".into()).into_response();
        }
        return Redirect::to("/console/connexion").into_response();
    };
    request.extensions_mut().insert(Viewer(session));
    next.run(request).await
}

async fn login_form(State(platform): State<Shared>) -> Response {
    login_page(&platform, None, StatusCode::OK)
}

fn login_page(platform: &Console, message: Option<&str>, status: StatusCode) -> Response {
    let token = auth::random_token();
    let proconnect = platform.proconnect.is_some();
    let mut response = (status, html(pages::login(message, &token, proconnect))).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(platform, LOGIN_CSRF_COOKIE, &token, "/console/connexion", None));
    response
}

#[derive(Deserialize)]
struct LoginForm {
    email: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
}

async fn login(
    State(platform): State<Shared>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let ip = peer_ip(peer);
    let expected = cookies::get(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() && platform.settings.secure_cookies {
        // No cookie came back: with « Secure » cookies, that is a page served in plain HTTP.
        let message = "Le navigateur n'a pas renvoyé le cookie du formulaire : la console pose des cookies « Secure », \
                       qui ne circulent qu'en HTTPS. Ouvrez-la en https://, ou, pour un essai en HTTP seulement, \
                       mettez secure_cookies = false dans la section [console] de la configuration.";
        return login_page(&platform, Some(message), StatusCode::FORBIDDEN);
    }
    if expected.is_empty() || check_csrf(&expected, form.csrf.as_deref()).is_err() {
        let message = "Jeton de formulaire absent ou périmé : recommencez.";
        return login_page(&platform, Some(message), StatusCode::FORBIDDEN);
    }
    let email = form.email.unwrap_or_default();
    let mut found: Option<Account> = None;
    let lookup = async {
        let account = platform.storage().account(&email).await?.filter(|a| !a.disabled);
        let hash = account.as_ref().and_then(|a| a.password_hash.clone());
        found = account;
        Ok::<_, StorageError>(hash)
    };
    let failures = crate::storage::LoginFailures(platform.storage());
    let password = form.password.unwrap_or_default();
    let attempt = match platform.gate.check(&failures, &email, ip, password, lookup, None).await {
        Ok(attempt) => attempt,
        Err(e) => return Failure::Unavailable(e).into_response(),
    };
    match (attempt, found) {
        (auth::Attempt::Accepted, Some(account)) => {
            tracing::info!(%ip, account = %account.id, "console login");
            match open_session(&platform, &account, None).await {
                Ok(response) => response,
                Err(e) => e.into_response(),
            }
        }
        (auth::Attempt::Throttled(wait), _) => {
            let message = format!("Trop d'essais : réessayez dans {} s.", wait.as_secs().max(1));
            login_page(&platform, Some(&message), StatusCode::TOO_MANY_REQUESTS)
        }
        (auth::Attempt::Busy, _) => login_busy(&platform),
        (auth::Attempt::Refused { .. } | auth::Attempt::Accepted, _) => {
            login_page(&platform, Some("Adresse ou mot de passe incorrect."), StatusCode::UNAUTHORIZED)
        }
    }
}

/// Opens a session for `account` and sends its cookie, to the console's home page. After
/// ProConnect, the browser arrives from another site, so a redirect would not carry the
/// session's `SameSite=Strict` cookie to the next page: a page of ours takes it there.
async fn open_session(platform: &Console, account: &Account, id_token: Option<String>) -> Result<Response, Failure> {
    let (id, csrf) = (auth::random_token(), auth::random_token());
    let through_proconnect = id_token.is_some();
    platform.storage().open_session(&id, &account.id, Opened { csrf, id_token }, Utc::now()).await?;
    let mut response = if through_proconnect {
        html(pages::signed_in(&account.name))
    } else {
        Redirect::to("/console/").into_response()
    };
    let h = response.headers_mut();
    h.append(header::SET_COOKIE, set_cookie(platform, SESSION_COOKIE, &id, "/console", None));
    h.append(header::SET_COOKIE, set_cookie(platform, LOGIN_CSRF_COOKIE, "", "/console/connexion", Some(0)));
    Ok(response)
}

fn login_busy(platform: &Console) -> Response {
    let message = "Trop de connexions en même temps : réessayez dans quelques secondes.";
    login_page(platform, Some(message), StatusCode::TOO_MANY_REQUESTS)
}

/// `/console/proconnect`: off to ProConnect, with this sign-in's state, nonce and PKCE
/// verifier in a cookie that only the callback receives.
async fn proconnect_start(State(platform): State<Shared>) -> Response {
    let Some(pc) = &platform.proconnect else { return not_found() };
    match pc.start().await {
        Ok((url, flow)) => {
            let mut response = Redirect::to(&url).into_response();
            let cookie = cookies::set_lax(
                proconnect::FLOW_COOKIE,
                &flow.to_cookie(),
                proconnect::FLOW_COOKIE_PATH,
                platform.settings.secure_cookies,
                Some(proconnect::FLOW_MAX_AGE_S),
            );
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Err(e) => {
            tracing::warn!(error = %e, "proconnect: cannot start a sign-in");
            let message = "ProConnect ne répond pas : réessayez plus tard, ou connectez-vous avec votre mot de passe.";
            login_page(&platform, Some(message), StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

#[derive(Deserialize)]
struct ProConnectReturn {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `/console/proconnect/retour`: the provider sends the agent back with a code (or an error).
async fn proconnect_return(
    State(platform): State<Shared>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    Query(back): Query<ProConnectReturn>,
) -> Response {
    let Some(pc) = &platform.proconnect else { return not_found() };
    let ip = peer_ip(peer);
    let flow = cookies::get(&headers, proconnect::FLOW_COOKIE).and_then(|c| proconnect::Flow::from_cookie(&c));
    let refused = |message: &str, status: StatusCode| {
        let mut response = login_page(&platform, Some(message), status);
        response.headers_mut().append(header::SET_COOKIE, forget_flow(&platform));
        response
    };
    let Some(flow) = flow
        .filter(|f| back.state.as_deref().is_some_and(|s| auth::constant_time_eq(s.as_bytes(), f.state.as_bytes())))
    else {
        tracing::warn!(%ip, "proconnect: return without this browser's sign-in");
        return refused("Connexion ProConnect expirée ou commencée ailleurs : recommencez.", StatusCode::FORBIDDEN);
    };
    if let Some(error) = back.error {
        tracing::info!(%ip, %error, "proconnect: the provider refused");
        return refused("ProConnect n'a pas confirmé votre identité : recommencez.", StatusCode::UNAUTHORIZED);
    }
    let Some(code) = back.code.filter(|c| !c.is_empty() && c.len() <= 2048) else {
        return refused("Réponse de ProConnect incomplète : recommencez.", StatusCode::BAD_REQUEST);
    };
    let identity = match pc.finish(&code, &flow).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(%ip, error = %e, "proconnect: sign-in failed");
            return refused("ProConnect n'a pas pu confirmer votre identité : recommencez.", StatusCode::UNAUTHORIZED);
        }
    };
    let account = match proconnect_account(platform.storage(), &identity).await {
        Ok(Some(account)) => account,
        Ok(None) => {
            tracing::warn!(%ip, subject = %identity.subject, email = ?identity.email, "proconnect: no account");
            let message =
                "Aucun compte Borne n'est ouvert à votre adresse : demandez-le à l'administrateur de votre réseau.";
            return refused(message, StatusCode::FORBIDDEN);
        }
        Err(e) => return e.into_response(),
    };
    tracing::info!(%ip, account = %account.id, subject = %identity.subject, "console login (ProConnect)");
    match open_session(&platform, &account, Some(identity.id_token)).await {
        Ok(mut response) => {
            response.headers_mut().append(header::SET_COOKIE, forget_flow(&platform));
            response
        }
        Err(e) => e.into_response(),
    }
}

/// Deletes the sign-in's flow cookie: it serves one return, whatever its outcome.
fn forget_flow(platform: &Console) -> HeaderValue {
    set_cookie(platform, proconnect::FLOW_COOKIE, "", proconnect::FLOW_COOKIE_PATH, Some(0))
}

/// The account ProConnect's identity opens: the one bound to it; else, the first time, the
/// account of its e-mail address if that one is bound to nobody yet (then bound). Disabled
/// accounts open nothing.
async fn proconnect_account(storage: &Storage, identity: &proconnect::Identity) -> Result<Option<Account>, Failure> {
    if let Some(account) = storage.account_by_subject(&identity.subject).await? {
        return Ok(Some(account).filter(|a| !a.disabled));
    }
    let Some(email) = identity.email.as_deref() else { return Ok(None) };
    let Some(account) = storage.account(email).await?.filter(|a| !a.disabled && a.oidc_subject.is_none()) else {
        return Ok(None);
    };
    // One conditional write: of two identities racing for one account, one binds it; the
    // other finds it taken and is refused.
    if !storage.link_subject(&account.id, &identity.subject).await? {
        return Ok(storage.account_by_subject(&identity.subject).await?.filter(|a| !a.disabled));
    }
    Ok(Some(Account { oidc_subject: Some(identity.subject.clone()), ..account }))
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Failure> {
    check_csrf(&session.csrf, form.csrf.as_deref())?;
    if let Some(id) = cookies::get(&headers, SESSION_COOKIE) {
        platform.storage().close_session(&id).await?;
    }
    // A session opened through ProConnect ends there too (ProConnect asks its partners to).
    let mut to = None;
    if let (Some(pc), Some(id_token)) = (&platform.proconnect, &session.id_token) {
        to = pc.logout_url(id_token).await;
    }
    let mut response = Redirect::to(to.as_deref().unwrap_or("/console/connexion")).into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&platform, SESSION_COOKIE, "", "/console", Some(0)));
    Ok(response)
}

async fn sites_page(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
) -> Result<Response, Failure> {
    let storage = platform.storage();
    let sites = sites_in_scope(storage, &session.account).await?;
    let mut kiosks: HashMap<String, usize> = HashMap::new();
    for device in storage.devices().await? {
        if let (Some(site), None) = (device.site_id, device.revoked_at) {
            *kiosks.entry(site).or_default() += 1;
        }
    }
    let lines = sites::comparison(storage, &sites, &kiosks, today()).await?;
    let ids: Vec<String> = sites.iter().map(|s| s.id.clone()).collect();
    let incidents = storage.incidents(&ids, 20).await?;
    Ok(html(pages::sites(&session, &lines, &sites, &incidents)))
}

#[derive(Deserialize, Default)]
struct FleetQuery {
    site: Option<String>,
    tri: Option<String>,
    ordre: Option<String>,
}

/// The sites in scope and the fleet rows of those asked, filtered and sorted as asked.
async fn fleet_rows(
    platform: &Console,
    account: &Account,
    q: &FleetQuery,
) -> Result<(Vec<Site>, Vec<fleet::Row>), Failure> {
    let storage = platform.storage();
    let scope = sites_in_scope(storage, account).await?;
    let mut sites = scope.clone();
    if let Some(site) = q.site.as_deref().filter(|s| !s.is_empty()) {
        sites.retain(|s| s.id == site);
        if sites.is_empty() {
            return Err(Failure::NotFound);
        }
    }
    let key = match q.tri.as_deref().filter(|s| !s.is_empty()) {
        None => fleet::SortKey::State,
        Some(slug) => fleet::SortKey::parse(slug).ok_or_else(|| Failure::BadInput(format!("tri inconnu : {slug}")))?,
    };
    let descending = match q.ordre.as_deref() {
        None | Some("") | Some("croissant") => false,
        Some("decroissant") => true,
        Some(other) => return Err(Failure::BadInput(format!("ordre inconnu : {other} (croissant ou decroissant)"))),
    };
    let mut rows = fleet::rows(storage.devices().await?, &sites, Utc::now(), platform.settings.heartbeat_interval);
    fleet::sort(&mut rows, key, descending);
    Ok((scope, rows))
}

async fn fleet_page(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Query(q): Query<FleetQuery>,
) -> Result<Response, Failure> {
    let (sites, rows) = fleet_rows(&platform, &session.account, &q).await?;
    Ok(html(pages::fleet(&session, &sites, &rows, q.site.as_deref(), q.tri.as_deref(), q.ordre.as_deref())))
}

async fn fleet_csv(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Query(q): Query<FleetQuery>,
) -> Result<Response, Failure> {
    let (_, rows) = fleet_rows(&platform, &session.account, &q).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"bornes.csv\""),
        ],
        fleet::csv(&rows),
    )
        .into_response())
}

async fn site_export_csv(
    state: State<Shared>,
    viewer: Extension<Viewer>,
    id: Path<String>,
) -> Result<Response, Failure> {
    site_export(state, viewer, id, crate::export::Format::JdmaCsv).await
}

async fn site_export_xlsx(
    state: State<Shared>,
    viewer: Extension<Viewer>,
    id: Path<String>,
) -> Result<Response, Failure> {
    site_export(state, viewer, id, crate::export::Format::JdmaXlsx).await
}

/// A site's reviews as JDMA's export writes them (`borne-platform export --site`).
async fn site_export(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Path(id): Path<String>,
    format: crate::export::Format,
) -> Result<Response, Failure> {
    let storage = platform.storage();
    site_in_scope(storage, &session.account, &id).await?;
    let filter = crate::storage::forwarding::JdmaExportFilter { site: Some(id), ..Default::default() };
    let mut out = Vec::new();
    let mut writer = crate::export::JdmaWriter::new(format, &mut out).map_err(|e| Failure::BadInput(e.to_string()))?;
    storage.jdma_export(&filter, &mut |page| writer.write(&page)).await?;
    writer.finish().map_err(|e| Failure::BadInput(e.to_string()))?;
    let (kind, name) = match format {
        crate::export::Format::JdmaXlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "attachment; filename=\"avis-jdma.xlsx\"",
        ),
        _ => ("text/csv; charset=utf-8", "attachment; filename=\"avis-jdma.csv\""),
    };
    Ok(([(header::CONTENT_TYPE, kind), (header::CONTENT_DISPOSITION, name)], out).into_response())
}

#[derive(Deserialize, Default)]
struct ChartQuery {
    par: Option<String>,
}

async fn site_page(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Query<ChartQuery>,
) -> Result<Response, Failure> {
    let storage = platform.storage();
    let site = site_in_scope(storage, &session.account, &id).await?;
    let today = today();
    // An unknown step: the page by week, saying so beside the choice (a 400).
    let (grain, mistake) = match q.par.as_deref().filter(|p| !p.is_empty()) {
        None => (charts::Grain::Week, None),
        Some(slug) => match charts::Grain::parse(slug) {
            Some(grain) => (grain, None),
            None => {
                (charts::Grain::Week, Some(format!("Pas inconnu : « {slug} » ; choisissez jour, semaine ou mois.")))
            }
        },
    };
    let series = charts::series(storage, &id, today, grain).await?;
    // The rank among the sites of its network (or of the viewer's scope, without a network).
    let network: Vec<Site> = sites_in_scope(storage, &session.account)
        .await?
        .into_iter()
        .filter(|s| s.organisation == site.organisation)
        .collect();
    let lines = sites::comparison(storage, &network, &HashMap::new(), today).await?;
    let scored = lines.iter().filter(|l| l.rank.is_some()).count();
    let this = lines.iter().find(|l| l.site_id == id);
    let rank = this.and_then(|l| l.rank).map(|r| (r, scored));
    let network = this.and_then(|l| l.organisation_name.clone());
    let status = if mistake.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let view = pages::SiteCharts { series, rank, network, mistake };
    let month = storage.site_indicators(&id, today - chrono::Duration::days(29), today, sites::MINIMUM_REVIEWS).await?;
    let from = borne_model::indicators::twelve_months_before(today);
    let year = storage.site_indicators(&id, from, today, sites::MINIMUM_REVIEWS).await?;
    let trend = sites::trend(storage, &id, today).await?;
    let jdma = match (site.product_id, site.form_id) {
        (Some(_), Some(form)) => {
            let counts = storage.jdma_counts().await?.into_iter().find(|c| c.site_id == id).unwrap_or_default();
            let mut days = storage.jdma_reconciliation(today - chrono::Duration::days(8)).await?;
            days.retain(|d| d.form_id == form && d.jdma != d.forwarded);
            Some((counts, days))
        }
        _ => None,
    };
    Ok((status, html(pages::site(&session, &site, &month, &year, &trend, jdma.as_ref(), &view))).into_response())
}

#[derive(Deserialize, Default)]
struct PeriodQuery {
    du: Option<String>,
    au: Option<String>,
}

/// A site's indicators over `[du, au]` (all days when absent), in the shape of the kiosk's
/// `borne stats --json` and of `borne-platform site-stats`.
async fn site_json(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, JsonFailure> {
    let storage = platform.storage();
    site_in_scope(storage, &session.account, &id).await?;
    let since = date_field("du", q.du.as_deref())?;
    let until = date_field("au", q.au.as_deref())?;
    let from = since.unwrap_or(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default());
    let to = until.unwrap_or_else(|| Utc::now().date_naive() + chrono::Duration::days(1));
    let indicators = storage.site_indicators(&id, from, to, sites::MINIMUM_REVIEWS).await?;
    Ok(axum::Json(serde_json::json!({"site_id": id, "since": since, "until": until, "indicators": indicators}))
        .into_response())
}

/// An unsubscribe link (in every alert and summary mail): a page with one button, so that a
/// mail client fetching links ahead does not unsubscribe anyone. The link's token is the key.
async fn unsubscribe_form(State(platform): State<Shared>, Path(token): Path<String>) -> Result<Response, Failure> {
    let account = platform.storage().unsubscribe_account(&token).await?.ok_or(Failure::NotFound)?;
    Ok(html(pages::unsubscribe(&account, &token, false)))
}

async fn unsubscribe(State(platform): State<Shared>, Path(token): Path<String>) -> Result<Response, Failure> {
    let account = platform.storage().unsubscribe_account(&token).await?.ok_or(Failure::NotFound)?;
    platform.storage().unsubscribe(&token).await?;
    tracing::info!(%account, "unsubscribed from alert mails");
    Ok(html(pages::unsubscribe(&account, &token, true)))
}
