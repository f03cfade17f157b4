//! Alerts and summaries by e-mail, around the pure evaluator of `alerts`: each minute one
//! instance claims the round, observes the kiosks and the sites, evaluates each organisation's
//! rules, and commits the incidents, the mails and the evaluator's memory together; then every
//! instance sends the mails due (SMTP with STARTTLS, through `lettre`), retried with backoff.
//! Everything takes its instant as an argument, so tests drive it over simulated weeks.

use crate::alerts::{Condition, DeviceState, Evaluator, Event, Rule, Scope, SiteState, SiteWindows};
use crate::storage::alerting::{Digest, IncidentChange, NewMail, Subscriber, TickOutcome};
use crate::storage::{Site, Storage, StorageError};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// One evaluation a minute, whichever instance runs it.
pub const EVERY: Duration = Duration::seconds(55);
/// Summaries are written from this local hour.
pub const DIGEST_HOUR: u32 = 7;

/// An organisation's rules (`borne-platform alerts rules ORG …`); the defaults otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrgRules {
    /// A kiosk silent this many hours is an incident (0: no such rule).
    pub offline_hours: u32,
    /// A review waiting on a kiosk this many hours is an incident (0: none).
    pub pending_hours: u32,
    /// Share of « Pas bien » above this percent over `negative_days`… (0: none)
    pub negative_percent: f64,
    pub negative_days: u32,
    /// …from this many reviews in the window.
    pub negative_minimum: u64,
    /// A score dropping this many points over `drop_days` against the days before (0: none)…
    pub drop_points: f64,
    pub drop_days: u32,
    /// …each window with this many reviews.
    pub drop_minimum: u64,
    /// As JDMA: a condition must hold this long before it opens (and be gone as long before it resolves)…
    pub debounce_minutes: u32,
    /// …and at most one incident per rule and scope within this time.
    pub cap_hours: u32,
}

impl Default for OrgRules {
    fn default() -> Self {
        OrgRules {
            offline_hours: 24,
            pending_hours: 48,
            negative_percent: 30.0,
            negative_days: 7,
            negative_minimum: 20,
            drop_points: 1.0,
            drop_days: 30,
            drop_minimum: 100,
            debounce_minutes: 5,
            cap_hours: 2,
        }
    }
}

pub const OFFLINE: &str = "hors-ligne";
pub const PENDING: &str = "envoi-en-retard";
pub const NEGATIVE: &str = "pas-bien";
pub const DROP: &str = "baisse-de-note";

impl OrgRules {
    pub fn rules(&self) -> Vec<Rule> {
        let debounce = Duration::minutes(self.debounce_minutes as i64);
        let cap = Duration::hours(self.cap_hours as i64);
        let rule = |id: &str, condition| Rule { id: id.into(), condition, debounce, cap };
        let mut rules = Vec::new();
        if self.offline_hours > 0 {
            rules.push(rule(OFFLINE, Condition::Offline { after: Duration::hours(self.offline_hours as i64) }));
        }
        if self.pending_hours > 0 {
            rules.push(rule(PENDING, Condition::PendingTooOld { age: Duration::hours(self.pending_hours as i64) }));
        }
        if self.negative_percent > 0.0 && self.negative_days > 0 {
            rules.push(rule(
                NEGATIVE,
                Condition::NegativeShare {
                    window: Duration::days(self.negative_days as i64),
                    percent: self.negative_percent,
                    minimum_reviews: self.negative_minimum,
                },
            ));
        }
        if self.drop_points > 0.0 && self.drop_days > 0 {
            rules.push(rule(
                DROP,
                Condition::ScoreDrop {
                    window: Duration::days(self.drop_days as i64),
                    points: self.drop_points,
                    minimum_reviews: self.drop_minimum,
                },
            ));
        }
        rules
    }

    /// Checks values a person typed.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=100.0).contains(&self.negative_percent) {
            return Err("negative_percent : entre 0 et 100".into());
        }
        if !(0.0..=10.0).contains(&self.drop_points) {
            return Err("drop_points : entre 0 et 10".into());
        }
        if self.negative_days > 366 || self.drop_days > 366 {
            return Err("fenêtres : au plus 366 jours".into());
        }
        Ok(())
    }
}

