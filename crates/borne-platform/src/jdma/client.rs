//! JDMA over HTTP, as its own form app and open API are called: tRPC 10 with SuperJSON bodies
//! (`{"json": …}`) for `review.create` and `review.insertOrUpdate`, JSON with a bearer key for
//! `/services` and `/statistiques`. Every outcome is classified by what it proves about JDMA's
//! database: created, certainly not created, refused as invalid, or unknown.

use crate::config::JdmaConfig;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use std::time::Duration;

/// A review as sent to JDMA.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub product: i64,
    pub form: i64,
    pub button: i64,
    /// The kiosk's review id: JDMA finds the review again by it (with the product and button).
    pub user_id: String,
    /// Answers as JDMA's form app sends them (`AnswerCreateInput`).
    pub answers: Vec<Value>,
}

/// What a `review.create` proved.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    Yes {
        id: i64,
        created_at: DateTime<Utc>,
    },
    /// Nothing was stored (unreachable, limited, unavailable, misconfigured); `retry_after` when JDMA said.
    No {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Refused as invalid: sending it again would be refused again.
    Refused {
        error: String,
    },
    /// Perhaps stored: the call left, its answer never came or says nothing.
    Unknown {
        error: String,
    },
}

/// What a `review.insertOrUpdate` proved.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// The review exists and now holds every answer sent.
    Yes {
        id: i64,
        created_at: DateTime<Utc>,
    },
    /// JDMA holds no review created within the hour with this `(product, button, user_id)`.
    No,
    Unknown {
        error: String,
    },
}

/// A product the API key reaches, with its forms.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct Service {
    pub id: i64,
    pub title: String,
    #[serde(default)]
    pub entity: String,
    pub forms: Vec<ServiceForm>,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct ServiceForm {
    pub id: i64,
    pub title: String,
}

pub struct Client {
    http: reqwest::Client,
    form_url: String,
    api: Option<(String, String)>,
}

fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(" : {s}"));
        source = s.source();
    }
    text
}

/// The error message of a tRPC answer, and its code (`NOT_FOUND`, `BAD_REQUEST`…).
fn trpc_error(body: &Value) -> (String, String) {
    let error = &body["error"]["json"];
    (
        error["message"].as_str().unwrap_or("").chars().take(300).collect(),
        error["data"]["code"].as_str().unwrap_or("").to_string(),
    )
}

/// The review in a tRPC success: `result.data.json.data`.
fn review_of(body: &Value) -> Option<(i64, DateTime<Utc>)> {
    let review = &body["result"]["data"]["json"]["data"];
    let id = review["id"].as_i64()?;
    let created = DateTime::parse_from_rfc3339(review["created_at"].as_str()?).ok()?.with_timezone(&Utc);
    Some((id, created))
}

