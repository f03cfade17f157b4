//! The State's design system (DSFR, `@gouvfr/dsfr`), served by each server itself (no CDN) and
//! the frame every page of both servers wears: skip links, the header with the « République
//! française » block, the service's navigation (links, no script: it stays visible on a phone),
//! the footer with the accessibility statement, the legal notice and the licence.
//!
//! The files are the npm package's own, byte for byte (`dsfr/update.sh` copies them, a test
//! compares them); their address carries the version, so a browser may keep them a year.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};

/// The version of `@gouvfr/dsfr` embedded.
pub const VERSION: &str = include_str!("../dsfr/VERSION").trim_ascii();

/// Where the files are served: `{PREFIX}/dsfr.min.css`, `{PREFIX}/fonts/…`, `{PREFIX}/icons/…`.
pub const PREFIX: &str = "/dsfr";

static FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/dsfr_files.rs"));

/// The stylesheet's address (with the version, so that a new one is fetched anew).
pub fn stylesheet() -> String {
    format!("{PREFIX}/{VERSION}/dsfr.min.css")
}

/// The embedded file at `path` (relative to the package's `dist`), with its media type.
pub fn file(path: &str) -> Option<(&'static str, &'static [u8])> {
    let (_, bytes) = FILES.iter().find(|(name, _)| *name == path)?;
    let kind = match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("woff2") => "font/woff2",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    Some((kind, bytes))
}

/// The names of every embedded file.
pub fn files() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(name, _)| *name)
}

/// `/dsfr/{version}/{*path}`: the design system's files, cached for a year.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route(&format!("{PREFIX}/{{version}}/{{*path}}"), get(serve))
}

async fn serve(Path((version, path)): Path<(String, String)>) -> Response {
    match file(&path).filter(|_| version == VERSION) {
        Some((kind, bytes)) => {
            ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")], bytes)
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "introuvable\n").into_response(),
    }
}

/// The Content-Security-Policy fragment the design system needs: its stylesheet and fonts from
/// this server, its icons as files or `data:` images.
pub const CSP_SOURCES: &str = "style-src 'self'; font-src 'self'; img-src 'self' data:";

/// A link of the service's navigation.
pub struct NavLink<'a> {
    pub href: &'a str,
    pub label: &'a str,
    pub current: bool,
}

/// What frames a page: its title, the service's name and home, its own stylesheet, its
/// navigation, what sits at the right of the navigation (the account, the sign-out button),
/// and where the accessibility statement and the legal notice are.
pub struct Frame<'a> {
    pub title: &'a str,
    pub service: &'a str,
    pub tagline: &'a str,
    pub home: &'a str,
    pub stylesheet: &'a str,
    pub nav: &'a [NavLink<'a>],
    pub tools: Option<Markup>,
    pub accessibility: &'a str,
    pub legal_notice: &'a str,
}

/// A whole page: `content` goes in `<main>`, after the page's `<h1>` (`heading`).
pub fn page(frame: &Frame, heading: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="fr" data-fr-scheme="light" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="format-detection" content="telephone=no";
                title { (frame.title) " — " (frame.service) }
                link rel="stylesheet" href=(stylesheet());
                link rel="stylesheet" href=(frame.stylesheet);
            }
            body {
                div.fr-skiplinks {
                    nav.fr-container role="navigation" aria-label="Accès rapide" {
                        ul.fr-skiplinks__list {
                            li { a.fr-link href="#contenu" { "Contenu" } }
                            @if !frame.nav.is_empty() { li { a.fr-link href="#navigation" { "Menu" } } }
                            li { a.fr-link href="#pied" { "Pied de page" } }
                        }
                    }
                }
                (header(frame))
                main #contenu tabindex="-1" role="main" {
                    div.fr-container.fr-py-4w {
                        h1 { (heading) }
                        (content)
                    }
                }
                (footer(frame))
            }
        }
    }
}

fn marianne() -> Markup {
    html! { p.fr-logo { "République" br; "française" } }
}

