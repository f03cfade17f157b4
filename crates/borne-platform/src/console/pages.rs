//! The console's pages (maud: every value escaped). No script; one stylesheet; every table has
//! a caption and header cells; the navigation says where one is.

use super::fleet::{Row, SORT_KEYS};

/// Comments shown on one page of the comments' list.
pub const COMMENTS_PER_PAGE: u32 = 20;
use super::charts::{self, Grain, Series};
use super::sites::{SiteLine, TrendPoint};

/// A site's charts: its series at the grain asked, and its rank among its network's scored sites.
pub struct SiteCharts {
    pub series: Series,
    pub rank: Option<(usize, usize)>,
    /// The name of the site's network.
    pub network: Option<String>,
    /// Why the step asked for was refused (the charts are then by week).
    pub mistake: Option<String>,
}
use crate::storage::Site;
use crate::storage::alerting::Incident;
use crate::storage::console::{Comment, ConsoleSession};
use crate::storage::forwarding::{JdmaCounts, Reconciled};
use axum::http::StatusCode;
use borne_model::backoffice::readable;
use borne_model::indicators::{Indicators, QuestionIndicator, Score, french_decimal};
use borne_web::dsfr::NavLink;
use chrono::{DateTime, Utc};
use maud::{Markup, html};

/// The console's stylesheet: the design system's additions, then the console's own rules.
pub static STYLE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{}{}", borne_web::dsfr::EXTRA_CSS, include_str!("console.css")));
const STYLE_HREF: &str = "/console/style.css";
const TAGLINE: &str = "Console des réseaux";

/// A page outside the signed-in console (sign-in, errors, unsubscribing): the frame, no menu.
pub(crate) fn bare(title: &str, heading: &str, content: Markup) -> Markup {
    crate::frame::page(title, TAGLINE, "/console/", STYLE_HREF, &[], None, heading, content)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Sites,
    Fleet,
    Comments,
    Survey,
    Updates,
    Admin,
}

/// A signed-in page: the frame with the console's menu and the account, then `content`.
pub(crate) fn layout(session: &ConsoleSession, section: Option<Section>, title: &str, content: Markup) -> Markup {
    let account = &session.account;
    let nav: Vec<NavLink> =
        MENU.iter().map(|&(href, label, this)| NavLink { href, label, current: section == Some(this) }).collect();
    let tools = html! {
        span.fr-text--sm.fr-mb-0 { (account.name) " (" (account.role.label())
            @if let Some(org) = &account.organisation { " : " (org) }
            @if let Some(site) = &account.site { " : " (site) }
            ")" }
        form method="post" action="/console/deconnexion" {
            input type="hidden" name="csrf" value=(session.csrf);
            button.fr-btn.fr-btn--tertiary.fr-btn--sm type="submit" { "Se déconnecter" }
        }
    };
    crate::frame::page(title, TAGLINE, "/console/", STYLE_HREF, &nav, Some(tools), title, content)
}

/// The console's menu (on an error page, none of it is current: the page does not know who asks).
const MENU: [(&str, &str, Section); 6] = [
    ("/console/", "Sites", Section::Sites),
    ("/console/bornes", "Bornes", Section::Fleet),
    ("/console/commentaires", "Commentaires", Section::Comments),
    ("/console/questionnaire", "Questionnaire", Section::Survey),
    ("/console/mises-a-jour", "Mises à jour", Section::Updates),
    ("/console/administration", "Administration", Section::Admin),
];

/// An error page: the console's menu, what went wrong, the way back.
pub fn message(status: StatusCode, text: &str) -> Markup {
    let content = html! {
        div.fr-alert.fr-alert--error.fr-mb-3w { p role="alert" { (text) } }
        p { a.fr-link href="/console/" { "Retour à la console" } }
    };
    let nav: Vec<NavLink> = MENU.iter().map(|&(href, label, _)| NavLink { href, label, current: false }).collect();
    let heading = format!("Erreur {}", status.as_u16());
    crate::frame::page("Erreur", TAGLINE, "/console/", STYLE_HREF, &nav, None, &heading, content)
}

