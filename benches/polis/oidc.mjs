// Ory Polis (npm @boxyhq/saml-jackson) running a whole SP-initiated sign-in through an OIDC
// connection, in process, on its memory or SQLite engine, against an OpenID provider on
// loopback: the peer of the `oidc_callback` rows of `benches/benches/oidc_verify.rs`
// (benches/polis/oidc.sh runs both and prints the ratios).
//
//   node oidc.mjs <mem | sqlite:<db file>> [iterations=300]
//
// (npm ci in benches/polis first, as flow.sh does.)
//
// The provider: a small HTTP server on loopback (http://localhost:<port>, the one host for
// which Polis lets openid-client use plain HTTP) in this process, serving discovery, the
// JWKS, a token endpoint (client credentials, single-use codes, the PKCE verifier checked
// against the challenge) and userinfo. Why a loopback server and not a stubbed `fetch`:
// Polis sends every provider call through its own fetch (node:http `request` under
// openid-client's `customFetch`), so a real server exercises its request building,
// response reading and parsing as in production. Why in this process: a child process was
// tried first, and on the shared two-core machine its scheduling added 5–60 ms waits to
// most callbacks (measuring the machine, not Polis). In process, the provider's handler (a
// route match, a map lookup, a SHA-256, JSON.stringify of a prepared body) runs on Polis's
// event loop, inside the fetch window. The fetch time (node:http `request` called → its
// response ended, for each provider call) is recorded separately, so Polis's own work can be
// read without it.
//
// What Polis does per callback (read from dist/controller/oauth.js, oauth/oidc-client.js and
// utils.js `extractOIDCUserProfile`, openid-client 6.8): `oidcAuthzResponse` takes the
// session (get), gets the connection, fetches the discovery document again
// (`oidcClientConfig` builds a new openid-client Configuration per call), posts the code to
// the token endpoint (`authorizationCodeGrant`: PKCE verifier, state, nonce checked), fetches
// userinfo (always), mints and stores its own authorization code, deletes the session.
// openid-client checks the ID token's claims (iss, aud, azp, exp, nonce) but not its
// signature: it verifies ID token signatures only after `enableNonRepudiationChecks`,
// which Polis never calls (OIDC Core 3.1.3.7 lets a client rely on TLS to the token
// endpoint instead; tried: a token whose signature is replaced by garbage is accepted), so
// the JWKS is never fetched; the script asserts that. `authorize`
// fetches discovery too.
//
// Setup (not timed): Polis with `oidcPath`, one OIDC connection created from the provider's
// discovery URL, client id and secret. Per sign-in, timed: authorize (client id, redirect URI,
// state, PKCE S256) → [not timed: the provider's side: the nonce, state and PKCE challenge
// read from the authorization URL, an RS256 ID token (RSA-2048 idp/keys/idp-key.pem, the
// claims of the Rust bench's token, this nonce, now) signed and registered with the provider
// under a fresh code] → oidcAuthzResponse (code, state, iss) → token (Polis's code, client
// id and secret, PKCE verifier) → userInfo. Each answer is checked (a redirect to the IdP with
// a nonce, a redirect to the app with a code and the state, an access token, the profile's
// email). 30 warm-up sign-ins. The provider consumes each code once and checks the PKCE
// verifier against the challenge and the client's credentials.
//
// Prints one JSON object: per-step medians (µs), the median of authorize + callback (the
// scope of the Rust bench's `oidc_start` + `oidc_finish`), of the whole sign-in, the fetch
// time inside authorize and inside the callback, the callback minus its fetch time (per
// sign-in, then the median), the process CPU time of authorize + callback (all threads,
// garbage collector and the in-process provider included), and the provider calls per
// sign-in by endpoint.
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const here = dirname(fileURLToPath(import.meta.url));
const b64u = (b) => Buffer.from(b).toString('base64url');
const CLIENT_ID = '0oa1b2c3d4e5f6g7h8i9';
const CLIENT_SECRET = 'bench-client-secret-0123456789abcdef';
const KID = 'Yk7zQd0W8mC2vR9x4LpN1sT6uH3jF5aB0eG8iK2oM4q';
const ISSUER_PATH = '/oauth2/default';

