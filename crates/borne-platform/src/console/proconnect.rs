//! Sign-in with ProConnect, the State's OpenID Connect provider for public agents
//! (`/console/proconnect` → the provider → `/console/proconnect/retour`).
//!
//! Authorisation code flow with PKCE (S256), `state` and `nonce`, all three kept in the agent's
//! browser in a short-lived cookie bound to the callback's path (`SameSite=Lax`: the provider
//! sends the browser back with a cross-site navigation), so that any instance behind the load
//! balancer completes any sign-in. The ID token's signature, issuer, audience, expiry and nonce
//! are checked by `openidconnect`; the e-mail address comes from userinfo (signed or not), as
//! ProConnect gives it. Nobody gets an account by signing in: the account must exist (created by
//! an administrator with its e-mail address); the first sign-in binds it to the agent's
//! ProConnect identity (`sub`), and from then on only that identity opens it.

use crate::config::ProConnectConfig;
use openidconnect::core::{CoreClient, CoreIdToken, CoreResponseType, CoreUserInfoClaims};
use openidconnect::{
    AccessToken, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, LogoutRequest,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, Scope, TokenResponse,
};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The cookie that carries one sign-in's `state`, `nonce` and PKCE verifier.
pub const FLOW_COOKIE: &str = "borne_proconnect";
pub const FLOW_COOKIE_PATH: &str = "/console/proconnect";
/// How long an agent has to sign in at the provider.
pub const FLOW_MAX_AGE_S: u64 = 600;
/// The provider's discovery document and keys are read again after this long (or at once
/// when a token's signature does not verify: the provider may have rotated its keys).
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// What ProConnect is asked for: the identity and the professional e-mail address.
const SCOPES: [&str; 4] = ["email", "given_name", "usual_name", "uid"];

/// One sign-in under way: what the callback must find again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl Flow {
    /// The cookie's value (each part is URL-safe base64, so `.` separates them).
    pub fn to_cookie(&self) -> String {
        format!("{}.{}.{}", self.state, self.nonce, self.pkce_verifier)
    }

    pub fn from_cookie(value: &str) -> Option<Flow> {
        let mut parts = value.split('.');
        let (state, nonce, pkce_verifier) = (parts.next()?, parts.next()?, parts.next()?);
        let safe = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (parts.next().is_none() && safe(state) && safe(nonce) && safe(pkce_verifier)).then(|| Flow {
            state: state.into(),
            nonce: nonce.into(),
            pkce_verifier: pkce_verifier.into(),
        })
    }
}

/// Who ProConnect says signed in.
#[derive(Debug, Clone)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    /// The raw ID token, handed back to the provider when signing out.
    pub id_token: String,
}

/// A client of the provider as discovered: authorisation URL set, token and userinfo endpoints
/// as the discovery document gives them.
type ProviderClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

pub struct ProConnect {
    config: ProConnectConfig,
    /// The configuration's issuer and callback, parsed once.
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: reqwest::Client,
    metadata: tokio::sync::Mutex<Option<(Instant, ProviderMetadataWithLogout)>>,
}

