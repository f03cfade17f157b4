//! System updates rolled out in rings: a manager picks a release and rings (« 1,10%,100% »: one
//! kiosk, then a tenth, then all); each ring is offered the version (`GET /v1/update`) and must
//! confirm it, every kiosk of it saying in its heartbeat that it runs the version, within the
//! rollout's wait. The rollout halts by itself when a kiosk of the ring gives the version up (a
//! failed trial boot, a bundle refused), when one goes silent after installing it, or when the
//! wait ends with a kiosk that has not confirmed. A halted rollout offers nothing more; a
//! manager resumes it (the ring's wait starts again) or stops it for good.
//!
//! Versions only go forward: a rollout's version is newer (as dpkg orders versions) than every
//! version already rolled out to its scope, and the kiosk refuses anything older or unsigned
//! whatever the platform says (RAUC checks the signature against the image's keyring).
//!
//! Pure decisions on an injected clock (`decide`), and the few reads and writes around them.

use crate::notify::{Links, mails_about};
use crate::storage::alerting::NewMail;
use crate::storage::rollouts::{NewRollout, Release, Rollout, RolloutState, RolloutStep};
use crate::storage::surveys::SurveyScope;
use crate::storage::{Device, Site, Storage, StorageError};
use borne_model::release::{check_bundle_url, check_sha256, check_version, newer};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The rings when the manager names none: one kiosk, then a tenth, then all.
pub const DEFAULT_RINGS: &str = "1,10%,100%";
/// How long a ring has to confirm when the manager says nothing: two nights.
pub const DEFAULT_WAIT_H: i64 = 48;
/// A kiosk that ran the new version and then sent nothing for this long has gone silent.
pub const SILENT_AFTER: Duration = Duration::hours(6);
const MAX_RINGS: usize = 6;

/// One ring's size, counted from the start: a number of kiosks or a share of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingSize {
    Count(usize),
    Percent(u32),
}

/// « 1,10%,100% »: at most six rings, growing, the last one « 100% ».
pub fn parse_rings(text: &str) -> Result<Vec<RingSize>, String> {
    let wrong = || {
        format!(
            "anneaux « {text} » invalides : des nombres de bornes ou des pourcentages croissants, séparés par des \
             virgules, le dernier « 100% » (au plus {MAX_RINGS}), par exemple « {DEFAULT_RINGS} »"
        )
    };
    let mut rings = Vec::new();
    for part in text.split(',').map(str::trim) {
        let ring = match part.strip_suffix('%') {
            Some(p) => RingSize::Percent(p.trim().parse().ok().filter(|p| (1..=100).contains(p)).ok_or_else(wrong)?),
            None => RingSize::Count(part.parse().ok().filter(|n| (1..=100_000).contains(n)).ok_or_else(wrong)?),
        };
        rings.push(ring);
    }
    let growing = rings.windows(2).all(|w| match (w[0], w[1]) {
        (RingSize::Count(a), RingSize::Count(b)) => a < b,
        (RingSize::Percent(a), RingSize::Percent(b)) => a < b,
        _ => true,
    });
    if rings.len() > MAX_RINGS || !growing || rings.last() != Some(&RingSize::Percent(100)) {
        return Err(wrong());
    }
    Ok(rings)
}

/// How many of `n` kiosks each ring reaches, counted from the start: each ring adds at least
/// one kiosk while some are left, and the last reaches all.
pub fn reach(rings: &[RingSize], n: usize) -> Vec<usize> {
    let mut reached = 0;
    rings
        .iter()
        .map(|ring| {
            let wanted = match *ring {
                RingSize::Count(c) => c,
                RingSize::Percent(p) => (n * p as usize).div_ceil(100),
            };
            reached = wanted.max(reached + 1).min(n);
            reached
        })
        .collect()
}

/// Each kiosk's ring: kiosks in an order drawn from the version (each release has its own first
/// kiosk), cut by `reach`.
pub fn assign(version: &str, devices: &[String], rings: &[RingSize]) -> Vec<(String, i64)> {
    let mut order: Vec<(Vec<u8>, &String)> =
        devices.iter().map(|d| (Sha256::digest(format!("{version}/{d}").as_bytes()).to_vec(), d)).collect();
    order.sort();
    let reach = reach(rings, devices.len());
    order
        .into_iter()
        .enumerate()
        .map(|(i, (_, device))| (device.clone(), reach.iter().position(|&r| i < r).unwrap_or(rings.len() - 1) as i64))
        .collect()
}