await main();

// The OpenID provider: a loopback HTTP server in this process. Codes are registered by the
// sign-in loop (not timed) before the callback that redeems them.
function provider() {
  const keyPem = readFileSync(join(here, '../../idp/keys/idp-key.pem'), 'utf8');
  const jwk = createPublicKey(createPrivateKey(keyPem)).export({ format: 'jwk' });
  const codes = new Map(); // code -> { challenge, body }
  const userinfo = new Map(); // access token -> claims
  const calls = { discovery: 0, jwks: 0, token: 0, userinfo: 0 };
  let issuer;
  const json = (res, status, body) => {
    const s = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s), 'cache-control': 'no-store' });
    res.end(s);
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, issuer);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const p = url.pathname;
      if (req.method === 'GET' && p === `${ISSUER_PATH}/.well-known/openid-configuration`) {
        calls.discovery++;
        return json(res, 200, {
          issuer,
          authorization_endpoint: `${issuer}/v1/authorize`,
          token_endpoint: `${issuer}/v1/token`,
          userinfo_endpoint: `${issuer}/v1/userinfo`,
          jwks_uri: `${issuer}/v1/keys`,
          response_types_supported: ['code', 'id_token', 'code id_token'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          scopes_supported: ['openid', 'email', 'profile', 'groups'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
          code_challenge_methods_supported: ['S256'],
          authorization_response_iss_parameter_supported: true,
        });
      }
      if (req.method === 'GET' && p === `${ISSUER_PATH}/v1/keys`) {
        calls.jwks++;
        return json(res, 200, { keys: [{ ...jwk, kid: KID, use: 'sig', alg: 'RS256' }] });
      }
      if (req.method === 'POST' && p === `${ISSUER_PATH}/v1/token`) {
        calls.token++;
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        let id = form.get('client_id');
        let secret = form.get('client_secret');
        const basic = /^Basic (.+)$/i.exec(req.headers.authorization || '');
        if (basic) {
          [id, secret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':').map(decodeURIComponent);
        }
        if (id !== CLIENT_ID || secret !== CLIENT_SECRET) return json(res, 401, { error: 'invalid_client' });
        const entry = codes.get(form.get('code'));
        codes.delete(form.get('code'));
        if (form.get('grant_type') !== 'authorization_code' || !entry) return json(res, 400, { error: 'invalid_grant' });
        const verifier = form.get('code_verifier') || '';
        if (b64u(createHash('sha256').update(verifier).digest()) !== entry.challenge) {
          return json(res, 400, { error: 'invalid_grant', error_description: 'PKCE' });
        }
        return json(res, 200, entry.body);
      }
      if (req.method === 'GET' && p === `${ISSUER_PATH}/v1/userinfo`) {
        calls.userinfo++;
        const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization || '');
        const claims = bearer && userinfo.get(bearer[1]);
        if (!claims) return json(res, 401, { error: 'invalid_token' });
        userinfo.delete(bearer[1]);
        return json(res, 200, claims);
      }
      json(res, 404, { error: 'not_found' });
    });
  });
  return new Promise((resolve) => {
    server.listen(0, 'localhost', () => {
      issuer = `http://localhost:${server.address().port}${ISSUER_PATH}`;
      resolve({
        issuer,
        calls,
        register(code, challenge, body, claims) {
          codes.set(code, { challenge, body });
          userinfo.set(body.access_token, claims);
        },
        close: () => server.close(),
      });
    });
  });
}

