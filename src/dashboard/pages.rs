//! The dashboard's pages, in French, as server-rendered HTML (maud escapes every value). No
//! script: forms and links do everything, so the pages work without JavaScript.

use super::charts;
use super::data::{Overview, Period, period_score};
use crate::store::Outbox;
use borne_model::actions::Action;
use borne_model::indicators::{Band, QuestionIndicator, Score, french_decimal};
use borne_web::dsfr::{Frame, NavLink};
use maud::{DOCTYPE, Markup, html};

/// The A4 poster lists this many actions, the newest.
pub const POSTER_ACTIONS: usize = 5;

pub const NAV: [(&str, &str); 7] = [
    ("/", "Vue d'ensemble"),
    ("/commentaires", "Commentaires"),
    ("/actions", "On l'a fait"),
    ("/envoi", "Envoi"),
    ("/borne", "Borne"),
    ("/export", "Export"),
    ("/affiche", "Affiche"),
];

fn band_class(band: Band) -> &'static str {
    match band {
        Band::Good => "band-good",
        Band::Medium => "band-medium",
        Band::Bad => "band-bad",
    }
}

/// The `<head>` of the poster (printed: no frame).
fn head(title: &str, stylesheet: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) }
            link rel="stylesheet" href=(stylesheet);
        }
    }
}

pub const ACCESSIBILITY: &str = "/accessibilite";
pub const LEGAL_NOTICE: &str = "/mentions-legales";

/// A page in the State's frame (`borne_web::dsfr`), with the dashboard's menu when signed in.
fn framed(title: &str, site: &str, nav: &[NavLink], tools: Option<Markup>, heading: &str, body: Markup) -> Markup {
    let frame = Frame {
        title,
        service: "Borne d'avis",
        tagline: site,
        home: "/",
        stylesheet: "/assets/style.css",
        nav,
        tools,
        accessibility: ACCESSIBILITY,
        legal_notice: LEGAL_NOTICE,
    };
    borne_web::dsfr::page(&frame, heading, body)
}

/// The frame of every page behind the login.
pub fn layout(title: &str, active: &str, site: &str, csrf: &str, body: Markup) -> Markup {
    let nav: Vec<NavLink> = NAV.iter().map(|&(href, label)| NavLink { href, label, current: href == active }).collect();
    let tools = html! {
        form method="post" action="/deconnexion" class="logout" {
            input type="hidden" name="csrf" value=(csrf);
            button.fr-btn.fr-btn--tertiary.fr-btn--sm type="submit" { "Se déconnecter" }
        }
    };
    framed(title, site, &nav, Some(tools), title, body)
}

/// A page outside the login (sign-in, errors, legal pages): the frame without the menu.
pub fn bare(title: &str, site: &str, body: Markup) -> Markup {
    framed(title, site, &[], None, title, body)
}

pub fn login(message: Option<&str>, csrf: &str) -> Markup {
    let body = html! {
        div.borne-narrow {
            @if let Some(message) = message {
                div.fr-alert.fr-alert--error.fr-mb-3w { p class="error" role="alert" { (message) } }
            }
            form method="post" action="/connexion" {
                input type="hidden" name="csrf" value=(csrf);
                div.fr-input-group {
                    label.fr-label for="password" { "Mot de passe du responsable" }
                    input.fr-input id="password" name="password" type="password" autocomplete="current-password" required autofocus;
                }
                button.fr-btn type="submit" { "Se connecter" }
            }
        }
    };
    bare("Tableau de bord de la borne d'avis", "Tableau de bord", body)
}

fn severity_class(severity: Option<&str>) -> &'static str {
    match severity {
        Some("success") => "band-good",
        Some("new") => "band-medium",
        _ => "band-bad",
    }
}

/// A period's satisfaction. From the State's minimum of reviews on, its score and band; below it,
/// JDMA's back office (which has no minimum) still gives one: shown, marked « indicative ».
fn score_card(period: &Period, minimum: u64) -> Markup {
    let ind = &period.indicators;
    let back_office = &ind.jdma.satisfaction;
    html! {
        section class="card" aria-labelledby=(format!("p-{}", period.key)) {
            h2 id=(format!("p-{}", period.key)) { (period.label) }
            @match (&ind.satisfaction.score, back_office.value) {
                (Score::Ok { value, band, band_label }, _) => {
                    p class=(format!("score {}", band_class(*band))) {
                        (french_decimal(*value)) span class="unit" { "/10" }
                    }
                    p class=(format!("band {}", band_class(*band))) { (band_label) }
                }
                (_, Some(value)) => {
                    p class=(format!("score indicative {}", severity_class(back_office.severity))) {
                        (borne_model::backoffice::readable(value)) span class="unit" { "/10" }
                    }
                    p class=(format!("band {}", severity_class(back_office.severity))) {
                        (back_office.band.unwrap_or("")) " — note indicative (" (ind.reviews) " avis sur les " (minimum) " de la règle de l'État)"
                    }
                }
                _ => {
                    p class="score insufficient" { "—" }
                    p class="band" { "Aucun avis" }
                }
            }
            p class="count" { (ind.reviews) " avis, " (ind.comments) " commentaires" }
        }
    }
}