/// After ProConnect: the session's cookie is set, and this page of ours takes the browser on to
/// the console (a same-site navigation, so the `SameSite=Strict` cookie goes with it). The
/// design system's frame is kept, with the refresh in its head.
pub fn signed_in(name: &str) -> Markup {
    let content = html! {
        p { "Vous êtes connecté avec ProConnect." }
        p { a.fr-btn href="/console/" { "Aller à la console" } }
    };
    let page = bare("Connecté", &format!("Bonjour {name}"), content).into_string();
    maud::PreEscaped(page.replacen("<head>", "<head><meta http-equiv=\"refresh\" content=\"0; url=/console/\">", 1))
}

pub fn login(message: Option<&str>, csrf: &str, proconnect: bool) -> Markup {
    let content = html! {
        div.borne-narrow {
            p { "Connectez-vous pour voir les bornes, les sites et les avis de votre périmètre." }
            @if let Some(message) = message { div.fr-alert.fr-alert--error.fr-mb-3w { p.error role="alert" { (message) } } }
            @if proconnect {
                section.proconnect aria-labelledby="proconnect-titre" {
                    h2 #proconnect-titre { "Agents publics" }
                    p { a.fr-btn href="/console/proconnect" { "S'identifier avec ProConnect" } }
                    p { a.fr-link href="https://www.proconnect.gouv.fr/" rel="noopener" { "Qu'est-ce que ProConnect ?" } }
                }
                h2 { "Ou avec un mot de passe" }
            }
            form method="post" action="/console/connexion" {
                input type="hidden" name="csrf" value=(csrf);
                div.fr-input-group {
                    label.fr-label for="email" { "Adresse électronique" }
                    input.fr-input #email type="email" name="email" autocomplete="username" required;
                }
                div.fr-input-group {
                    label.fr-label for="password" { "Mot de passe" }
                    input.fr-input #password type="password" name="password" autocomplete="current-password" required;
                }
                button.fr-btn type="submit" { "Se connecter" }
            }
            p.fr-mt-3w { a.fr-link href="/console/mot-de-passe-oublie" { "Mot de passe oublié ?" } }
        }
    };
    bare("Connexion", "Console des réseaux Borne", content)
}

/// The band of a JDMA figure's severity, as `data-band` names it.
fn band_of(severity: Option<&str>) -> &'static str {
    match severity {
        Some("success") => "good",
        Some("new") => "medium",
        _ => "bad",
    }
}

/// A period's satisfaction: its score from the State's minimum of reviews on; below it, the
/// value JDMA's back office shows (it has no minimum), marked « indicatif », never a blank.
fn score(indicators: &Indicators) -> Markup {
    let figure = &indicators.jdma.satisfaction;
    match (&indicators.satisfaction.score, figure.value) {
        (Score::Ok { value, band, band_label }, _) => html! {
            span.score data-band=(format!("{band:?}").to_lowercase()) { (french_decimal(*value)) " / 10" }
            " " span.band { (band_label) }
        },
        (Score::Insufficient { count, minimum }, Some(value)) => html! {
            span.score.indicative data-band=(band_of(figure.severity)) { (readable(value)) " / 10" }
            " " span.band { (figure.band.unwrap_or("")) }
            " " span.insufficient { "indicatif : " (count) " avis sur les " (minimum) " de la règle de l'État" }
        },
        _ => html! { span.insufficient { "aucun avis" } },
    }
}

/// The same in a table cell.
fn short_score(indicators: &Indicators) -> Markup {
    let figure = &indicators.jdma.satisfaction;
    match (&indicators.satisfaction.score, figure.value) {
        (Score::Ok { value, band, .. }, _) => {
            html! { span.score data-band=(format!("{band:?}").to_lowercase()) { (french_decimal(*value)) } }
        }
        (Score::Insufficient { .. }, Some(value)) => html! {
            span.score.indicative data-band=(band_of(figure.severity)) { (readable(value)) } " " span.insufficient { "(indicatif)" }
        },
        _ => html! { span.insufficient { "—" } },
    }
}

fn change(value: Option<f64>) -> Markup {
    match value {
        Some(v) if v > 0.0 => html! { span.up { "+" (french_decimal(v)) } },
        Some(v) if v < 0.0 => html! { span.down { "−" (french_decimal(-v)) } },
        Some(_) => html! { "stable" },
        None => html! { span.insufficient { "—" } },
    }
}