async function main() {
  const [engineArg, itersArg] = process.argv.slice(2);
  if (!engineArg || !(engineArg === 'mem' || engineArg.startsWith('sqlite:'))) {
    console.error('usage: node oidc.mjs <mem | sqlite:<db file>> [iterations]');
    process.exit(2);
  }
  const ITERS = Number(itersArg || 300);

  const idp = await provider();
  const issuer = idp.issuer;

  // The fetch time: Polis's fetch goes through node:http `request` (read through the
  // module object, so this wrapper sees every provider call).
  let fetchMs = 0;
  const realRequest = http.request;
  http.request = function (...a) {
    const t0 = performance.now();
    const req = realRequest.apply(this, a);
    req.on('response', (res) => res.on('end', () => (fetchMs += performance.now() - t0)));
    return req;
  };

  const require = createRequire(join(here, 'node_modules', '@boxyhq', 'saml-jackson', 'package.json'));
  const jacksonModule = require('@boxyhq/saml-jackson');
  let db;
  if (engineArg === 'mem') {
    db = { engine: 'mem' };
  } else {
    const file = engineArg.slice('sqlite:'.length);
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
    db = { engine: 'sql', type: 'sqlite', url: file };
  }
  const jackson = await (jacksonModule.controllers || jacksonModule.default.controllers || jacksonModule.default)({
    externalUrl: 'https://sso.example.com',
    samlPath: '/api/oauth/saml',
    oidcPath: '/api/oauth/oidc',
    samlAudience: 'https://saml.example.com',
    db,
    noAnalytics: true,
    logger: { info() {}, error() {}, warn() {}, debug() {} },
  });
  const api = jackson.connectionAPIController || jackson.apiController;
  const oauth = jackson.oauthController;
  const redirectUri = 'https://app.example.com/cb';
  const conn = await api.createOIDCConnection({
    tenant: 'acme.com',
    product: 'bench',
    name: 'bench',
    defaultRedirectUrl: redirectUri,
    redirectUrl: ['https://app.example.com/*'],
    oidcDiscoveryUrl: `${issuer}/.well-known/openid-configuration`,
    oidcClientId: CLIENT_ID,
    oidcClientSecret: CLIENT_SECRET,
  });

  // The provider's signing: the Rust bench's claims (an Okta-shaped token with Entra's
  // tid/oid and four groups, at_hash), this sign-in's nonce, now.
  const key = createPrivateKey(readFileSync(join(here, '../../idp/keys/idp-key.pem'), 'utf8'));
  const mint = (claims) => {
    const input = `${b64u(JSON.stringify({ kid: KID, alg: 'RS256', typ: 'JWT' }))}.${b64u(JSON.stringify(claims))}`;
    return `${input}.${b64u(sign('RSA-SHA256', Buffer.from(input), key))}`;
  };
  const providerSide = (authorizationUrl, i) => {
    const q = new URL(authorizationUrl).searchParams;
    if (!authorizationUrl.startsWith(`${issuer}/v1/authorize?`) || q.get('code_challenge_method') !== 'S256' || !q.get('nonce')) {
      fail('authorize (the IdP redirect)', authorizationUrl);
    }
    const now = Math.floor(Date.now() / 1000);
    const sub = `00u${String(i).padStart(17, '0')}`;
    const email = `user${i}@acme.com`;
    const access = `eyJraWQiOiJhY2Nlc3MtdG9rZW4ifQ.bench-access-token-${i}-${randomBytes(8).toString('hex')}`;
    const idToken = mint({
      sub, ver: 1, iss: issuer, aud: CLIENT_ID, azp: CLIENT_ID,
      iat: now - 5, nbf: now - 5, exp: now + 3595, auth_time: now - 30,
      jti: 'ID.3mQ9xN0vZk2Lr8Tg5Hc7Wb1Fy4Ps6Ja0De2Gi8Mo',
      amr: ['pwd', 'mfa', 'otp'], idp: '00o1abcdefghij2k3l4m',
      nonce: q.get('nonce'), name: 'Jane Doe', given_name: 'Jane', family_name: 'Doe',
      preferred_username: email, email, email_verified: true,
      at_hash: b64u(createHash('sha256').update(access).digest().subarray(0, 16)),
      tid: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      oid: '00000000-0000-0000-66f3-3332eca7ea81',
      groups: ['Everyone', 'Engineering', 'SSO-Admins', 'VPN-Users'],
    });
    const code = randomBytes(16).toString('hex');
    idp.register(
      code,
      q.get('code_challenge'),
      { token_type: 'Bearer', expires_in: 3600, access_token: access, scope: 'openid email profile', id_token: idToken },
      { sub, email, email_verified: true, name: 'Jane Doe', given_name: 'Jane', family_name: 'Doe' },
    );
    return { code, state: q.get('state'), email };
  };

  const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
  const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
  let counter = 0;
  function fail(step, r) {
    throw new Error(`${step}: ${JSON.stringify(r)}`);
  }

  // One sign-in: wall ms of each step, and the fetch time inside authorize and the callback.
  async function signIn() {
    const i = ++counter;
    const state = `s${i}`;
    fetchMs = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const a = await oauth.authorize({
      client_id: conn.clientID,
      redirect_uri: redirectUri,
      state,
      response_type: 'code',
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
    });
    const t1 = performance.now();
    const cpuAuthorize = process.cpuUsage(c0);
    const fetchAuthorize = fetchMs;
    if (!a.redirect_url) fail('authorize', a);
    const answer = providerSide(a.redirect_url, i);
    fetchMs = 0;
    const c2 = process.cpuUsage();
    const t2 = performance.now();
    const cb = await oauth.oidcAuthzResponse({ code: answer.code, state: answer.state, iss: issuer });
    const t3 = performance.now();
    const cpuCallback = process.cpuUsage(c2);
    const fetchCallback = fetchMs;
    const back = cb.redirect_url && new URL(cb.redirect_url);
    const code = back && back.searchParams.get('code');
    if (!code || back.searchParams.get('state') !== state || cb.error) fail('oidcAuthzResponse', cb);
    const t4 = performance.now();
    const tok = await oauth.token({
      grant_type: 'authorization_code',
      client_id: conn.clientID,
      client_secret: conn.clientSecret,
      code,
      redirect_uri: redirectUri,
      code_verifier: VERIFIER,
    });
    const t5 = performance.now();
    if (!tok.access_token) fail('token', tok);
    const t6 = performance.now();
    const profile = await oauth.userInfo(tok.access_token);
    const t7 = performance.now();
    if (!profile || profile.email !== answer.email) fail('userInfo', profile);
    return {
      authorize: t1 - t0,
      callback: t3 - t2,
      token: t5 - t4,
      user_info: t7 - t6,
      authorize_callback: t1 - t0 + (t3 - t2),
      total: t1 - t0 + (t3 - t2) + (t5 - t4) + (t7 - t6),
      fetch_authorize: fetchAuthorize,
      fetch_callback: fetchCallback,
      callback_minus_fetch: t3 - t2 - fetchCallback,
      authorize_callback_minus_fetch: t1 - t0 + (t3 - t2) - fetchAuthorize - fetchCallback,
      cpu_authorize_callback: (cpuAuthorize.user + cpuAuthorize.system + cpuCallback.user + cpuCallback.system) / 1000,
    };
  }

  const samples = [];
  for (let k = 0; k < 30 + ITERS; k++) {
    const s = await signIn();
    if (k >= 30) samples.push(s);
  }
  const calls = idp.calls;
  if (calls.jwks !== 0) fail('the JWKS was fetched', calls);
  idp.close();
  const sorted = (k) => samples.map((s) => s[k] * 1000).sort((a, b) => a - b);
  const med = (k) => sorted(k)[samples.length >> 1];
  const total = sorted('total');
  const mean = total.reduce((a, b) => a + b, 0) / total.length;
  const n = 30 + ITERS;
  console.log(JSON.stringify({
    engine: engineArg === 'mem' ? 'polis-mem' : 'polis-sqlite',
    polis: require('@boxyhq/saml-jackson/package.json').version,
    openid_client: JSON.parse(readFileSync(join(here, 'node_modules/openid-client/package.json'), 'utf8')).version,
    node: process.version,
    iterations: samples.length,
    median_us: med('total'),
    mean_us: mean,
    p99_us: total[Math.min(total.length - 1, Math.floor(total.length * 0.99))],
    per_s: 1e6 / mean,
    steps_median_us: Object.fromEntries(['authorize', 'callback', 'token', 'user_info', 'authorize_callback'].map((k) => [k, med(k)])),
    fetch_median_us: { authorize: med('fetch_authorize'), callback: med('fetch_callback') },
    callback_minus_fetch_median_us: med('callback_minus_fetch'),
    authorize_callback_minus_fetch_median_us: med('authorize_callback_minus_fetch'),
    cpu_authorize_callback_median_us: med('cpu_authorize_callback'),
    provider_calls_per_sign_in: Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v / n])),
  }));
  process.exit(0);
}
