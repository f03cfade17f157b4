//! « Questionnaire »: the survey a network or a site publishes to its kiosks (contract 1.2).
//! A manager writes the `[survey]` part of a kiosk's configuration, previews it (checked by the
//! kiosk's own rules, each rating's questions as the kiosk asks them), publishes it as a new
//! version, sees which version each kiosk runs (and what one refused), and withdraws the current
//! version in one action (the one before it is current again).
//!
//! Who may publish: the national administration anywhere; a network's manager for the network
//! and its sites; a site's manager for the site. A scope outside one's own is answered as one
//! that does not exist.

use super::core::{Failure, Shared, Viewer, check_csrf, html, sites_in_scope};
use super::pages::{Section, layout};
use super::store::Admin;
use crate::storage::admin::Organisation;
use crate::storage::console::{Account, ConsoleSession, Role};
use crate::storage::surveys::{SurveyScope, SurveyVersion};
use crate::storage::{Device, Site};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use borne_model::review::{AnswerKind, Satisfaction, Survey};
use borne_model::survey_file::{TEMPLATE, check_published};
use maud::{Markup, html};
use std::collections::HashMap;

/// The scope a page or a form is about, as the address names it.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct ScopeQuery {
    reseau: Option<String>,
    site: Option<String>,
    publie: Option<String>,
    retire: Option<String>,
}

/// A scope the viewer may publish to, with what the page says of it.
pub(super) struct Scoped {
    pub(super) scope: SurveyScope,
    /// « Réseau Préfecture du Rhône », « Site Accueil de Lyon ».
    title: String,
    /// The sites whose kiosks it reaches (one for a site).
    pub(super) sites: Vec<Site>,
    /// For a site: its network's id, whose version applies when the site has none.
    network: Option<String>,
}