pub fn rule_label(rule: &str) -> &'static str {
    match rule {
        OFFLINE => "borne hors ligne",
        PENDING => "avis en attente d'envoi",
        NEGATIVE => "part de « Pas bien » élevée",
        DROP => "note en baisse",
        _ => "alerte",
    }
}

/// Where the mails' links point (`[alerts] public_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    pub public_url: String,
}

impl Links {
    fn unsubscribe(&self, token: &str) -> String {
        format!("{}/console/desabonnement/{token}", self.public_url.trim_end_matches('/'))
    }

    fn console(&self, path: &str) -> String {
        format!("{}/console/{path}", self.public_url.trim_end_matches('/'))
    }
}

/// The satisfaction counts (Pas bien, Moyen, Très bien) of every site over local days `[from, to]`.
async fn satisfaction_by_site(
    storage: &Storage,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashMap<String, [u64; 3]>, StorageError> {
    let mut out: HashMap<String, [u64; 3]> = HashMap::new();
    for counts in storage.site_counts(None, from, to).await? {
        let entry = out.entry(counts.site_id).or_default();
        for item in counts.items.iter().filter(|i| i.field_code == borne_model::review::SATISFACTION) {
            if (1..=3).contains(&item.answer_item_id) {
                entry[(item.answer_item_id - 1) as usize] += item.count.max(0) as u64;
            }
        }
    }
    Ok(out)
}

type Windows = HashMap<(NaiveDate, NaiveDate), HashMap<String, [u64; 3]>>;

/// The satisfaction counts of every site over a window, read once per round.
async fn window<'a>(
    cache: &'a mut Windows,
    storage: &Storage,
    range: (NaiveDate, NaiveDate),
) -> Result<&'a HashMap<String, [u64; 3]>, StorageError> {
    match cache.entry(range) {
        std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
        std::collections::hash_map::Entry::Vacant(v) => {
            Ok(v.insert(satisfaction_by_site(storage, range.0, range.1).await?))
        }
    }
}

/// Who hears of a site: its network's managers and its own (national administrators read the
/// console; they are not mailed for every kiosk of the country).
fn concerned<'a>(subscribers: &'a [Subscriber], site: &Site) -> impl Iterator<Item = &'a Subscriber> {
    subscribers.iter().filter(move |s| is_concerned(s, site))
}

/// A network's or a site's manager whose scope holds `site` (the national administration gets
/// summaries, not each site's alerts).
fn is_concerned(subscriber: &Subscriber, site: &Site) -> bool {
    subscriber.role != crate::storage::console::Role::National && subscriber.sees(site)
}

/// A mail to each manager with alerts on whose scope holds one of `sites` (once each), with the
/// console's address of `page` and the unsubscribe footer.
pub fn mails_about(
    subscribers: &[Subscriber],
    sites: &[&Site],
    links: &Links,
    subject: &str,
    text: &str,
    page: &str,
) -> Vec<NewMail> {
    subscribers
        .iter()
        .filter(|s| s.alerts && sites.iter().any(|site| is_concerned(s, site)))
        .map(|s| NewMail {
            recipient: s.email.clone(),
            subject: subject.to_string(),
            body: format!(
                "Bonjour,\n\n{text}\n\nDans la console : {}\n{}",
                links.console(page),
                footer(links, &s.unsubscribe_token)
            ),
            unsubscribe_url: Some(links.unsubscribe(&s.unsubscribe_token)),
        })
        .collect()
}

fn local_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&chrono::Local).date_naive()
}

