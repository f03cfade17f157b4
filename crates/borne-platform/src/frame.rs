//! The State's frame around every page of the platform (console and public results): the
//! design system's header and footer (`borne_web::dsfr`), and the two pages every footer links
//! to — the accessibility statement and the legal notice, with the publisher the configuration
//! names (`[console] publisher, contact, host`).

use crate::config::Publication;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use borne_web::dsfr::{self, Frame, NavLink};
use maud::Markup;

pub const ACCESSIBILITY: &str = "/accessibilite";
pub const LEGAL_NOTICE: &str = "/mentions-legales";
pub const SERVICE: &str = "Borne";
const PUBLIC_STYLE: &str = "/public/style.css";

/// A page of the public results (no navigation: a citizen comes from a poster's QR code).
pub fn public(title: &str, heading: &str, content: Markup) -> Markup {
    page(title, "Résultats des services publics", "/public/schema", PUBLIC_STYLE, &[], None, heading, content)
}

/// A page in the frame: see `borne_web::dsfr::page`.
#[allow(clippy::too_many_arguments)]
pub fn page(
    title: &str,
    tagline: &str,
    home: &str,
    stylesheet: &str,
    nav: &[NavLink],
    tools: Option<Markup>,
    heading: &str,
    content: Markup,
) -> Markup {
    let frame = Frame {
        title,
        service: SERVICE,
        tagline,
        home,
        stylesheet,
        nav,
        tools,
        accessibility: ACCESSIBILITY,
        legal_notice: LEGAL_NOTICE,
    };
    dsfr::page(&frame, heading, content)
}

/// The design system's files, the accessibility statement and the legal notice.
pub fn router<S: Clone + Send + Sync + 'static>(publication: Publication) -> Router<S> {
    Router::new()
        .route(ACCESSIBILITY, get(accessibility))
        .route(LEGAL_NOTICE, get(legal_notice))
        .with_state(std::sync::Arc::new(publication))
        .merge(dsfr::router::<S>())
}

/// Public pages load nothing but the design system's and their own stylesheets, and are framed
/// by no one.
pub const PUBLIC_CSP: &str = "default-src 'none'; style-src 'self'; font-src 'self'; img-src 'self' data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn accessibility(State(publication): State<std::sync::Arc<Publication>>) -> Response {
    let publisher = publication.as_publisher();
    let content =
        dsfr::accessibility_statement(&publisher, "la plateforme Borne (console des réseaux et résultats publiés)");
    answer(public("Déclaration d'accessibilité", "Déclaration d'accessibilité", content))
}

async fn legal_notice(State(publication): State<std::sync::Arc<Publication>>) -> Response {
    let publisher = publication.as_publisher();
    let content = dsfr::legal_notice(&publisher, "la plateforme Borne");
    answer(public("Mentions légales", "Mentions légales", content))
}

fn answer(page: Markup) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, PUBLIC_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        page.into_string(),
    )
        .into_response()
}
