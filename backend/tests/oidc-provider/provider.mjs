// A real OpenID provider (the `oidc-provider` package, unmodified) on loopback for the backend's
// single sign-on tests (backend/tests/it/oidc.rs). Nothing here fakes the protocol: discovery,
// JWKS, the authorization endpoint with PKCE, the token endpoint, ID tokens and userinfo are
// oidc-provider's own. The test only supplies what a real installation configures:
//
//   OIDC_TEST_CONFIG = {
//     "issuer":   "http://127.0.0.1:PORT",          // the URL the provider is reached at
//     "port":     0,                                 // where to listen (0: any free port)
//     "clients":  [{ client_id, client_secret, redirect_uris }],
//     "accounts": { "<login>": { email, email_verified, groups, ... } }
//   }
//
// It prints one line, {"port": N}, once it listens, and exits when its standard input closes
// (the test that started it is gone).
//
// The sign-in pages are two tiny HTML forms (the interactions): GET /interaction/<uid> shows
// the form of the current prompt (`data-prompt="login"` or `"consent"`); POST
// /interaction/<uid>/login with `login=<account>` signs that account in; POST
// /interaction/<uid>/confirm grants what the client asked for.

import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_TEST_CONFIG ?? '{}');
const accounts = config.accounts ?? {};

// A fresh signing key per run: the backend must take it from the provider's JWKS.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-signing-key', use: 'sig', alg: 'RS256' };

const provider = new Provider(config.issuer, {
  clients: config.clients ?? [],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['pingtower-oidc-test-cookie-key'] },
  // PKCE for every client: a relying party that does not send a S256 challenge is refused.
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function page(res, status, html) {
  res.statusCode = status;
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html><body>${html}</body></html>`);
}

async function interaction(req, res, action) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params, session } = details;
  if (req.method === 'GET') {
    const next = prompt.name === 'login' ? 'login' : 'confirm';
    return page(
      res,
      200,
      `<form method="post" action="/interaction/${escape(uid)}/${next}" data-prompt="${escape(prompt.name)}">` +
        (next === 'login' ? '<input name="login" autofocus>' : `<p>Allow ${escape(params.client_id)}?</p>`) +
        '<button type="submit">Continue</button></form>',
    );
  }
  if (req.method === 'POST' && action === 'login') {
    const login = (await readForm(req)).get('login') ?? '';
    if (!Object.hasOwn(accounts, login)) return page(res, 400, 'unknown account');
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'confirm') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details ?? {};
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return page(res, 405, 'method not allowed');
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const match = /^\/interaction\/([^/?]+)(?:\/(login|confirm))?(?:\?.*)?$/.exec(req.url ?? '');
  if (!match) return callback(req, res);
  interaction(req, res, match[2]).catch((error) => page(res, 500, escape(error?.message ?? error)));
});

server.listen(config.port ?? 0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
