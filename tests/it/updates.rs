//! System updates from the platform (contract 1.2, `GET /v1/update`), with the real binaries:
//! a kiosk whose `[update]` says `platform = true` asks its platform which version its network
//! rolls out to it, ring by ring; `borne update check` says what is offered, and installs
//! nothing (this machine is not the two-slot image: the install itself is the whole-machine
//! test's).

use crate::common::*;
use crate::upload::{kiosk, kiosk_config_for, receiver_bin};
use std::process::Command;

#[test]
fn a_kiosk_is_offered_its_networks_rollout_by_its_platform_in_its_turn() {
    let dir = Scratch::new("platform-updates");
    let db = dir.path().join("platform.db");
    let cli = |args: &[&str]| run_ok(Command::new(receiver_bin()).args(args).arg("--db").arg(&db));
    cli(&["sites", "add", "rhone-lyon", "--name", "Lyon", "--org", "pref-69"]);
    cli(&["sites", "add", "orne-alencon", "--name", "Alençon", "--org", "pref-61"]);
    let platform = borne_testkit::PlatformProcess::start(
        &receiver_bin(),
        "127.0.0.1:0",
        &[std::ffi::OsStr::new("--db"), db.as_os_str()],
    );
    let kiosk_of = |device: &str, site: &str| {
        let token = cli(&["devices", "add", device, "--site", site]).lines().last().unwrap().to_string();
        let home = dir.path().join(device);
        std::fs::create_dir_all(&home).unwrap();
        let config = kiosk_config_for(&home, &platform.url, &token, 100, device);
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str("\n[update]\nenabled = true\nplatform = true\n");
        std::fs::write(&config, text).unwrap();
        (config, home.join("data"), home.join("update-state"))
    };
    let lyon = kiosk_of("borne-lyon", "rhone-lyon");
    let alencon = kiosk_of("borne-alencon", "orne-alencon");
    let check = |(config, data, state): &(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)| {
        run_ok(kiosk(config, data).args(["update", "--state-dir"]).arg(state).arg("check"))
    };
    assert!(check(&lyon).contains("aucune version proposée à cette borne"), "nothing rolled out yet");

    // A release (shaped as a signed bundle) rolled out to Lyon's network.
    let bundle = dir.path().join("borne-0.3.0.raucb");
    let mut bytes = b"hsqs systeme 0.3.0".to_vec();
    bytes.extend([0x30, 0x82, 0, 4, 1, 2, 3, 4]);
    bytes.extend(8u64.to_be_bytes());
    std::fs::write(&bundle, &bytes).unwrap();
    let address = "https://maj.example/borne/borne-0.3.0.raucb";
    cli(&["release", "add", bundle.to_str().unwrap(), "--version", "0.3.0", "--url", address]);
    let id = cli(&["rollout", "start", "--org", "pref-69", "0.3.0"]).lines().last().unwrap().to_string();

    let said = check(&lyon);
    assert!(said.contains(&format!("version proposée : 0.3.0 ({} octets, {address})", bytes.len())), "{said}");
    assert!(said.contains("pas une image Borne) : rien ne serait installé"), "{said}");
    assert!(check(&alencon).contains("aucune version proposée"), "another network's kiosk");

    // Halted: nothing is offered any more.
    cli(&["rollout", "halt", &id]);
    assert!(check(&lyon).contains("aucune version proposée à cette borne"));

    // A platform of contract 1.1 (here, an address under which no route exists) is said as such.
    let (config, data, state) = &lyon;
    let text = std::fs::read_to_string(config).unwrap().replace(&platform.url, &format!("{}/ancienne", platform.url));
    std::fs::write(config, text).unwrap();
    let out = kiosk(config, data).args(["update", "--state-dir"]).arg(state).arg("check").output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("ne propose pas de mises à jour (contrat 1.2 requis)"), "{out:?}");
    let text = std::fs::read_to_string(config).unwrap().replace(&format!("{}/ancienne", platform.url), &platform.url);
    std::fs::write(config, text).unwrap();

    // A kiosk whose platform cannot be reached says so, and fails.
    let text = std::fs::read_to_string(config).unwrap().replace(&platform.url, "http://127.0.0.1:9");
    std::fs::write(config, text).unwrap();
    let out = kiosk(config, data).args(["update", "--state-dir"]).arg(state).arg("check").output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("injoignable"), "{out:?}");
}
