//! The site manager's dashboard: axum, served by the kiosk process and by `borne dashboard`.
//!
//! Safe on an office network: nothing is served before a manager password is set (`borne
//! passwd`, argon2id hash in the store); only failed sign-ins count, per account and per
//! address, each followed by a growing wait (1 s, 2 s, 4 s… up to 5 min for the account, 15 min
//! for an address), and logged; the session cookie is HttpOnly, SameSite=Strict (and Secure under TLS);
//! every form post carries a CSRF token; every response has a CSP without inline script,
//! `frame-ancestors 'none'` and `nosniff`. Assets are compiled in: no CDN, no internet.

pub mod charts;
pub mod data;
pub mod pages;

use crate::app::App;
use crate::human::{human_duration, local_time};
use crate::store::{Integrity, StatusFilter, Store};
use axum::body::Body;
use axum::extract::{Form, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use borne_web::auth::{self, Sessions};
use maud::Markup;
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SESSION_COOKIE: &str = "borne_session";
const LOGIN_CSRF_COOKIE: &str = "borne_login_csrf";
const CSP: &str = "default-src 'none'; style-src 'self'; font-src 'self'; img-src 'self' data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

pub struct Dashboard {
    app: App,
    stores: Mutex<Vec<Store>>,
    /// The one connection that writes (retrying rejected reviews), opened when first needed.
    writer: Mutex<Option<Store>>,
    /// One page's store work at a time (exports included): the dashboard never takes more than
    /// one of the kiosk's cores, so a crowd of browsers cannot slow a visitor's commit much.
    work: Arc<tokio::sync::Semaphore>,
    sessions: Sessions,
    gate: auth::Gate,
    failures: auth::MemoryFailures,
    tls: bool,
    started: Instant,
}

pub type Shared = Arc<Dashboard>;

/// The client's address, set on each request by the server (`borne_web::serve`).
pub use borne_web::serve::Peer;

impl Dashboard {
    pub fn new(app: App, session_idle: Duration, tls: bool) -> Shared {
        Arc::new(Dashboard {
            app,
            stores: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
            work: Arc::new(tokio::sync::Semaphore::new(1)),
            sessions: Sessions::new(session_idle),
            gate: auth::Gate::new("dashboard"),
            failures: auth::MemoryFailures::default(),
            tls,
            started: Instant::now(),
        })
    }

    /// Runs `f` on a reading connection from a small pool (no migration, no write lock ever),
    /// on a blocking thread, in turn with the other pages' store work.
    async fn with_store<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&App, &mut Store) -> anyhow::Result<R> + Send + 'static,
    ) -> Result<R, Failure> {
        self.in_turn(|this| this.with_reader(f)).await
    }

    /// Runs `f` on a blocking thread once it is this request's turn for store work.
    async fn in_turn<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Dashboard) -> anyhow::Result<R> + Send + 'static,
    ) -> Result<R, Failure> {
        let this = self.clone();
        let permit = self.work.clone().acquire_owned().await.map_err(|e| Failure::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(&this)
        })
        .await
        .map_err(|e| Failure::Internal(e.to_string()))?
        .map_err(|e| Failure::Internal(format!("{e:#}")))
    }

    /// `f` on a pooled reading connection (blocking; the caller holds the work permit).
    fn with_reader<R>(&self, f: impl FnOnce(&App, &mut Store) -> anyhow::Result<R>) -> anyhow::Result<R> {
        let pooled = self.stores.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut store = match pooled {
            Some(store) => store,
            None => Store::open_reader(&self.app.data_dir)?,
        };
        let result = f(&self.app, &mut store);
        let mut pool = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < 2 {
            pool.push(store);
        }
        result
    }

    /// Runs `f` on the dashboard's one writing connection, in turn with the pages' store work.
    async fn with_writer<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> anyhow::Result<R> + Send + 'static,
    ) -> Result<R, Failure> {
        self.in_turn(|this| {
            let mut writer = this.writer.lock().unwrap_or_else(|e| e.into_inner());
            let store = match writer.take() {
                Some(store) => store,
                None => Store::open(&this.app.data_dir, Integrity::Trust)?.0,
            };
            f(writer.insert(store))
        })
        .await
    }
}