fn header(frame: &Frame) -> Markup {
    html! {
        header.fr-header role="banner" {
            div.fr-header__body { div.fr-container { div.fr-header__body-row {
                div.fr-header__brand.fr-enlarge-link {
                    div.fr-header__brand-top { div.fr-header__logo { (marianne()) } }
                    div.fr-header__service {
                        a href=(frame.home) title=(format!("Accueil — {}", frame.service)) {
                            p.fr-header__service-title { (frame.service) }
                        }
                        p.fr-header__service-tagline { (frame.tagline) }
                    }
                }
            } } }
            @if !frame.nav.is_empty() || frame.tools.is_some() {
                div.borne-nav { div.fr-container.borne-nav__row {
                    @if !frame.nav.is_empty() {
                        nav #navigation role="navigation" aria-label="Menu principal" {
                            ul.borne-nav__list {
                                @for link in frame.nav {
                                    li { a.borne-nav__link href=(link.href) aria-current=[link.current.then_some("page")] { (link.label) } }
                                }
                            }
                        }
                    }
                    @if let Some(tools) = &frame.tools { div.borne-nav__tools { (tools) } }
                } }
            }
        }
    }
}

fn footer(frame: &Frame) -> Markup {
    html! {
        footer.fr-footer #pied role="contentinfo" {
            div.fr-container {
                div.fr-footer__body {
                    div.fr-footer__brand.fr-enlarge-link {
                        a href=(frame.home) title=(format!("Retour à l'accueil — {}", frame.service)) { (marianne()) }
                    }
                    div.fr-footer__content {
                        p.fr-footer__content-desc {
                            (frame.service) " recueille l'avis des usagers des services publics sur des bornes d'accueil, \
                             dans le cadre du programme Services Publics + et de « Je donne mon avis »."
                        }
                        ul.fr-footer__content-list {
                            li.fr-footer__content-item { a.fr-footer__content-link href="https://www.plus.transformation.gouv.fr" { "plus.transformation.gouv.fr" } }
                            li.fr-footer__content-item { a.fr-footer__content-link href="https://jedonnemonavis.numerique.gouv.fr" { "jedonnemonavis.numerique.gouv.fr" } }
                            li.fr-footer__content-item { a.fr-footer__content-link href="https://www.service-public.fr" { "service-public.fr" } }
                        }
                    }
                }
                div.fr-footer__bottom {
                    ul.fr-footer__bottom-list {
                        li.fr-footer__bottom-item { a.fr-footer__bottom-link href=(frame.accessibility) { "Accessibilité : non conforme" } }
                        li.fr-footer__bottom-item { a.fr-footer__bottom-link href=(frame.legal_notice) { "Mentions légales" } }
                    }
                    div.fr-footer__bottom-copy {
                        p { "Sauf mention contraire, les contenus de ce site sont proposés sous "
                            a href="https://github.com/etalab/licence-ouverte/blob/master/LO.md" { "licence etalab-2.0" } "." }
                    }
                }
            }
        }
    }
}

/// Who publishes a site, for its legal notice and its accessibility statement.
pub struct Publisher<'a> {
    /// The administration that runs it (« Préfecture du Rhône »).
    pub name: &'a str,
    /// Where to write (an e-mail address or a postal address).
    pub contact: &'a str,
    /// Who hosts the server (« Serveurs de la préfecture, Lyon »).
    pub host: &'a str,
}

/// The accessibility statement RGAA asks of every public site (its template, condensed): the
/// state of conformity (no audit yet: « non conforme »), what was checked, and the recourse.
pub fn accessibility_statement(p: &Publisher, service: &str) -> Markup {
    html! {
        p { (p.name) " s'engage à rendre ses services numériques accessibles, conformément à l'article 47 \
            de la loi n° 2005-102 du 11 février 2005." }
        p { "Cette déclaration d'accessibilité s'applique à " (service) "." }
        h2 { "État de conformité" }
        p { (service) " est " strong { "non conforme" } " avec le RGAA 4.1.2 : aucun audit de conformité n'a encore été réalisé." }
        h2 { "Ce qui est vérifié" }
        ul {
            li { "Chaque page est vérifiée à chaque version par un outil automatique (axe-core) dans Chromium, \
                  sans erreur sérieuse ni critique." }
            li { "Chaque page s'utilise sur un écran de 320 pixels de large sans défilement horizontal ; \
                  les tableaux larges défilent dans leur cadre." }
            li { "Les graphiques sont accompagnés d'un tableau des mêmes chiffres ; aucune page ne demande de script." }
        }
        h2 { "Établissement de cette déclaration" }
        p { "Technologies utilisées : HTML5, CSS (Système de design de l'État " (VERSION) "), SVG." }
        h2 { "Retour d'information et contact" }
        p { "Si vous n'arrivez pas à accéder à un contenu ou à un service, contactez le responsable du site : "
            (p.contact) "." }
        h2 { "Voies de recours" }
        p { "Si vous avez signalé un défaut d'accessibilité qui vous empêche d'accéder à un contenu ou à un \
             service et n'avez pas obtenu de réponse satisfaisante, vous pouvez :" }
        ul {
            li { "écrire un message au " a href="https://formulaire.defenseurdesdroits.fr/" { "Défenseur des droits" } ";" }
            li { "contacter " a href="https://www.defenseurdesdroits.fr/saisir/delegues" { "le délégué du Défenseur des droits dans votre région" } ";" }
            li { "envoyer un courrier (gratuit, sans timbre) : Défenseur des droits, Libre réponse 71120, 75342 Paris CEDEX 07." }
        }
    }
}