fn distribution(question: &QuestionIndicator) -> Markup {
    html! {
        div class="borne-scroll" tabindex="0" { table class="distribution borne-table" {
            caption { (question.label) " — " (question.respondents) " réponses" }
            thead { tr { th scope="col" { "Réponse" } th scope="col" { "Nombre" } th scope="col" { "Part" } } }
            tbody {
                @for item in &question.distribution {
                    tr {
                        th scope="row" { (item.answer_text) }
                        td { (item.count) }
                        td { (borne_web::figures::share_bar(item.intention, item.percent)) " " (french_decimal(item.percent)) " %" }
                    }
                }
            }
        } }
    }
}

pub fn overview(o: &Overview) -> Markup {
    let month = o.period("30d");
    let year = o.period("12m");
    html! {
        p class="lead" {
            "Satisfaction usager calculée comme sur la plateforme de l'État : « Très bien » 10, « Moyen » 5, « Pas bien » 0. "
            "En dessous de " (o.minimum_reviews) " avis, la note est indicative : le tableau de bord de « Je donne mon avis » la montre, "
            "l'affiche et la page publique (l'Observatoire) non."
        }
        div class="cards" {
            @for p in &o.periods { (score_card(p, o.minimum_reviews)) }
        }
        @if let Some(month) = month {
            section {
                h2 { "Répartition des réponses — 30 derniers jours" }
                (distribution(&month.indicators.satisfaction))
            }
        }
        @for p in o.periods.iter().filter(|p| p.key == "30d" || p.key == "12m") {
            section {
                h2 { "Indicateurs de « Je donne mon avis » — " (p.label.to_lowercase()) }
                (borne_web::figures::backoffice_table(&p.indicators.jdma))
            }
        }
        section {
            h2 { "Tendance" }
            figure {
                (charts::daily_answers(&o.daily, "Avis par jour sur 30 jours, par réponse"))
                figcaption { "Avis par jour (30 jours) : " span class="key band-bad" { "Pas bien" } ", " span class="key band-medium" { "Moyen" } ", " span class="key band-good" { "Très bien" } "." }
            }
            figure {
                (charts::weekly_scores(&o.weekly, o.minimum_reviews, "Note sur 10 par semaine, 12 semaines"))
                figcaption { "Note sur 10 par semaine (12 semaines) ; une semaine sous " (o.minimum_reviews) " avis a une barre pâle en pointillés : sa note est indicative." }
            }
        }
        @if let Some(month) = month {
            @if !month.indicators.follow_ups.is_empty() {
                section {
                    h2 { "Questions complémentaires — 30 derniers jours" }
                    @for q in &month.indicators.follow_ups {
                        (distribution(q))
                        @if let Score::Ok { value, .. } = q.score { p { "Note : " (french_decimal(value)) "/10" } }
                        @if let Some(share) = q.share_percent { p { "Part de « Oui » : " (french_decimal(share)) " %" } }
                    }
                }
            }
        }
        section {
            h2 { "Affluence par jour et par heure — 12 derniers mois" }
            figure {
                (charts::heatmap(&o.heatmap, o.minimum_reviews, "Nombre d'avis par jour de la semaine et par heure, 12 mois"))
                figcaption {
                    "Chaque case donne le nombre d'avis ; plus elle est foncée, plus il y en a. Le trait de couleur donne la note quand la case atteint "
                    (o.minimum_reviews) " avis."
                }
            }
            @if let Some(year) = year {
                p { "Sur 12 mois : " (year.indicators.reviews) " avis." }
            }
        }
    }
}

pub struct CommentRow {
    pub when: String,
    pub satisfaction: i64,
    pub text: String,
}

pub struct CommentFilter {
    pub rating: Option<i64>,
    pub since: String,
    pub until: String,
    pub page: u32,
}

fn rating_label(satisfaction: i64) -> (&'static str, &'static str) {
    match satisfaction {
        1 => ("Pas bien", "band-bad"),
        2 => ("Moyen", "band-medium"),
        _ => ("Très bien", "band-good"),
    }
}

