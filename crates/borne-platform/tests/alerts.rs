//! Alert and summary mails, delivered to a real SMTP server (Debian's aiosmtpd, STARTTLS with a
//! certificate authority made by the test) by the platform's own code, driven by an injected
//! clock over eight simulated days: a kiosk goes silent and comes back, a site's « Pas bien »
//! share rises and falls, the mail server is down for a while, a manager unsubscribes.

mod support;

use borne_model::wire::Heartbeat;
use borne_platform::notify::{self, Links, Mailer};
use borne_platform::storage::alerting::Digest;
use borne_platform::storage::console::{Account, Role};
use borne_platform::storage::{Site, Storage, Target};
use borne_testkit::Scratch;
use chrono::{DateTime, Duration, Utc};
use support::batch_body;
use support::smtp::{Mail, certificates, mailbox, smtp_server};

mod alert_mails_follow_incidents_and_summaries_over_a_week {
    #[test]
    #[ignore = "needs Debian's python3-aiosmtpd (an SMTP server): .ci/run installs it"]
    fn sqlite() {
        super::alert_mails_follow_incidents_and_summaries_over_a_week(false)
    }

    #[test]
    #[ignore = "needs Debian's python3-aiosmtpd and PostgreSQL's server programs: .ci/run installs them"]
    fn postgres() {
        super::alert_mails_follow_incidents_and_summaries_over_a_week(true)
    }
}

fn heartbeat(device: &str) -> Heartbeat {
    serde_json::from_value(serde_json::json!({"device_id": device, "app_version": "borne/1.0.0", "pending": 0}))
        .unwrap()
}

/// `n` reviews answered `item` at `at` (the kiosk's local time in Paris), stored as the
/// platform stores a batch.
async fn reviews(storage: &Storage, device: &str, site: &str, item: i64, n: usize, at: DateTime<Utc>) {
    let local = at.with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap()).to_rfc3339();
    let reviews: Vec<(String, &str, i64, &str)> =
        (0..n).map(|_| (uuid::Uuid::now_v7().to_string(), local.as_str(), item, "")).collect();
    let body = batch_body(device, (1, 2, 3), &reviews);
    let key: serde_json::Value = serde_json::from_str(&body).unwrap();
    let batch = borne_platform::validate::parse_batch(body.as_bytes(), key["batch_id"].as_str().unwrap()).unwrap();
    storage.store_batch(&batch, Some(site), "hash", at).await.unwrap();
}