/// A request that could not be served, as the manager will read it.
#[derive(Debug)]
pub enum Failure {
    BadInput(String),
    Forbidden(String),
    Internal(String),
}

impl From<std::convert::Infallible> for Failure {
    fn from(never: std::convert::Infallible) -> Failure {
        match never {}
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            Failure::BadInput(m) => (StatusCode::BAD_REQUEST, "Demande incorrecte", m),
            Failure::Forbidden(m) => (StatusCode::FORBIDDEN, "Action refusée", m),
            Failure::Internal(m) => {
                tracing::error!("dashboard: {m}");
                (StatusCode::INTERNAL_SERVER_ERROR, "Erreur de la borne", format!("La borne n'a pas pu répondre : {m}"))
            }
        };
        (status, html(pages::error_page(title, &message))).into_response()
    }
}

fn html(markup: Markup) -> Response {
    let mut response = markup.into_string().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

pub fn router(state: Shared) -> Router {
    let protected = Router::new()
        .route("/", get(overview))
        .route("/commentaires", get(comments))
        .route("/envoi", get(upload_page))
        .route("/envoi/reessayer", post(retry_rejected))
        .route("/borne", get(kiosk_page))
        .route("/export", get(export_page))
        .route("/export.csv", get(export_csv))
        .route("/actions", get(actions_page).post(add_action))
        .route("/actions/supprimer", post(remove_action))
        .route("/affiche", get(poster))
        .route("/api/stats", get(api_stats))
        .route("/deconnexion", post(logout))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_session));
    Router::new()
        .merge(protected)
        .route("/connexion", get(login_form).post(login))
        .route("/assets/{file}", get(asset))
        .route(pages::ACCESSIBILITY, get(accessibility))
        .route(pages::LEGAL_NOTICE, get(legal_notice))
        .merge(borne_web::dsfr::router())
        .fallback(|| async { Failure::BadInput("Cette page n'existe pas.".into()) })
        .layer(axum::extract::DefaultBodyLimit::max(FORM_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .with_state(state)
}

async fn security_headers(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.tls {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    borne_web::cookies::get(headers, name)
}

fn set_cookie(state: &Dashboard, name: &str, value: &str, path: &str, max_age: Option<u64>) -> HeaderValue {
    borne_web::cookies::set(name, value, path, state.tls, max_age)
}

/// The CSRF token of the request's session, for the forms of the page.
#[derive(Clone)]
struct Csrf(String);

/// The one account of a kiosk's dashboard, as the sign-in failures name it.
const MANAGER: &str = "responsable";

/// A short fingerprint of the manager's password hash: a session opened under one password
/// ends when it changes (`borne passwd`, even from another process).
fn fingerprint(hash: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(hash.unwrap_or("").as_bytes())[..8])
}

async fn require_session(State(state): State<Shared>, mut request: Request, next: Next) -> Response {
    let mut session =
        cookie(request.headers(), SESSION_COOKIE).and_then(|id| state.sessions.touch(&id, Instant::now()));
    if let Some(open) = &session {
        match state.with_store(|_, store| Ok(store.manager_password_hash()?)).await {
            Ok(hash) if fingerprint(hash.as_deref()) == open.key => {}
            Ok(_) => {
                if let Some(id) = cookie(request.headers(), SESSION_COOKIE) {
                    state.sessions.close(&id);
                }
                tracing::info!("dashboard session ended: the password changed");
                session = None;
            }
            Err(e) => return e.into_response(),
        }
    }
    let Some(session) = session else {
        let path = request.uri().path();
        if path.starts_with("/api/") || path.ends_with(".csv") {
            return (StatusCode::UNAUTHORIZED, "connexion nécessaire\n").into_response();
        }
        if request.method() == axum::http::Method::POST {
            return Failure::Forbidden("Votre session a expiré : reconnectez-vous.".into()).into_response();
        }
        return Redirect::to("/connexion").into_response();
    };
    request.extensions_mut().insert(Csrf(session.csrf));
    next.run(request).await
}

fn check_csrf(expected: &str, given: Option<&str>) -> Result<(), Failure> {
    match given {
        Some(given) if auth::constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(()),
        _ => {
            Err(Failure::Forbidden("Jeton de formulaire absent ou périmé : rechargez la page puis recommencez.".into()))
        }
    }
}

/// The dashboard's stylesheet: the design system's additions, then the dashboard's own rules.
static STYLE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{}{}", borne_web::dsfr::EXTRA_CSS, include_str!("assets/style.css")));

/// Who publishes the dashboard: the site, on its own network (the kiosk serves it).
fn publisher(state: &Dashboard) -> (String, &'static str, &'static str) {
    (
        state.app.config.site_name.clone(),
        "le responsable de la borne sur le site",
        "La borne elle-même (un Raspberry Pi), sur le réseau du site.",
    )
}

async fn accessibility(State(state): State<Shared>) -> Response {
    let (name, contact, host) = publisher(&state);
    let p = borne_web::dsfr::Publisher { name: &name, contact, host };
    let body = borne_web::dsfr::accessibility_statement(&p, "le tableau de bord de la borne d'avis");
    html(pages::bare("Déclaration d'accessibilité", &name, body))
}

async fn legal_notice(State(state): State<Shared>) -> Response {
    let (name, contact, host) = publisher(&state);
    let p = borne_web::dsfr::Publisher { name: &name, contact, host };
    let body = borne_web::dsfr::legal_notice(&p, "le tableau de bord de la borne d'avis");
    html(pages::bare("Mentions légales", &name, body))
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "style.css" => (STYLE.as_str(), "text/css; charset=utf-8"),
        "poster.css" => (include_str!("assets/poster.css"), "text/css; charset=utf-8"),
        _ => return Failure::BadInput("Ce fichier n'existe pas.".into()).into_response(),
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "max-age=3600")], body).into_response()
}

