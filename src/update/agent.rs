//! The update agent, run as root by the image's units: `borne update run` (a timer, every half
//! hour: installs a new version when `should_install` says so, then reboots into it once) and
//! `borne update confirm` (at every boot: keeps the new version once the kiosk is READY and has
//! committed a probe, else goes back). RAUC checks the bundle's signature and writes the other
//! slot; the image's `borne-boot-slots` is RAUC's bootloader backend (autoboot.txt, tryboot).

use super::{AfterBoot, Manifest, Slot, State, after_boot, should_install};
use crate::app::App;
use crate::config::{UpdateConfig, UpdateSource};
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where the agent keeps its state and downloads: the data partition, which no update writes.
pub const STATE_DIR: &str = "/var/lib/borne-data/update";
/// The version of the running system, written into the image when it is built.
pub const RELEASE_FILE: &str = "/etc/borne-release";
const BOOT_SLOTS: &str = "/usr/local/sbin/borne-boot-slots";
/// borne.service's StateDirectory, where the probe is committed.
const KIOSK_DATA_DIR: &str = "/var/lib/borne";

fn update_config(app: &App) -> Result<&UpdateConfig> {
    app.config.update.as_ref().context("les mises à jour sont désactivées (update.enabled = false)")
}

pub fn load_state(dir: &Path) -> Result<State> {
    let path = dir.join("state.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("{} illisible", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(e).with_context(|| format!("{} illisible", path.display())),
    }
}

/// Written to a temporary file, synced, then renamed: a power cut leaves the old or the new.
pub fn save_state(dir: &Path, state: &State) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{} impossible à créer", dir.display()))?;
    let tmp = dir.join("state.json.tmp");
    let mut file = std::fs::File::create(&tmp).with_context(|| format!("{} impossible à écrire", tmp.display()))?;
    file.write_all(&serde_json::to_vec_pretty(state)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join("state.json"))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// What the kiosk says of its system in a heartbeat (contract 1.2): the running version and
/// the agent's state. `None` off the Borne image (no release file).
pub fn system_state(release_file: &Path, dir: &Path) -> Option<borne_model::release::SystemState> {
    use borne_model::release::{MAX_REJECTED, SystemState, check_version};
    let version = std::fs::read_to_string(release_file).ok()?.trim().to_string();
    check_version(&version).ok()?;
    // The agent writes its state as root; an unreadable one says nothing more.
    let state = load_state(dir).unwrap_or_default();
    let mut rejected: Vec<String> = state.rejected.into_iter().filter(|v| check_version(v).is_ok()).collect();
    rejected.drain(..rejected.len().saturating_sub(MAX_REJECTED));
    Some(SystemState {
        version,
        pending: state.pending.map(|p| p.version).filter(|v| check_version(v).is_ok()),
        rejected,
    })
}

fn running_version() -> Result<String> {
    let text = std::fs::read_to_string(RELEASE_FILE)
        .with_context(|| format!("{RELEASE_FILE} absent : ce système n'est pas une image Borne à deux emplacements"))?;
    Ok(text.trim().to_string())
}

fn booted_slot() -> Result<Slot> {
    let cmdline = std::fs::read_to_string("/proc/cmdline").context("/proc/cmdline illisible")?;
    Slot::booted(&cmdline).context("pas de rauc.slot= sur la ligne de commande du noyau : emplacement inconnu")
}

fn run_checked(command: &mut Command) -> Result<String> {
    let shown = format!("{command:?}");
    let output = command.output().with_context(|| format!("{shown} n'a pas pu être lancé"))?;
    let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("{shown} a échoué ({}) : {}", output.status, text.trim());
    }
    Ok(text)
}

