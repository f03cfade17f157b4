//! Public results (Services Publics +, engagement 6): for each site, its satisfaction over the
//! last twelve rolling months, as a page anyone can open and as open data (JSON, CSV) at stable
//! addresses. The score is given only from 100 reviews, as the State publishes it; the
//! distribution always; never a comment, never a review.
//!
//! Read from the per-site counts only (whole months and days), so a page costs the same at any
//! volume; answers are cacheable for an hour.

use crate::storage::{Site, Storage, StorageError};
use borne_model::indicators::{Band, QuestionIndicator, Score, twelve_months_before};
use chrono::NaiveDate;
use maud::{Markup, html};
use serde::Serialize;

/// The State publishes a score only from this many reviews.
pub const MINIMUM_REVIEWS: u64 = 100;

/// Version of the open data's shape (`docs/open-data.md`); a change that removes or renames a
/// field gets a new version.
pub const SCHEMA_VERSION: u32 = 1;

/// What is published for a site (`/public/sites/{id}/results.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicResults {
    pub schema_version: u32,
    pub site_id: String,
    pub site_name: String,
    pub organisation: Option<String>,
    /// First and last day of the period (the kiosks' local days), inclusive.
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub reviews: u64,
    pub minimum_reviews: u64,
    /// `{"status": "ok", "value": 8.4, "band": "good", "band_label": "Très bien"}` or
    /// `{"status": "insufficient", "count": 42, "minimum": 100}`.
    pub score: Score,
    pub distribution: Vec<Share>,
    /// « Vous nous l'avez dit, on l'a fait »: what the site changed, as its managers wrote it on
    /// its kiosks (newest first); not visitors' words.
    pub actions: Vec<borne_model::actions::Action>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Share {
    pub answer_item_id: i64,
    pub answer_text: String,
    pub count: u64,
    pub percent: f64,
}

/// How long a site's published results are served from memory before being read again.
pub const CACHE_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// An unknown site makes the sites' list be read again, at most this often.
pub const LIST_AT_LEAST: std::time::Duration = std::time::Duration::from_secs(5);

/// The public results in memory: anonymous load costs no database work but one reading per
/// site every [`CACHE_FOR`] (and one reading of the sites' list as often), done by one
/// request at a time; an unknown site is answered from the list, without a query. So no crowd
/// on the public pages can slow the kiosks' uploads down.
#[derive(Default)]
pub struct PublicCache {
    sites: std::sync::Mutex<Option<(std::time::Instant, std::sync::Arc<Vec<Site>>)>>,
    results: std::sync::Mutex<std::collections::HashMap<String, Cached>>,
    /// One reading of the database at a time for all public pages.
    reading: tokio::sync::Mutex<()>,
}

type Cached = (std::time::Instant, NaiveDate, std::sync::Arc<PublicResults>);

impl PublicCache {
    /// `site`'s results as of `today`, from memory when fresh; `None` for an unknown site.
    pub async fn results(
        &self,
        storage: &Storage,
        site: &str,
        today: NaiveDate,
    ) -> Result<Option<std::sync::Arc<PublicResults>>, StorageError> {
        if let Some(found) = self.fresh(site, today) {
            return Ok(Some(found));
        }
        let _reading = self.reading.lock().await;
        // Another request may have read it while this one waited.
        if let Some(found) = self.fresh(site, today) {
            return Ok(Some(found));
        }
        let mut sites = self.sites(storage, CACHE_FOR).await?;
        if !sites.iter().any(|s| s.id == site) {
            // A site added since: the list is read again, but not more than every few seconds
            // however many unknown names are asked for.
            sites = self.sites(storage, LIST_AT_LEAST).await?;
        }
        let Some(known) = sites.iter().find(|s| s.id == site) else { return Ok(None) };
        let Some(results) = results_of(storage, known.clone(), today).await? else { return Ok(None) };
        let results = std::sync::Arc::new(results);
        let mut cache = self.results.lock().unwrap_or_else(|e| e.into_inner());
        // Only known sites are ever cached: the map stays as small as the list.
        cache.retain(|id, _| sites.iter().any(|s| &s.id == id));
        cache.insert(site.to_string(), (std::time::Instant::now(), today, results.clone()));
        Ok(Some(results))
    }

    /// What this instance held of `site` is out of date (a batch or actions just stored): read
    /// again on the next request. Other instances catch up within [`CACHE_FOR`].
    pub fn forget(&self, site: &str) {
        self.results.lock().unwrap_or_else(|e| e.into_inner()).remove(site);
    }

    fn fresh(&self, site: &str, today: NaiveDate) -> Option<std::sync::Arc<PublicResults>> {
        let cache = self.results.lock().unwrap_or_else(|e| e.into_inner());
        let (at, day, results) = cache.get(site)?;
        (*day == today && at.elapsed() < CACHE_FOR).then(|| results.clone())
    }