async fn login_form(State(state): State<Shared>) -> Response {
    login_page(&state, None, StatusCode::OK)
}

fn login_page(state: &Dashboard, message: Option<&str>, status: StatusCode) -> Response {
    let token = auth::random_token();
    let mut response = (status, html(pages::login(message, &token))).into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(state, LOGIN_CSRF_COOKIE, &token, "/connexion", None));
    response
}

#[derive(Deserialize)]
struct LoginForm {
    password: Option<String>,
    csrf: Option<String>,
}

async fn login(
    State(state): State<Shared>,
    Extension(Peer(ip)): Extension<Peer>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || check_csrf(&expected, form.csrf.as_deref()).is_err() {
        return login_page(&state, Some("Jeton de formulaire absent ou périmé : recommencez."), StatusCode::FORBIDDEN);
    }
    let password = form.password.unwrap_or_default();
    // The hash is read through the pool; it is checked outside it (argon2 takes a while and
    // must not hold up the pages), one verification at a time, in turn with the pages' work so
    // the dashboard takes one core at most.
    let mut hash_seen = None;
    let lookup = async {
        let hash = state.with_store(|_, store| Ok(store.manager_password_hash()?)).await?;
        hash_seen = hash.clone();
        Ok::<_, Failure>(hash)
    };
    let attempt = state.gate.check(&state.failures, MANAGER, ip, password, lookup, Some(&state.work)).await;
    match attempt {
        Err(e) => e.into_response(),
        Ok(auth::Attempt::Accepted) => {
            let (id, _csrf) = state.sessions.open(Instant::now(), &fingerprint(hash_seen.as_deref()));
            tracing::info!(%ip, "dashboard login");
            let mut response = Redirect::to("/").into_response();
            let h = response.headers_mut();
            h.append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, &id, "/", None));
            h.append(header::SET_COOKIE, set_cookie(&state, LOGIN_CSRF_COOKIE, "", "/connexion", Some(0)));
            response
        }
        Ok(auth::Attempt::Throttled(wait)) => {
            let message = format!("Trop d'essais : réessayez dans {} s.", wait.as_secs().max(1));
            login_page(&state, Some(&message), StatusCode::TOO_MANY_REQUESTS)
        }
        Ok(auth::Attempt::Busy) => login_busy(&state, auth::Busy),
        Ok(auth::Attempt::Refused { .. }) => {
            login_page(&state, Some("Mot de passe incorrect."), StatusCode::UNAUTHORIZED)
        }
    }
}

