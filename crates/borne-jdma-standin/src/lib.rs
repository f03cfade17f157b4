//! A stand-in for « Je donne mon avis » (JDMA), written from JDMA's code
//! (`DISIC/jedonnemonavis.numerique.gouv.fr`) so that the platform's connector is tested against
//! the same shapes, errors and quirks, on loopback:
//! - the form app's tRPC write path under `/Demarches/api/trpc/` (`trpc`): `review.create` behind
//!   the limiter, `review.insertOrUpdate` with its hour window, no idempotency;
//! - the open API under `/api/open-api/` (`openapi`): `/services`, `/statistiques`;
//! - JDMA's tables (`db`), and the back office's CSV export of a form.
//!
//! Faults a test can turn on: answer responses dropped after committing, answers lost silently
//! by `review.create` (as its caught errors do), the whole service down (connections refused).
//! Its clock can be set, so that a test can walk through hours or weeks.

pub mod db;
mod openapi;
mod state;
pub mod trpc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::task::{JoinHandle, JoinSet};

pub use db::{StoredAnswer, StoredReview, csv_field};
pub use state::{Clock, CreateCall, Settings};
use state::{Shared, Verdict, lock};

/// Marks a response whose connection must be dropped instead.
const DROP: &str = "x-standin-drop";

fn respond(verdict: Verdict) -> Response {
    match verdict {
        Verdict::Answer((status, body)) => (status, axum::Json(body)).into_response(),
        Verdict::Drop => (StatusCode::OK, [(DROP, "1")]).into_response(),
    }
}

#[derive(Clone, Copy)]
struct Peer(IpAddr);

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/Demarches/api/trpc/review.create",
            post(
                |State(s): State<Arc<Shared>>,
                 axum::Extension(Peer(ip)): axum::Extension<Peer>,
                 h: HeaderMap,
                 b: Bytes| async move { respond(trpc::create(&s, &h, ip, &b)) },
            ),
        )
        .route(
            "/Demarches/api/trpc/review.insertOrUpdate",
            post(|State(s): State<Arc<Shared>>, b: Bytes| async move { respond(trpc::insert_or_update(&s, &b)) }),
        )
        .route(
            "/api/open-api/services",
            get(|State(s): State<Arc<Shared>>, h: HeaderMap| async move {
                let (status, body) = openapi::services(&s, &h);
                (status, axum::Json(body))
            }),
        )
        .route(
            "/api/open-api/statistiques",
            post(|State(s): State<Arc<Shared>>, h: HeaderMap, b: Bytes| async move {
                let (status, body) = openapi::statistics(&s, &h, &b);
                (status, axum::Json(body))
            }),
        )
        .with_state(shared)
}

