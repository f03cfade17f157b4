//! « Mises à jour »: the system versions a network's kiosks may install and their rollouts ring
//! by ring (`crate::rollout`). A manager sees each rollout touching their kiosks, each kiosk's
//! ring, the version it runs and where it stands; the national administration and a network's
//! manager start a rollout (a registered version, the rings, each ring's wait) on their
//! network or one of its sites, halt it, resume it or stop it. A site's manager sees, and does
//! not act: an update touches the kiosks of a whole network.

use super::admin::Done;
use super::core::{Failure, Shared, Viewer, check_csrf, html};
use super::pages::{Section, layout};
use super::survey::{choices, perimeter, scoped, signature};
use crate::rollout::{self, Action, DEFAULT_RINGS, DEFAULT_WAIT_H, Request};
use crate::storage::console::{ConsoleSession, Role};
use crate::storage::rollouts::{Release, Rollout, RolloutState};
use crate::storage::surveys::SurveyScope;
use crate::storage::{Device, Site, StorageError};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use std::collections::HashMap;

/// `GET /console/mises-a-jour`.
pub(super) async fn page(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Query(done): Query<Done>,
) -> Result<Response, Failure> {
    let storage = platform.storage();
    let account = &session.account;
    let perimeter = perimeter(&platform, account).await?;
    let sites = perimeter.sites();
    let devices = storage.devices().await?;
    let mine: Vec<&Device> =
        devices.iter().filter(|d| d.site_id.as_deref().is_some_and(|s| sites.iter().any(|x| x.id == s))).collect();
    // A rollout is shown when it touches one of the viewer's kiosks, or their scope.
    let rollouts: Vec<Rollout> = storage
        .rollouts()
        .await?
        .into_iter()
        .filter(|r| {
            r.members.iter().any(|(id, _)| mine.iter().any(|d| &d.id == id))
                || match &r.scope {
                    SurveyScope::Site(site) => sites.iter().any(|s| &s.id == site),
                    SurveyScope::Organisation(org) => sites.iter().any(|s| s.organisation.as_ref() == Some(org)),
                }
        })
        .collect();
    let acts = account.role != Role::Site;
    let (releases, choices) =
        if acts { (storage.releases().await?, choices(&perimeter, account)) } else { (Vec::new(), Vec::new()) };
    let by_id: HashMap<&str, &Device> = devices.iter().map(|d| (d.id.as_str(), d)).collect();
    let notice = done.fait.as_deref().and_then(|f| match f {
        "demarre" => Some("Déploiement commencé : son premier anneau se voit proposer la version à sa prochaine demande (toutes les 30 minutes), et l'installe la nuit."),
        "arrete" => Some("Déploiement arrêté : plus rien n'est proposé ; les bornes qui ont installé la version la gardent."),
        "repris" => Some("Déploiement repris : le délai de son anneau recommence."),
        "abandonne" => Some("Déploiement abandonné."),
        _ => None,
    });
    let content = html! {
        @if let Some(notice) = notice { div.fr-alert.fr-alert--success.fr-mb-3w { p role="status" { (notice) } } }
        p {
            "Une nouvelle version du système est proposée anneau par anneau (par défaut une borne, puis 10 %, puis toutes). "
            "Chaque anneau doit la confirmer : chacune de ses bornes dit, dans son signal de vie, qu'elle l'a installée et "
            "qu'elle a redémarré dessus. Le déploiement s'arrête de lui-même si une borne l'abandonne, si une borne se tait "
            "après l'avoir installée, ou si le délai de l'anneau passe sans confirmation. Une borne n'installe qu'une version "
            "plus récente que la sienne, signée."
        }
        @if acts { (start_form(&session, &choices, &releases)) }
        @if rollouts.is_empty() {
            p { "Aucun déploiement ne touche vos bornes." }
        }
        @for r in &rollouts {
            (rollout_section(&session, r, &by_id, sites, acts))
        }
        @if acts { (releases_table(&releases)) }
    };
    Ok(html(layout(&session, Some(Section::Updates), "Mises à jour", content)))
}