fn login_busy(state: &Dashboard, _: auth::Busy) -> Response {
    let message = "Trop de connexions en même temps : réessayez dans quelques secondes.";
    login_page(state, Some(message), StatusCode::TOO_MANY_REQUESTS)
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn logout(
    State(state): State<Shared>,
    Extension(Csrf(expected)): Extension<Csrf>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Failure> {
    check_csrf(&expected, form.csrf.as_deref())?;
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        state.sessions.close(&id);
    }
    let mut response = Redirect::to("/connexion").into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", "/", Some(0)));
    Ok(response)
}

fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

async fn overview(State(state): State<Shared>, Extension(Csrf(csrf)): Extension<Csrf>) -> Result<Response, Failure> {
    let o = state.with_store(|app, store| data::overview(app, store, today())).await?;
    let site = o.site_name.clone();
    Ok(html(pages::layout("Vue d'ensemble", "/", &site, &csrf, pages::overview(&o))))
}

async fn api_stats(State(state): State<Shared>) -> Result<Response, Failure> {
    let o = state.with_store(|app, store| data::overview(app, store, today())).await?;
    Ok(axum::Json(o).into_response())
}

async fn poster(State(state): State<Shared>) -> Result<Response, Failure> {
    let (o, actions) =
        state.with_store(|app, store| Ok((data::overview(app, store, today())?, store.actions()?))).await?;
    Ok(html(pages::poster(&o, &actions)))
}

/// « Vous nous l'avez dit, on l'a fait »: the list, a form to add one, a button to remove each.
async fn actions_page(
    State(state): State<Shared>,
    Extension(Csrf(csrf)): Extension<Csrf>,
) -> Result<Response, Failure> {
    actions_answer(&state, &csrf, pages::ActionForm { date: today().to_string(), ..Default::default() }, StatusCode::OK)
        .await
}

async fn actions_answer(
    state: &Shared,
    csrf: &str,
    form: pages::ActionForm,
    status: StatusCode,
) -> Result<Response, Failure> {
    let list = state.with_store(|_, store| Ok(store.actions()?)).await?;
    let site = state.app.config.site_name.clone();
    let body = pages::actions(&list, csrf, &form);
    let mut response = html(pages::layout("Vous nous l'avez dit, on l'a fait", "/actions", &site, csrf, body));
    *response.status_mut() = status;
    Ok(response)
}

#[derive(Deserialize)]
struct ActionPost {
    csrf: Option<String>,
    texte: Option<String>,
    date: Option<String>,
}

async fn add_action(
    State(state): State<Shared>,
    Extension(Csrf(csrf)): Extension<Csrf>,
    Form(form): Form<ActionPost>,
) -> Result<Response, Failure> {
    check_csrf(&csrf, form.csrf.as_deref())?;
    let (text, date) = (form.texte.unwrap_or_default(), form.date.unwrap_or_default());
    let checked = borne_model::actions::clean_text(&text).and_then(|clean| {
        let day = parse_day("date", &date)?;
        borne_model::actions::check_date(day, today())?;
        Ok((clean, day))
    });
    let (clean, day) = match checked {
        Ok(ok) => ok,
        Err(message) => {
            // Nothing typed is lost: the form comes back as it was sent, with what to fix.
            let form = pages::ActionForm { text, date, error: Some(message) };
            return actions_answer(&state, &csrf, form, StatusCode::BAD_REQUEST).await;
        }
    };
    let action = state.with_writer(move |store| Ok(store.add_action(&clean, day)?)).await?;
    tracing::info!(action = %action.id, "improvement action written on the dashboard");
    Ok(Redirect::to("/actions").into_response())
}

#[derive(Deserialize)]
struct ActionRemoval {
    csrf: Option<String>,
    id: Option<String>,
}

async fn remove_action(
    State(state): State<Shared>,
    Extension(Csrf(csrf)): Extension<Csrf>,
    Form(form): Form<ActionRemoval>,
) -> Result<Response, Failure> {
    check_csrf(&csrf, form.csrf.as_deref())?;
    let id = form.id.unwrap_or_default();
    let Ok(id) = id.trim().parse::<uuid::Uuid>() else {
        return Err(Failure::BadInput(format!("« {id} » n'est pas l'identifiant d'une action.")));
    };
    state.with_writer(move |store| Ok(store.remove_action(id)?)).await?;
    Ok(Redirect::to("/actions").into_response())
}

/// A date field of a form: empty is none; anything else must be a date.
fn date_field(name: &str, value: Option<&str>) -> Result<Option<chrono::NaiveDate>, Failure> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse_day(name, v).map(Some).map_err(|m| Failure::BadInput(format!("{m}."))),
    }
}

