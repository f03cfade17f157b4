//! From the kiosks to « Je donne mon avis »: three real kiosks (`borne upload`) and a simulated
//! fleet upload to two `borne-platform` instances on one PostgreSQL database, both forwarding
//! to the JDMA stand-in (written from JDMA's code) that drops a fifth of its answers after
//! committing and loses a fifth of the answers it stores; one instance is SIGKILLed mid-way and
//! restarted. Every review must end in JDMA exactly once, with its kiosk's button and only
//! JDMA's questions, and `jdma status` must show nothing pending or ambiguous.

use crate::common::*;
use crate::upload::{kiosk, kiosk_config_for, seed_reviews, status_json};
use borne_jdma_standin::{JdmaStandIn, Settings};
use borne_testkit::pg::PgCluster;
use borne_testkit::{PlatformProcess, free_port};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PRODUCT: i64 = 3119;
const FORM: i64 = 4521;
const REAL_KIOSKS: usize = 3;
const REVIEWS_PER_REAL_KIOSK: usize = 40;
const SIMULATED_KIOSKS: usize = 12;
const REVIEWS_PER_SIMULATED_KIOSK: usize = 30;

fn platform(config: &Path, args: &[&str]) -> String {
    run_ok(
        Command::new(workspace_bin("borne-platform")).args(args).arg("--config").arg(config).env_remove("DATABASE_URL"),
    )
}

fn start(config: &Path, port: u16) -> PlatformProcess {
    let args: Vec<&std::ffi::OsStr> = vec!["--config".as_ref(), config.as_os_str()];
    start_retrying(&format!("the instance on port {port}"), || {
        PlatformProcess::start(&workspace_bin("borne-platform"), &format!("127.0.0.1:{port}"), &args)
    })
}

/// A simulated kiosk's backlog, in batches of 10, each retried with its key until answered 200.
async fn simulated(url: String, device: String, token: String, ids: Vec<String>) {
    let client = client();
    for chunk in ids.chunks(10) {
        let key = uuid::Uuid::now_v7().to_string();
        let reviews: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let (item, text, intention) = [(1, "Pas bien", "bad"), (2, "Moyen", "medium"), (3, "Très bien", "good")][i % 3];
                format!(
                    r#"{{"client_review_id":"{id}","submitted_at":"2026-12-07T10:{:02}:00+01:00","clock":"synced","language":"fr","answers":[{{"field_code":"satisfaction","kind":"radio","answer_item_id":{item},"answer_text":"{text}","intention":"{intention}"}},{{"field_code":"comprehension","kind":"radio","answer_item_id":8,"answer_text":"5","intention":"very_good"}}]}}"#,
                    i % 60
                )
            })
            .collect();
        let body = format!(
            r#"{{"schema_version":1,"batch_id":"{key}","source":{{"device_id":"{device}","product_id":{PRODUCT},"form_id":{FORM},"button_id":1,"app_version":"borne/sim"}},"reviews":[{}]}}"#,
            reviews.join(",")
        );
        post_batch_until_taken(&client, &url, &token, &key, &body, chunk.len(), Duration::from_secs(120)).await;
    }
}

