//! Sign-in with ProConnect against a real OpenID provider (panva's `oidc-provider`, from npm,
//! run by the test on loopback as ProConnect is set up for its partners): the whole code flow
//! over HTTP with the real binary, the account bound on first sign-in, everything that must be
//! refused, and signing out at the provider too.

mod support;

use borne_testkit::{PlatformProcess, Scratch, free_port};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use support::*;

const CLIENT_ID: &str = "borne-console";
const CLIENT_SECRET: &str = "un secret de client assez long pour le test";

#[test]
#[ignore = "needs Node.js and tests/e2e's node modules (oidc-provider): .ci/run installs them"]
fn proconnect_sign_in_on_sqlite() {
    proconnect_sign_in(false)
}

#[test]
#[ignore = "needs Node.js, tests/e2e's node modules (oidc-provider) and PostgreSQL: .ci/run installs them"]
fn proconnect_sign_in_on_postgres() {
    proconnect_sign_in(true)
}

/// The provider, killed on drop.
struct Provider {
    child: Child,
    url: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    fn start(platform_url: &str) -> Provider {
        let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e");
        assert!(
            e2e.join("node_modules/oidc-provider").exists(),
            "tests/e2e's node modules are needed (bash .ci/run installs them)"
        );
        let agents = serde_json::json!({
            "sub-agent": {"email": "Agent@Rhone.gouv.fr", "given_name": "Alex", "usual_name": "Martin"},
            "sub-usurpateur": {"email": "agent@rhone.gouv.fr", "given_name": "Faux", "usual_name": "Martin"},
            "sub-inconnu": {"email": "inconnu@ailleurs.gouv.fr", "given_name": "Inès", "usual_name": "Connue"},
            "sub-parti": {"email": "parti@rhone.gouv.fr", "given_name": "Paul", "usual_name": "Parti"},
        });
        let port = free_port();
        let child = Command::new("node")
            .arg(e2e.join("oidc-provider.mjs"))
            .arg(port.to_string())
            .args([CLIENT_ID, CLIENT_SECRET])
            .arg(format!("{platform_url}/console/proconnect/retour"))
            .arg(format!("{platform_url}/console/connexion"))
            .arg(agents.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let provider = Provider { child, url: format!("http://localhost:{port}") };
        let discovery = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && ureq_like_get(&discovery) {
                return provider;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the OpenID provider did not start");
    }
}

fn ureq_like_get(url: &str) -> bool {
    let http = Http::new();
    http.runtime.block_on(async { matches!(http.client.get(url).send().await, Ok(r) if r.status() == 200) })
}

/// A browser: a cookie jar, redirects followed by hand so that each hop can be seen.
struct Browser {
    http: Http,
    jar: Arc<reqwest::cookie::Jar>,
    client: reqwest::Client,
}

struct Page {
    status: u16,
    url: String,
    location: Option<String>,
    body: String,
    /// Every URL visited, the first asked included.
    hops: Vec<String>,
}

impl Browser {
    fn new() -> Browser {
        let http = Http::new();
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser { http, jar, client }
    }

    /// Sends `request`, then follows redirects (at most `hops`) with GETs.
    fn go(&self, request: reqwest::RequestBuilder, max_hops: usize) -> Page {
        self.http.runtime.block_on(async {
            let mut response = request.send().await.unwrap();
            let mut hops = vec![response.url().to_string()];
            loop {
                let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string());
                match location {
                    Some(to) if hops.len() <= max_hops => {
                        let next = response.url().join(&to).unwrap();
                        hops.push(next.to_string());
                        response = self.client.get(next).send().await.unwrap();
                    }
                    _ => {
                        return Page {
                            status: response.status().as_u16(),
                            url: response.url().to_string(),
                            location,
                            body: response.text().await.unwrap(),
                            hops,
                        };
                    }
                }
            }
        })
    }

    fn get(&self, url: &str) -> Page {
        self.go(self.client.get(url), 0)
    }

    /// From the console's ProConnect button to the provider's sign-in page, then signing in as
    /// `sub` (or refusing), up to the console's callback (not followed).
    fn proconnect(&self, platform: &str, form: &[(&str, &str)]) -> Page {
        let at_provider = self.go(self.client.get(format!("{platform}/console/proconnect")), 5);
        assert_eq!(at_provider.status, 200, "{} {:?}", at_provider.body, at_provider.hops);
        assert!(at_provider.url.contains("/interaction/"), "{:?}", at_provider.hops);
        let back = self.go(self.client.post(&at_provider.url).form(form), 5);
        // Stop at the console's callback: what it answered is the sign-in's outcome.
        let callback = back.hops.iter().find(|h| h.contains("/console/proconnect/retour")).cloned();
        let callback = callback.unwrap_or_else(|| panic!("never sent back to the console: {:?}", back.hops));
        Page { hops: [at_provider.hops, back.hops].concat(), url: callback, ..back }
    }

    fn cookie_header(&self, url: &str) -> String {
        use reqwest::cookie::CookieStore;
        self.jar.cookies(&url.parse().unwrap()).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    }
}

fn proconnect_sign_in(postgres: bool) {
    let dir = Scratch::new(if postgres { "proconnect-pg" } else { "proconnect" });
    let backend = Backend::new(postgres, dir.path());
    cli_ok(&backend, &["sites", "add", "pref-69-lyon", "--name", "Préfecture du Rhône, Lyon", "--org", "pref-69"]);
    cli_ok(&backend, &["sites", "add", "caf-33", "--name", "CAF de la Gironde", "--org", "caf-33"]);
    // Accounts made by an administrator: a network manager with no password (ProConnect
    // only), and one disabled.
    cli_ok(
        &backend,
        &["accounts", "add", "agent@rhone.gouv.fr", "--name", "Alex Martin", "--role", "network", "--org", "pref-69"],
    );
    cli_ok(&backend, &["accounts", "add", "parti@rhone.gouv.fr", "--name", "Paul Parti", "--role", "national"]);
    cli_ok(&backend, &["accounts", "disable", "parti@rhone.gouv.fr"]);

    let port = free_port();
    let platform_url = format!("http://127.0.0.1:{port}");
    let provider = Provider::start(&platform_url);
    let config = dir.path().join("platform.toml");
    std::fs::write(
        &config,
        format!(
            "[console]\nsecure_cookies = false\n\n[proconnect]\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\npublic_url = \"{platform_url}\"\n",
            provider.url
        ),
    )
    .unwrap();
    let mut args: Vec<OsString> = backend.args();
    args.extend(["--config".into(), config.into()]);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let platform = PlatformProcess::start(platform_bin(), &format!("127.0.0.1:{port}"), &args);
    assert_eq!(platform.url, platform_url);

    // The sign-in page offers ProConnect.
    let browser = Browser::new();
    let login = browser.get(&format!("{platform_url}/console/connexion"));
    assert!(login.body.contains("href=\"/console/proconnect\"") && login.body.contains("S'identifier avec ProConnect"));

    // The flow's first hop: PKCE S256, state and nonce, the scopes, the registered callback.
    let start = browser.get(&format!("{platform_url}/console/proconnect"));
    assert_eq!(start.status, 303);
    let to = reqwest::Url::parse(start.location.as_deref().unwrap()).unwrap();
    assert!(to.as_str().starts_with(&format!("{}/auth?", provider.url)), "{to}");
    let q: std::collections::HashMap<String, String> = to.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], format!("{platform_url}/console/proconnect/retour"));
    assert!(q["scope"].split(' ').any(|s| s == "openid") && q["scope"].split(' ').any(|s| s == "email"));
    assert!(q["state"].len() >= 16 && q["nonce"].len() >= 16);

    // First sign-in: the account of the agent's address (in any case) is bound to the agent.
    let agent = Browser::new();
    let back = agent.proconnect(&platform_url, &[("sub", "sub-agent")]);
    assert_eq!(back.status, 200, "{}", back.body);
    assert!(back.body.contains("Bonjour Alex Martin") && back.body.contains("url=/console/"), "{}", back.body);
    let home = agent.get(&format!("{platform_url}/console/"));
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("Préfecture du Rhône, Lyon") && !home.body.contains("CAF de la Gironde"));
    let accounts: serde_json::Value = serde_json::from_str(&cli_ok(&backend, &["accounts", "list"])).unwrap();
    let bound = accounts.as_array().unwrap().iter().find(|a| a["email"] == "agent@rhone.gouv.fr").unwrap();
    assert_eq!(bound["proconnect"], true, "{accounts}");

    // Signing out ends the session here and sends the agent to end the provider's session.
    let csrf = home.body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let out = agent.go(agent.client.post(format!("{platform_url}/console/deconnexion")).form(&[("csrf", &csrf)]), 0);
    assert_eq!(out.status, 303);
    let end = reqwest::Url::parse(out.location.as_deref().unwrap()).unwrap();
    assert!(end.as_str().starts_with(&format!("{}/session/end?", provider.url)), "{end}");
    let q: std::collections::HashMap<String, String> = end.query_pairs().into_owned().collect();
    assert!(q["id_token_hint"].split('.').count() == 3, "an ID token: {end}");
    assert_eq!(q["post_logout_redirect_uri"], format!("{platform_url}/console/connexion"));
    let ended = agent.get(&format!("{platform_url}/console/"));
    assert_eq!((ended.status, ended.location.as_deref()), (303, Some("/console/connexion")));
    // The provider accepts that logout request (its confirmation page, not an error).
    let at_end = agent.get(end.as_str());
    assert_eq!(at_end.status, 200, "{}", at_end.body);

    // The same agent again: the bound account, found by its ProConnect identity.
    let again = Browser::new().proconnect(&platform_url, &[("sub", "sub-agent")]);
    assert_eq!(again.status, 200, "{}", again.body);

    // Another identity with the same address cannot take over a bound account.
    for (sub, why) in [
        ("sub-usurpateur", "an account bound to another identity"),
        ("sub-inconnu", "no account for this address"),
        ("sub-parti", "a disabled account"),
    ] {
        let refused = Browser::new().proconnect(&platform_url, &[("sub", sub)]);
        assert_eq!(refused.status, 403, "{why}: {}", refused.body);
        assert!(refused.body.contains("Aucun compte Borne"), "{why}: {}", refused.body);
    }
    // The agent cancels at ProConnect.
    let cancelled = Browser::new().proconnect(&platform_url, &[("refuse", "1")]);
    assert_eq!(cancelled.status, 401, "{}", cancelled.body);
    assert!(cancelled.body.contains("ProConnect n'a pas confirmé votre identité"));

    // A callback this browser did not start, or with another state, is refused before any
    // call to the provider; a code is spent once.
    let stranger = Browser::new();
    let forged = stranger.get(&format!("{platform_url}/console/proconnect/retour?code=abc&state=xyz"));
    assert_eq!(forged.status, 403, "{}", forged.body);
    let victim = Browser::new();
    let signed = victim.proconnect(&platform_url, &[("sub", "sub-agent")]);
    assert_eq!(signed.status, 200);
    let callback = reqwest::Url::parse(&signed.url).unwrap();
    let (code, state): (String, String) = {
        let q: std::collections::HashMap<String, String> = callback.query_pairs().into_owned().collect();
        (q["code"].clone(), q["state"].clone())
    };
    let replay = Browser::new();
    replay.get(&format!("{platform_url}/console/proconnect")); // its own flow cookie
    let other_state = replay.get(&format!("{platform_url}/console/proconnect/retour?code={code}&state={state}"));
    assert_eq!(other_state.status, 403, "another browser's state: {}", other_state.body);
    assert!(replay.cookie_header(&platform_url).is_empty(), "the refused flow's cookie is removed");
    let second = Browser::new();
    let first_hop = second.get(&format!("{platform_url}/console/proconnect"));
    let their_state = reqwest::Url::parse(first_hop.location.as_deref().unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let spent = second.get(&format!("{platform_url}/console/proconnect/retour?code={code}&state={their_state}"));
    assert_eq!(spent.status, 401, "a spent code: {}", spent.body);
    drop(provider);
}