/// Whether `subscriber`'s summary is due at `now`: daily from 07:00 local, weekly on Mondays
/// from 07:00, monthly on the 1st from 07:00; once per period.
fn digest_due(subscriber: &Subscriber, now: DateTime<Utc>) -> bool {
    let local = now.with_timezone(&chrono::Local);
    let start_of_period = match subscriber.digest {
        Digest::None => return false,
        Digest::Daily => local.date_naive(),
        Digest::Weekly => local.date_naive() - Duration::days(local.weekday().num_days_from_monday() as i64),
        Digest::Monthly => local.date_naive().with_day(1).unwrap_or(local.date_naive()),
    };
    let Some(opens) = start_of_period.and_hms_opt(DIGEST_HOUR, 0, 0) else { return false };
    let opens = opens.and_local_timezone(chrono::Local).earliest().map(|t| t.with_timezone(&Utc));
    let Some(opens) = opens else { return false };
    now >= opens && subscriber.digest_sent_at.is_none_or(|sent| sent < opens)
}

/// The days a summary sent on `today` covers (`from`..=`to`), its title and its period as read:
/// the day before, the 7 days before, or the previous calendar month.
fn summary_period(digest: Digest, today: NaiveDate) -> Option<(NaiveDate, NaiveDate, &'static str, String)> {
    let day = |d: NaiveDate| d.format("%d/%m/%Y").to_string();
    let yesterday = today.pred_opt()?;
    match digest {
        Digest::None => None,
        Digest::Daily => Some((yesterday, yesterday, "du jour", format!("le {}", day(yesterday)))),
        Digest::Weekly => {
            let from = today - Duration::days(7);
            Some((from, yesterday, "de la semaine", format!("du {} au {}", day(from), day(yesterday))))
        }
        Digest::Monthly => {
            let to = today.with_day(1)?.pred_opt()?;
            let from = to.with_day(1)?;
            Some((from, to, "du mois", crate::local::month_name(to)))
        }
    }
}

fn footer(links: &Links, token: &str) -> String {
    format!(
        "\n--\nBorne, console des réseaux : {}\nNe plus recevoir ces messages : {}\n",
        links.console(""),
        links.unsubscribe(token)
    )
}

/// One round: observe, evaluate, decide the mails and summaries, commit. `Ok(false)` when
/// another instance has this round.
/// What sends the mails, and where their links point.
pub struct Notifier {
    pub mailer: Mailer,
    pub links: Links,
}

impl Notifier {
    pub fn from_config(config: &crate::config::AlertsConfig) -> Result<Notifier, String> {
        let ca = match &config.ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| format!("alerts.ca_file {} : {e}", path.display()))?),
            None => None,
        };
        Ok(Notifier {
            mailer: Mailer::new(&config.smtp_url, &config.from, ca.as_deref())?,
            links: Links { public_url: config.public_url.clone() },
        })
    }
}