/// The legal notice (LCEN art. 6): who publishes, who hosts, how to reach them, and how visitors'
/// reviews are kept (nothing identifies a visitor).
pub fn legal_notice(p: &Publisher, service: &str) -> Markup {
    html! {
        h2 { "Éditeur" }
        p { (service) " est édité par " (p.name) "." }
        p { "Contact : " (p.contact) "." }
        h2 { "Hébergement" }
        p { (p.host) }
        h2 { "Données personnelles" }
        p { "Les avis déposés sur les bornes sont anonymes : la borne ne demande ni nom, ni adresse, ni photo, \
             et efface du commentaire ce qui ressemble à un numéro de téléphone, une adresse électronique ou un \
             numéro de dossier. Les comptes des gestionnaires (nom, adresse électronique, rôle) servent à \
             l'accès à la console et aux envois d'alertes ; écrivez au contact ci-dessus pour les consulter, \
             les rectifier ou les supprimer." }
        h2 { "Cookies" }
        p { "Seuls des cookies techniques, nécessaires à la connexion des gestionnaires, sont déposés ; \
             aucun cookie de mesure d'audience ni de publicité." }
        h2 { "Licence" }
        p { "Le logiciel Borne est libre. Le Système de design de l'État est utilisé sous licence etalab-2.0, \
             dans le respect de ses " a href="https://www.systeme-de-design.gouv.fr/utilisation-et-organisation/perimetre-d-application" { "conditions d'utilisation" } "." }
    }
}

/// Small rules the design system leaves to each site: the navigation bar without script,
/// charts and shares, wide tables scrolling in their frame. Appended to each server's own sheet.
pub const EXTRA_CSS: &str = include_str!("dsfr_extra.css");

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded files are the npm package's, byte for byte (`dsfr/update.sh` copies them).
    #[test]
    #[ignore = "needs @gouvfr/dsfr from npm in tests/e2e/node_modules: .ci/run runs npm ci there"]
    fn the_embedded_design_system_is_the_npm_package() {
        let package =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/node_modules/@gouvfr/dsfr");
        let manifest: String = std::fs::read_to_string(package.join("package.json")).expect("npm ci in tests/e2e");
        assert!(manifest.contains(&format!("\"version\": \"{VERSION}\"")), "the package is version {VERSION}");
        for name in files() {
            let (_, embedded) = file(name).expect("listed");
            let original = std::fs::read(package.join("dist").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(embedded == original.as_slice(), "{name} differs from the npm package's");
        }
        assert!(file("dsfr.min.css").is_some() && file("fonts/Marianne-Regular.woff2").is_some());
        // Every file the stylesheet names (but Spectral, unused, and woff, for old browsers) is here.
        let css = std::str::from_utf8(file("dsfr.min.css").expect("the stylesheet").1).expect("UTF-8");
        for named in css.split("url(").skip(1).filter_map(|rest| rest.split(')').next()) {
            let path = named.trim_matches(|c| c == '"' || c == '\'').trim_start_matches("../");
            if path.starts_with("data:") || path.contains("Spectral") || path.ends_with(".woff") {
                continue;
            }
            assert!(file(path).is_some(), "{path}, named by the stylesheet, is embedded");
        }
    }

    #[test]
    fn a_file_is_served_with_its_type_and_nothing_else_is() {
        assert_eq!(file("dsfr.min.css").map(|f| f.0), Some("text/css; charset=utf-8"));
        assert_eq!(file("fonts/Marianne-Bold.woff2").map(|f| f.0), Some("font/woff2"));
        assert!(file("../Cargo.toml").is_none() && file("").is_none());
    }
}