/// What a kiosk of a rollout is at, as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KioskStep {
    /// Its ring is not reached yet.
    Waiting,
    /// Offered the version, not running it yet.
    Offered,
    /// Runs the version (or a newer one).
    Confirmed,
    /// Gave the version up.
    Failed,
    /// Revoked since the rollout began: not waited for.
    Revoked,
}

impl KioskStep {
    pub fn label(&self) -> &'static str {
        match self {
            KioskStep::Waiting => "pas encore son tour",
            KioskStep::Offered => "proposée, pas encore installée",
            KioskStep::Confirmed => "installée et confirmée",
            KioskStep::Failed => "abandonnée par la borne",
            KioskStep::Revoked => "borne révoquée",
        }
    }
}

/// Where `device` (`None`: unknown now) stands in `rollout`, whose ring it is in.
pub fn kiosk_step(rollout: &Rollout, ring: i64, device: Option<&Device>) -> KioskStep {
    let Some(device) = device.filter(|d| d.revoked_at.is_none()) else { return KioskStep::Revoked };
    let system = device.system.as_ref();
    if system.is_some_and(|s| s.version == rollout.version || newer(&s.version, &rollout.version)) {
        KioskStep::Confirmed
    } else if system.is_some_and(|s| s.rejected.contains(&rollout.version)) {
        KioskStep::Failed
    } else if ring > rollout.ring && rollout.state != RolloutState::Done {
        KioskStep::Waiting
    } else {
        KioskStep::Offered
    }
}

/// What a running rollout does now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Wait,
    /// Its ring confirmed: the next one begins.
    Advance,
    /// Its last ring confirmed.
    Done,
    /// It stops by itself, for this reason (French).
    Halt(String),
}

/// Decides for a running rollout at `now`, from what the kiosks of the rings it reached said:
/// any of them that gave the version up, or went silent after installing it, halts it; the
/// current ring's kiosks must all run it before the wait ends.
pub fn decide(rollout: &Rollout, devices: &HashMap<&str, &Device>, now: DateTime<Utc>) -> Decision {
    let mut unconfirmed = Vec::new();
    for (id, ring) in rollout.members.iter().filter(|(_, ring)| *ring <= rollout.ring) {
        let ring_name = format!("anneau {}", ring + 1);
        let device = devices.get(id.as_str()).copied();
        match kiosk_step(rollout, *ring, device) {
            KioskStep::Revoked | KioskStep::Waiting => {}
            KioskStep::Failed => {
                return Decision::Halt(format!(
                    "{ring_name} : la borne {id} a abandonné la version {} (démarrage d'essai manqué ou paquet refusé)",
                    rollout.version
                ));
            }
            KioskStep::Confirmed => {
                if let Some(seen) = device.and_then(|d| d.last_seen_at).filter(|seen| now - *seen > SILENT_AFTER) {
                    return Decision::Halt(format!(
                        "{ring_name} : la borne {id} ne donne plus signe de vie depuis {} h, après être passée à la version {}",
                        (now - seen).num_hours(),
                        rollout.version
                    ));
                }
            }
            KioskStep::Offered if *ring == rollout.ring => unconfirmed.push(describe(id, device, now)),
            KioskStep::Offered => {}
        }
    }
    let rings = parse_rings(&rollout.rings).map_or(1, |r| r.len()) as i64;
    if unconfirmed.is_empty() {
        return if rollout.ring + 1 >= rings { Decision::Done } else { Decision::Advance };
    }
    if now - rollout.ring_started_at >= Duration::seconds(rollout.wait_s) {
        return Decision::Halt(format!(
            "anneau {} : {} borne(s) sans confirmation après {} h : {}",
            rollout.ring + 1,
            unconfirmed.len(),
            rollout.wait_s / 3600,
            unconfirmed.join(" ; ")
        ));
    }
    Decision::Wait
}

fn describe(id: &str, device: Option<&Device>, now: DateTime<Utc>) -> String {
    let version = device.and_then(|d| d.system.as_ref()).map_or("inconnue", |s| s.version.as_str());
    match device.and_then(|d| d.last_seen_at) {
        Some(seen) => format!("{id} (version {version}, dernier signe de vie il y a {} h)", (now - seen).num_hours()),
        None => format!("{id} (aucun signe de vie)"),
    }
}