/// Who saw or closed an incident and what they wrote; for an open one, the forms to say so.
fn incident_handling(session: &ConsoleSession, i: &Incident) -> Markup {
    let action = format!("/console/incidents/{}", i.id);
    html! {
        @if let Some(by) = &i.closed_by { "Clôturé par " (by) }
        @else if let Some(by) = &i.acknowledged_by { "Pris en compte par " (by) }
        @if let Some(note) = &i.note { " : « " (note) " »" }
        @if i.closed_by.is_none() {
            @if i.acknowledged_by.is_none() && i.resolved_at.is_none() {
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="action" value="vu";
                    button.fr-btn.fr-btn--sm.fr-btn--tertiary type="submit" { "Pris en compte" span.fr-sr-only { " : incident " (i.id) } }
                }
            }
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="action" value="clore";
                label.fr-label for=(format!("note-{}", i.id)) { "Ce qui a été fait" }
                input.fr-input id=(format!("note-{}", i.id)) name="note" maxlength="500" required;
                button.fr-btn.fr-btn--sm.fr-btn--secondary type="submit" { "Clôturer" span.fr-sr-only { " l'incident " (i.id) } }
            }
        }
    }
}

fn incidents(session: &ConsoleSession, list: &[Incident], sites: &[Site]) -> Markup {
    let site_of = |id: &Option<String>| id.as_ref().and_then(|id| sites.iter().find(|s| &s.id == id));
    let name_of = |id: &Option<String>| site_of(id).map_or("—".to_string(), |s| s.name.clone());
    let zone_of = |id: &Option<String>| site_of(id).map_or(crate::local::DEFAULT_TIME_ZONE, |s| s.time_zone.as_str());
    html! {
        section aria-labelledby="incidents" {
            h2 #incidents { "Incidents récents" }
            @if list.is_empty() {
                p { "Aucun incident." }
            } @else {
                div.borne-scroll tabindex="0" { table.borne-table {
                    caption { "Les 20 derniers incidents de votre périmètre (heures de chaque site)" }
                    thead { tr { th scope="col" { "État" } th scope="col" { "Site" } th scope="col" { "Alerte" } th scope="col" { "Constat" } th scope="col" { "Ouvert" } th scope="col" { "Résolu" } th scope="col" { "Suivi" } } }
                    tbody {
                        @for i in list {
                            tr {
                                td { @if i.resolved_at.is_some() { "résolu" } @else { strong { "en cours" } } }
                                th scope="row" { (name_of(&i.site_id)) }
                                td { (crate::notify::rule_label(&i.rule)) @if i.scope_kind == "device" { " (" (i.scope_id) ")" } }
                                td { (i.detail) }
                                td { (crate::local::when(i.opened_at, zone_of(&i.site_id))) }
                                td { @if let Some(at) = i.resolved_at { (crate::local::when(at, zone_of(&i.site_id))) } @else { "—" } }
                                td { (incident_handling(session, i)) }
                            }
                        }
                    }
                } }
            }
        }
    }
}

pub fn sites(session: &ConsoleSession, lines: &[SiteLine], scope: &[Site], recent: &[Incident]) -> Markup {
    let reasons: Vec<(&str, &Indicators)> = lines.iter().map(|l| (l.site_name.as_str(), &l.last_12_months)).collect();
    let content = html! {
        p { "Note de satisfaction sur 10 calculée comme l'État la calcule (« Très bien » 10, « Moyen » 5, « Pas bien » 0), donnée à partir de 100 avis. Classement sur les 12 derniers mois glissants." }
        @if lines.is_empty() {
            p { "Aucun site dans votre périmètre." }
        } @else {
            div.borne-scroll tabindex="0" { table.borne-table {
                caption { "Sites comparés (" (lines.len()) ")" }
                thead { tr {
                    th scope="col" { "Rang" }
                    th scope="col" { "Site" }
                    th scope="col" { "Réseau" }
                    th scope="col" { "Bornes" }
                    th scope="col" { "Avis 30 j" }
                    th scope="col" { "Note 30 j" }
                    th scope="col" { "Avis 12 mois" }
                    th scope="col" { "Note 12 mois" }
                    th scope="col" { "Évolution en 30 j" }
                    th scope="col" { "« Pas bien » 12 mois" }
                } }
                tbody {
                    @for line in lines {
                        tr {
                            td { @if let Some(rank) = line.rank { (rank) } @else { "—" } }
                            th scope="row" { a href=(format!("/console/sites/{}", line.site_id)) { (line.site_name) } }
                            td { (line.organisation_name.as_deref().unwrap_or("—")) }
                            td { (line.kiosks) }
                            td { (line.last_30_days.reviews) }
                            td { (short_score(&line.last_30_days)) }
                            td { (line.last_12_months.reviews) }
                            td { (short_score(&line.last_12_months)) }
                            td { (change(line.change_30_days)) }
                            td { @match line.negative_percent() { Some(p) => { (french_decimal(p)) " %" } None => { "—" } } }
                        }
                    }
                }
            } }
        }
        section aria-labelledby="raisons" {
            h2 #raisons { "Les raisons données, comparées entre sites" }
            (charts::reasons_across(&reasons))
        }
        (incidents(session, recent, scope))
    };
    layout(session, Some(Section::Sites), "Sites", content)
}