/// A running stand-in on loopback.
pub struct JdmaStandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl JdmaStandIn {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start(settings: Settings) -> std::io::Result<JdmaStandIn> {
        Self::start_on("127.0.0.1:0".parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0))), settings).await
    }

    pub async fn start_on(addr: SocketAddr, settings: Settings) -> std::io::Result<JdmaStandIn> {
        let db = rusqlite::Connection::open_in_memory().map_err(std::io::Error::other)?;
        db.execute_batch(db::SCHEMA).map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            db: Mutex::new(db),
            clock: Clock::default(),
            rng: Mutex::new(fastrand::Rng::with_seed(settings.seed)),
            settings: Mutex::new(settings),
            hits: Mutex::new(HashMap::new()),
            calls: Mutex::new(Vec::new()),
            dropped: Default::default(),
            lost: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let standin = JdmaStandIn { addr, shared, server: Mutex::new(None) };
        standin.serve(listener);
        Ok(standin)
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let app = router(self.shared.clone());
        let task = tokio::spawn(async move {
            // Dropped with this task: every connection ends when the stand-in goes down.
            let mut connections = JoinSet::new();
            while let Ok((stream, peer)) = listener.accept().await {
                let app = app.clone();
                connections.spawn(async move {
                    let service =
                        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                            request.extensions_mut().insert(Peer(peer.ip()));
                            let mut app = app.clone();
                            async move {
                                let response = match tower_service::Service::call(&mut app, request).await {
                                    Ok(response) => response,
                                    Err(never) => match never {},
                                };
                                if response.headers().contains_key(DROP) {
                                    return Err(std::io::Error::other("dropped after committing"));
                                }
                                Ok(response)
                            }
                        });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        *lock(&self.server) = Some(task);
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The form app's base (`form_url` of the platform's `[jdma]`).
    pub fn form_url(&self) -> String {
        format!("http://{}/Demarches", self.addr)
    }

    /// The open API's base (`api_url`).
    pub fn api_url(&self) -> String {
        format!("http://{}/api/open-api", self.addr)
    }

    pub fn clock(&self) -> Clock {
        self.shared.clock.clone()
    }

    pub fn set_settings(&self, settings: Settings) {
        *lock(&self.shared.settings) = settings;
    }

    pub fn settings(&self) -> Settings {
        self.shared.settings()
    }

    /// Down: connections refused and open ones cut, until [`JdmaStandIn::up`].
    pub fn down(&self) {
        if let Some(task) = lock(&self.server).take() {
            task.abort();
        }
    }

    /// Up again on the same address.
    pub async fn up(&self) -> std::io::Result<()> {
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e),
            }
        };
        self.serve(listener);
        Ok(())
    }

    /// Adds a product (a « service numérique ») of an entity; its id.
    pub fn add_product(&self, title: &str, entity: &str) -> i64 {
        self.insert("INSERT INTO product (id, title, entity) VALUES (?1, ?2, ?3)", None, title, entity)
    }

    /// The same with a chosen id (a product that exists in JDMA).
    pub fn add_product_with_id(&self, id: i64, title: &str, entity: &str) -> i64 {
        self.insert("INSERT INTO product (id, title, entity) VALUES (?1, ?2, ?3)", Some(id), title, entity)
    }

    pub fn add_form(&self, product: i64, title: &str) -> i64 {
        self.insert("INSERT INTO form (id, title, product_id) VALUES (?1, ?2, ?3)", None, title, product)
    }

    pub fn add_form_with_id(&self, id: i64, product: i64, title: &str) -> i64 {
        self.insert("INSERT INTO form (id, title, product_id) VALUES (?1, ?2, ?3)", Some(id), title, product)
    }

    pub fn add_button(&self, form: i64, title: &str) -> i64 {
        self.insert("INSERT INTO button (id, title, form_id) VALUES (?1, ?2, ?3)", None, title, form)
    }

    fn insert(&self, sql: &str, id: Option<i64>, title: &str, other: impl rusqlite::ToSql) -> i64 {
        let db = lock(&self.shared.db);
        let _ = db.execute(sql, rusqlite::params![id, title, other]);
        db.last_insert_rowid()
    }

    /// A review left on JDMA's own web form (not through Borne): its satisfaction only.
    pub fn add_web_review(&self, product: i64, form: i64, button: i64, satisfaction: i64) -> i64 {
        let db = lock(&self.shared.db);
        let now = db::stamp(self.shared.clock.now());
        let _ = db.execute(
            "INSERT INTO review (form_id, product_id, button_id, user_id, created_at) VALUES (?1, ?2, ?3, NULL, ?4)",
            rusqlite::params![form, product, button, now],
        );
        let id = db.last_insert_rowid();
        let text = ["Pas bien", "Moyen", "Très bien"][(satisfaction.clamp(1, 3) - 1) as usize];
        let intention = ["bad", "medium", "good"][(satisfaction.clamp(1, 3) - 1) as usize];
        let answer = db::AnswerIn {
            field_code: "satisfaction".into(),
            field_label: "De façon générale, comment ça s’est passé ?".into(),
            answer_item_id: satisfaction,
            answer_text: text.into(),
            intention: Some(intention.into()),
            kind: "radio".into(),
            children: Vec::new(),
        };
        let _ = db::insert_answer(&db, id, &now, &answer, None, &now);
        id
    }

    /// An open API key scoped to `product`.
    pub fn add_api_key(&self, product: i64, key: &str) {
        let db = lock(&self.shared.db);
        let _ = db.execute("INSERT INTO api_key (key, product_id) VALUES (?1, ?2)", rusqlite::params![key, product]);
    }

    /// Every review JDMA holds, by creation, with its answers.
    pub fn reviews(&self) -> Vec<StoredReview> {
        db::reviews(&lock(&self.shared.db)).unwrap_or_default()
    }

    /// Every call to `review.create`, in order.
    pub fn create_calls(&self) -> Vec<CreateCall> {
        lock(&self.shared.calls).clone()
    }

    /// How many answers were dropped after committing, and how many answers `review.create` lost.
    pub fn faults_seen(&self) -> (u32, u32) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.shared.dropped.load(Relaxed), self.shared.lost.load(Relaxed))
    }

    /// The back office's CSV export of a form.
    pub fn export_csv(&self, form: i64) -> String {
        db::export_csv(&lock(&self.shared.db), form).unwrap_or_default()
    }
}

impl Drop for JdmaStandIn {
    fn drop(&mut self) {
        self.down();
    }
}