/// `POST /console/mises-a-jour`: starts (`action=demarrer`), halts, resumes or stops a rollout.
pub(super) async fn act(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Form(fields): Form<HashMap<String, String>>,
) -> Result<Response, Failure> {
    check_csrf(&session.csrf, fields.get("csrf").map(String::as_str))?;
    let account = &session.account;
    if account.role == Role::Site {
        return Err(Failure::Forbidden(
            "Les mises à jour se décident pour un réseau : demandez à son responsable.".into(),
        ));
    }
    let field = |name: &str| fields.get(name).map(|v| v.trim()).unwrap_or("");
    let storage = platform.storage();
    let now = chrono::Utc::now();
    let by = signature(account);
    if field("action") == "demarrer" {
        let (reseau, site) = match field("portee").split_once('=') {
            Some(("reseau", org)) => (Some(org), None),
            Some(("site", site)) => (None, Some(site)),
            _ => return Err(Failure::BadInput("Choisissez un réseau ou un site.".into())),
        };
        let scoped = scoped(&perimeter(&platform, account).await?, account, reseau, site)?
            .ok_or_else(|| Failure::BadInput("Choisissez un réseau ou un site.".into()))?;
        let wait_h = field("delai")
            .parse()
            .map_err(|_| Failure::BadInput(format!("Délai « {} » : un nombre d'heures de 1 à 720.", field("delai"))))?;
        let request = Request {
            scope: scoped.scope,
            version: field("version").to_string(),
            rings: field("anneaux").to_string(),
            wait_h,
            by,
        };
        let id = rollout::start(storage, request, now).await?;
        tracing::info!(by = %account.id, id, "rollout started");
        return Ok(Redirect::to("/console/mises-a-jour?fait=demarre").into_response());
    }
    let (action, done) = match field("action") {
        "arreter" => (Action::Halt, "arrete"),
        "reprendre" => (Action::Resume, "repris"),
        "abandonner" => (Action::Stop, "abandonne"),
        other => return Err(Failure::BadInput(format!("Action « {other} » inconnue."))),
    };
    let id: i64 = field("id").parse().map_err(|_| Failure::NotFound)?;
    // Only a rollout on a scope the viewer may start one on: the same check as starting.
    let rollout = rollout::find(storage, id).await.map_err(|e| match e {
        StorageError::Refused(_) => Failure::NotFound,
        other => Failure::from(other),
    })?;
    let (reseau, site) = match &rollout.scope {
        SurveyScope::Organisation(org) => (Some(org.as_str()), None),
        SurveyScope::Site(site) => (None, Some(site.as_str())),
    };
    scoped(&perimeter(&platform, account).await?, account, reseau, site)?;
    rollout::act(storage, &rollout, action, &by, now).await?;
    tracing::info!(by = %account.id, id, ?action, "rollout changed by hand");
    Ok(Redirect::to(&format!("/console/mises-a-jour?fait={done}")).into_response())
}

fn start_form(session: &ConsoleSession, choices: &[(String, String)], releases: &[Release]) -> Markup {
    html! {
        section aria-labelledby="deployer-titre" {
            h2 #deployer-titre { "Déployer une version" }
            @if releases.is_empty() {
                p { "Aucune version enregistrée : " code { "borne-platform release add PAQUET.raucb --version V --url ADRESSE" } "." }
            } @else {
                form method="post" action="/console/mises-a-jour" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    div.fr-select-group {
                        label.fr-label for="portee" { "Bornes concernées" }
                        select.fr-select #portee name="portee" required {
                            @for (value, label) in choices { option value=(value) { (label) } }
                        }
                    }
                    div.fr-select-group {
                        label.fr-label for="version" { "Version" span.fr-hint-text { "Plus récente que toute version déjà déployée à ces bornes." } }
                        select.fr-select #version name="version" required {
                            @for r in releases { option value=(r.version) { (r.version) } }
                        }
                    }
                    div.fr-input-group {
                        label.fr-label for="anneaux" { "Anneaux" span.fr-hint-text { "Nombres de bornes ou pourcentages croissants, le dernier 100 %." } }
                        input.fr-input #anneaux name="anneaux" type="text" value=(DEFAULT_RINGS) required;
                    }
                    div.fr-input-group {
                        label.fr-label for="delai" { "Délai de chaque anneau, en heures" span.fr-hint-text { "Les bornes installent la nuit : deux nuits par défaut." } }
                        input.fr-input #delai name="delai" type="number" min="1" max="720" value=(DEFAULT_WAIT_H) required;
                    }
                    button.fr-btn type="submit" name="action" value="demarrer" { "Commencer le déploiement" }
                }
            }
        }
    }
}

