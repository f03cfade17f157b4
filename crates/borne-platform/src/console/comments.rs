//! The comments a manager reads: the page's filters (sites in scope, answer, period, words),
//! the page, and the selection as a file for French spreadsheets.

use super::core::{Failure, Shared, Viewer, date_field, html, sites_in_scope, today};
use super::pages::{self, COMMENTS_PER_PAGE};
use crate::storage::Site;
use crate::storage::console::CommentQuery;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub(crate) struct CommentsQuery {
    pub(crate) site: Option<String>,
    pub(crate) note: Option<String>,
    pub(crate) du: Option<String>,
    pub(crate) au: Option<String>,
    pub(crate) q: Option<String>,
    /// « a-traiter » or « traite » (empty: both).
    pub(crate) suivi: Option<String>,
    pub(crate) theme: Option<String>,
    pub(crate) page: Option<u32>,
}

/// The comments' query the filters make, among `sites` (the viewer's scope), one page's worth:
/// a period of 30 days unless given, all time when words are searched without a start.
fn comments_query(sites: &[Site], q: &CommentsQuery) -> Result<CommentQuery, Failure> {
    let chosen: Vec<String> = match q.site.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => vec![sites.iter().find(|s| s.id == id).ok_or(Failure::NotFound)?.id.clone()],
        None => sites.iter().map(|s| s.id.clone()).collect(),
    };
    let rating = match q.note.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(n @ ("1" | "2" | "3")) => n.parse::<i64>().ok(),
        Some(other) => return Err(Failure::BadInput(format!("note inconnue : {other} (1, 2 ou 3)"))),
    };
    let text: String = q.q.clone().unwrap_or_default().chars().take(200).collect();
    let to = date_field("au", q.au.as_deref())?.unwrap_or_else(today);
    let from = match date_field("du", q.du.as_deref())? {
        Some(from) => from,
        None if !text.trim().is_empty() => NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default(),
        None => to - chrono::Duration::days(29),
    };
    if from > to {
        return Err(Failure::BadInput("la date de début est après la date de fin".into()));
    }
    let handled = match q.suivi.as_deref().unwrap_or("") {
        "" => None,
        "a-traiter" => Some(false),
        "traite" => Some(true),
        other => return Err(Failure::BadInput(format!("suivi inconnu : {other} (a-traiter ou traite)"))),
    };
    let theme: String = q.theme.as_deref().unwrap_or("").trim().chars().take(200).collect();
    if theme.chars().any(char::is_control) {
        return Err(Failure::BadInput("thème invalide (un caractère de contrôle)".into()));
    }
    Ok(CommentQuery {
        sites: chosen,
        from,
        to,
        rating,
        text,
        handled,
        theme,
        limit: COMMENTS_PER_PAGE + 1,
        offset: (page_of(q) - 1) * COMMENTS_PER_PAGE,
    })
}

/// The page asked for, within the pages a person can reach.
fn page_of(q: &CommentsQuery) -> u32 {
    q.page.unwrap_or(1).clamp(1, 10_000)
}

