//! A kiosk's system releases, as the kiosk's update agent and the platform's rollouts both see
//! them: the manifest that offers a version, the order of versions (updates only go forward),
//! and what a kiosk says in its heartbeat of the system it runs (contract 1.2).

use serde::{Deserialize, Serialize};

/// What offers a version: `manifest.json` next to the bundles on an update server, or the
/// platform's `GET /v1/update` (contract 1.2) for one kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The version of the system in the bundle (`/etc/borne-release` once installed).
    pub version: String,
    /// The bundle: a file name next to the manifest, or an absolute `http(s)://` address
    /// ending in `.raucb` (what the platform serves: the bundle stays on the network's server).
    pub bundle: String,
    /// SHA-256 of the bundle, hexadecimal: a truncated download is never handed to RAUC.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// A version: 1 to 64 characters of a Debian version (`0.3.0+42`, `1.0~rc1`).
pub fn check_version(version: &str) -> Result<(), String> {
    let ok = !version.is_empty()
        && version.len() <= 64
        && version.chars().all(|c| c.is_ascii_alphanumeric() || "._+~-:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("version « {version} » invalide (1 à 64 caractères : lettres, chiffres, . _ + ~ - :)"))
    }
}

/// An absolute bundle address: `http(s)://…/name.raucb`, no space, at most 500 characters.
pub fn check_bundle_url(url: &str) -> Result<(), String> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 500
        && url.ends_with(".raucb")
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(format!("adresse de paquet « {url} » invalide : http(s)://…/nom.raucb attendu, sans espace"))
    }
}

impl Manifest {
    /// Parses and checks a manifest; the error says what is wrong, in French.
    pub fn parse(body: &[u8]) -> Result<Manifest, String> {
        let manifest: Manifest = serde_json::from_slice(body).map_err(|e| format!("manifest.json illisible : {e}"))?;
        check_version(&manifest.version).map_err(|e| format!("manifest.json : {e}"))?;
        if manifest.bundle.contains("://") {
            check_bundle_url(&manifest.bundle).map_err(|e| format!("manifest.json : {e}"))?;
        } else {
            let name_ok = manifest.bundle.ends_with(".raucb")
                && !manifest.bundle.starts_with('.')
                && manifest.bundle.chars().all(|c| c.is_ascii_alphanumeric() || "._+~-".contains(c));
            if !name_ok {
                return Err(format!(
                    "manifest.json : nom de paquet « {} » invalide (un fichier .raucb)",
                    manifest.bundle
                ));
            }
        }
        check_sha256(&manifest.sha256).map_err(|e| format!("manifest.json : {e}"))?;
        if manifest.size == 0 {
            return Err("manifest.json : taille nulle".into());
        }
        Ok(manifest)
    }

    /// Where the bundle is: its own address, or `base` (ending with « / ») and its name.
    pub fn bundle_url(&self, base: &str) -> String {
        if self.bundle.contains("://") { self.bundle.clone() } else { format!("{base}{}", self.bundle) }
    }
}

/// 64 hexadecimal digits.
pub fn check_sha256(text: &str) -> Result<(), String> {
    if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err("sha256 invalide (64 chiffres hexadécimaux)".into())
    }
}

/// Whether `offered` is newer than `than`, as dpkg orders versions (`1.0-1+essai.2` after
/// `1.0-1+essai.1`, `1.0~rc1` before `1.0`). A version that cannot be read is never newer.
pub fn newer(offered: &str, than: &str) -> bool {
    match (offered.parse::<debversion::Version>(), than.parse::<debversion::Version>()) {
        (Ok(offered), Ok(than)) => offered > than,
        (Ok(_), Err(_)) => true,
        (Err(_), _) => false,
    }
}

/// Contract 1.2, in a heartbeat: the system a kiosk of the Borne image runs, as its update
/// agent left it. Absent on a kiosk run from a package or a desktop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemState {
    /// The running version (`/etc/borne-release`).
    pub version: String,
    /// A version installed in the other slot that waits for its trial boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// Versions this kiosk gave up (a failed trial boot, a bundle refused), newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<String>,
}

/// At most this many rejected versions travel in a heartbeat (the newest).
pub const MAX_REJECTED: usize = 20;

impl SystemState {
    pub fn check(&self) -> Result<(), String> {
        let versions = std::iter::once(&self.version).chain(&self.pending).chain(&self.rejected);
        if self.rejected.len() > MAX_REJECTED || versions.into_iter().any(|v| check_version(v).is_err()) {
            return Err(format!(
                "system: versions of 1 to 64 characters (letters, digits, . _ + ~ - :), at most {MAX_REJECTED} rejected"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_go_forward_as_dpkg_orders_them() {
        assert!(newer("0.3.0", "0.2.9"));
        assert!(newer("1.0-1+essai.2", "1.0-1+essai.1"));
        assert!(!newer("1.0~rc1", "1.0"));
        assert!(!newer("1.0", "1.0"));
        assert!(!newer("pas une version!", "0.1"));
    }

    #[test]
    fn a_manifest_names_a_bundle_next_to_it_or_at_an_address() {
        let sha = "a".repeat(64);
        let with = |bundle: &str| format!(r#"{{"version":"0.2.0","bundle":"{bundle}","sha256":"{sha}","size":5}}"#);
        let near = Manifest::parse(with("borne-0.2.0.raucb").as_bytes()).unwrap();
        assert_eq!(near.bundle_url("https://maj.example/stable/"), "https://maj.example/stable/borne-0.2.0.raucb");
        let far = Manifest::parse(with("https://cdn.example/b/borne-0.2.0.raucb").as_bytes()).unwrap();
        assert_eq!(far.bundle_url("https://maj.example/stable/"), "https://cdn.example/b/borne-0.2.0.raucb");
        for bad in ["../etc/passwd", "ftp://x/borne.raucb", "https://x/borne.tar", "https://x/a b.raucb"] {
            assert!(Manifest::parse(with(bad).as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_system_state_is_bounded() {
        let state = SystemState { version: "0.2.0".into(), pending: Some("0.3.0".into()), rejected: vec![] };
        assert!(state.check().is_ok());
        assert!(SystemState { version: "0 2".into(), ..state.clone() }.check().is_err());
        assert!(SystemState { rejected: vec!["0.1".into(); MAX_REJECTED + 1], ..state.clone() }.check().is_err());
        assert!(SystemState { pending: Some("x".repeat(65)), ..state }.check().is_err());
    }
}