fn rollout_section(
    session: &ConsoleSession,
    r: &Rollout,
    devices: &HashMap<&str, &Device>,
    sites: &[Site],
    acts: bool,
) -> Markup {
    let rings = rollout::parse_rings(&r.rings).map_or(1, |x| x.len());
    let heading = format!("Déploiement {} : version {} pour {}", r.id, r.version, rollout::scope_words(&r.scope));
    let buttons: &[(&str, &str)] = match r.state {
        RolloutState::Running => &[("arreter", "Arrêter"), ("abandonner", "Abandonner")],
        RolloutState::Halted => &[("reprendre", "Reprendre"), ("abandonner", "Abandonner")],
        _ => &[],
    };
    let site_name = |id: &str| sites.iter().find(|s| s.id == id).map_or(id.to_string(), |s| s.name.clone());
    html! {
        section.fr-mt-5w aria-labelledby=(format!("deploiement-{}", r.id)) {
            h2 id=(format!("deploiement-{}", r.id)) { (heading) }
            p {
                "État : " strong { (r.state.label()) } " — anneau " (r.ring + 1) " sur " (rings) " (« " (r.rings) " », "
                (r.wait_s / 3600) " h chacun) ; commencé le " (r.started_at.format("%d/%m/%Y à %H:%M UTC")) " par " (r.started_by) "."
            }
            @if let Some(reason) = &r.reason {
                @let halted = r.state == RolloutState::Halted;
                div.fr-alert.fr-mb-2w.fr-alert--warning[halted].fr-alert--info[!halted] { p { (reason) } }
            }
            @if acts && !buttons.is_empty() {
                form method="post" action="/console/mises-a-jour" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="id" value=(r.id);
                    ul.fr-btns-group.fr-btns-group--inline {
                        @for (action, label) in buttons {
                            li { button.fr-btn.fr-btn--secondary type="submit" name="action" value=(action) { (label) } }
                        }
                    }
                }
            }
            div.borne-scroll tabindex="0" { table.borne-table {
                caption { "Ses bornes (" (r.members.len()) ") : anneau, version en service d'après le dernier signal de vie, étape" }
                thead { tr { th scope="col" { "Borne" } th scope="col" { "Site" } th scope="col" { "Anneau" } th scope="col" { "Version en service" } th scope="col" { "Étape" } } }
                tbody {
                    @for (id, ring) in &r.members {
                        @let device = devices.get(id.as_str()).copied();
                        tr {
                            th scope="row" { (id) }
                            td { (device.and_then(|d| d.site_id.as_deref()).map(site_name).unwrap_or_else(|| "—".into())) }
                            td { (ring + 1) }
                            td { (super::fleet::system_words(device.and_then(|d| d.system.as_ref()))) }
                            td { (rollout::kiosk_step(r, *ring, device).label()) }
                        }
                    }
                }
            } }
        }
    }
}

fn releases_table(releases: &[Release]) -> Markup {
    html! {
        section.fr-mt-5w aria-labelledby="versions-titre" {
            h2 #versions-titre { "Versions enregistrées" }
            @if releases.is_empty() {
                p { "Aucune." }
            } @else {
                div.borne-scroll tabindex="0" { table.borne-table {
                    caption { "Paquets signés que les bornes téléchargent, de la plus récente à la plus ancienne" }
                    thead { tr { th scope="col" { "Version" } th scope="col" { "Adresse du paquet" } th scope="col" { "Taille" } th scope="col" { "Enregistrée le (UTC)" } th scope="col" { "Par" } } }
                    tbody {
                        @for r in releases {
                            tr {
                                th scope="row" { (r.version) }
                                td { code { (r.bundle_url) } }
                                td { (size_words(r.size)) }
                                td { (r.added_at.format("%d/%m/%Y %H:%M")) }
                                td { (r.added_by) }
                            }
                        }
                    }
                } }
            }
        }
    }
}

/// « 312,4 Mo », or « 900 octets » for what is smaller than a tenth of a megabyte.
fn size_words(bytes: i64) -> String {
    if bytes < 100_000 { format!("{bytes} octets") } else { format!("{:.1} Mo", bytes as f64 / 1e6).replace('.', ",") }
}