impl Client {
    pub fn new(config: &JdmaConfig) -> Result<Client, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5).min(config.timeout))
            .timeout(config.timeout)
            .user_agent(concat!("borne-platform/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("client HTTP impossible à créer : {e}"))?;
        let api = match (&config.api_url, &config.api_key_file) {
            (Some(url), Some(file)) => {
                let key = std::fs::read_to_string(file)
                    .map_err(|e| format!("jdma.api_key_file {} illisible : {e}", file.display()))?;
                let key = key.lines().next().unwrap_or("").trim().to_string();
                if key.is_empty() {
                    return Err(format!("jdma.api_key_file {} : clé vide", file.display()));
                }
                Some((url.clone(), key))
            }
            _ => None,
        };
        Ok(Client { http, form_url: config.form_url.clone(), api })
    }

    pub fn has_api(&self) -> bool {
        self.api.is_some()
    }

    async fn call(
        &self,
        procedure: &str,
        input: Value,
        review: &Outgoing,
    ) -> Result<(u16, Option<Value>), reqwest::Error> {
        let response = self
            .http
            .post(format!("{}/api/trpc/{procedure}", self.form_url))
            .header("content-type", "application/json")
            // As from the form's page: JDMA's limiter reads it, and fails with a 500 without it.
            .header("referer", format!("{}/{}?button={}", self.form_url, review.product, review.button))
            .body(json!({ "json": input }).to_string())
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        Ok((status, serde_json::from_slice(&body).ok()))
    }

    /// `review.create`: one call, counted by JDMA's limiter.
    pub async fn create(&self, review: &Outgoing) -> Created {
        let input = json!({
            "review": {"product_id": review.product, "form_id": review.form, "button_id": review.button,
                       "user_id": review.user_id},
            "answers": review.answers,
        });
        match self.call("review.create", input, review).await {
            Err(e) if e.is_connect() => {
                Created::No { error: format!("JDMA injoignable : {}", describe(&e)), retry_after: None }
            }
            Err(e) => Created::Unknown { error: format!("sans réponse de JDMA : {}", describe(&e)) },
            Ok((200, body)) => match body.as_ref().and_then(review_of) {
                Some((id, created_at)) => Created::Yes { id, created_at },
                None => Created::Unknown { error: "réponse de JDMA illisible (200)".into() },
            },
            Ok((status, body)) => {
                let (message, code) = body.as_ref().map(trpc_error).unwrap_or_default();
                let error = format!("JDMA a répondu {status} {code} : {message}");
                match status {
                    429 => {
                        // « Too many requests, please try again later. <seconds> »
                        let secs = message.rsplit(' ').next().and_then(|s| s.parse::<u64>().ok());
                        Created::No { error, retry_after: secs.map(Duration::from_secs) }
                    }
                    400 => Created::Refused { error },
                    // Unavailable, or turned away before the procedure ran (address, method, route).
                    503 | 401 | 403 | 404 | 405 | 413 => Created::No { error, retry_after: None },
                    // A server error may come after the review was stored (JDMA updates the form afterwards).
                    _ => Created::Unknown { error },
                }
            }
        }
    }

    /// `review.insertOrUpdate` with every answer, as the form's last step (`contact`): JDMA
    /// updates or adds each answer of a review created within the hour, or answers 404.
    pub async fn insert_or_update(&self, review: &Outgoing) -> Found {
        let input = json!({
            "answers": review.answers, "user_id": review.user_id, "product_id": review.product,
            "button_id": review.button, "step_name": "contact",
        });
        match self.call("review.insertOrUpdate", input, review).await {
            Err(e) => Found::Unknown { error: format!("JDMA injoignable : {}", describe(&e)) },
            Ok((200, body)) => match body.as_ref().and_then(review_of) {
                Some((id, created_at)) => Found::Yes { id, created_at },
                None => Found::Unknown { error: "réponse de JDMA illisible (200)".into() },
            },
            Ok((status, body)) => {
                let (message, code) = body.as_ref().map(trpc_error).unwrap_or_default();
                if status == 404 && code == "NOT_FOUND" {
                    Found::No
                } else {
                    Found::Unknown { error: format!("JDMA a répondu {status} {code} : {message}") }
                }
            }
        }
    }

    async fn api(
        &self,
        request: impl FnOnce(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<Value, String> {
        let Some((url, key)) = &self.api else {
            return Err("pas d'API ouverte configurée ([jdma] api_url et api_key_file)".into());
        };
        let response = request(&self.http, url)
            .bearer_auth(key)
            .send()
            .await
            .map_err(|e| format!("API de JDMA injoignable : {}", describe(&e)))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| format!("réponse de l'API de JDMA coupée : {e}"))?;
        let body: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("réponse de l'API de JDMA illisible : {e}"))?;
        if !status.is_success() {
            return Err(format!("l'API de JDMA a répondu {status} : {}", body["message"].as_str().unwrap_or("")));
        }
        Ok(body)
    }

    /// `GET /services`: the products the key reaches, with their forms.
    pub async fn services(&self) -> Result<Vec<Service>, String> {
        let body = self.api(|http, url| http.get(format!("{url}/services"))).await?;
        serde_json::from_value(body["data"].clone()).map_err(|e| format!("réponse de /services inattendue : {e}"))
    }

    /// `POST /statistiques`: reviews created in JDMA per UTC day over `[from, to]` for `form`
    /// (its `satisfaction` answers: one per review).
    pub async fn daily_reviews(
        &self,
        product: i64,
        form: i64,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, u64)>, String> {
        let query = json!({"start_date": from.to_string(), "end_date": to.to_string(), "field_codes": ["satisfaction"],
            "product_ids": [product], "form_ids": [form], "interval": "day"});
        let body = self
            .api(|http, url| {
                http.post(format!("{url}/statistiques"))
                    .header("content-type", "application/json")
                    .body(query.to_string())
            })
            .await?;
        let mut days = Vec::new();
        for p in body["data"].as_array().into_iter().flatten() {
            for f in
                p["forms"].as_array().into_iter().flatten().filter(|f| f["form_id"].as_str() == Some(&form.to_string()))
            {
                for interval in f["intervals"].as_array().into_iter().flatten() {
                    let Some(day) = interval["date"].as_str().and_then(|d| d.get(..10)).and_then(|d| d.parse().ok())
                    else {
                        continue;
                    };
                    let n: u64 = interval["data"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|c| c["category"] == "satisfaction")
                        .flat_map(|c| c["number_hits"].as_array().into_iter().flatten())
                        .filter_map(|h| h["count"].as_u64())
                        .sum();
                    days.push((day, n));
                }
            }
        }
        days.sort();
        Ok(days)
    }
}
