//! What the platform publishes to each kiosk (contract 1.2).
//! - `GET /v1/survey`: the survey version published for a kiosk's site, else for its network.
//!   `ETag` is the version; a kiosk that names it in `If-None-Match` gets `304`; a kiosk with
//!   nothing published for it gets `204` and runs its file's survey.
//! - `GET /v1/update`: the system release offered to the kiosk by its network's rollout
//!   (`crate::rollout`), as a manifest whose bundle is an absolute address; `204` when none is.

use crate::storage::{Site, Storage, StorageError};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use borne_model::release::Manifest;
use borne_model::wire::PublishedSurvey;

/// What a kiosk asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Survey,
    Release,
}

/// The `device_id` of a query string (`device_id=…`; device ids need no escaping).
pub fn device_of(query: Option<&str>) -> &str {
    query.unwrap_or("").split('&').find_map(|pair| pair.strip_prefix("device_id=")).unwrap_or("")
}

/// The answer for `device` of `site` (`None`: a kiosk of a tokens file, which belongs to no site).
pub async fn answer(
    storage: &Storage,
    what: What,
    device: &str,
    site: Option<&Site>,
    headers: &HeaderMap,
) -> Result<Response, StorageError> {
    let Some(site) = site else { return Ok(StatusCode::NO_CONTENT.into_response()) };
    if what == What::Release {
        let Some(release) = storage.offered_release(device, &site.id).await? else {
            return Ok(StatusCode::NO_CONTENT.into_response());
        };
        let manifest = Manifest {
            version: release.version,
            bundle: release.bundle_url,
            sha256: release.sha256,
            size: release.size.max(1) as u64,
        };
        return Ok(axum::Json(manifest).into_response());
    }
    let Some((version, body)) = storage.survey_for_site(&site.id).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let tag = format!("\"{version}\"");
    let etag = [(header::ETAG, HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"0\"")))];
    let known = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == tag || t.trim() == "*");
    if known {
        return Ok((StatusCode::NOT_MODIFIED, etag).into_response());
    }
    let published = PublishedSurvey { version: version.max(0) as u64, survey: body };
    Ok((etag, axum::Json(published)).into_response())
}
