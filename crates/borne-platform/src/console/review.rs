//! A comment's whole review, opened from the comments' list: every answer the visitor gave,
//! and the manager's follow-up — marked handled, tagged with the network's own themes.

use super::core::{Failure, Shared, Viewer, check_csrf, html, no_control, sites_in_scope};
use super::pages::{Section, layout, rating_label};
use super::store::Admin;
use crate::storage::Site;
use crate::storage::admin::FullReview;
use crate::storage::console::ConsoleSession;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use borne_model::review::jdma_question;
use maud::{Markup, html};

/// At most this many themes on one comment, each at most this long.
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 60;

fn question_label(code: &str, sent: Option<&str>) -> String {
    match (code, sent) {
        ("satisfaction", _) => "De façon générale, comment ça s'est passé ?".into(),
        ("verbatim", _) => "Commentaire".into(),
        (_, Some(label)) if !label.is_empty() => label.to_string(),
        (code, _) => jdma_question(code).map_or_else(|| code.to_string(), |q| q.label),
    }
}

fn page(session: &ConsoleSession, review: &FullReview, site: &Site, themes: &[String]) -> Markup {
    let tags: Vec<&str> = review.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
    let rating = review
        .answers
        .iter()
        .find(|(code, _, _)| code == "satisfaction")
        .map(|(_, _, text)| text.clone())
        .unwrap_or_else(|| rating_label(None).to_string());
    let content = html! {
        p { (site.name) " · borne " (review.device_id) " · "
            (review.submitted_at.get(..16).unwrap_or(&review.submitted_at).replace('T', " ")) " (heure de la borne) · " (rating) }
        div.borne-scroll tabindex="0" { table.borne-table {
            caption { "Toutes les réponses de cet avis" }
            thead { tr { th scope="col" { "Question" } th scope="col" { "Réponse" } } }
            tbody { @for (code, label, text) in &review.answers {
                tr { th scope="row" { (question_label(code, label.as_deref())) } td.borne-wrap { (text) } }
            } }
        } }
        h2 { "Suivi" }
        @if let Some(by) = &review.handled_by { p { "Traité par " (by) "." } }
        form method="post" action=(format!("/console/avis/{}", review.id)) {
            input type="hidden" name="csrf" value=(session.csrf);
            div.fr-checkbox-group.fr-mb-2w {
                input #traite type="checkbox" name="traite" value="oui" checked[review.handled_by.is_some()];
                label.fr-label for="traite" { "Traité" }
            }
            @if themes.is_empty() {
                p { "Votre réseau n'a pas encore de thèmes : l'administration de l'organisation les définit." }
            } @else {
                fieldset.fr-fieldset {
                    legend.fr-fieldset__legend { "Thèmes de votre réseau" }
                    @for (i, theme) in themes.iter().enumerate() {
                        div.fr-checkbox-group {
                            input id=(format!("theme-{i}")) type="checkbox" name="theme" value=(theme) checked[tags.contains(&theme.as_str())];
                            label.fr-label for=(format!("theme-{i}")) { (theme) }
                        }
                    }
                }
            }
            button.fr-btn type="submit" { "Enregistrer le suivi" }
        }
        p.fr-mt-3w { a.fr-link href="/console/commentaires" { "Retour aux commentaires" } }
    };
    layout(session, Some(Section::Comments), &format!("Avis n° {}", review.id), content)
}

/// The review and its site, if in the viewer's scope; else the same 404 as for none.
async fn in_scope(
    platform: &Shared,
    session: &ConsoleSession,
    id: &str,
) -> Result<(FullReview, Site, Vec<String>), Failure> {
    let id: i64 = id.parse().map_err(|_| Failure::NotFound)?;
    let sites = sites_in_scope(platform.storage(), &session.account).await?;
    let ids = sites.iter().map(|s| s.id.clone()).collect();
    let review = Admin(platform.storage()).review(id, ids).await?.ok_or(Failure::NotFound)?;
    let site = sites.into_iter().find(|s| s.id == review.site_id).ok_or(Failure::NotFound)?;
    let themes = match &site.organisation {
        Some(org) => Admin(platform.storage()).themes(org).await?,
        None => Vec::new(),
    };
    Ok((review, site, themes))
}

/// `GET /console/avis/{id}`.
pub(super) async fn open(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let (review, site, themes) = in_scope(&platform, &session, &id).await?;
    Ok(html(page(&session, &review, &site, &themes)))
}

/// `POST /console/avis/{id}`: handled or not, and the themes ticked (only the network's own).
pub(super) async fn follow_up(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    let csrf = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
    check_csrf(&session.csrf, csrf)?;
    no_control(fields.iter().map(|(_, v)| v.as_str()))?;
    let (review, site, themes) = in_scope(&platform, &session, &id).await?;
    let ticked: Vec<&str> = fields.iter().filter(|(k, _)| k == "theme").map(|(_, v)| v.as_str()).collect();
    if let Some(unknown) = ticked.iter().find(|t| !themes.iter().any(|x| x == *t)) {
        return Err(Failure::BadInput(format!("Thème inconnu de votre réseau : {unknown}")));
    }
    let mut tags: Vec<&str> = themes.iter().map(String::as_str).filter(|t| ticked.contains(t)).collect();
    tags.dedup();
    let handled = fields.iter().any(|(k, v)| k == "traite" && v == "oui");
    let by = handled.then(|| session.account.name.clone());
    let sites = vec![site.id.clone()];
    if !Admin(platform.storage()).follow_up_comment(review.id, sites, by, tags.join(", ")).await? {
        return Err(Failure::NotFound);
    }
    Ok(Redirect::to(&format!("/console/avis/{}", review.id)).into_response())
}

/// Checks a network's themes as typed (comma-separated): each a short line, at most twenty.
pub(super) fn parse_themes(text: &str) -> Result<Vec<String>, String> {
    let mut themes: Vec<String> = Vec::new();
    for theme in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if theme.chars().count() > MAX_TAG_CHARS {
            return Err(format!("Un thème fait au plus {MAX_TAG_CHARS} caractères : « {theme} »."));
        }
        if !themes.iter().any(|t| t == theme) {
            themes.push(theme.to_string());
        }
    }
    if themes.len() > MAX_TAGS {
        return Err(format!("Au plus {MAX_TAGS} thèmes."));
    }
    Ok(themes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn themes_are_short_lines_without_duplicates() {
        assert_eq!(parse_themes(" Attente, Accueil ,, attente, Accueil").unwrap(), ["Attente", "Accueil", "attente"]);
        assert!(parse_themes(&"x".repeat(61)).is_err());
        assert!(parse_themes(&(0..21).map(|i| format!("t{i}")).collect::<Vec<_>>().join(",")).is_err());
        assert_eq!(question_label("kiosk_motif", Some("Pourquoi ?")), "Pourquoi ?");
    }
}