fn age(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(t) = t else { return "jamais".into() };
    let minutes = (now - t).num_minutes().max(0);
    match minutes {
        0 => "à l'instant".into(),
        1..=59 => format!("il y a {minutes} min"),
        60..=2879 => format!("il y a {} h", minutes / 60),
        _ => format!("il y a {} j", minutes / 1440),
    }
}

fn bytes(n: Option<i64>) -> String {
    match n {
        None => "—".into(),
        Some(n) if n >= 1 << 30 => {
            format!("{} Gio", french_decimal((n as f64 / (1u64 << 30) as f64 * 10.0).round() / 10.0))
        }
        Some(n) => format!("{} Mio", n >> 20),
    }
}

pub fn fleet(
    session: &ConsoleSession,
    sites: &[Site],
    rows: &[Row],
    site: Option<&str>,
    sort: Option<&str>,
    order: Option<&str>,
) -> Markup {
    let now = Utc::now();
    let sort = sort.filter(|s| !s.is_empty()).unwrap_or("etat");
    let descending = order == Some("decroissant");
    let site = site.unwrap_or("");
    let query = |key: &str, desc: bool| {
        let mut q = format!("?tri={key}&ordre={}", if desc { "decroissant" } else { "croissant" });
        if !site.is_empty() {
            q.push_str(&format!("&site={}", urlencode(site)));
        }
        q
    };
    let count = |state: super::fleet::State| rows.iter().filter(|r| r.state == state).count();
    let csv = if site.is_empty() {
        "/console/bornes.csv".to_string()
    } else {
        format!("/console/bornes.csv?site={}", urlencode(site))
    };
    let content = html! {
        p.summary {
            (count(super::fleet::State::Online)) " en ligne, "
            (count(super::fleet::State::Silent)) " silencieuse(s), "
            (count(super::fleet::State::Offline)) " hors ligne, "
            (count(super::fleet::State::Never)) " jamais connectée(s)."
        }
        form method="get" action="/console/bornes" {
            label for="site" { "Site" }
            select #site name="site" {
                option value="" selected[site.is_empty()] { "Tous les sites" }
                @for s in sites { option value=(s.id) selected[s.id == site] { (s.name) } }
            }
            input type="hidden" name="tri" value=(sort);
            button type="submit" { "Filtrer" }
            " " a href=(csv) { "Télécharger en CSV" }
        }
        div.borne-scroll tabindex="0" { table.borne-table {
            caption { "Bornes (" (rows.len()) "). Silencieuse : plus de deux signaux de vie manqués ; hors ligne : aucun signal depuis 24 h." }
            thead { tr {
                @for (_, slug, label) in SORT_KEYS {
                    @let this = slug == sort;
                    th scope="col" aria-sort=[this.then_some(if descending { "descending" } else { "ascending" })] {
                        a href=(query(slug, this && !descending)) { (label) }
                    }
                }
                th scope="col" { "Dernier envoi" }
                th scope="col" { "Questionnaire" }
                th scope="col" { "Système" }
            } }
            tbody {
                @for r in rows {
                    tr {
                        td { span.state data-state=(r.state.slug()) { (r.state.label()) } }
                        th scope="row" { (r.device_id) }
                        td { a href=(format!("/console/sites/{}", r.site_id)) { (r.site_name) } }
                        td { (r.app_version.as_deref().unwrap_or("—")) }
                        td { (age(r.last_seen_at, now)) }
                        td { @if let Some(p) = r.pending { (p) } @else { "—" } }
                        td { @match r.oldest_pending_hours { Some(h) if h >= 48 => { strong { (h) " h" } } Some(h) => { (h) " h" } None => { "—" } } }
                        td { (bytes(r.disk_free_bytes)) }
                        td { @if let Some(at) = r.last_upload_at { (crate::local::when(at, &r.time_zone)) } @else { "—" } }
                        @let (running, refused) = r.survey_label();
                        td { (running) @if let Some(refused) = refused { br; strong { (refused) } } }
                        td { (super::fleet::system_words(r.system.as_ref())) }
                    }
                }
            }
        } }
    };
    layout(session, Some(Section::Fleet), "Bornes", content)
}