fn alert_mails_follow_incidents_and_summaries_over_a_week(postgres: bool) {
    let dir = Scratch::new("alerts");
    let (cert, key, ca_pem) = certificates(dir.path());
    let maildir = dir.path().join("maildir");
    let port = borne_testkit::free_port();
    let mut smtp = smtp_server(port, &cert, &key, &maildir);
    let cluster = postgres.then(borne_testkit::pg::PgCluster::for_test);
    let target = match &cluster {
        Some(cluster) => Target::Postgres { url: cluster.database("alerts"), pool_size: 4 },
        None => Target::Sqlite(dir.path().join("platform.db")),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    runtime.block_on(async {
        let storage = Storage::open(&target).await.unwrap();
        let site = |id: &str, name: &str| Site {
            id: id.into(),
            name: name.into(),
            organisation: Some("pref-61".into()),
            product_id: None,
            form_id: None,
            button_id: None,
            time_zone: "Europe/Paris".into(),
        };
        storage.add_site(&site("mortagne", "Sous-préfecture de Mortagne-au-Perche")).await.unwrap();
        storage.add_site(&site("alencon", "Préfecture de l'Orne, Alençon")).await.unwrap();
        storage.add_device("borne-mortagne", "mortagne").await.unwrap();
        storage.add_device("borne-alencon", "alencon").await.unwrap();
        storage.add_site(&site("argentan", "Sous-préfecture d'Argentan")).await.unwrap();
        storage.add_device("borne-argentan", "argentan").await.unwrap();
        let account = |email: &str, role, organisation: Option<&str>, site: Option<&str>| Account {
            id: email.into(),
            name: "Responsable".into(),
            role,
            organisation: organisation.map(String::from),
            site: site.map(String::from),
            password_hash: None,
            oidc_subject: None,
            disabled: false,
        };
        storage.add_account(account("anne@orne.gouv.fr", Role::Network, Some("pref-61"), None)).await.unwrap();
        storage.add_account(account("sam@orne.gouv.fr", Role::Site, None, Some("mortagne"))).await.unwrap();
        storage.add_account(account("nadia@interieur.gouv.fr", Role::National, None, None)).await.unwrap();
        // Alençon's former manager: the mail server refuses her address for good.
        storage.add_account(account("parti@orne.gouv.fr", Role::Site, None, Some("alencon"))).await.unwrap();
        storage.set_digest("anne@orne.gouv.fr", Digest::Daily).await.unwrap();
        // By default a national account, whose scope is every site, gets no summary; a site's
        // or a network's manager gets a weekly one.
        let digest_of = |who: &str, subscribers: &[borne_platform::storage::alerting::Subscriber]| {
            subscribers.iter().find(|s| s.email == who).map(|s| s.digest)
        };
        let subscribers = storage.subscribers().await.unwrap();
        assert_eq!(digest_of("nadia@interieur.gouv.fr", &subscribers), Some(Digest::None));
        assert_eq!(digest_of("sam@orne.gouv.fr", &subscribers), Some(Digest::Weekly));
        let rules = notify::OrgRules { offline_hours: 6, ..Default::default() };
        storage.set_alert_rules("pref-61", &serde_json::to_string(&rules).unwrap()).await.unwrap();

        let mailer =
            Mailer::new(&format!("smtp://localhost:{port}"), "Borne <alertes@borne.test>", Some(&ca_pem)).unwrap();
        let links = Links { public_url: "https://borne.exemple.gouv.fr".into() };
        // Monday 2 March 2026, noon; five-minute steps for eight days.
        let t0: DateTime<Utc> = "2026-03-02T12:00:00Z".parse().unwrap();
        let day = |d: i64, h: i64| t0 + Duration::days(d) + Duration::hours(h);
        let silent = (day(1, -4), day(1, 14)); // 18 hours without a heartbeat
        let smtp_down = (day(3, 0), day(3, 6));
        let mut delivered_during_outage = 0;
        let mut now = t0;
        while now < day(8, 0) {
            if !(now >= silent.0 && now < silent.1) {
                storage.store_heartbeat(&heartbeat("borne-mortagne"), now).await.unwrap();
            }
            storage.store_heartbeat(&heartbeat("borne-alencon"), now).await.unwrap();
            // Argentan's kiosk is silent from Saturday; on Sunday it is revoked (stolen,
            // replaced): its incident resolves, it is not left open for ever.
            if now < day(5, 0) {
                storage.store_heartbeat(&heartbeat("borne-argentan"), now).await.unwrap();
            }
            if now == day(6, 0) {
                storage.revoke_device("borne-argentan").await.unwrap();
            }
            if now == day(2, 12) {
                // Thirty « Pas bien » at Alençon: above 30 % over seven days, from 20 reviews.
                reviews(&storage, "borne-alencon", "alencon", 1, 30, now).await;
            }
            if now == day(4, 12) {
                // A hundred « Très bien »: 23 %, under the threshold.
                reviews(&storage, "borne-alencon", "alencon", 3, 100, now).await;
            }
            if now == smtp_down.0 {
                smtp.stop();
            }
            if now == smtp_down.1 {
                smtp = smtp_server(port, &cert, &key, &maildir);
            }
            assert!(notify::tick(&storage, "instance-a", Some(&links), now).await.unwrap());
            // A second instance in the same minute finds the round taken.
            assert!(!notify::tick(&storage, "instance-b", Some(&links), now + Duration::seconds(20)).await.unwrap());
            let sent = notify::deliver(&storage, &mailer, now).await.unwrap();
            if now >= smtp_down.0 && now < smtp_down.1 {
                delivered_during_outage += sent;
            }
            now += Duration::minutes(5);
        }
        assert_eq!(delivered_during_outage, 0, "the mail server was down");

        let mails = mailbox(&maildir);
        let to = |who: &str| mails.iter().filter(|m| m.to.contains(who)).collect::<Vec<_>>();
        let subjects = |who: &str| to(who).iter().map(|m| m.subject.clone()).collect::<Vec<_>>();
        let incidents = |who: &str| subjects(who).into_iter().filter(|s| !s.contains("Résumé")).collect::<Vec<_>>();
        assert_eq!(
            incidents("anne@"),
            [
                "[Borne] Incident : borne hors ligne — Sous-préfecture de Mortagne-au-Perche",
                "[Borne] Résolu : borne hors ligne — Sous-préfecture de Mortagne-au-Perche",
                "[Borne] Incident : part de « Pas bien » élevée — Préfecture de l'Orne, Alençon",
                "[Borne] Résolu : part de « Pas bien » élevée — Préfecture de l'Orne, Alençon",
                "[Borne] Incident : borne hors ligne — Sous-préfecture d'Argentan",
                "[Borne] Résolu : borne hors ligne — Sous-préfecture d'Argentan",
            ],
            "{:#?}",
            subjects("anne@")
        );
        let argentan = storage.incidents(&["argentan".to_string()], 10).await.unwrap();
        assert_eq!(argentan.len(), 1, "{argentan:?}");
        assert_eq!(argentan[0].resolved_at, Some(day(6, 0)), "resolved when the kiosk was revoked");
        // The refused address: each of its mails tried three times, then given up and shown;
        // the other managers' mails were not held back (Anne's above all arrived).
        assert!(to("parti@").is_empty());
        let abandoned = storage.abandoned_mails(100).await.unwrap();
        assert!(!abandoned.is_empty());
        for mail in &abandoned {
            assert_eq!((mail.recipient.as_str(), mail.attempts), ("parti@orne.gouv.fr", notify::PERMANENT_TRIES));
            assert!(mail.last_error.as_deref().is_some_and(|e| e.contains("550")), "{mail:?}");
        }
        let to_parti = abandoned.iter().filter(|m| m.subject.contains("Alençon")).count();
        assert_eq!(to_parti, 2, "the incident at Alençon and its resolution: {abandoned:#?}");
        assert_eq!(
            incidents("sam@"),
            [
                "[Borne] Incident : borne hors ligne — Sous-préfecture de Mortagne-au-Perche",
                "[Borne] Résolu : borne hors ligne — Sous-préfecture de Mortagne-au-Perche",
            ],
            "a site's manager hears of their site only"
        );
        assert!(to("nadia@").is_empty(), "national administrators read the console");
        // The incident mail says what, where and since when; the unsubscribe link is in the
        // text and in the header.
        let opened = to("anne@").into_iter().find(|m| m.subject.contains("Incident : borne hors ligne")).unwrap();
        assert!(opened.body.contains("borne borne-mortagne"), "{}", opened.body);
        assert!(opened.body.contains("aucun signe de vie depuis 6 h"), "{}", opened.body);
        let link = opened.body.lines().find(|l| l.contains("/console/desabonnement/")).unwrap();
        let token = link.rsplit('/').next().unwrap().trim().to_string();
        // (a long header is folded onto the next line: the value is what follows the fold)
        assert_eq!(
            opened.list_unsubscribe.as_deref().map(str::trim),
            Some(format!("<https://borne.exemple.gouv.fr/console/desabonnement/{token}>").as_str())
        );
        // Summaries: one a day from 07:00 for Anne (nine mornings from Monday noon to the next
        // Tuesday noon… the last tick is Tuesday 11:55), one each Monday for Sam.
        let digests = |who: &str| subjects(who).into_iter().filter(|s| s.contains("Résumé")).count();
        assert_eq!(digests("anne@"), 9, "{:#?}", subjects("anne@"));
        assert_eq!(digests("sam@"), 2, "{:#?}", subjects("sam@"));
        let weekly = to("sam@").into_iter().rfind(|m| m.subject.contains("Résumé de la semaine")).unwrap();
        assert!(weekly.body.contains("Sous-préfecture de Mortagne-au-Perche : 0 avis"), "{}", weekly.body);
        assert!(!weekly.body.contains("Alençon"), "a site's summary is about its site: {}", weekly.body);
        let daily = to("anne@").into_iter().find(|m| m.subject.contains("Résumé du jour — le 05/03/2026")).unwrap();
        assert!(
            daily.body.contains("Préfecture de l'Orne, Alençon : 30 avis (0 Très bien, 0 Moyen, 30 Pas bien"),
            "{}",
            daily.body
        );
        // Exactly once each, though the server was down when some were decided.
        let mut all: Vec<(String, String, String)> =
            mails.iter().map(|m| (m.to.clone(), m.subject.clone(), m.body.clone())).collect();
        let before = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), before, "no mail twice");

        // The incidents are kept, by site, with their opening and resolution.
        let alencon = storage.incidents(&["alencon".to_string()], 10).await.unwrap();
        assert_eq!(alencon.len(), 1, "{alencon:?}");
        assert_eq!((alencon[0].rule.as_str(), alencon[0].scope_kind.as_str()), ("pas-bien", "site"));
        assert!(alencon[0].opened_at > day(2, 12) && alencon[0].resolved_at.is_some_and(|r| r > day(4, 12)));
        let mortagne = storage.incidents(&["mortagne".to_string()], 10).await.unwrap();
        assert_eq!(mortagne.len(), 1, "{mortagne:?}");
        assert_eq!(mortagne[0].opened_at, silent.0 + Duration::hours(6) + Duration::minutes(5));
        // Anne unsubscribes; the kiosk goes silent again: Sam is told, Anne is not.
        assert_eq!(storage.unsubscribe_account(&token).await.unwrap().as_deref(), Some("anne@orne.gouv.fr"));
        assert!(storage.unsubscribe(&token).await.unwrap());
        let count = mails.len();
        let mut now = day(8, 0);
        while now < day(9, 0) {
            if now < day(8, 2) {
                storage.store_heartbeat(&heartbeat("borne-mortagne"), now).await.unwrap();
            }
            storage.store_heartbeat(&heartbeat("borne-alencon"), now).await.unwrap();
            notify::tick(&storage, "instance-a", Some(&links), now).await.unwrap();
            notify::deliver(&storage, &mailer, now).await.unwrap();
            now += Duration::minutes(5);
        }
        let mails = mailbox(&maildir);
        let new: Vec<&Mail> = mails[count..].iter().collect();
        assert!(new.iter().all(|m| !m.to.contains("anne@")), "{new:#?}");
        assert!(
            new.iter().any(|m| m.to.contains("sam@") && m.subject.contains("Incident : borne hors ligne")),
            "{new:#?}"
        );
    });
    drop(smtp);
}