pub fn comments(filter: &CommentFilter, rows: &[CommentRow], more: bool, error: Option<&str>) -> Markup {
    let query = |page: u32| {
        format!(
            "/commentaires?note={}&du={}&au={}&page={page}",
            filter.rating.map(|r| r.to_string()).unwrap_or_default(),
            filter.since,
            filter.until
        )
    };
    html! {
        form method="get" action="/commentaires" class="filters" {
            label for="note" { "Réponse" }
            select id="note" name="note" {
                option value="" selected[filter.rating.is_none()] { "Toutes" }
                @for (value, label) in [(3, "Très bien"), (2, "Moyen"), (1, "Pas bien")] {
                    option value=(value) selected[filter.rating == Some(value)] { (label) }
                }
            }
            label for="du" { "Du" }
            input id="du" name="du" type="date" value=(filter.since);
            label for="au" { "Au" }
            input id="au" name="au" type="date" value=(filter.until);
            button type="submit" { "Filtrer" }
        }
        @if let Some(error) = error {
            p class="error" role="alert" { (error) }
        }
        @if rows.is_empty() && error.is_none() {
            p { "Aucun commentaire pour ces critères." }
        }
        ol class="comments" {
            @for row in rows {
                @let (label, class) = rating_label(row.satisfaction);
                li {
                    p class="meta" { time { (row.when) } " — " span class=(format!("tag {class}")) { (label) } }
                    blockquote { (row.text) }
                }
            }
        }
        nav class="pages" aria-label="Pages" {
            @if filter.page > 1 { a href=(query(filter.page - 1)) rel="prev" { "← Plus récents" } }
            span { "Page " (filter.page) }
            @if more { a href=(query(filter.page + 1)) rel="next" { "Plus anciens →" } }
        }
    }
}

pub struct UploadHealth {
    pub enabled: bool,
    pub target: String,
    pub pending: u64,
    pub oldest_age: Option<String>,
    pub last_attempt: String,
    pub last_success: String,
    pub last_error: Option<String>,
    pub auth_refused: bool,
    pub next_attempt: Option<String>,
    pub rejected: Vec<(String, String)>,
    pub message: Option<String>,
}

pub fn upload(h: &UploadHealth, csrf: &str) -> Markup {
    html! {
        @if let Some(message) = &h.message { p class="notice" role="status" { (message) } }
        @if !h.enabled {
            p class="notice" { "L'envoi à la plateforme est désactivé (upload.enabled = false) : les avis restent sur la borne." }
        }
        @if h.auth_refused {
            p class="error" role="alert" { "La plateforme refuse le jeton de cette borne ou son identité (device_id, identifiants JDMA) : les avis restent en attente, rien n'est perdu. La raison est ci-dessous ; une fois la configuration ou le jeton corrigés, l'envoi reprend seul, avec la bonne identité." }
        }
        dl class="facts" {
            dt { "Plateforme" } dd { (h.target) }
            dt { "Avis en attente d'envoi" } dd { (h.pending) }
            dt { "Âge du plus ancien avis en attente" } dd { (h.oldest_age.as_deref().unwrap_or("—")) }
            dt { "Dernière tentative" } dd { (h.last_attempt) }
            dt { "Dernier envoi réussi" } dd { (h.last_success) }
            dt { "Dernière erreur" } dd { (h.last_error.as_deref().unwrap_or("aucune")) }
            @if let Some(next) = &h.next_attempt { dt { "Prochain essai" } dd { (next) } }
        }
        section {
            h2 { "Avis rejetés par la plateforme (" (h.rejected.len()) ")" }
            @if h.rejected.is_empty() {
                p { "Aucun." }
            } @else {
                div.borne-scroll tabindex="0" { table.borne-table {
                    thead { tr { th scope="col" { "Date de l'avis" } th scope="col" { "Motif du rejet" } } }
                    tbody { @for (when, reason) in &h.rejected { tr { td { (when) } td { (reason) } } } }
                } }
                form method="post" action="/envoi/reessayer" {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Remettre ces avis en attente d'envoi" }
                }
            }
        }
    }
}

pub fn facts(lines: &[(String, String)]) -> Markup {
    html! {
        dl class="facts" {
            @for (label, value) in lines { dt { (label) } dd { (value) } }
        }
    }
}

pub fn export(today: &str, month_ago: &str) -> Markup {
    html! {
        p { "Un avis par ligne, pour un tableur : UTF-8, séparateur « ; », en-têtes en français (comme « borne export »)." }
        form method="get" action="/export.csv" class="filters" {
            label for="du" { "Du" }
            input id="du" name="du" type="date" value=(month_ago);
            label for="au" { "Au" }
            input id="au" name="au" type="date" value=(today);
            button type="submit" { "Télécharger le CSV" }
        }
        p { a href="/export.csv" { "Tout télécharger" } }
    }
}