/// Decides and applies each running rollout's step; returns what changed. A rollout that halts
/// by itself mails the managers of its kiosks who take alerts (when mails are configured:
/// `links`), with the step, once.
pub async fn tick(
    storage: &Storage,
    links: Option<&Links>,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, Decision)>, StorageError> {
    let rollouts = storage.rollouts().await?;
    if !rollouts.iter().any(|r| r.state == RolloutState::Running) {
        return Ok(Vec::new());
    }
    let devices = storage.devices().await?;
    let by_id: HashMap<&str, &Device> = devices.iter().map(|d| (d.id.as_str(), d)).collect();
    let mut changed = Vec::new();
    for rollout in rollouts.iter().filter(|r| r.state == RolloutState::Running) {
        let decision = decide(rollout, &by_id, now);
        let (state, ring, reason) = match &decision {
            Decision::Wait => continue,
            Decision::Advance => (RolloutState::Running, rollout.ring + 1, None),
            Decision::Done => (RolloutState::Done, rollout.ring, None),
            Decision::Halt(reason) => (RolloutState::Halted, rollout.ring, Some(reason.clone())),
        };
        let mails = match (&decision, links) {
            (Decision::Halt(reason), Some(links)) => halt_mails(storage, rollout, reason, links).await?,
            _ => Vec::new(),
        };
        let step = RolloutStep { from_state: RolloutState::Running, from_ring: rollout.ring, state, ring, reason };
        if storage.step_rollout(rollout.id, step, mails, now).await? {
            match &decision {
                Decision::Halt(reason) => tracing::warn!(rollout = rollout.id, %reason, "rollout halted"),
                other => tracing::info!(rollout = rollout.id, ?other, "rollout step"),
            }
            changed.push((rollout.id, decision));
        }
    }
    Ok(changed)
}

async fn halt_mails(
    storage: &Storage,
    rollout: &Rollout,
    reason: &str,
    links: &Links,
) -> Result<Vec<NewMail>, StorageError> {
    let sites = storage.sites().await?;
    let in_scope: Vec<&Site> = sites
        .iter()
        .filter(|s| match &rollout.scope {
            SurveyScope::Site(site) => &s.id == site,
            SurveyScope::Organisation(org) => s.organisation.as_ref() == Some(org),
        })
        .collect();
    let subject = format!("[Borne] Déploiement {} arrêté : version {}", rollout.id, rollout.version);
    let text = format!(
        "Le déploiement {} de la version {} pour {} s'est arrêté de lui-même : {reason}.\n\nPlus aucune borne ne se voit \
         proposer cette version ; celles qui l'ont installée la gardent. Reprenez-le une fois la cause levée, ou abandonnez-le.",
        rollout.id,
        rollout.version,
        scope_words(&rollout.scope)
    );
    Ok(mails_about(&storage.subscribers().await?, &in_scope, links, &subject, &text, "mises-a-jour"))
}

/// A rollout a manager asks for.
#[derive(Debug, Clone)]
pub struct Request {
    pub scope: SurveyScope,
    pub version: String,
    pub rings: String,
    pub wait_h: i64,
    pub by: String,
}

/// Whether two scopes share a kiosk.
fn overlap(a: &SurveyScope, b: &SurveyScope, sites: &[Site]) -> bool {
    let org_of = |site: &str| sites.iter().find(|s| s.id == site).and_then(|s| s.organisation.clone());
    match (a, b) {
        (SurveyScope::Organisation(x), SurveyScope::Organisation(y)) | (SurveyScope::Site(x), SurveyScope::Site(y)) => {
            x == y
        }
        (SurveyScope::Organisation(org), SurveyScope::Site(site))
        | (SurveyScope::Site(site), SurveyScope::Organisation(org)) => org_of(site).as_deref() == Some(org),
    }
}

/// The kiosks (not revoked) of a scope, by id.
pub fn kiosks_of(scope: &SurveyScope, sites: &[Site], devices: &[Device]) -> Vec<String> {
    devices
        .iter()
        .filter(|d| d.revoked_at.is_none())
        .filter(|d| {
            d.site_id.as_deref().is_some_and(|site| match scope {
                SurveyScope::Site(s) => s == site,
                SurveyScope::Organisation(org) => {
                    sites.iter().any(|s| s.id == site && s.organisation.as_deref() == Some(org.as_str()))
                }
            })
        })
        .map(|d| d.id.clone())
        .collect()
}

