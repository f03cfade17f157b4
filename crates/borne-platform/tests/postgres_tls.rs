//! The platform reaches PostgreSQL over TLS, as the address's `sslmode` says: a real server
//! started with a test authority's certificate (for `localhost` only), and the platform's own
//! binary as an operator runs it. The server's own view (`pg_stat_ssl`) says the link is
//! encrypted; a wrong authority, a wrong name under `verify-full`, or a remote host without
//! `sslmode` are refused with a message in French.

mod support;

use borne_testkit::pg::PgCluster;
use borne_testkit::{PlatformProcess, Scratch};
use std::path::PathBuf;
use std::process::{Command, Output};
use support::{Http, platform_bin};

/// A certificate authority's PEM, and a server certificate and key it signed for `names`.
fn authority(names: &[&str]) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Borne test database CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = CertificateParams::new(names).unwrap().signed_by(&key, &issuer).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

fn migrate(url: &str) -> Output {
    Command::new(platform_bin()).args(["migrate", "--database-url", url]).env_remove("DATABASE_URL").output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn the_platform_reaches_postgresql_over_verified_tls() {
    let dir = Scratch::new("pgtls");
    let (ca, cert, key) = authority(&["localhost"]);
    let (stranger, _, _) = authority(&["localhost"]);
    let ca_file: PathBuf = dir.path().join("ca.pem");
    let stranger_file: PathBuf = dir.path().join("stranger.pem");
    std::fs::write(&ca_file, ca).unwrap();
    std::fs::write(&stranger_file, stranger).unwrap();
    let cluster = PgCluster::start_tls(&["fsync = off", "synchronous_commit = off"], &cert, &key)
        .unwrap_or_else(|e| panic!("PostgreSQL needed: {e}"));
    cluster.database("tls");
    let port = cluster.port;
    let url = |host: &str, options: &str| format!("postgres://postgres@{host}:{port}/tls?{options}");
    let verified = url("localhost", &format!("sslmode=verify-full&sslrootcert={}", ca_file.display()));

    // verify-full: the chain and the name are checked; the link is encrypted as the server sees it.
    let out = migrate(&verified);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("sslmode=verify-full, lien chiffré (TLS)"), "{}", text(&out));

    // A serving instance's connections, seen from the server: every one of them in TLS.
    let serving = format!("{verified}&application_name=borne-tls");
    let platform =
        PlatformProcess::start(platform_bin(), "127.0.0.1:0", &["--database-url".as_ref(), serving.as_ref()]);
    let (status, _, health) = Http::new().get(&format!("{}/v1/health", platform.url));
    assert_eq!(status, 200, "{health}");
    let seen = cluster.psql(
        "tls",
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.application_name = 'borne-tls'",
    );
    let (encrypted, all) = seen.split_once('|').unwrap();
    assert!(all.parse::<u32>().unwrap() >= 1, "the instance holds connections: {seen}");
    assert_eq!(encrypted, all, "every connection of the instance is in TLS: {seen}");
    drop(platform);

    // The certificate names localhost only: verify-full by address is refused, verify-ca
    // (the chain only) and require (encryption only) are not.
    let by_address = url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={}", ca_file.display()));
    let out = migrate(&by_address);
    assert!(!out.status.success(), "a certificate for another name must be refused");
    assert!(text(&out).contains("indisponible"), "{}", text(&out));
    let out = migrate(&url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={}", ca_file.display())));
    assert!(text(&out).contains("sslmode=verify-ca, lien chiffré (TLS)"), "{}", text(&out));
    let out = migrate(&url("127.0.0.1", "sslmode=require"));
    assert!(text(&out).contains("sslmode=require, lien chiffré (TLS)"), "{}", text(&out));

    // Another authority's certificate is refused.
    let out = migrate(&url("localhost", &format!("sslmode=verify-full&sslrootcert={}", stranger_file.display())));
    assert!(!out.status.success(), "a certificate from another authority must be refused: {}", text(&out));

    // On this machine, without sslmode: in clear, and said so.
    let out = migrate(&url("127.0.0.1", ""));
    assert!(text(&out).contains("sslmode=disable, lien en clair"), "{}", text(&out));

    // A remote host without sslmode is refused before any connection is tried.
    let out = migrate("postgres://borne@db.borne.invalid/borne");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("n'est pas sur cette machine") && text(&out).contains("sslmode=verify-full"),
        "{}",
        text(&out)
    );
}