/// The action form as sent (kept when refused) and what to fix.
#[derive(Debug, Clone, Default)]
pub struct ActionForm {
    pub text: String,
    pub date: String,
    pub error: Option<String>,
}

pub fn actions(list: &[Action], csrf: &str, form: &ActionForm) -> Markup {
    html! {
        p { "Dites aux usagers ce que le site a changé après leurs avis. La plus récente s'affiche sur l'écran d'accueil de la borne ; "
            "toutes figurent sur l'affiche et, quand la borne envoie ses avis, sur la page publique du site. Ces textes sont publics : "
            "n'y mettez ni nom ni donnée personnelle." }
        @if let Some(error) = &form.error { p class="error" role="alert" { "Action non enregistrée : " (error) "." } }
        form method="post" action="/actions" class="action-form" {
            input type="hidden" name="csrf" value=(csrf);
            p {
                label for="texte" { "Ce qui a été fait (" (borne_model::actions::TEXT_MIN) " à " (borne_model::actions::TEXT_MAX) " caractères)" }
                textarea id="texte" name="texte" rows="3" maxlength=(borne_model::actions::TEXT_MAX) required { (form.text) }
            }
            p {
                label for="date" { "Date" }
                input id="date" name="date" type="date" value=(form.date) required;
            }
            button type="submit" { "Ajouter" }
        }
        h2 { "Actions affichées" }
        @if list.is_empty() {
            p { "Aucune pour le moment." }
        } @else {
            ul class="actions" {
                @for action in list {
                    li {
                        span class="when" { (action.done_on.format("%d/%m/%Y")) }
                        " " span class="what" { (action.text) }
                        form method="post" action="/actions/supprimer" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="id" value=(action.id.to_string());
                            button type="submit" class="secondary" aria-label=(format!("Retirer : {}", action.text)) { "Retirer" }
                        }
                    }
                }
            }
        }
    }
}

pub fn poster(o: &Overview, actions: &[Action]) -> Markup {
    let shown = o.period("12m").filter(|p| period_score(p).is_some()).or_else(|| o.period("30d"));
    html! {
        (DOCTYPE)
        html lang="fr" {
            (head(&format!("Nos résultats — {}", o.site_name), "/assets/poster.css"))
            body {
                main class="poster" {
                    p class="screen-only" { a href="/" { "← Retour au tableau de bord" } " — imprimez cette page (Ctrl+P) sur une feuille A4." }
                    h1 { "Nos résultats" }
                    p class="site" { (o.site_name) }
                    @if let Some(p) = shown {
                        p class="question" { "« De façon générale, comment ça s’est passé ? »" }
                        @match &p.indicators.satisfaction.score {
                            Score::Ok { value, band, band_label } => {
                                p class=(format!("big {}", band_class(*band))) { (french_decimal(*value)) span { "/10" } }
                                p class=(format!("label {}", band_class(*band))) { (band_label) }
                            }
                            _ => {
                                p class="big" { "—" }
                                p class="label" { "Pas encore assez d'avis pour donner une note (" (p.indicators.reviews) " sur " (o.minimum_reviews) ")." }
                            }
                        }
                        p class="basis" { "Sur " (p.indicators.reviews) " avis donnés sur cette borne, " (p.label.to_lowercase()) " (du " (p.since.format("%d/%m/%Y")) " au " (p.until.format("%d/%m/%Y")) ")." }
                        table class="shares" {
                            @for item in &p.indicators.satisfaction.distribution {
                                tr { th scope="row" { (item.answer_text) } td { (french_decimal(item.percent)) " %" } }
                            }
                        }
                    }
                    @if !actions.is_empty() {
                        section class="done" {
                            h2 { "Vous nous l'avez dit, on l'a fait" }
                            ul {
                                @for action in actions.iter().take(POSTER_ACTIONS) {
                                    li { span class="when" { (action.done_on.format("%d/%m/%Y")) } " " (action.text) }
                                }
                            }
                        }
                    }
                    p class="thanks" { "Merci pour vos avis : ils nous aident à améliorer l'accueil." }
                    p class="foot" { "Note sur 10 calculée comme sur la plateforme de l'État « Services Publics + » : Très bien 10, Moyen 5, Pas bien 0." }
                }
            }
        }
    }
}

pub fn error_page(title: &str, message: &str) -> Markup {
    let body = html! {
        div.fr-alert.fr-alert--error.fr-mb-3w { p class="error" role="alert" { (message) } }
        p { a.fr-link href="/" { "Retour au tableau de bord" } }
    };
    bare(title, "Tableau de bord", body)
}

pub fn outbox_reason(outbox: &Outbox) -> String {
    match outbox {
        Outbox::Rejected { reason, .. } => reason.clone(),
        _ => String::new(),
    }
}