/// Begins a rollout once checked: a known release and scope, rings that parse, a wait of 1 h to
/// 30 days, at least one kiosk, no other rollout running or halted on a scope that shares a
/// kiosk, and a version newer than every one already rolled out there. Returns its id.
pub async fn start(storage: &Storage, request: Request, now: DateTime<Utc>) -> Result<i64, StorageError> {
    let refuse = |m: String| Err(StorageError::Refused(m));
    let rings = parse_rings(&request.rings).map_err(StorageError::Refused)?;
    if !(1..=720).contains(&request.wait_h) {
        return refuse("le délai d'un anneau est de 1 à 720 heures".into());
    }
    if !storage.releases().await?.iter().any(|r| r.version == request.version) {
        return refuse(format!(
            "version {} inconnue : enregistrez d'abord son paquet (borne-platform release add)",
            request.version
        ));
    }
    let sites = storage.sites().await?;
    let known = match &request.scope {
        SurveyScope::Site(site) => sites.iter().any(|s| &s.id == site),
        SurveyScope::Organisation(org) => sites.iter().any(|s| s.organisation.as_deref() == Some(org.as_str())),
    };
    if !known {
        return refuse(format!("{} inconnu ou sans site", scope_words(&request.scope)));
    }
    for other in storage.rollouts().await?.iter().filter(|r| overlap(&r.scope, &request.scope, &sites)) {
        match other.state {
            RolloutState::Running | RolloutState::Halted => {
                return refuse(format!(
                    "le déploiement {} de la version {} ({}) touche déjà ces bornes : reprenez-le ou abandonnez-le d'abord",
                    other.id,
                    other.version,
                    other.state.label()
                ));
            }
            RolloutState::Done if !newer(&request.version, &other.version) => {
                return refuse(format!(
                    "la version {} n'est pas plus récente que la {} déjà déployée (déploiement {}) : une mise à jour ne \
                     revient jamais en arrière",
                    request.version, other.version, other.id
                ));
            }
            _ => {}
        }
    }
    let kiosks = kiosks_of(&request.scope, &sites, &storage.devices().await?);
    if kiosks.is_empty() {
        return refuse(format!("aucune borne en service dans {}", scope_words(&request.scope)));
    }
    let members = assign(&request.version, &kiosks, &rings);
    let rollout = NewRollout {
        scope: request.scope,
        version: request.version,
        rings: request.rings.split(',').map(str::trim).collect::<Vec<_>>().join(","),
        wait_s: request.wait_h * 3600,
        by: request.by,
        members,
    };
    storage.start_rollout(rollout, now).await
}

/// « le réseau X » or « le site Y ».
pub fn scope_words(scope: &SurveyScope) -> String {
    match scope {
        SurveyScope::Organisation(org) => format!("le réseau « {org} »"),
        SurveyScope::Site(site) => format!("le site « {site} »"),
    }
}

/// What a manager may do to a rollout by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A running rollout stops offering the version.
    Halt,
    /// A halted rollout runs again; its ring's wait starts again.
    Resume,
    /// A running or halted rollout ends for good.
    Stop,
}

impl Action {
    /// What the action did, as a person reads it: « arrêté », « repris », « abandonné ».
    pub fn done_words(self) -> &'static str {
        match self {
            Action::Halt => "arrêté",
            Action::Resume => "repris",
            Action::Stop => "abandonné",
        }
    }
}

/// The rollout numbered `id`.
pub async fn find(storage: &Storage, id: i64) -> Result<Rollout, StorageError> {
    let rollouts = storage.rollouts().await?;
    rollouts.into_iter().find(|r| r.id == id).ok_or_else(|| StorageError::Refused(format!("déploiement {id} inconnu")))
}

/// Applies a manager's action to `rollout` as it was read; the error says why it cannot be.
pub async fn act(
    storage: &Storage,
    rollout: &Rollout,
    action: Action,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    let id = rollout.id;
    let allowed = match action {
        Action::Halt => rollout.state == RolloutState::Running,
        Action::Resume => rollout.state == RolloutState::Halted,
        Action::Stop => matches!(rollout.state, RolloutState::Running | RolloutState::Halted),
    };
    if !allowed {
        return Err(StorageError::Refused(format!("le déploiement {id} est {}", rollout.state.label())));
    }
    let state = match action {
        Action::Halt => RolloutState::Halted,
        Action::Resume => RolloutState::Running,
        Action::Stop => RolloutState::Stopped,
    };
    let reason = Some(format!("{} par {by}", action.done_words()));
    let step = RolloutStep { from_state: rollout.state, from_ring: rollout.ring, state, ring: rollout.ring, reason };
    if storage.step_rollout(id, step, Vec::new(), now).await? {
        Ok(())
    } else {
        Err(StorageError::Refused(format!("le déploiement {id} vient de changer : rechargez et recommencez")))
    }
}