pub(crate) async fn comments_page(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Query(q): Query<CommentsQuery>,
) -> Result<Response, Failure> {
    let sites = sites_in_scope(platform.storage(), &session.account).await?;
    let themes = themes_in_scope(&platform, &sites).await?;
    // The filters as typed: what the page shows again, applied or not.
    let mut filters = pages::CommentFilters {
        site: q.site.clone().unwrap_or_default(),
        rating: q.note.as_deref().and_then(|n| n.parse().ok()),
        from: q.du.clone().unwrap_or_default(),
        to: q.au.clone().unwrap_or_default(),
        text: q.q.clone().unwrap_or_default(),
        follow: q.suivi.clone().unwrap_or_default(),
        theme: q.theme.clone().unwrap_or_default(),
        page: 1,
        more: false,
        error: None,
    };
    let query = match comments_query(&sites, &q) {
        Ok(query) => query,
        Err(Failure::BadInput(message)) => {
            // The page again, with the filters as typed and what is wrong in them.
            filters.error = Some(message);
            let page = html(pages::comments(&session, &sites, &themes, &[], &filters));
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
        Err(other) => return Err(other),
    };
    (filters.rating, filters.from, filters.to, filters.text) =
        (query.rating, query.from.to_string(), query.to.to_string(), query.text.clone());
    filters.theme = query.theme.clone();
    let mut found = platform.storage().comments(query).await?;
    filters.more = found.len() > COMMENTS_PER_PAGE as usize;
    filters.page = page_of(&q);
    found.truncate(COMMENTS_PER_PAGE as usize);
    Ok(html(pages::comments(&session, &sites, &themes, &found, &filters)))
}

/// The themes of the networks the viewer's sites belong to, each once, in order.
async fn themes_in_scope(platform: &Shared, sites: &[Site]) -> Result<Vec<String>, Failure> {
    let mut organisations: Vec<&str> = sites.iter().filter_map(|s| s.organisation.as_deref()).collect();
    organisations.sort_unstable();
    organisations.dedup();
    let mut themes = Vec::new();
    for organisation in organisations {
        themes.extend(super::store::Admin(platform.storage()).themes(organisation).await?);
    }
    themes.sort();
    themes.dedup();
    Ok(themes)
}

/// The comments of a selection (the same filters as the page, every page of it), a header
/// then one row each: local time, site, its name, kiosk, answer, comment.
async fn selection(
    platform: &Shared,
    session: &crate::storage::console::ConsoleSession,
    q: &CommentsQuery,
) -> Result<Vec<[String; 6]>, Failure> {
    let sites = sites_in_scope(platform.storage(), &session.account).await?;
    let query = CommentQuery { limit: COMMENTS_EXPORT_MAX, offset: 0, ..comments_query(&sites, q)? };
    let found = platform.storage().comments(query).await?;
    let name_of = |id: &str| sites.iter().find(|s| s.id == id).map_or(id.to_string(), |s| s.name.clone());
    let header =
        ["heure locale de la borne", "site", "nom du site", "borne", "réponse", "commentaire"].map(String::from);
    let rows = found.iter().map(|c| {
        [
            c.submitted_at.get(..16).unwrap_or(&c.submitted_at).replace('T', " "),
            borne_model::spreadsheet::text_cell(&c.site_id),
            borne_model::spreadsheet::text_cell(&name_of(&c.site_id)),
            borne_model::spreadsheet::text_cell(&c.device_id),
            pages::rating_label(c.rating).to_string(),
            borne_model::spreadsheet::text_cell(&c.text),
        ]
    });
    Ok(std::iter::once(header).chain(rows).collect())
}

/// The selection as a CSV file for French spreadsheets (`;`, BOM).
pub(crate) async fn comments_csv(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Query(q): Query<CommentsQuery>,
) -> Result<Response, Failure> {
    let mut out = super::fleet::french_csv();
    for row in selection(&platform, &session, &q).await? {
        let _ = out.write_record(row);
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"commentaires.csv\""),
        ],
        out.into_inner().unwrap_or_default(),
    )
        .into_response())
}

/// The selection as an Excel workbook (every cell text: nothing is read as a formula or a date).
pub(crate) async fn comments_xlsx(
    State(platform): State<Shared>,
    Extension(Viewer(session)): Extension<Viewer>,
    Query(q): Query<CommentsQuery>,
) -> Result<Response, Failure> {
    let rows = selection(&platform, &session, &q).await?;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let written: Result<(), rust_xlsxwriter::XlsxError> = (|| {
        sheet.set_name("Commentaires")?;
        for (r, row) in rows.iter().enumerate() {
            for (c, value) in row.iter().enumerate() {
                sheet.write_string(r as u32, c as u16, value)?;
            }
        }
        Ok(())
    })();
    let bytes = written.and_then(|()| book.save_to_buffer()).map_err(|e| Failure::BadInput(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"commentaires.xlsx\""),
        ],
        bytes,
    )
        .into_response())
}

/// At most this many comments in one export (a year of a large network).
const COMMENTS_EXPORT_MAX: u32 = 100_000;