/// `borne update run`.
pub fn run(app: &App, dir: &Path, out: &mut dyn Write) -> Result<()> {
    let config = update_config(app)?;
    let running = running_version()?;
    let mut state = load_state(dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = client(app.config.upload.as_ref().and_then(|u| u.ca_file.as_deref()))?;
    let Some((manifest, base)) = runtime.block_on(offered(&client, app, config))? else {
        writeln!(out, "la plateforme ne propose aucune version à cette borne (en service : {running})")?;
        return Ok(());
    };
    let now = chrono::Local::now().naive_local();
    match should_install(&manifest.version, &running, &state, now, config, &app.config.hardware.behaviour.hours) {
        Ok(()) => {}
        Err(wait @ super::Wait::Older { .. }) => {
            tracing::warn!(offered = %manifest.version, %running, "update refused: {wait}");
            writeln!(out, "version proposée {} (en service : {running}) refusée : {wait}", manifest.version)?;
            return Ok(());
        }
        Err(wait) => {
            writeln!(out, "version proposée {} (en service : {running}) : rien à faire, {wait}", manifest.version)?;
            return Ok(());
        }
    }
    writeln!(out, "installation de la version {} (en service : {running})", manifest.version)?;
    let bundle = runtime.block_on(download(&client, &manifest.bundle_url(&base), &manifest, dir))?;
    // The version that counts is the one RAUC reads from the signed bundle, not the manifest's.
    if let Err(refusal) = signed_version(&bundle).and_then(|signed| {
        check_signed(&signed, &manifest.version, &state.newest(&running)).map_err(anyhow::Error::msg)
    }) {
        let _ = std::fs::remove_file(&bundle);
        state.rejected.push(manifest.version.clone());
        save_state(dir, &state)?;
        tracing::warn!(offered = %manifest.version, %refusal, "update refused");
        writeln!(out, "version {} refusée : {refusal:#}", manifest.version)?;
        return Err(refusal.context(format!("version {} refusée", manifest.version)));
    }
    let target = booted_slot()?.other();
    let installed = run_checked(Command::new("rauc").arg("install").arg(&bundle));
    let _ = std::fs::remove_file(&bundle);
    if let Err(error) = installed {
        // A bundle RAUC refuses (signature, compatibility) is not retried every half hour.
        state.rejected.push(manifest.version.clone());
        save_state(dir, &state)?;
        return Err(error.context(format!("version {} refusée par RAUC", manifest.version)));
    }
    state.pending = Some(super::Pending { version: manifest.version.clone(), slot: target });
    save_state(dir, &state)?;
    writeln!(out, "version {} écrite dans l'emplacement {} ; redémarrage d'essai", manifest.version, target.name())?;
    out.flush()?;
    run_checked(Command::new(BOOT_SLOTS).arg("reboot-pending"))?;
    Ok(())
}

/// `borne update check`: the version offered to this kiosk now, and whether `run` would install
/// it now; nothing is downloaded nor installed.
pub fn check(app: &App, dir: &Path, out: &mut dyn Write) -> Result<()> {
    let config = update_config(app)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = client(app.config.upload.as_ref().and_then(|u| u.ca_file.as_deref()))?;
    let Some((manifest, base)) = runtime.block_on(offered(&client, app, config))? else {
        writeln!(out, "aucune version proposée à cette borne")?;
        return Ok(());
    };
    writeln!(
        out,
        "version proposée : {} ({} octets, {})",
        manifest.version,
        manifest.size,
        manifest.bundle_url(&base)
    )?;
    let Ok(running) = running_version() else {
        writeln!(
            out,
            "système en service inconnu ({RELEASE_FILE} absent : pas une image Borne) : rien ne serait installé"
        )?;
        return Ok(());
    };
    let state = load_state(dir)?;
    let now = chrono::Local::now().naive_local();
    match should_install(&manifest.version, &running, &state, now, config, &app.config.hardware.behaviour.hours) {
        Ok(()) => writeln!(out, "en service : {running} ; elle serait installée maintenant")?,
        Err(wait) => writeln!(out, "en service : {running} ; elle ne serait pas installée maintenant : {wait}")?,
    }
    Ok(())
}

/// The version inside a bundle, as RAUC reads it after checking the bundle's signature against
/// the image's keyring (`rauc info` refuses a bundle it cannot verify).
fn signed_version(bundle: &Path) -> Result<String> {
    let text = run_checked(Command::new("rauc").args(["info", "--output-format=json"]).arg(bundle))?;
    let json = text.lines().find(|l| l.trim_start().starts_with('{')).context("rauc info : pas de JSON")?;
    let info: serde_json::Value = serde_json::from_str(json).context("rauc info : JSON illisible")?;
    info["version"].as_str().map(String::from).context("rauc info : le paquet ne dit pas sa version")
}

/// The signed bundle's version is the manifest's, and newer than `newest`.
pub fn check_signed(signed: &str, announced: &str, newest: &str) -> std::result::Result<(), String> {
    if signed != announced {
        return Err(format!("le paquet signé porte la version {signed}, le manifeste annonce {announced}"));
    }
    if !super::newer(signed, newest) {
        return Err(format!("{}", super::Wait::Older { newest: newest.to_string() }));
    }
    Ok(())
}

/// System roots, plus the platform's own CA (`upload.ca_file`) when there is one.
fn client(ca_file: Option<&Path>) -> Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder =
        reqwest::Client::builder().connect_timeout(Duration::from_secs(30)).user_agent(crate::sys::app_version());
    if let Some(ca) = ca_file {
        let pem = std::fs::read(ca).with_context(|| format!("upload.ca_file {} illisible", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("upload.ca_file {} : certificat PEM invalide", ca.display()))?;
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().context("client HTTP impossible à créer")
}

/// The version offered to this kiosk and where a bundle named without its address is:
/// `manifest.json` in the configured folder, or what the platform rolls out to this kiosk
/// (`None`: nothing for it now).
pub async fn offered(client: &reqwest::Client, app: &App, config: &UpdateConfig) -> Result<Option<(Manifest, String)>> {
    match &config.source {
        UpdateSource::Folder(folder) => {
            let url = format!("{folder}manifest.json");
            let body = fetch_small(client.get(&url), &url, None).await?.context("réponse vide")?;
            Ok(Some((Manifest::parse(&body).map_err(anyhow::Error::msg)?, folder.clone())))
        }
        UpdateSource::Platform => {
            let upload = app.config.upload.as_ref().context("update.platform demande [upload]")?;
            let token = upload.read_token().map_err(anyhow::Error::msg)?;
            // A device id is letters, digits and « - _ . » (checked with the configuration).
            let url = format!("{}/v1/update?device_id={}", upload.base_url, app.config.device_id);
            let Some(body) =
                fetch_small(client.get(&url).bearer_auth(token.expose()), &url, Some(OLD_PLATFORM)).await?
            else {
                return Ok(None);
            };
            let manifest = Manifest::parse(&body).map_err(anyhow::Error::msg)?;
            Ok(Some((manifest, format!("{}/v1/update/", upload.base_url))))
        }
    }
}

/// A platform of contract 1.1 answers 404 to `GET /v1/update`.
const OLD_PLATFORM: &str = "cette plateforme ne propose pas de mises à jour (contrat 1.2 requis)";

/// The most a manifest may weigh.
const MANIFEST_MAX_BYTES: usize = 64 * 1024;

/// A manifest's body, read as it comes and given up past [`MANIFEST_MAX_BYTES`]; `None` on 204.
/// `on_404`: what a 404 means to the caller (`None`: an error like any other status).
async fn fetch_small(request: reqwest::RequestBuilder, url: &str, on_404: Option<&str>) -> Result<Option<Vec<u8>>> {
    let mut response =
        request.timeout(Duration::from_secs(60)).send().await.with_context(|| format!("{url} injoignable"))?;
    let status = response.status();
    if status == reqwest::StatusCode::NO_CONTENT {
        return Ok(None);
    }
    if let (reqwest::StatusCode::NOT_FOUND, Some(meaning)) = (status, on_404) {
        bail!("{url} : {meaning} ; réponse 404");
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.with_context(|| format!("{url} : lecture interrompue"))? {
        body.extend_from_slice(&chunk);
        if body.len() > MANIFEST_MAX_BYTES {
            bail!("{url} : manifeste trop grand (plus de {MANIFEST_MAX_BYTES} octets)");
        }
    }
    if !status.is_success() {
        bail!("{url} : réponse {status} {}", String::from_utf8_lossy(&body[..body.len().min(200)]).trim());
    }
    Ok(Some(body))
}

/// Downloads the bundle next to the state, checking its size and SHA-256 as it comes.
async fn download(client: &reqwest::Client, url: &str, manifest: &Manifest, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let part = dir.join("bundle.raucb.part");
    let mut file = std::fs::File::create(&part).with_context(|| format!("{} impossible à écrire", part.display()))?;
    let mut response = client.get(url).send().await.with_context(|| format!("{url} injoignable"))?;
    if !response.status().is_success() {
        bail!("{url} : réponse {}", response.status());
    }
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = response.chunk().await.with_context(|| format!("{url} : téléchargement interrompu"))? {
        size += chunk.len() as u64;
        if size > manifest.size {
            let _ = std::fs::remove_file(&part);
            bail!("{url} : plus grand que les {} octets annoncés", manifest.size);
        }
        hasher.update(&chunk);
        file.write_all(&chunk)?;
    }
    file.sync_all()?;
    let digest = hex::encode(hasher.finalize());
    if size != manifest.size || !digest.eq_ignore_ascii_case(&manifest.sha256) {
        let _ = std::fs::remove_file(&part);
        bail!(
            "{url} : {size} octets, empreinte {digest} ; le manifeste annonce {} octets, {}",
            manifest.size,
            manifest.sha256
        );
    }
    let bundle = dir.join("bundle.raucb");
    std::fs::rename(&part, &bundle)?;
    Ok(bundle)
}

/// `borne update confirm`.
pub fn confirm(app: &App, dir: &Path, out: &mut dyn Write) -> Result<()> {
    let mut state = load_state(dir)?;
    let booted = booted_slot()?;
    match after_boot(&state, booted) {
        AfterBoot::Ordinary => {
            writeln!(out, "démarrage ordinaire sur l'emplacement {}", booted.name())?;
        }
        AfterBoot::FellBack(pending) => {
            state.reject_pending();
            save_state(dir, &state)?;
            writeln!(
                out,
                "la version {} n'a pas tenu son démarrage d'essai : la borne est restée sur l'emplacement {} ; \
                 cette version ne sera pas réinstallée",
                pending.version,
                booted.name()
            )?;
        }
        AfterBoot::Trial(pending) => {
            let timeout = app.config.update.as_ref().map_or(Duration::from_secs(600), |c| c.confirm_timeout);
            match healthy(timeout) {
                Ok(()) => {
                    run_checked(Command::new("rauc").args(["status", "mark-good"]))?;
                    state.confirm_pending();
                    save_state(dir, &state)?;
                    writeln!(
                        out,
                        "version {} confirmée : l'emplacement {} devient celui de la borne",
                        pending.version,
                        booted.name()
                    )?;
                }
                Err(error) => {
                    writeln!(out, "version {} abandonnée : {error:#} ; retour à la version d'avant", pending.version)?;
                    let _ = run_checked(Command::new("rauc").args(["status", "mark-bad"]));
                    state.reject_pending();
                    save_state(dir, &state)?;
                    out.flush()?;
                    run_checked(Command::new("systemctl").arg("reboot"))?;
                }
            }
        }
    }
    Ok(())
}

/// The kiosk is READY (borne.service active, Type=notify) and a probe commits to its store.
fn healthy(timeout: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        let state =
            run_checked(Command::new("systemctl").args(["show", "borne.service", "--property=ActiveState,SubState"]))
                .unwrap_or_default();
        if state.contains("ActiveState=active") && state.contains("SubState=running") {
            break;
        }
        if start.elapsed() > timeout {
            bail!("borne.service n'est pas prêt après {} s ({})", timeout.as_secs(), state.replace('\n', " ").trim());
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    run_checked(Command::new("runuser").args([
        "-u",
        "borne",
        "--",
        "/usr/bin/borne",
        "--data-dir",
        KIOSK_DATA_DIR,
        "db",
        "probe",
    ]))
    .context("l'écriture d'essai dans la base a échoué")?;
    Ok(())
}