/// Percent-encoding for a query value (ids are plain, but nothing is assumed).
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn distribution(caption: &str, question: &QuestionIndicator) -> Markup {
    html! {
        div.borne-scroll tabindex="0" { table.borne-table {
            caption { (caption) " (" (question.respondents) " réponses)" }
            thead { tr { th scope="col" { "Réponse" } th scope="col" { "Avis" } th scope="col" { "Part" } } }
            tbody {
                @for d in &question.distribution {
                    tr {
                        th scope="row" { (d.answer_text) }
                        td { (d.count) }
                        td { (borne_web::figures::share_bar(d.intention, d.percent)) " " (french_decimal(d.percent)) " %" }
                    }
                }
            }
        } }
    }
}

fn period(title: &str, indicators: &Indicators) -> Markup {
    html! {
        section.period {
            h2 { (title) }
            p.big { (score(indicators)) }
            p { (indicators.reviews) " avis, " (indicators.comments) " commentaire(s)." }
            (distribution("« De façon générale, comment ça s’est passé ? »", &indicators.satisfaction))
            (borne_web::figures::backoffice_table(&indicators.jdma))
        }
    }
}

pub fn site(
    session: &ConsoleSession,
    site: &Site,
    month: &Indicators,
    year: &Indicators,
    trend: &[TrendPoint],
    jdma: Option<&(JdmaCounts, Vec<Reconciled>)>,
    view: &SiteCharts,
) -> Markup {
    let content = html! {
        p { @if let Some(network) = &view.network { "Réseau : " (network) ". " }
            a href=(format!("/console/bornes?site={}", urlencode(&site.id))) { "Bornes du site" } " · "
            a href=(format!("/console/commentaires?site={}", urlencode(&site.id))) { "Commentaires" } " · "
            a href=(format!("/public/sites/{}", urlencode(&site.id))) { "Page publique des résultats" } " · "
            a href=(format!("/console/sites/{}/indicateurs.json", urlencode(&site.id))) { "Indicateurs (JSON)" } " · "
            a href=(format!("/console/sites/{}/avis-jdma.csv", urlencode(&site.id))) { "Avis au format de l'export JDMA (CSV)" } " · "
            a href=(format!("/console/sites/{}/avis-jdma.xlsx", urlencode(&site.id))) { "Avis au format de l'export JDMA (XLSX)" } }
        div.periods {
            (period("30 derniers jours", month))
            (period("12 derniers mois", year))
        }
        @if let Some((rank, of)) = view.rank {
            p.fr-text--lead { "Rang dans le réseau : " strong { (rank) @if rank == 1 { "er" } @else { "e" } } " sur " (of) @if of > 1 { " sites notés" } @else { " site noté" } " (12 mois glissants)." }
        }
        section aria-labelledby="evolution" {
            h2 #evolution { "Évolution" }
            form.filters method="get" action=(format!("/console/sites/{}", urlencode(&site.id))) {
                div.fr-select-group.fr-select-group--error[view.mistake.is_some()] {
                    label.fr-label for="par" { "Pas des graphiques" }
                    @if let Some(mistake) = &view.mistake { p.fr-error-text role="alert" { (mistake) } }
                    select.fr-select #par name="par" {
                        @for (grain, slug, label) in Grain::ALL { option value=(slug) selected[grain == view.series.grain] { (label) } }
                    }
                }
                button.fr-btn.fr-btn--secondary type="submit" { "Afficher" }
            }
            (charts::score_chart(&view.series))
            (charts::volume_chart(&view.series))
            details {
                summary { "La note sur 12 mois glissants, mois par mois" }
                div.borne-scroll tabindex="0" { table.borne-table {
                    caption { "Note sur les 12 mois se terminant à chaque mois (le mois en cours jusqu'à aujourd'hui), et avis du mois" }
                    thead { tr { th scope="col" { "Mois" } th scope="col" { "Avis du mois" } th scope="col" { "Note 12 mois glissants" } } }
                    tbody {
                        @for p in trend {
                            tr {
                                th scope="row" { (crate::local::month_name(p.month)) }
                                td { (p.reviews_in_month) }
                                td { (short_score(&p.rolling_12_months)) }
                            }
                        }
                    }
                } }
            }
        }
        section.fr-mt-4w aria-labelledby="raisons" {
            h2 #raisons { "Les raisons données (questions complémentaires, 12 derniers mois)" }
            @for (i, q) in year.follow_ups.iter().filter(|q| q.respondents > 0).enumerate() {
                h3.fr-h6 { (q.label) }
                (charts::reasons(q, &format!("raison-{i}")))
            }
            @if year.follow_ups.iter().all(|q| q.respondents == 0) { p { "Aucune réponse aux questions complémentaires." } }
        }
        (jdma_section(site, jdma))
    };
    layout(session, Some(Section::Sites), &site.name, content)
}