    /// The sites' list, read again when older than `fresh_for`.
    async fn sites(
        &self,
        storage: &Storage,
        fresh_for: std::time::Duration,
    ) -> Result<std::sync::Arc<Vec<Site>>, StorageError> {
        if let Some((at, sites)) = self.sites.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && at.elapsed() < fresh_for
        {
            return Ok(sites.clone());
        }
        let sites = std::sync::Arc::new(storage.sites().await?);
        *self.sites.lock().unwrap_or_else(|e| e.into_inner()) = Some((std::time::Instant::now(), sites.clone()));
        Ok(sites)
    }
}

/// The site's results over the twelve rolling months ending `today`; `None` for an unknown site.
/// The same indicators as the site's kiosks show (`Storage::site_indicators`), satisfaction only.
pub async fn results(
    storage: &Storage,
    site_id: &str,
    today: NaiveDate,
) -> Result<Option<PublicResults>, StorageError> {
    let Some(site) = storage.sites().await?.into_iter().find(|s| s.id == site_id) else { return Ok(None) };
    results_of(storage, site, today).await
}

async fn results_of(storage: &Storage, site: Site, today: NaiveDate) -> Result<Option<PublicResults>, StorageError> {
    let site_id = site.id.as_str();
    let from = twelve_months_before(today);
    let indicators = storage.site_indicators(site_id, from, today, MINIMUM_REVIEWS).await?;
    let mut results = published(&site, from, today, indicators.reviews, indicators.satisfaction);
    results.actions = storage.site_actions(site_id).await?;
    Ok(Some(results))
}

/// The Observatoire's words for the State's bands (same thresholds: ≥ 8, 5 to 8, < 5), as the
/// public view of JDMA's figures says them (`borne_model::backoffice::observatoire`).
fn observatoire_labels(score: Score) -> Score {
    match score {
        Score::Ok { value, band, .. } => {
            let band_label = match band {
                Band::Good => "Très bien",
                Band::Medium => "Insuffisant",
                Band::Bad => "Critique",
            };
            Score::Ok { value, band, band_label }
        }
        other => other,
    }
}

fn published(
    site: &Site,
    from: NaiveDate,
    to: NaiveDate,
    reviews: u64,
    satisfaction: QuestionIndicator,
) -> PublicResults {
    PublicResults {
        schema_version: SCHEMA_VERSION,
        site_id: site.id.clone(),
        site_name: site.name.clone(),
        organisation: site.organisation.clone(),
        period_from: from,
        period_to: to,
        reviews,
        minimum_reviews: MINIMUM_REVIEWS,
        score: observatoire_labels(satisfaction.score),
        distribution: satisfaction
            .distribution
            .into_iter()
            .map(|d| Share {
                answer_item_id: d.answer_item_id,
                answer_text: d.answer_text,
                count: d.count,
                percent: d.percent,
            })
            .collect(),
        actions: Vec::new(),
    }
}

/// `8,4` as the State writes it.
fn french(value: f64) -> String {
    borne_model::indicators::french_decimal(value)
}