/// A form's date (AAAA-MM-JJ, as a date input sends it), or what is wrong with it.
fn parse_day(name: &str, value: &str) -> Result<chrono::NaiveDate, String> {
    borne_model::days::parse(value).map_err(|m| format!("{m} ({name})"))
}

fn range_of(since: Option<&str>, until: Option<&str>) -> Result<crate::store::DayRange, Failure> {
    let range = crate::store::DayRange { since: date_field("du", since)?, until: date_field("au", until)? };
    if let (Some(s), Some(u)) = (range.since, range.until)
        && s > u
    {
        return Err(Failure::BadInput(format!(
            "La date de début ({}) est après la date de fin ({}).",
            s.format("%d/%m/%Y"),
            u.format("%d/%m/%Y")
        )));
    }
    Ok(range)
}

#[derive(Deserialize)]
struct CommentsQuery {
    note: Option<String>,
    du: Option<String>,
    au: Option<String>,
    page: Option<String>,
}

pub const COMMENTS_PER_PAGE: u32 = 20;

async fn comments(
    State(state): State<Shared>,
    Extension(Csrf(csrf)): Extension<Csrf>,
    Query(q): Query<CommentsQuery>,
) -> Result<Response, Failure> {
    let mut filter = pages::CommentFilter {
        rating: None,
        since: q.du.clone().unwrap_or_default(),
        until: q.au.clone().unwrap_or_default(),
        page: 1,
    };
    let parsed = (|| -> Result<(Option<i64>, crate::store::DayRange, u32), Failure> {
        let rating = match q.note.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n @ 1..=3) => Some(n),
                _ => return Err(Failure::BadInput(format!("« {v} » n'est pas une réponse : 1, 2 ou 3."))),
            },
        };
        let page = match q.page.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => 1,
            Some(v) => match v.parse::<u32>() {
                Ok(n @ 1..=100_000) => n,
                _ => return Err(Failure::BadInput(format!("« {v} » n'est pas un numéro de page."))),
            },
        };
        Ok((rating, range_of(q.du.as_deref(), q.au.as_deref())?, page))
    })();
    let site = state.app.config.site_name.clone();
    let (rating, range, page) = match parsed {
        Ok(p) => p,
        Err(Failure::BadInput(message)) => {
            let body = pages::comments(&filter, &[], false, Some(&message));
            let mut response = html(pages::layout("Commentaires", "/commentaires", &site, &csrf, body));
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
        Err(other) => return Err(other),
    };
    filter.rating = rating;
    filter.page = page;
    let offset = u64::from(page - 1) * u64::from(COMMENTS_PER_PAGE);
    let (rows, more) = state
        .with_store(move |_, store| {
            let mut rows = store.comments(rating, range, u64::from(COMMENTS_PER_PAGE) + 1, offset)?;
            let more = rows.len() > COMMENTS_PER_PAGE as usize;
            rows.truncate(COMMENTS_PER_PAGE as usize);
            Ok((rows, more))
        })
        .await?;
    let rows: Vec<pages::CommentRow> = rows
        .into_iter()
        .map(|c| pages::CommentRow {
            when: c.submitted_at.format("%d/%m/%Y %H:%M").to_string(),
            satisfaction: c.satisfaction,
            text: c.text,
        })
        .collect();
    Ok(html(pages::layout("Commentaires", "/commentaires", &site, &csrf, pages::comments(&filter, &rows, more, None))))
}