/// A release as the manager registers it: the bundle's address, digest and size, once checked.
pub fn release(
    version: &str,
    bundle_url: &str,
    sha256: &str,
    size: u64,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Release, String> {
    check_version(version)?;
    check_bundle_url(bundle_url)?;
    check_sha256(sha256)?;
    if size == 0 || size > i64::MAX as u64 {
        return Err("taille de paquet invalide".into());
    }
    Ok(Release {
        version: version.to_string(),
        bundle_url: bundle_url.to_string(),
        sha256: sha256.to_ascii_lowercase(),
        size: size as i64,
        added_by: by.to_string(),
        added_at: now,
    })
}

/// Whether `file` looks like a signed RAUC bundle: a SquashFS image followed by a CMS
/// signature (DER) and its size on 8 bytes. The kiosk verifies the signature itself against
/// its keyring; this refuses early the file that is no bundle at all.
pub fn check_bundle_file(head: &[u8], tail: &[u8], len: u64) -> Result<(), String> {
    let signature = tail.get(tail.len().saturating_sub(8)..).and_then(|b| <[u8; 8]>::try_from(b).ok());
    let signature_size = signature.map(u64::from_be_bytes).unwrap_or(0);
    if !head.starts_with(b"hsqs") {
        return Err("ce fichier n'est pas un paquet RAUC (pas d'image SquashFS au début)".into());
    }
    if signature_size == 0 || signature_size + 8 + 4 > len {
        return Err("ce paquet RAUC n'est pas signé (pas de signature CMS à la fin)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_grow_and_end_with_everyone() {
        assert_eq!(
            parse_rings("1, 10%,100%").unwrap(),
            [RingSize::Count(1), RingSize::Percent(10), RingSize::Percent(100)]
        );
        for bad in ["", "10%,1", "1,10%", "0,100%", "1,1,100%", "1,101%", "un,100%", "1,2,3,4,5,6,100%"] {
            assert!(parse_rings(bad).is_err(), "{bad}");
        }
        let rings = parse_rings(DEFAULT_RINGS).unwrap();
        assert_eq!(reach(&rings, 500), [1, 50, 500]);
        assert_eq!(reach(&rings, 3), [1, 2, 3], "each ring adds a kiosk");
        assert_eq!(reach(&rings, 1), [1, 1, 1]);
    }

    #[test]
    fn each_kiosk_is_in_one_ring_drawn_from_the_version() {
        let devices: Vec<String> = (0..40).map(|n| format!("borne-{n:02}")).collect();
        let rings = parse_rings(DEFAULT_RINGS).unwrap();
        let a = assign("0.3.0", &devices, &rings);
        let count = |ring| a.iter().filter(|(_, r)| *r == ring).count();
        assert_eq!((count(0), count(1), count(2)), (1, 3, 36));
        let first = |v| assign(v, &devices, &rings).into_iter().find(|(_, r)| *r == 0).unwrap().0;
        assert_ne!(first("0.3.0"), first("0.4.0"), "another release, another first kiosk");
    }

    #[test]
    fn a_bundle_is_a_squashfs_image_with_a_signature() {
        let mut bundle = b"hsqs".to_vec();
        bundle.extend([0u8; 100]);
        bundle.extend([0x30, 0x82, 0, 4, 1, 2, 3, 4]);
        bundle.extend(8u64.to_be_bytes());
        let len = bundle.len() as u64;
        assert!(check_bundle_file(&bundle[..16], &bundle[bundle.len() - 16..], len).is_ok());
        let unsigned = [&bundle[..104], &0u64.to_be_bytes()[..]].concat();
        assert!(check_bundle_file(&unsigned[..16], &unsigned[96..], 112).is_err());
        assert!(check_bundle_file(b"PK\x03\x04", &bundle[bundle.len() - 16..], len).is_err());
    }
}