/// Where the site's reviews stand on their way to « Je donne mon avis ».
fn jdma_section(site: &Site, jdma: Option<&(JdmaCounts, Vec<Reconciled>)>) -> Markup {
    html! {
        section {
            h2 { "Remise à « Je donne mon avis »" }
            @match (jdma, site.product_id, site.form_id) {
                (Some((counts, days)), Some(product), Some(form)) => {
                    p { "Service JDMA " (product) ", formulaire " (form) "." }
                    div.borne-scroll tabindex="0" { table.borne-table {
                        caption { "Avis des bornes du site, depuis la liaison à JDMA" }
                        thead { tr { th scope="col" { "État" } th scope="col" { "Avis" } } }
                        tbody {
                            tr { th scope="row" { "Remis à JDMA" } td { (counts.forwarded) } }
                            tr { th scope="row" { "En attente" } td { (counts.pending) @if counts.unsure > 0 { " (dont " (counts.unsure) " en vérification)" } } }
                            tr { th scope="row" { "Ambigus (peut-être dans JDMA, jamais renvoyés)" } td { (counts.ambiguous) } }
                            tr { th scope="row" { "Refusés par JDMA" } td { (counts.failed) } }
                        }
                    } }
                    @if let Some(oldest) = counts.oldest_pending_at {
                        p { "Le plus ancien avis en attente a été reçu le " (crate::local::when(oldest, &site.time_zone)) "." }
                    }
                    @if let Some(error) = &counts.last_error {
                        p { "Dernière erreur : " (error) }
                    }
                    @if days.is_empty() {
                        p { "Les comptes de JDMA et les avis remis concordent sur la dernière semaine vérifiée." }
                    } @else {
                        div.borne-scroll tabindex="0" { table.borne-table {
                            caption { "Jours où les comptes de JDMA diffèrent des avis remis (jours UTC)" }
                            thead { tr { th scope="col" { "Jour" } th scope="col" { "Avis comptés par JDMA" } th scope="col" { "Avis remis par Borne" } } }
                            tbody {
                                @for d in days {
                                    tr { th scope="row" { (d.day.format("%d/%m/%Y")) } td { (d.jdma) } td { (d.forwarded) } }
                                }
                            }
                        } }
                    }
                }
                _ => { p { "Ce site n'est pas lié à un formulaire JDMA : ses avis restent dans Borne." } }
            }
        }
    }
}

/// The comments page's filters, as applied (or as typed, with what is wrong in them).
pub struct CommentFilters {
    pub site: String,
    pub rating: Option<i64>,
    pub from: String,
    pub to: String,
    pub text: String,
    /// « a-traiter », « traite » or empty.
    pub follow: String,
    pub theme: String,
    pub page: u32,
    pub more: bool,
    /// Why the filters typed were refused: the page comes back with them and this message.
    pub error: Option<String>,
}

pub(crate) fn rating_label(item: Option<i64>) -> &'static str {
    match item {
        Some(1) => "Pas bien",
        Some(2) => "Moyen",
        Some(3) => "Très bien",
        _ => "—",
    }
}