/// One round: observe, evaluate, decide the mails and summaries (when `links`: mails are
/// configured), commit. `Ok(false)` when another instance has this round.
pub async fn tick(
    storage: &Storage,
    holder: &str,
    links: Option<&Links>,
    now: DateTime<Utc>,
) -> Result<bool, StorageError> {
    let Some(memory) = storage.claim_alert_tick(holder, now, EVERY).await? else { return Ok(false) };
    let mut evaluator = Evaluator::from_json(&memory);
    let sites = storage.sites().await?;
    let devices = storage.devices().await?;
    let subscribers = storage.subscribers().await?;
    let site_of: HashMap<&str, &Site> = sites.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut organisations: BTreeMap<Option<String>, OrgRules> = BTreeMap::new();
    for site in &sites {
        if let std::collections::btree_map::Entry::Vacant(entry) = organisations.entry(site.organisation.clone()) {
            let rules = match &site.organisation {
                Some(org) => storage
                    .alert_rules(org)
                    .await?
                    .and_then(|json| serde_json::from_str(&json).ok())
                    .unwrap_or_default(),
                None => OrgRules::default(),
            };
            entry.insert(rules);
        }
    }
    // The windows the site rules need, each read once for every site.
    let today = local_date(now);
    let mut windows: Windows = HashMap::new();
    let mut events = Vec::new();
    for (organisation, org_rules) in &organisations {
        let rules = org_rules.rules();
        let org_sites: Vec<&Site> = sites.iter().filter(|s| &s.organisation == organisation).collect();
        let device_states: Vec<DeviceState> = devices
            .iter()
            .filter(|d| d.revoked_at.is_none())
            .filter(|d| {
                d.site_id.as_deref().and_then(|s| site_of.get(s)).is_some_and(|s| &s.organisation == organisation)
            })
            .map(|d| DeviceState {
                id: d.id.clone(),
                last_seen: d.last_seen_at,
                registered_at: d.created_at,
                oldest_pending: d
                    .oldest_pending_at
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .filter(|_| d.pending.unwrap_or(0) > 0),
            })
            .collect();
        let mut site_states = Vec::new();
        for site in &org_sites {
            let mut per_rule = BTreeMap::new();
            for rule in &rules {
                let days = match &rule.condition {
                    Condition::NegativeShare { window, .. } | Condition::ScoreDrop { window, .. } => window.num_days(),
                    _ => continue,
                };
                let recent = (today - Duration::days(days - 1), today);
                let before = (recent.0 - Duration::days(days), recent.0 - Duration::days(1));
                let recent = window(&mut windows, storage, recent).await?.get(&site.id).copied().unwrap_or_default();
                let before = window(&mut windows, storage, before).await?.get(&site.id).copied().unwrap_or_default();
                per_rule.insert(rule.id.clone(), SiteWindows { recent, before });
            }
            site_states.push(SiteState { id: site.id.clone(), windows: per_rule });
        }
        events.extend(evaluator.evaluate(&rules, &device_states, &site_states, now));
    }
    // Revoked kiosks, removed sites, rules turned off: their open incidents resolve now.
    events.extend(evaluator.retire_unseen(now));
    let mut outcome = TickOutcome { tracks: evaluator.to_json(), ..Default::default() };
    for event in &events {
        let (rule, scope) = match event {
            Event::Opened { rule, scope, .. } | Event::Resolved { rule, scope, .. } => (rule, scope),
        };
        let (scope_kind, scope_id, site) = match scope {
            Scope::Device(id) => {
                let site = devices
                    .iter()
                    .find(|d| &d.id == id)
                    .and_then(|d| d.site_id.as_deref())
                    .and_then(|s| site_of.get(s));
                ("device", id.clone(), site.copied())
            }
            Scope::Site(id) => ("site", id.clone(), site_of.get(id.as_str()).copied()),
        };
        let what = match scope {
            Scope::Device(id) => format!("borne {id}"),
            Scope::Site(_) => "site".to_string(),
        };
        let site_name = site.map(|s| s.name.clone()).unwrap_or_default();
        let zone = site.map_or(crate::local::DEFAULT_TIME_ZONE, |s| s.time_zone.as_str());
        let (subject, text) = match event {
            Event::Opened { detail, at, .. } => {
                outcome.incidents.push(IncidentChange::Opened {
                    rule: rule.clone(),
                    scope_kind: scope_kind.into(),
                    scope_id: scope_id.clone(),
                    site_id: site.map(|s| s.id.clone()),
                    detail: detail.clone(),
                    at: *at,
                });
                (
                    format!("[Borne] Incident : {} — {site_name}", rule_label(rule)),
                    format!(
                        "Un incident est ouvert sur le site « {site_name} » ({what}) : {}.\n\nConstat : {detail}.\nDepuis le {} (heure du site).\n\nUn second message vous dira quand il sera résolu.\n",
                        rule_label(rule),
                        crate::local::when(*at, zone)
                    ),
                )
            }
            Event::Resolved { at, opened_at, .. } => {
                outcome.incidents.push(IncidentChange::Resolved {
                    rule: rule.clone(),
                    scope_kind: scope_kind.into(),
                    scope_id: scope_id.clone(),
                    at: *at,
                });
                (
                    format!("[Borne] Résolu : {} — {site_name}", rule_label(rule)),
                    format!(
                        "L'incident « {} » du site « {site_name} » ({what}), ouvert le {}, est résolu depuis le {} (heures du site).\n",
                        rule_label(rule),
                        crate::local::when(*opened_at, zone),
                        crate::local::when(*at, zone)
                    ),
                )
            }
        };
        let (Some(site), Some(links)) = (site, links) else { continue };
        for subscriber in concerned(&subscribers, site).filter(|s| s.alerts) {
            outcome.mails.push(NewMail {
                recipient: subscriber.email.clone(),
                subject: subject.clone(),
                body: format!("Bonjour,\n\n{text}{}", footer(links, &subscriber.unsubscribe_token)),
                unsubscribe_url: Some(links.unsubscribe(&subscriber.unsubscribe_token)),
            });
        }
    }
    for subscriber in subscribers.iter().filter(|s| links.is_some() && digest_due(s, now)) {
        let Some(links) = links else { break };
        let Some((from, to, title, period)) = summary_period(subscriber.digest, today) else { continue };
        let counts = window(&mut windows, storage, (from, to)).await?;
        let mine: Vec<&Site> = sites.iter().filter(|s| subscriber.sees(s)).collect();
        if mine.is_empty() {
            continue;
        }
        let site_ids: Vec<String> = mine.iter().map(|s| s.id.clone()).collect();
        let open = storage.incidents(&site_ids, 1000).await?.into_iter().filter(|i| i.resolved_at.is_none()).count();
        let mut lines = String::new();
        for site in &mine {
            let c = counts.get(&site.id).copied().unwrap_or_default();
            let n: u64 = c.iter().sum();
            let share = if n == 0 { String::from("—") } else { format!("{:.0} %", 100.0 * c[0] as f64 / n as f64) };
            lines.push_str(&format!(
                "- {} : {n} avis ({} Très bien, {} Moyen, {} Pas bien ; part de « Pas bien » {share})\n",
                site.name, c[2], c[1], c[0]
            ));
        }
        outcome.mails.push(NewMail {
            recipient: subscriber.email.clone(),
            subject: format!("[Borne] Résumé {title} — {period}"),
            body: format!(
                "Bonjour,\n\nLes avis de vos sites {period} :\n\n{lines}\nIncidents en cours : {open}.\nLe détail (notes sur 30 jours et 12 mois, commentaires) est dans la console.\n{}",
                footer(links, &subscriber.unsubscribe_token)
            ),
            unsubscribe_url: Some(links.unsubscribe(&subscriber.unsubscribe_token)),
        });
        outcome.digests_sent.push(subscriber.email.clone());
    }
    storage.commit_alert_tick(holder, outcome, now).await
}