#[test]
#[ignore = "needs PostgreSQL's server programs (Debian package postgresql): .ci/run installs them"]
fn every_review_reaches_jdma_once_through_instances_one_killed() {
    let dir = Scratch::new("jdma-e2e");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let settings = Settings {
        allowed_ips: "127.0.0.1".into(),
        drop_rate: 0.2,
        lose_answer_rate: 0.2,
        seed: seed(),
        ..Settings::default()
    };
    let standin = rt.block_on(JdmaStandIn::start(settings)).unwrap();
    standin.add_product_with_id(PRODUCT, "Accueil des étrangers", "Préfecture de l'Orne");
    standin.add_form_with_id(FORM, PRODUCT, "Évaluation de la satisfaction usager");

    let cluster = PgCluster::for_test();
    let url = cluster.database("jdma");
    let config = dir.path().join("borne-platform.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{url}\"\n\n[jdma]\nform_url = \"{}\"\ncreates_per_hour = 0\ntimeout_s = 1\nallow_insecure_http = true\n",
            standin.form_url()
        ),
    )
    .unwrap();
    platform(
        &config,
        &["sites", "add", "prefecture", "--name", "Préfecture", "--jdma-product", "3119", "--jdma-form", "4521"],
    );
    let mut buttons: BTreeMap<String, i64> = BTreeMap::new();
    let mut tokens: BTreeMap<String, String> = BTreeMap::new();
    let devices: Vec<String> = (0..REAL_KIOSKS)
        .map(|i| format!("borne-{i}"))
        .chain((0..SIMULATED_KIOSKS).map(|i| format!("sim-{i:02}")))
        .collect();
    for device in &devices {
        let button = standin.add_button(FORM, &format!("Borne {device}"));
        let out = platform(
            &config,
            &["devices", "add", device, "--site", "prefecture", "--jdma-button", &button.to_string()],
        );
        buttons.insert(device.clone(), button);
        tokens.insert(device.clone(), out.lines().last().unwrap().trim().to_string());
    }
    let ports = [free_port(), free_port()];
    let mut instances = [Some(start(&config, ports[0])), Some(start(&config, ports[1]))];
    let url_of = |i: usize| format!("http://127.0.0.1:{}", ports[i % 2]);

    // Who sent what: client review id → device.
    let mut sent: BTreeMap<String, String> = BTreeMap::new();
    let mut kiosks: Vec<(std::path::PathBuf, std::path::PathBuf, Child)> = Vec::new();
    for (i, device) in devices.iter().take(REAL_KIOSKS).enumerate() {
        let kiosk_dir = dir.path().join(device);
        std::fs::create_dir_all(&kiosk_dir).unwrap();
        let data = kiosk_dir.join("data");
        for id in seed_reviews(&data, REVIEWS_PER_REAL_KIOSK) {
            sent.insert(id, device.clone());
        }
        let config = kiosk_config_for(&kiosk_dir, &url_of(i), &tokens[device], 10, device);
        let child = kiosk(&config, &data).arg("upload").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        kiosks.push((config, data, child));
    }
    let mut fleet = Vec::new();
    for (i, device) in devices.iter().skip(REAL_KIOSKS).enumerate() {
        let ids: Vec<String> = (0..REVIEWS_PER_SIMULATED_KIOSK).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        for id in &ids {
            sent.insert(id.clone(), device.clone());
        }
        fleet.push(rt.spawn(simulated(url_of(i), device.clone(), tokens[device].clone(), ids)));
    }

    // Mid-way, SIGKILL instance 0 (uploads and forwarding under way), and start it again.
    std::thread::sleep(Duration::from_secs(2));
    let mut killed = instances[0].take().unwrap();
    let _ = killed.child.kill();
    let _ = killed.child.wait();
    std::thread::sleep(Duration::from_secs(2));
    instances[0] = Some(start(&config, ports[0]));

    for task in fleet {
        rt.block_on(task).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(240);
    for (config, data, _) in &kiosks {
        while status_json(config, data)["outbox"]["pending"] != 0 {
            assert!(Instant::now() < deadline, "a kiosk could not upload");
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    let status = loop {
        let status: serde_json::Value =
            serde_json::from_str(&platform(&config, &["jdma", "status", "--json"])).unwrap();
        if status["pending"] == 0 {
            break status;
        }
        assert!(Instant::now() < deadline, "reviews still pending for JDMA: {status}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(
        (status["forwarded"].as_u64(), status["ambiguous"].as_u64(), status["failed"].as_u64()),
        (Some(sent.len() as u64), Some(0), Some(0)),
        "{status}"
    );
    for (_, _, mut child) in kiosks {
        let _ = child.kill();
        let _ = child.wait();
    }

    let held = standin.reviews();
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for review in &held {
        let user = review.user_id.clone().unwrap_or_default();
        *copies.entry(user.clone()).or_default() += 1;
        let device = sent.get(&user).unwrap_or_else(|| panic!("JDMA holds a review nobody sent: {user}"));
        assert_eq!((review.product_id, review.form_id, review.button_id), (PRODUCT, FORM, buttons[device]), "{user}");
        let codes: BTreeSet<&str> = review.answers.iter().map(|a| a.field_code.as_str()).collect();
        assert!(codes.contains("satisfaction"), "{user}: {codes:?}");
        assert!(
            codes.iter().all(|c| ["satisfaction", "comprehension", "verbatim"].contains(c)),
            "{user}: only JDMA's questions: {codes:?}"
        );
    }
    assert_eq!(copies.len(), sent.len(), "every review is in JDMA");
    assert!(
        copies.values().all(|n| *n == 1),
        "no review twice: {:?}",
        copies.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    // The seeded kiosk reviews carry a comment one time in four: JDMA holds it.
    let comments = held.iter().filter(|r| r.has_verbatim).count();
    assert_eq!(comments, REAL_KIOSKS * REVIEWS_PER_REAL_KIOSK.div_ceil(4));
    let (dropped, lost) = standin.faults_seen();
    assert!(dropped > 0 && lost > 0, "the faults fired: {dropped} dropped, {lost} lost");
    drop(instances);
}