async fn upload_health(state: &Shared, message: Option<String>) -> Result<pages::UploadHealth, Failure> {
    state
        .with_store(move |app, store| {
            let summary = store.outbox_summary()?;
            let status = store.uplink_status()?;
            let mut rejected = Vec::new();
            store.for_each_review(StatusFilter::Rejected, crate::store::DayRange::default(), |r| {
                if rejected.len() < 500 {
                    rejected.push((
                        r.review.submitted_at.format("%d/%m/%Y %H:%M").to_string(),
                        pages::outbox_reason(&r.outbox),
                    ));
                }
                Ok(())
            })?;
            let now = chrono::Utc::now();
            let never = || "jamais".to_string();
            Ok(pages::UploadHealth {
                enabled: app.config.upload.is_some(),
                target: app.config.upload.as_ref().map(|u| u.base_url.clone()).unwrap_or_else(|| "—".into()),
                pending: summary.pending,
                oldest_age: summary.oldest_pending_at.map(|t| human_duration((now - t).num_seconds().max(0))),
                last_attempt: status.last_attempt_at.map(local_time).unwrap_or_else(never),
                last_success: status.last_success_at.map(local_time).unwrap_or_else(never),
                last_error: status
                    .last_error
                    .clone()
                    .map(|e| format!("{e} ({})", status.last_error_at.map(local_time).unwrap_or_default())),
                auth_refused: status.auth_refused,
                next_attempt: status.next_attempt_at.map(local_time),
                rejected,
                message,
            })
        })
        .await
}

async fn upload_page(State(state): State<Shared>, Extension(Csrf(csrf)): Extension<Csrf>) -> Result<Response, Failure> {
    let health = upload_health(&state, None).await?;
    let site = state.app.config.site_name.clone();
    Ok(html(pages::layout("Envoi à la plateforme", "/envoi", &site, &csrf, pages::upload(&health, &csrf))))
}

