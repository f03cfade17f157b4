//! A real SMTP server for the tests (Debian's aiosmtpd, STARTTLS with a certificate authority
//! made by the test), and the mails it received, decoded.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

pub const AIOSMTPD: &str = "/usr/bin/python3";

/// A certificate authority and the mail server's certificate for `localhost`, in PEM.
pub fn certificates(dir: &Path) -> (PathBuf, PathBuf, Vec<u8>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Borne test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, &issuer).unwrap();
    let (cert_file, key_file) = (dir.join("smtp.pem"), dir.join("smtp.key"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (cert_file, key_file, ca.pem().into_bytes())
}

/// A running aiosmtpd, stopped when dropped (a failing test leaves no server behind).
pub struct SmtpServer(Child);

impl SmtpServer {
    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// aiosmtpd's maildir handler, except that it refuses for good (550) the recipients whose
/// address starts with `parti@`: a manager who left, whose mailbox is gone.
const REFUSING_HANDLER: &str = r#"
from aiosmtpd.handlers import Mailbox

class Refusing(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("parti@"):
            return "550 5.1.1 Adresse inconnue"
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

/// aiosmtpd on `port`, STARTTLS required, each mail into the maildir (but `parti@…`'s).
pub fn smtp_server(port: u16, cert: &Path, key: &Path, maildir: &Path) -> SmtpServer {
    assert!(
        Command::new(AIOSMTPD).args(["-c", "import aiosmtpd"]).status().is_ok_and(|s| s.success()),
        "Debian's python3-aiosmtpd is needed (bash .ci/run installs it)"
    );
    let handlers = maildir.with_extension("handlers");
    std::fs::create_dir_all(&handlers).unwrap();
    std::fs::write(handlers.join("refusing.py"), REFUSING_HANDLER).unwrap();
    let child = Command::new(AIOSMTPD)
        .env("PYTHONPATH", &handlers)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "refusing.Refusing"])
        .arg("--tlscert")
        .arg(cert)
        .arg("--tlskey")
        .arg(key)
        .arg(maildir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let child = SmtpServer(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("aiosmtpd did not start");
}

#[derive(Debug, serde::Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    pub list_unsubscribe: Option<String>,
}

/// The mails in the maildir, decoded by Python's `email` package (headers in RFC 2047, bodies
/// in quoted-printable or base64), in the order they arrived.
pub fn mailbox(maildir: &Path) -> Vec<Mail> {
    let script = r#"
import email, email.policy, json, mailbox, sys
box = mailbox.Maildir(sys.argv[1], factory=None)
out = []
for key, message in box.items():
    m = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    out.append({"to": str(m["To"]), "subject": str(m["Subject"]), "body": m.get_content(),
                "list_unsubscribe": m["List-Unsubscribe"] and str(m["List-Unsubscribe"]),
                "at": box.get_file(key)._file.name})
print(json.dumps(out))
"#;
    let out = Command::new(AIOSMTPD).arg("-c").arg(script).arg(maildir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut mails: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    // Arrival order: the maildir's file times.
    mails.sort_by_key(|m| std::fs::metadata(m["at"].as_str().unwrap()).unwrap().modified().unwrap());
    mails.into_iter().map(|m| serde_json::from_value(m).unwrap()).collect()
}