pub fn comments(
    session: &ConsoleSession,
    sites: &[Site],
    themes: &[String],
    found: &[Comment],
    f: &CommentFilters,
) -> Markup {
    let name_of = |id: &str| sites.iter().find(|s| s.id == id).map_or(id.to_string(), |s| s.name.clone());
    let page_link = |page: u32| {
        let mut q = format!("?du={}&au={}&page={page}", urlencode(&f.from), urlencode(&f.to));
        if !f.site.is_empty() {
            q.push_str(&format!("&site={}", urlencode(&f.site)));
        }
        if let Some(r) = f.rating {
            q.push_str(&format!("&note={r}"));
        }
        for (key, value) in [("q", &f.text), ("suivi", &f.follow), ("theme", &f.theme)] {
            if !value.is_empty() {
                q.push_str(&format!("&{key}={}", urlencode(value)));
            }
        }
        format!("/console/commentaires{q}")
    };
    let content = html! {
        @if let Some(error) = &f.error {
            p.error role="alert" { "Filtre refusé : " (error) ". Corrigez-le ci-dessous." }
        }
        form.filters method="get" action="/console/commentaires" {
            p { label for="site" { "Site" }
                select #site name="site" {
                    option value="" selected[f.site.is_empty()] { "Tous les sites" }
                    @for s in sites { option value=(s.id) selected[s.id == f.site] { (s.name) } }
                } }
            p { label for="note" { "Réponse" }
                select #note name="note" {
                    option value="" selected[f.rating.is_none()] { "Toutes" }
                    @for r in [3i64, 2, 1] { option value=(r) selected[f.rating == Some(r)] { (rating_label(Some(r))) } }
                } }
            p { label for="du" { "Du" } input #du type="date" name="du" value=(f.from); }
            p { label for="au" { "Au" } input #au type="date" name="au" value=(f.to); }
            p { label for="q" { "Mots" } input #q type="search" name="q" value=(f.text) maxlength="200"; }
            p { label for="suivi" { "Suivi" }
                select #suivi name="suivi" {
                    @for (value, label) in [("", "Tous"), ("a-traiter", "À traiter"), ("traite", "Traités")] {
                        option value=(value) selected[f.follow == value] { (label) }
                    }
                } }
            @if !themes.is_empty() {
                p { label for="theme" { "Thème" }
                    select #theme name="theme" {
                        option value="" selected[f.theme.is_empty()] { "Tous" }
                        @for theme in themes { option value=(theme) selected[*theme == f.theme] { (theme) } }
                    } }
            }
            button type="submit" { "Chercher" }
        }
        p { "Télécharger cette sélection : "
            a href=(page_link(1).replace("/console/commentaires?", "/console/commentaires.csv?")) { "CSV pour tableur" } " · "
            a href=(page_link(1).replace("/console/commentaires?", "/console/commentaires.xlsx?")) { "classeur Excel (XLSX)" } }
        @if f.error.is_some() {
        } @else if found.is_empty() {
            p role="status" { "Aucun commentaire ne correspond." }
        } @else {
            ol.comments start=(((f.page - 1) * COMMENTS_PER_PAGE) + 1) {
                @for c in found {
                    li {
                        p.meta { (name_of(&c.site_id)) " · " (c.submitted_at.get(..16).unwrap_or(&c.submitted_at).replace('T', " ")) " · " (rating_label(c.rating))
                            @if let Some(by) = &c.handled_by { " · traité par " (by) }
                            @if !c.tags.is_empty() { " · thèmes : " (c.tags) } }
                        blockquote { (c.text) }
                        p { a.fr-link href=(format!("/console/avis/{}", c.review_id)) { "Ouvrir l'avis" span.fr-sr-only { " n° " (c.review_id) } } }
                    }
                }
            }
        }
        nav.pages aria-label="Pages de commentaires" {
            @if f.page > 1 { a href=(page_link(f.page - 1)) { "Page précédente" } " " }
            @if f.more { a href=(page_link(f.page + 1)) { "Page suivante" } }
        }
    };
    layout(session, Some(Section::Comments), "Commentaires", content)
}

pub fn unsubscribe(account: &str, token: &str, done: bool) -> Markup {
    let content = html! {
        @if done {
            div.fr-alert.fr-alert--success { p role="status" { "C'est fait : " (account) " ne recevra plus ni alertes ni résumés. La console reste accessible." } }
        } @else {
            p { "Ne plus envoyer d'alertes ni de résumés à " (account) " ?" }
            form method="post" action=(format!("/console/desabonnement/{}", urlencode(token))) {
                button.fr-btn type="submit" { "Me désabonner" }
            }
        }
    };
    bare("Désabonnement", "Messages de Borne", content)
}