fn given(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

/// What the viewer may publish to, read once per request: the networks (for a network's
/// manager or the national administration) and the sites of their scope.
pub(super) struct Perimeter {
    organisations: Vec<Organisation>,
    sites: Vec<Site>,
}

impl Perimeter {
    pub(super) fn sites(&self) -> &[Site] {
        &self.sites
    }
}

pub(super) async fn perimeter(platform: &Shared, account: &Account) -> Result<Perimeter, Failure> {
    let storage = platform.storage();
    let organisations = if account.role == Role::Site { Vec::new() } else { Admin(storage).organisations().await? };
    Ok(Perimeter { organisations, sites: sites_in_scope(storage, account).await? })
}

/// The scope asked for (or the viewer's own when they have one), if the viewer may publish there.
pub(super) fn scoped(
    perimeter: &Perimeter,
    account: &Account,
    reseau: Option<&str>,
    site: Option<&str>,
) -> Result<Option<Scoped>, Failure> {
    let (reseau, site) = match (given(reseau), given(site)) {
        (None, None) => match account.role {
            Role::Network => (account.organisation.clone(), None),
            Role::Site => (None, account.site.clone()),
            Role::National => return Ok(None),
        },
        other => other,
    };
    if let Some(id) = site {
        let site = perimeter.sites.iter().find(|s| s.id == id).ok_or(Failure::NotFound)?;
        return Ok(Some(Scoped {
            scope: SurveyScope::Site(site.id.clone()),
            title: format!("Site {}", site.name),
            network: site.organisation.clone(),
            sites: vec![site.clone()],
        }));
    }
    let Some(org) = reseau else { return Ok(None) };
    let mine = account.role == Role::National
        || (account.role == Role::Network && account.organisation.as_deref() == Some(org.as_str()));
    let Some(named) = perimeter.organisations.iter().find(|o| o.id == org).filter(|_| mine) else {
        return Err(Failure::NotFound);
    };
    let sites = perimeter.sites.iter().filter(|s| s.organisation.as_deref() == Some(org.as_str())).cloned().collect();
    Ok(Some(Scoped {
        scope: SurveyScope::Organisation(org),
        title: format!("Réseau {}", named.name),
        sites,
        network: None,
    }))
}

/// What the page shows of a scope.
struct Shown {
    versions: Vec<SurveyVersion>,
    /// For a site without a version of its own: its network's current one.
    inherited: Option<(i64, String)>,
    kiosks: Vec<Device>,
}

async fn shown(platform: &Shared, scoped: &Scoped) -> Result<Shown, Failure> {
    let storage = platform.storage();
    let versions = storage.survey_versions(scoped.scope.clone()).await?;
    let inherited = match (&scoped.scope, versions.iter().any(|v| v.withdrawn.is_none())) {
        (SurveyScope::Site(site), false) => storage.survey_for_site(site).await?,
        _ => None,
    };
    let ids: Vec<&str> = scoped.sites.iter().map(|s| s.id.as_str()).collect();
    let kiosks = storage
        .devices()
        .await?
        .into_iter()
        .filter(|d| d.revoked_at.is_none() && d.site_id.as_deref().is_some_and(|s| ids.contains(&s)))
        .collect();
    Ok(Shown { versions, inherited, kiosks })
}

/// `GET /console/questionnaire`.
pub(super) async fn page(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Query(q): Query<ScopeQuery>,
) -> Result<Response, Failure> {
    let account = &session.account;
    let perimeter = perimeter(&platform, account).await?;
    let choices = choices(&perimeter, account);
    let Some(scoped) = scoped(&perimeter, account, q.reseau.as_deref(), q.site.as_deref())? else {
        return Ok(html(view(&session, &choices, None, None)));
    };
    let shown = shown(&platform, &scoped).await?;
    let notice = match (q.publie.as_deref(), q.retire.as_deref()) {
        (Some(v), _) => Some(Notice::Done(format!(
            "Version {v} publiée. Chaque borne la reçoit à sa prochaine demande (toutes les 5 minutes par défaut) et l'applique au prochain accueil, jamais pendant une visite."
        ))),
        (None, Some(v)) => Some(Notice::Done(format!("Version {v} retirée : la précédente revient sur les bornes."))),
        _ => None,
    };
    let current = shown.versions.iter().find(|v| v.withdrawn.is_none()).map(|v| v.body.clone());
    let text = current
        .or_else(|| shown.inherited.as_ref().map(|(_, body)| body.clone()))
        .unwrap_or_else(|| TEMPLATE.to_string());
    let preview = check_published(&text, vec!["fr".into()]).ok();
    Ok(html(view(&session, &choices, Some((&scoped, &shown)), Some(Editing { text, notice, preview }))))
}

/// `POST /console/questionnaire`: previews (`action=apercu`) or publishes the text typed.
pub(super) async fn publish(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let perimeter = perimeter(&platform, &session.account).await?;
    let scoped = form_scope(&perimeter, &session, &fields)?;
    let account = &session.account;
    let field = |name: &str| fields.get(name).map(String::as_str);
    // Line breaks are the text's own; any other control character is refused by the check.
    let text = field("texte").unwrap_or("").replace("\r\n", "\n");
    let checked = check_published(&text, vec!["fr".into()]);
    let preview = field("action") == Some("apercu");
    if let (Ok(_), false) = (&checked, preview) {
        let version = platform.storage().publish_survey(scoped.scope.clone(), &text, &signature(account)).await?;
        tracing::info!(by = %account.id, version, scope = ?scoped.scope, "survey published");
        return Ok(Redirect::to(&format!("/console/questionnaire?{}&publie={version}", address(&scoped.scope)))
            .into_response());
    }
    let (status, notice, preview) = match checked {
        Ok(preview) => (StatusCode::OK, Notice::Preview, Some(preview)),
        Err(e) => (StatusCode::BAD_REQUEST, Notice::Mistake(e), None),
    };
    let choices = choices(&perimeter, account);
    let shown = shown(&platform, &scoped).await?;
    let page = view(&session, &choices, Some((&scoped, &shown)), Some(Editing { text, notice: Some(notice), preview }));
    Ok((status, html(page)).into_response())
}

/// `POST /console/questionnaire/retour`: withdraws the scope's current version.
pub(super) async fn rollback(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let scoped = form_scope(&perimeter(&platform, &session.account).await?, &session, &fields)?;
    let account = &session.account;
    match platform.storage().withdraw_survey(scoped.scope.clone(), &signature(account)).await? {
        Some(version) => {
            tracing::info!(by = %account.id, version, scope = ?scoped.scope, "survey withdrawn");
            Ok(Redirect::to(&format!("/console/questionnaire?{}&retire={version}", address(&scoped.scope)))
                .into_response())
        }
        None => Err(Failure::BadInput("Aucune version en service à retirer.".into())),
    }
}

/// A form's scope, once its token is checked.
fn form_scope(
    perimeter: &Perimeter,
    session: &ConsoleSession,
    fields: &HashMap<String, String>,
) -> Result<Scoped, Failure> {
    check_csrf(&session.csrf, fields.get("csrf").map(String::as_str))?;
    let field = |name: &str| fields.get(name).map(String::as_str);
    scoped(perimeter, &session.account, field("reseau"), field("site"))?
        .ok_or_else(|| Failure::BadInput("Choisissez un réseau ou un site.".into()))
}

/// Who did it, as the history shows it.
pub(super) fn signature(account: &Account) -> String {
    format!("{} ({})", account.name, account.id)
}

fn address(scope: &SurveyScope) -> String {
    match scope {
        SurveyScope::Organisation(org) => format!("reseau={org}"),
        SurveyScope::Site(site) => format!("site={site}"),
    }
}

/// The scopes the viewer may choose: (address, label).
pub(super) fn choices(perimeter: &Perimeter, account: &Account) -> Vec<(String, String)> {
    let networks = perimeter
        .organisations
        .iter()
        .filter(|o| account.role == Role::National || account.organisation.as_deref() == Some(o.id.as_str()))
        .map(|o| (format!("reseau={}", o.id), format!("Réseau {}", o.name)));
    let sites = perimeter.sites.iter().map(|s| (format!("site={}", s.id), format!("Site {}", s.name)));
    networks.chain(sites).collect()
}

enum Notice {
    Done(String),
    Preview,
    Mistake(String),
}

struct Editing {
    text: String,
    notice: Option<Notice>,
    /// The text as the kiosk's rules read it, when they accept it.
    preview: Option<(Survey, u64)>,
}

fn view(
    session: &ConsoleSession,
    choices: &[(String, String)],
    scoped: Option<(&Scoped, &Shown)>,
    editing: Option<Editing>,
) -> Markup {
    let content = html! {
        nav aria-label="Portée" {
            p { "Le questionnaire des bornes d'un réseau, ou d'un site (la version d'un site l'emporte sur celle de son réseau) :" }
            ul {
                @for (query, label) in choices {
                    li { a href=(format!("/console/questionnaire?{query}")) { (label) } }
                }
            }
        }
        @if let (Some((scoped, shown)), Some(editing)) = (scoped, editing) {
            (scope_section(session, scoped, shown, editing))
        }
    };
    layout(session, Some(Section::Survey), "Questionnaire", content)
}

fn scope_section(session: &ConsoleSession, scoped: &Scoped, shown: &Shown, editing: Editing) -> Markup {
    let current = shown.versions.iter().find(|v| v.withdrawn.is_none());
    let (scope_key, scope_value) = match &scoped.scope {
        SurveyScope::Organisation(org) => ("reseau", org.as_str()),
        SurveyScope::Site(site) => ("site", site.as_str()),
    };
    html! {
        h2 { (scoped.title) }
        @match &editing.notice {
            Some(Notice::Done(text)) => { div.fr-alert.fr-alert--success.fr-mb-3w { p role="status" { (text) } } }
            Some(Notice::Mistake(text)) => { div.fr-alert.fr-alert--error.fr-mb-3w { p.error role="alert" { "Version non publiée : " (text) } } }
            Some(Notice::Preview) => { div.fr-alert.fr-alert--info.fr-mb-3w { p role="status" { "Aperçu : rien n'est publié. Les bornes le poseraient ainsi." } } }
            None => {}
        }
        p {
            @match (current, &shown.inherited) {
                (Some(v), _) => { "Version " strong { (v.version) } " en service, publiée le " (v.published_at.format("%d/%m/%Y à %H:%M UTC")) " par " (v.author) "." }
                (None, Some((v, _))) => { "Aucune version propre au site : ses bornes suivent la version " strong { (v) } " de son réseau (" (scoped.network.as_deref().unwrap_or("")) ")." }
                (None, None) => { "Aucune version publiée : les bornes suivent leur fichier de configuration." }
            }
        }
        @if let Some((survey, min_reviews)) = &editing.preview {
            section aria-labelledby="apercu-titre" {
                h3 #apercu-titre { "Ce que les visiteurs verront" }
                (asked(survey, *min_reviews))
                p.fr-hint-text { "L'image exacte, dessinée par la borne elle-même : " code { "borne screenshots --questionnaire FICHIER DOSSIER" } "." }
            }
        }
        form method="post" action="/console/questionnaire" {
            input type="hidden" name="csrf" value=(session.csrf);
            input type="hidden" name=(scope_key) value=(scope_value);
            div.fr-input-group {
                label.fr-label for="texte" {
                    "Partie [survey] de la configuration des bornes (TOML)"
                    span.fr-hint-text { "Les clés données remplacent celles du fichier de chaque borne, sauf celles que le site garde (keep_local). Une question de la plateforme se déclare par son code seul." }
                }
                textarea.fr-input #texte name="texte" rows="22" spellcheck="false" { (editing.text) }
            }
            ul.fr-btns-group.fr-btns-group--inline {
                li { button.fr-btn.fr-btn--secondary type="submit" name="action" value="apercu" { "Aperçu" } }
                li { button.fr-btn type="submit" name="action" value="publier" { "Publier une nouvelle version" } }
            }
        }
        @if let Some(v) = current {
            form method="post" action="/console/questionnaire/retour" {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name=(scope_key) value=(scope_value);
                button.fr-btn.fr-btn--tertiary type="submit" { "Retirer la version " (v.version) " (la précédente revient)" }
            }
        }
        (kiosks(&shown.kiosks))
        (history(&shown.versions, current.map(|v| v.version)))
    }
}

/// Each rating's follow-up questions as the kiosk asks them, then the comment and the rule.
fn asked(survey: &Survey, min_reviews: u64) -> Markup {
    let ratings = [(Satisfaction::Bad, "Pas bien"), (Satisfaction::Medium, "Moyen"), (Satisfaction::Good, "Très bien")];
    html! {
        @for (rating, label) in ratings {
            @let questions: Vec<_> = survey.follow_ups.iter().filter(|q| q.is_asked_after(rating)).collect();
            h4.fr-h6 { "Après « " (label) " »" }
            @if questions.is_empty() {
                p { "Aucune question complémentaire." }
            } @else {
                ol {
                    @for q in questions {
                        li {
                            strong { (q.label) } " — "
                            (match q.kind { AnswerKind::Radio => "une seule réponse", AnswerKind::Checkbox => "plusieurs réponses possibles", AnswerKind::Text => "réponse libre" })
                            " : " (q.items.iter().map(|i| i.text.as_str()).collect::<Vec<_>>().join(" · "))
                        }
                    }
                }
            }
        }
        p {
            @if survey.comment_enabled { "Commentaire proposé, " (survey.comment_max_chars) " caractères au plus. " }
            @else { "Pas de commentaire. " }
            "La note s'affiche à partir de " (min_reviews) " avis."
        }
    }
}

fn kiosks(devices: &[Device]) -> Markup {
    html! {
        div.borne-scroll tabindex="0" { table.borne-table {
            caption { "Bornes concernées (" (devices.len()) ") : la version que chacune applique, d'après son dernier signal de vie" }
            thead { tr { th scope="col" { "Borne" } th scope="col" { "Site" } th scope="col" { "Questionnaire appliqué" } th scope="col" { "Version refusée" } } }
            tbody {
                @for d in devices {
                    tr {
                        th scope="row" { (d.id) }
                        td { (d.site_id.as_deref().unwrap_or("—")) }
                        @let (running, refused) = super::fleet::survey_words(d.config_version, d.config_refused.as_ref());
                        td { (running) }
                        td { @match refused { Some(refused) => { strong { (refused) } } None => { "—" } } }
                    }
                }
            }
        } }
    }
}

fn history(versions: &[SurveyVersion], current: Option<i64>) -> Markup {
    if versions.is_empty() {
        return html! { p { "Aucune version n'a encore été publiée ici." } };
    }
    html! {
        div.borne-scroll tabindex="0" { table.borne-table {
            caption { "Versions publiées, de la plus récente à la plus ancienne" }
            thead { tr { th scope="col" { "Version" } th scope="col" { "Publiée le (UTC)" } th scope="col" { "Par" } th scope="col" { "État" } } }
            tbody {
                @for v in versions {
                    tr {
                        th scope="row" { (v.version) }
                        td { (v.published_at.format("%d/%m/%Y %H:%M")) }
                        td { (v.author) }
                        td { @match (&v.withdrawn, Some(v.version) == current) {
                            (Some((at, by)), _) => { "retirée le " (at.format("%d/%m/%Y %H:%M")) " par " (by) }
                            (None, true) => { strong { "en service" } }
                            (None, false) => { "remplacée" }
                        } }
                    }
                }
            }
        } }
    }
}