/// Sends mails over SMTP (`[alerts] smtp_url`, STARTTLS unless the URL says otherwise).
pub struct Mailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl Mailer {
    /// `smtp_url`: `smtp://[user:password@]host[:port]` (STARTTLS required, port 587 by default),
    /// `smtps://…` (TLS from the start), `smtp://…?tls=none` only for a relay on loopback.
    /// `ca_pem`: an extra certificate authority to trust (a private mail server's).
    pub fn new(smtp_url: &str, from: &str, ca_pem: Option<&[u8]>) -> Result<Mailer, String> {
        use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
        let from = from.parse().map_err(|e| format!("alerts.from : adresse invalide ({e})"))?;
        let mut builder = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| format!("alerts.smtp_url : {e}"))?;
        if let Some(pem) = ca_pem {
            let url = url_host(smtp_url).ok_or("alerts.smtp_url : hôte manquant")?;
            let certificate = Certificate::from_pem(pem).map_err(|e| format!("alerts.ca_file : {e}"))?;
            let tls = TlsParameters::builder(url)
                .add_root_certificate(certificate)
                .build_rustls()
                .map_err(|e| format!("alerts.ca_file : {e}"))?;
            let tls = if smtp_url.starts_with("smtps://") { Tls::Wrapper(tls) } else { Tls::Required(tls) };
            builder = builder.tls(tls);
        }
        Ok(Mailer { transport: builder.timeout(Some(std::time::Duration::from_secs(20))).build(), from })
    }

    async fn send(&self, mail: &crate::storage::alerting::OutboxMail) -> Result<(), MailError> {
        use lettre::AsyncTransport;
        let to: lettre::message::Mailbox = mail
            .recipient
            .parse()
            .map_err(|e| MailError { message: format!("destinataire invalide : {e}"), permanent: true })?;
        let mut builder = lettre::Message::builder().from(self.from.clone()).to(to).subject(&mail.subject);
        if let Some(url) = &mail.unsubscribe_url {
            builder = builder.header(ListUnsubscribe(format!("<{url}>")));
        }
        let message = builder
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| MailError { message: e.to_string(), permanent: true })?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError { permanent: e.is_permanent(), message: e.to_string() })
    }
}

