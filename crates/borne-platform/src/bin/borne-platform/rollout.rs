//! `borne-platform release` and `borne-platform rollout`: the system versions a network's kiosks
//! may install, and their rollouts ring by ring (contract 1.2, `GET /v1/update`).

use crate::args::{ReleaseCommand, RolloutCommand};
use crate::survey::{author, scope};
use borne_platform::rollout::{self, Action, KioskStep, Request};
use borne_platform::storage::Storage;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};

pub(crate) async fn release(storage: &Storage, command: ReleaseCommand) -> Result<(), String> {
    match command {
        ReleaseCommand::Add { file, version, url, auteur } => {
            let (sha256, size) = digest(&file)?;
            let release = rollout::release(&version, &url, &sha256, size, &author(auteur), chrono::Utc::now())?;
            storage.add_release(release).await.map_err(|e| e.to_string())?;
            println!("version {version} enregistrée : {size} octets, sha256 {sha256}");
        }
        ReleaseCommand::List => {
            let releases = storage.releases().await.map_err(|e| e.to_string())?;
            if releases.is_empty() {
                println!("aucune version enregistrée");
            }
            for r in releases {
                let at = r.added_at.format("%d/%m/%Y %H:%M UTC");
                println!("{}\t{}\t{} octets\t{at}\t{}", r.version, r.bundle_url, r.size, r.added_by);
            }
        }
    }
    Ok(())
}

/// The bundle's SHA-256 and size, once it looks like a signed RAUC bundle.
fn digest(file: &std::path::Path) -> Result<(String, u64), String> {
    use sha2::{Digest, Sha256};
    let unreadable = |e: std::io::Error| format!("{} : impossible de lire le paquet ({e})", file.display());
    let mut f = std::fs::File::open(file).map_err(unreadable)?;
    let len = f.metadata().map_err(unreadable)?.len();
    let mut head = [0u8; 4];
    let mut tail = [0u8; 8];
    if len >= 12 {
        f.read_exact(&mut head).map_err(unreadable)?;
        f.seek(SeekFrom::End(-8)).map_err(unreadable)?;
        f.read_exact(&mut tail).map_err(unreadable)?;
    }
    rollout::check_bundle_file(&head, &tail, len).map_err(|e| format!("{} : {e}", file.display()))?;
    f.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buffer).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok((hex::encode(hasher.finalize()), len))
}

pub(crate) async fn rollout(storage: &Storage, command: RolloutCommand) -> Result<(), String> {
    let now = chrono::Utc::now();
    let (id, action, by) = match command {
        RolloutCommand::Start { target, version, anneaux, delai_h, auteur } => {
            let request =
                Request { scope: scope(target), version, rings: anneaux, wait_h: delai_h, by: author(auteur) };
            let id = rollout::start(storage, request, now).await.map_err(|e| e.to_string())?;
            println!("déploiement commencé : le premier anneau se voit proposer la version à sa prochaine demande :");
            println!("{id}");
            return Ok(());
        }
        RolloutCommand::List { json } => return list(storage, json).await,
        RolloutCommand::Halt { id, auteur } => (id, Action::Halt, auteur),
        RolloutCommand::Resume { id, auteur } => (id, Action::Resume, auteur),
        RolloutCommand::Stop { id, auteur } => (id, Action::Stop, auteur),
    };
    let found = rollout::find(storage, id).await.map_err(|e| e.to_string())?;
    rollout::act(storage, &found, action, &author(by), now).await.map_err(|e| e.to_string())?;
    println!("déploiement {id} : {}", action.done_words());
    Ok(())
}

async fn list(storage: &Storage, json: bool) -> Result<(), String> {
    let rollouts = storage.rollouts().await.map_err(|e| e.to_string())?;
    let devices = storage.devices().await.map_err(|e| e.to_string())?;
    let by_id: HashMap<&str, _> = devices.iter().map(|d| (d.id.as_str(), d)).collect();
    let mut out = Vec::new();
    for r in &rollouts {
        let kiosks: Vec<_> = r
            .members
            .iter()
            .map(|(id, ring)| {
                let device = by_id.get(id.as_str()).copied();
                let step = rollout::kiosk_step(r, *ring, device);
                let version = device.and_then(|d| d.system.as_ref()).map(|s| s.version.clone());
                (id, ring + 1, version, step)
            })
            .collect();
        if json {
            out.push(serde_json::json!({
                "id": r.id, "version": r.version, "scope": rollout::scope_words(&r.scope), "state": r.state.as_str(),
                "ring": r.ring + 1, "rings": r.rings, "reason": r.reason,
                "kiosks": kiosks.iter().map(|(id, ring, version, step)| serde_json::json!({
                    "device_id": id, "ring": ring, "system_version": version,
                    "confirmed": *step == KioskStep::Confirmed, "state": step.label(),
                })).collect::<Vec<_>>(),
            }));
            continue;
        }
        println!(
            "déploiement {} : version {} pour {}, {} (anneau {} sur « {} »){}",
            r.id,
            r.version,
            rollout::scope_words(&r.scope),
            r.state.label(),
            r.ring + 1,
            r.rings,
            r.reason.as_ref().map(|m| format!(" — {m}")).unwrap_or_default()
        );
        for (id, ring, version, step) in kiosks {
            println!("  {id}\tanneau {ring}\tversion {}\t{}", version.as_deref().unwrap_or("inconnue"), step.label());
        }
    }
    if json {
        println!("{}", serde_json::Value::Array(out));
    } else if rollouts.is_empty() {
        println!("aucun déploiement");
    }
    Ok(())
}
