// Ory Polis (npm @boxyhq/saml-jackson) running a whole SP-initiated sign-in in process:
// `oauthController.authorize` → `samlResponse` → `token` → `userInfo`, one after another,
// on its memory engine or its SQLite engine. The counterpart of enterprise-sso's
// `hosted_flow` bench and the in-process rows of `hosted_load` (benches/polis/flow.sh).
//
//   node flow.mjs <mem | sqlite:<db file>> [iterations=300] [response.xml=saml-response.xml]
//
// Setup (not timed): Polis with `db: { engine: 'mem' }` or `{ engine: 'sql', type: 'sqlite' }`,
// one SAML connection created from IdP metadata carrying the certificate that signed the
// response, as saml.mjs does. The response (samlify, Response and Assertion signed) answers
// AuthnRequest `_polis_bench_request_0001`: `@boxyhq/saml20`'s `request` is wrapped so the
// ID Polis stores for each authorization is that one, so the one pre-signed response
// answers every request (Polis keeps no replay cache; enterprise-sso refuses a replayed
// response, so its benches sign one per request, also untimed). The process clock is
// shifted to one minute after the response's IssueInstant, as in saml.mjs.
//
// Timed, per sign-in: authorize (client id, redirect URI, state, PKCE S256) → samlResponse
// (the posted response and the RelayState authorize gave) → token (code, client id and
// secret, PKCE verifier, redirect URI) → userInfo (the access token). Each answer is
// checked (a redirect, a code, an access token, the profile's email). 30 warm-up sign-ins.
// Prints one JSON object: median, mean and p99 wall µs of the whole sign-in, the median of
// each step, and sign-ins per second (1 / mean).
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const here = dirname(fileURLToPath(import.meta.url));
const [engineArg, itersArg, xmlPath] = process.argv.slice(2);
if (!engineArg || !(engineArg === 'mem' || engineArg.startsWith('sqlite:'))) {
  console.error('usage: node flow.mjs <mem | sqlite:<db file>> [iterations] [response.xml]');
  process.exit(2);
}
const ITERS = Number(itersArg || 300);
const xml = readFileSync(xmlPath || join(here, 'saml-response.xml'), 'utf8');
const certPem = readFileSync(join(here, '../../idp/keys/idp-cert.pem'), 'utf8');
const b64 = Buffer.from(xml, 'utf8').toString('base64');

const attr = (name) => {
  const m = xml.match(new RegExp(`<samlp:Response[^>]*\\s${name}="([^"]+)"`));
  if (!m) throw new Error(`no ${name} on the Response`);
  return m[1];
};
const issuer = xml.match(/<saml:Issuer>([^<]+)<\/saml:Issuer>/)[1];
const requestId = attr('InResponseTo');
const destination = attr('Destination');
const audience = xml.match(/<saml:Audience>([^<]+)<\/saml:Audience>/)[1];
const email = xml.match(/<saml:NameID[^>]*>([^<]+)<\/saml:NameID>/)[1];

// The clock: the response's IssueInstant + 60 s, moving at the real rate.
const offset = Date.parse(attr('IssueInstant')) + 60_000 - Date.now();
const RealDate = Date;
globalThis.Date = class extends RealDate {
  constructor(...a) {
    if (a.length === 0) super(RealDate.now() + offset);
    else super(...a);
  }
  static now() {
    return RealDate.now() + offset;
  }
};

const require = createRequire(join(here, 'node_modules', '@boxyhq', 'saml-jackson', 'package.json'));
const jacksonModule = require('@boxyhq/saml-jackson');
const saml20 = require('@boxyhq/saml20').default;

let db;
if (engineArg === 'mem') {
  db = { engine: 'mem' };
} else {
  const file = engineArg.slice('sqlite:'.length);
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
  db = { engine: 'sql', type: 'sqlite', url: file };
}
const acs = new URL(destination);
const jackson = await (jacksonModule.controllers || jacksonModule.default.controllers || jacksonModule.default)({
  externalUrl: acs.origin,
  samlPath: acs.pathname,
  samlAudience: audience,
  db,
  noAnalytics: true,
  logger: { info() {}, error() {}, warn() {}, debug() {} },
});
const api = jackson.connectionAPIController || jackson.apiController;
const oauth = jackson.oauthController;

const certBody = certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
const metadata = `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${issuer}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${certBody}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${issuer}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;
const redirectUri = 'https://app.example.com/cb';
const conn = await api.createSAMLConnection({
  rawMetadata: metadata,
  tenant: 'acme.com',
  product: 'bench',
  name: 'bench',
  defaultRedirectUrl: redirectUri,
  redirectUrl: ['https://app.example.com/*'],
});

// The AuthnRequest ID Polis stores in the session becomes the response's InResponseTo.
const realRequest = saml20.request;
saml20.request = (...a) => ({ ...realRequest(...a), id: requestId });

const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
let counter = 0;
const fail = (step, r) => {
  throw new Error(`${step}: ${JSON.stringify(r)}`);
};

// One sign-in: wall ms of each step.
async function signIn() {
  const state = `s${++counter}`;
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
  if (!a.redirect_url) fail('authorize', a);
  const relayState = new URL(a.redirect_url).searchParams.get('RelayState');
  const t2 = performance.now();
  const s = await oauth.samlResponse({ SAMLResponse: b64, RelayState: relayState });
  const t3 = performance.now();
  const back = s.redirect_url && new URL(s.redirect_url);
  const code = back && back.searchParams.get('code');
  if (!code || back.searchParams.get('state') !== state) fail('samlResponse', s);
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
  if (!profile || profile.email !== email) fail('userInfo', profile);
  return { authorize: t1 - t0, saml_response: t3 - t2, token: t5 - t4, user_info: t7 - t6, total: t1 - t0 + (t3 - t2) + (t5 - t4) + (t7 - t6) };
}

const samples = [];
for (let k = 0; k < 30 + ITERS; k++) {
  const s = await signIn();
  if (k >= 30) samples.push(s);
}
const sorted = (key) => samples.map((s) => s[key] * 1000).sort((a, b) => a - b);
const med = (key) => sorted(key)[samples.length >> 1];
const total = sorted('total');
const mean = total.reduce((a, b) => a + b, 0) / total.length;
console.log(JSON.stringify({
  engine: engineArg === 'mem' ? 'polis-mem' : 'polis-sqlite',
  polis: require('@boxyhq/saml-jackson/package.json').version,
  node: process.version,
  iterations: samples.length,
  median_us: med('total'),
  mean_us: mean,
  p99_us: total[Math.min(total.length - 1, Math.floor(total.length * 0.99))],
  per_s: 1e6 / mean,
  steps_median_us: { authorize: med('authorize'), saml_response: med('saml_response'), token: med('token'), user_info: med('user_info') },
}));
process.exit(0);