async fn retry_rejected(
    State(state): State<Shared>,
    Extension(Csrf(csrf)): Extension<Csrf>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Failure> {
    check_csrf(&csrf, form.csrf.as_deref())?;
    let n = state.with_writer(|store| Ok(store.retry_rejected(None)?)).await?;
    tracing::info!(reviews = n, "rejected reviews put back in the outbox from the dashboard");
    let health = upload_health(&state, Some(format!("{n} avis remis en attente d'envoi."))).await?;
    let site = state.app.config.site_name.clone();
    Ok(html(pages::layout("Envoi à la plateforme", "/envoi", &site, &csrf, pages::upload(&health, &csrf))))
}

async fn kiosk_page(State(state): State<Shared>, Extension(Csrf(csrf)): Extension<Csrf>) -> Result<Response, Failure> {
    let served_for = state.started.elapsed().as_secs();
    let lines = state
        .with_store(move |app, store| {
            crate::health::Health::gather(app, store).dashboard_lines(served_for).map_err(anyhow::Error::msg)
        })
        .await?;
    let site = state.app.config.site_name.clone();
    Ok(html(pages::layout("État de la borne", "/borne", &site, &csrf, pages::facts(&lines))))
}

async fn export_page(State(state): State<Shared>, Extension(Csrf(csrf)): Extension<Csrf>) -> Response {
    let today = today();
    let month_ago = today.checked_sub_days(chrono::Days::new(29)).unwrap_or(today);
    let site = state.app.config.site_name.clone();
    let body = pages::export(&today.to_string(), &month_ago.to_string());
    html(pages::layout("Export des avis", "/export", &site, &csrf, body))
}

#[derive(Deserialize)]
struct ExportQuery {
    du: Option<String>,
    au: Option<String>,
}

/// Streams the CSV export in chunks, as `borne export` writes it.
async fn export_csv(State(state): State<Shared>, Query(q): Query<ExportQuery>) -> Result<Response, Failure> {
    let range = range_of(q.du.as_deref(), q.au.as_deref())?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(8);
    let this = state.clone();
    // An export is store work like a page: in turn, on a pooled reading connection.
    let permit = state.work.clone().acquire_owned().await.map_err(|e| Failure::Internal(e.to_string()))?;
    let (work, runtime) = (state.work.clone(), tokio::runtime::Handle::current());
    tokio::task::spawn_blocking(move || {
        let mut writer =
            ChannelWriter { tx, buffer: Vec::with_capacity(64 * 1024), permit: Some(permit), work, runtime };
        let result =
            this.with_reader(|app, store| crate::export::csv(store, &app.config.survey, range, b';', &mut writer));
        match result {
            Ok(_) => {
                let _ = std::io::Write::flush(&mut writer);
            }
            Err(e) => {
                tracing::error!("dashboard export failed: {e:#}");
                let _ = writer.tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let name = format!("avis-{}-{}.csv", state.app.config.device_id, today());
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The export's chunks on their way to the browser. While it waits for the browser to take
/// one, the export gives the store's turn back: a download left unread never holds up the
/// other pages (the connection's write deadline then ends it).
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    buffer: Vec<u8>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    work: Arc<tokio::sync::Semaphore>,
    runtime: tokio::runtime::Handle,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buffer.is_empty() {
            let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(64 * 1024));
            let sent = match self.tx.try_send(Ok(chunk)) {
                Ok(()) => Ok(()),
                Err(tokio::sync::mpsc::error::TrySendError::Full(chunk)) => {
                    // The browser is behind: wait for it without the store's turn.
                    self.permit = None;
                    let sent = self.tx.blocking_send(chunk);
                    self.permit = self.runtime.block_on(self.work.clone().acquire_owned()).ok();
                    sent.map_err(|_| ())
                }
                Err(_) => Err(()),
            };
            sent.map_err(|_| std::io::Error::other("client gone"))?;
        }
        Ok(())
    }
}

/// Loads the TLS certificate chain and key (PEM files).
pub fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use anyhow::Context;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("{} : certificat illisible", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} : certificat illisible", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| format!("{} : clé privée illisible", key.display()))?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificat et clé incompatibles")?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The largest form a manager posts (a sign-in, an action of 300 characters): 16 KiB.
pub const FORM_BYTES: usize = 16 * 1024;

/// Connections the dashboard holds at once: a site's managers are a handful; past it, the
/// slowest connection is shed for the newcomer (`borne_web::serve`).
pub const MAX_CONNECTIONS: usize = 256;

/// Serves the dashboard on `listener` until `shutdown` resolves, one hyper connection per
/// client, bounded (timeouts by phase, a cap that sheds the slowest), over TLS when an
/// acceptor is given.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let limits = borne_web::serve::Limits {
        max_connections: MAX_CONNECTIONS,
        max_body: FORM_BYTES as u64,
        ..Default::default()
    };
    let mut server = borne_web::serve::Server::new("dashboard", limits, Default::default());
    if let Some(acceptor) = tls {
        server.handshake = Some(Arc::new(move |stream| {
            let acceptor = acceptor.clone();
            Box::pin(async move {
                let stream = acceptor.accept(stream).await?;
                Ok(Box::new(stream) as Box<dyn borne_web::serve::Io>)
            })
        }));
    }
    server.serve(listener, router(state), shutdown, Duration::from_secs(5)).await
}