fn day(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The CSV open data: one line per answer of the distribution, the score repeated on each.
pub fn csv(results: &PublicResults) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let score = results.score.value().map(|v| v.to_string()).unwrap_or_default();
    let _ = out.write_record([
        "site_id",
        "site_name",
        "period_from",
        "period_to",
        "reviews",
        "score_on_10",
        "answer_item_id",
        "answer_text",
        "count",
        "percent",
    ]);
    for share in &results.distribution {
        let _ = out.write_record([
            borne_model::spreadsheet::text_cell(&results.site_id),
            borne_model::spreadsheet::text_cell(&results.site_name),
            results.period_from.to_string(),
            results.period_to.to_string(),
            results.reviews.to_string(),
            score.clone(),
            share.answer_item_id.to_string(),
            borne_model::spreadsheet::text_cell(&share.answer_text),
            share.count.to_string(),
            share.percent.to_string(),
        ]);
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The page of a site that does not exist or publishes nothing: a page a citizen can read,
/// not the API's JSON.
pub fn missing_page() -> Markup {
    let content = html! {
        p { "Aucun site ne publie de résultats à cette adresse. Vérifiez l'adresse affichée dans la salle d'attente, ou demandez-la à l'accueil." }
        p { a href="/public/schema" { "Ce que contiennent les résultats publiés" } }
    };
    crate::frame::public("Page introuvable", "Page introuvable", content)
}

/// The page a visitor (or a poster's QR code) opens.
pub fn page(results: &PublicResults) -> Markup {
    let base = format!("/public/sites/{}", results.site_id);
    let content = html! {
        p.fr-text--lead { "Ce que les usagers ont répondu à « De façon générale, comment ça s’est passé ? » du "
            (day(results.period_from)) " au " (day(results.period_to)) "." }
        section aria-labelledby="score" {
            h2 #score { "Satisfaction des usagers" }
            @match &results.score {
                Score::Ok { value, band, band_label } => {
                    p.score data-band=(format!("{band:?}").to_lowercase()) {
                        strong { (french(*value)) " / 10" } " — " (band_label)
                    }
                }
                Score::Insufficient { count, minimum } => {
                    p.score { "Nombre d'avis insuffisant pour donner une note : " (count) " avis, il en faut " (minimum) "." }
                }
                Score::NotScored => { p.score { "Pas de note." } }
            }
            p { (results.reviews) " avis sur la période." }
        }
        section aria-labelledby="distribution" {
            h2 #distribution { "Répartition des réponses" }
            div.borne-scroll tabindex="0" { table.borne-table {
                caption { "Réponses à la question principale, sur 12 mois" }
                thead { tr { th scope="col" { "Réponse" } th scope="col" { "Avis" } th scope="col" { "Part" } } }
                tbody {
                    @for share in &results.distribution {
                        tr {
                            th scope="row" { (share.answer_text) }
                            td { (share.count) }
                            td { (french(share.percent)) " %" }
                        }
                    }
                }
            } }
        }
        @if !results.actions.is_empty() {
            section aria-labelledby="on-l-a-fait" {
                h2 #on-l-a-fait { "Vous nous l'avez dit, on l'a fait" }
                ul.actions {
                    @for action in &results.actions {
                        li { time datetime=(action.done_on.to_string()) { (day(action.done_on)) } " — " (action.text) }
                    }
                }
            }
        }
        section.about aria-labelledby="donnees" {
            h2 #donnees { "Données et calcul" }
            p { "Données ouvertes : "
                a href=(format!("{base}/results.json")) { "JSON" } ", "
                a href=(format!("{base}/results.csv")) { "CSV" }
                " (schéma : " a href="/public/schema" { "description des champs" } ")." }
            p { "Calcul de l'État (programme Services Publics +) : « Très bien » vaut 10, « Moyen » 5, « Pas bien » 0 ; la note est donnée à partir de "
                (results.minimum_reviews) " avis. Aucun commentaire n'est publié." }
        }
    };
    crate::frame::public(&format!("Résultats — {}", results.site_name), &results.site_name, content)
}

/// The stylesheet of the public pages: the design system's additions, then their own rules.
pub static STYLE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{}{}",
        borne_web::dsfr::EXTRA_CSS,
        ".score{font-size:1.5rem}.score strong{font-size:2.5rem}[data-band=good] strong{color:#18753c}\
[data-band=medium] strong{color:#b34000}[data-band=bad] strong{color:#ce0500}\
.actions{padding-left:1.2rem}.actions time{font-weight:bold}.about{margin-top:2rem;font-size:.95rem}"
    )
});

/// The open data's description, as a page.
pub fn schema_page() -> Markup {
    let heading = format!("Résultats publiés : description des champs (version {SCHEMA_VERSION})");
    let content = html! {
        p { "Adresses stables : " code { "/public/sites/{site}/results.json" } " et " code { "/public/sites/{site}/results.csv" } ". Période : les 12 derniers mois glissants, jours locaux des bornes." }
                dl.borne-wrap {
                    dt { code { "schema_version" } } dd { "version de ce format (1)" }
                    dt { code { "site_id" } ", " code { "site_name" } ", " code { "organisation" } } dd { "le site et son réseau" }
                    dt { code { "period_from" } ", " code { "period_to" } } dd { "premier et dernier jour de la période (AAAA-MM-JJ), inclus" }
                    dt { code { "reviews" } } dd { "nombre d'avis sur la période" }
                    dt { code { "minimum_reviews" } } dd { "nombre d'avis à partir duquel une note est donnée (100)" }
                    dt { code { "score" } } dd { code { "{\"status\": \"ok\", \"value\": 8.4, \"band\": \"good\", \"band_label\": \"Très bien\"}" } " ou " code { "{\"status\": \"insufficient\", \"count\": 42, \"minimum\": 100}" } }
                    dt { code { "distribution" } } dd { "pour chaque réponse (" code { "answer_item_id" } " 1 « Pas bien », 2 « Moyen », 3 « Très bien ») : " code { "count" } " et " code { "percent" } }
                    dt { code { "actions" } } dd { "« Vous nous l'avez dit, on l'a fait » : ce que le site a changé, écrit par ses responsables (" code { "id" } ", " code { "text" } ", " code { "done_on" } " AAAA-MM-JJ), du plus récent au plus ancien ; liste vide s'il n'y en a pas (JSON seulement)" }
                }
                p { "CSV : une ligne par réponse, colonnes site_id, site_name, period_from, period_to, reviews, score_on_10 (vide sous 100 avis), answer_item_id, answer_text, count, percent." }
    };
    crate::frame::public("Données ouvertes — description", &heading, content)
}