/// The provider's HTTP, through our reqwest (rustls, no redirects followed: a token or key
/// request that redirects is refused rather than sent elsewhere).
async fn send(
    client: reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let response = client.execute(reqwest::Request::try_from(request)?).await?;
    let (status, headers) = (response.status(), response.headers().clone());
    let mut out = openidconnect::HttpResponse::new(response.bytes().await?.to_vec());
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

impl ProConnect {
    pub fn new(config: ProConnectConfig) -> Result<ProConnect, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("borne-platform/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &config.ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("proconnect.ca_file {} illisible : {e}", ca.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("proconnect.ca_file {} : certificat PEM invalide ({e})", ca.display()))?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| format!("client HTTP impossible à créer : {e}"))?;
        let issuer = IssuerUrl::new(config.issuer.clone()).map_err(|e| format!("proconnect.issuer invalide : {e}"))?;
        let redirect =
            RedirectUrl::new(config.redirect_url()).map_err(|e| format!("proconnect.public_url invalide : {e}"))?;
        Ok(ProConnect { config, issuer, redirect, http, metadata: tokio::sync::Mutex::new(None) })
    }

    /// The provider's discovery document and keys, from the cache unless stale or `fresh`.
    async fn metadata(&self, fresh: bool) -> Result<ProviderMetadataWithLogout, String> {
        let mut cached = self.metadata.lock().await;
        if let Some((at, metadata)) = cached.as_ref()
            && !fresh
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let http = |request| send(self.http.clone(), request);
        let metadata = ProviderMetadataWithLogout::discover_async(self.issuer.clone(), &http)
            .await
            .map_err(|e| format!("ProConnect injoignable ({})", error_chain(&e)))?;
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(&self, metadata: ProviderMetadataWithLogout) -> ProviderClient {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Where to send the agent to sign in, and what the callback must find again.
    pub async fn start(&self) -> Result<(String, Flow), String> {
        let client = self.client(self.metadata(false).await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in SCOPES {
            request = request.add_scope(Scope::new(scope.into()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let flow = Flow {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        };
        Ok((url.to_string(), flow))
    }

    /// Redeems the provider's code: the ID token checked (signature, issuer, audience, expiry,
    /// nonce), then userinfo for the e-mail address. The state was checked by the caller.
    pub async fn finish(&self, code: &str, flow: &Flow) -> Result<Identity, String> {
        let http = |request| send(self.http.clone(), request);
        let client = self.client(self.metadata(false).await?);
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| format!("ProConnect sans point de jeton ({e})"))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|e| format!("code refusé par ProConnect ({})", error_chain(&e)))?;
        let Some(id_token) = token.id_token() else {
            return Err("ProConnect n'a pas donné de jeton d'identité".into());
        };
        let claims = match id_token.claims(&client.id_token_verifier(), &Nonce::new(flow.nonce.clone())) {
            Ok(claims) => claims,
            Err(e) => {
                // The provider may have rotated its keys since they were read: read them again
                // for the next sign-in (this code is spent).
                if matches!(e, openidconnect::ClaimsVerificationError::SignatureVerification(_)) {
                    self.metadata(true).await?;
                }
                return Err(format!("jeton d'identité invalide ({e})"));
            }
        };
        let subject = claims.subject().clone();
        let mut email = claims.email().map(|e| e.as_str().to_string());
        if email.is_none() {
            email = self.userinfo(&client, token.access_token().clone(), subject.clone()).await?;
        }
        Ok(Identity { subject: subject.to_string(), email, id_token: id_token.to_string() })
    }

    async fn userinfo(
        &self,
        client: &ProviderClient,
        access_token: AccessToken,
        subject: openidconnect::SubjectIdentifier,
    ) -> Result<Option<String>, String> {
        let http = |request| send(self.http.clone(), request);
        let Ok(request) = client.user_info(access_token, Some(subject)) else { return Ok(None) };
        let claims: CoreUserInfoClaims = request
            .require_signed_response(false)
            .request_async(&http)
            .await
            .map_err(|e| format!("informations de ProConnect illisibles ({})", error_chain(&e)))?;
        Ok(claims.email().map(|e| e.as_str().to_string()))
    }

    /// Where to send an agent who signs out of a session opened through ProConnect, so that
    /// the provider ends its session too; none if the provider has no end-session endpoint.
    pub async fn logout_url(&self, id_token: &str) -> Option<String> {
        let metadata = self.metadata(false).await.ok()?;
        let end = metadata.additional_metadata().end_session_endpoint.clone()?;
        let token = CoreIdToken::from_str(id_token).ok()?;
        let after = PostLogoutRedirectUrl::new(self.config.after_logout_url()).ok()?;
        let request = LogoutRequest::from(end)
            .set_id_token_hint(&token)
            .set_client_id(ClientId::new(self.config.client_id.clone()))
            .set_post_logout_redirect_uri(after)
            .set_state(CsrfToken::new_random());
        Some(request.http_get_url().to_string())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(" : ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_round_trips_through_its_cookie_and_nothing_else_parses() {
        let flow = Flow { state: "aB-_9".into(), nonce: "n0nce".into(), pkce_verifier: "v-e_r".into() };
        assert_eq!(Flow::from_cookie(&flow.to_cookie()), Some(flow));
        for bad in ["", "a.b", "a.b.c.d", "a..c", "a.b.c;", "a.b.c d", "é.b.c"] {
            assert_eq!(Flow::from_cookie(bad), None, "{bad}");
        }
    }
}