/// Why a mail was not sent, and whether the server refused it for good (a 5xx answer: an
/// address that does not exist, a sender refused…) rather than for now.
#[derive(Debug, Clone)]
pub struct MailError {
    pub message: String,
    pub permanent: bool,
}

/// A mail refused for good is tried this many times (a server's passing misconfiguration may
/// answer 5xx for a while)…
pub const PERMANENT_TRIES: i64 = 3;
/// …and any mail at most this many times: with the backoff capped at an hour, about a day.
pub const MAX_TRIES: i64 = 30;

fn url_host(address: &str) -> Option<String> {
    let parsed = url::Url::parse(address).ok()?;
    parsed.host_str().filter(|h| !h.is_empty()).map(String::from)
}

/// The `List-Unsubscribe` header (RFC 2369), so mail clients offer it too.
#[derive(Clone)]
struct ListUnsubscribe(String);

impl lettre::message::header::Header for ListUnsubscribe {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The wait before attempt `n + 1` of a mail: 1, 2, 4… minutes, at most an hour.
pub fn retry_delay(attempts: i64) -> Duration {
    Duration::minutes(1i64 << attempts.clamp(1, 7).saturating_sub(1)).min(Duration::hours(1))
}

/// Sends the mails due at `now`; returns how many were sent. A failure is retried later with
/// backoff; a mail refused for good [`PERMANENT_TRIES`] times, or failing [`MAX_TRIES`] times,
/// is given up (kept and shown by `borne-platform alerts abandoned`, never sent).
pub async fn deliver(storage: &Storage, mailer: &Mailer, now: DateTime<Utc>) -> Result<usize, StorageError> {
    let mut sent = 0;
    while let Some(mail) = storage.claim_mail(now).await? {
        match mailer.send(&mail).await {
            Ok(()) => {
                storage.mail_sent(mail.id, Utc::now().max(now)).await?;
                sent += 1;
            }
            Err(error) if (error.permanent && mail.attempts >= PERMANENT_TRIES) || mail.attempts >= MAX_TRIES => {
                tracing::error!(mail = mail.id, recipient = %mail.recipient, attempts = mail.attempts,
                    error = %error.message, "alert mail given up");
                storage.mail_abandoned(mail.id, &error.message, now).await?;
            }
            Err(error) => {
                tracing::warn!(mail = mail.id, attempts = mail.attempts, error = %error.message, "alert mail not sent; retried later");
                storage.mail_failed(mail.id, &error.message, now + retry_delay(mail.attempts)).await?;
                if !error.permanent {
                    // The server cannot take mail now: the others wait for the next round. A
                    // refusal of one address does not hold back the mails to the others.
                    break;
                }
            }
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(retry_delay(1), Duration::minutes(1));
        assert_eq!(retry_delay(3), Duration::minutes(4));
        assert_eq!(retry_delay(50), Duration::hours(1));
    }

    #[test]
    fn the_host_is_read_from_the_url() {
        assert_eq!(url_host("smtp://user:pw@mail.example.fr:587?tls=required").as_deref(), Some("mail.example.fr"));
        assert_eq!(url_host("smtps://localhost").as_deref(), Some("localhost"));
        assert_eq!(url_host("mail.example.fr"), None);
    }

    #[test]
    fn rules_can_be_turned_off_one_by_one() {
        let all = OrgRules::default().rules();
        assert_eq!(all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [OFFLINE, PENDING, NEGATIVE, DROP]);
        let quiet = OrgRules { negative_percent: 0.0, drop_points: 0.0, ..OrgRules::default() };
        assert_eq!(quiet.rules().len(), 2);
        assert!(OrgRules { negative_percent: 120.0, ..OrgRules::default() }.check().is_err());
        let parsed: Result<OrgRules, _> = serde_json::from_str(r#"{"offline_hours": 6, "inconnu": 1}"#);
        assert!(parsed.is_err(), "unknown keys are refused");
    }

    /// Summaries over four simulated weeks, hour by hour: one a day from 07:00 for a daily
    /// reader, one each Monday for a weekly one.
    #[test]
    fn summaries_are_due_once_per_period() {
        let mut daily = Subscriber {
            email: "a@b.fr".into(),
            role: crate::storage::console::Role::National,
            organisation: None,
            site: None,
            alerts: true,
            digest: Digest::Daily,
            digest_sent_at: None,
            unsubscribe_token: "t".into(),
        };
        let mut weekly = Subscriber { digest: Digest::Weekly, ..daily.clone() };
        let start: DateTime<Utc> = "2026-03-02T00:30:00Z".parse().unwrap();
        let (mut daily_sent, mut weekly_sent) = (Vec::new(), Vec::new());
        for hour in 0..(28 * 24) {
            let now = start + Duration::hours(hour);
            if digest_due(&daily, now) {
                daily.digest_sent_at = Some(now);
                daily_sent.push(now);
            }
            if digest_due(&weekly, now) {
                weekly.digest_sent_at = Some(now);
                weekly_sent.push(now);
            }
        }
        assert_eq!(daily_sent.len(), 28, "{daily_sent:?}");
        assert!(daily_sent.iter().all(|t| t.with_timezone(&chrono::Local).time().hour() >= DIGEST_HOUR));
        assert_eq!(weekly_sent.len(), 4, "{weekly_sent:?}");
        assert!(weekly_sent.iter().all(|t| t.with_timezone(&chrono::Local).weekday() == chrono::Weekday::Mon));
        let none = Subscriber { digest: Digest::None, ..daily.clone() };
        assert!(!digest_due(&none, start));
        // A year, hour by hour, for a monthly reader: the 1st of each month, from 07:00.
        let mut monthly = Subscriber { digest: Digest::Monthly, ..daily };
        let mut monthly_sent = Vec::new();
        for hour in 0..(366 * 24) {
            let now = start + Duration::hours(hour);
            if digest_due(&monthly, now) {
                monthly.digest_sent_at = Some(now);
                monthly_sent.push(now.with_timezone(&chrono::Local));
            }
        }
        assert_eq!(monthly_sent.len(), 12, "{monthly_sent:?}");
        assert!(monthly_sent.iter().all(|t| t.day() == 1 && t.hour() >= DIGEST_HOUR), "{monthly_sent:?}");
    }

    #[test]
    fn summaries_cover_the_day_the_week_or_the_calendar_month_before() {
        let date = |s: &str| s.parse::<NaiveDate>().unwrap();
        let monday = date("2026-03-02");
        let (from, to, title, period) = summary_period(Digest::Daily, monday).unwrap();
        assert_eq!(
            (from, to, title, period.as_str()),
            (date("2026-03-01"), date("2026-03-01"), "du jour", "le 01/03/2026")
        );
        let (from, to, _, period) = summary_period(Digest::Weekly, monday).unwrap();
        assert_eq!(
            (from, to, period.as_str()),
            (date("2026-02-23"), date("2026-03-01"), "du 23/02/2026 au 01/03/2026")
        );
        let (from, to, title, period) = summary_period(Digest::Monthly, date("2028-03-01")).unwrap();
        assert_eq!(
            (from, to, title, period.as_str()),
            (date("2028-02-01"), date("2028-02-29"), "du mois", "février 2028")
        );
        let (from, to, _, period) = summary_period(Digest::Monthly, date("2027-01-01")).unwrap();
        assert_eq!((from, to, period.as_str()), (date("2026-12-01"), date("2026-12-31"), "décembre 2026"));
        assert!(summary_period(Digest::None, monday).is_none());
    }

    use chrono::Timelike;
}
