// A real OpenID Connect provider for the platform's ProConnect tests: panva's oidc-provider
// (certified by the OpenID Foundation), set up as ProConnect is for its partners — code flow,
// PKCE, client_secret_basic, RS256 ID tokens, signed userinfo, RP-initiated logout.
//
// node oidc-provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI AGENTS_JSON
//   AGENTS_JSON: {"<sub>": {"email": "...", "given_name": "...", "usual_name": "..."}, ...}
//
// Its sign-in page is a form whose `sub` field names the agent; `refuse=1` refuses the sign-in
// (as an agent who cancels at ProConnect). Consent is implied, as at ProConnect.
import http from 'node:http';
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri, postLogoutUri, agentsJson] = process.argv.slice(2);
const agents = JSON.parse(agentsJson);
const issuer = `http://localhost:${port}`;
const scopes = ['openid', 'email', 'given_name', 'usual_name', 'uid'];

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [postLogoutUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    userinfo_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: ['borne-test-cookie-key'] },
  scopes,
  claims: { openid: ['sub'], email: ['email'], given_name: ['given_name'], usual_name: ['usual_name'], uid: ['uid'] },
  features: { devInteractions: { enabled: false }, jwtUserinfo: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  pkce: { required: () => true },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    if (!agents[sub]) return undefined;
    return { accountId: sub, async claims() { return { sub, uid: sub, ...agents[sub] }; } };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(scopes.join(' '));
    await grant.save();
    return grant;
  },
});

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  const match = /^\/interaction\/([\w-]+)$/.exec(new URL(req.url, issuer).pathname);
  if (!match) return callback(req, res);
  try {
    if (req.method === 'GET') {
      await provider.interactionDetails(req, res);
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      return res.end(`<!doctype html><html lang="fr"><title>ProConnect (test)</title><form method="post" action="/interaction/${match[1]}"><label>sub <input name="sub"></label><button>Continuer</button></form></html>`);
    }
    const form = await readForm(req);
    const result = form.get('refuse')
      ? { error: 'access_denied', error_description: "l'agent a annulé" }
      : { login: { accountId: form.get('sub') } };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  } catch (e) {
    res.statusCode = 400;
    res.end(String(e));
  }
});
server.listen(Number(port), '127.0.0.1', () => console.error(`oidc-provider ready at ${issuer}`));
