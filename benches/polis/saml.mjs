// Ory Polis (npm @boxyhq/saml-jackson) verifying a SAML Response in process, on its memory
// engine: the same response (saml-response.xml) that the criterion bench `saml_verify`
// verifies with enterprise-sso's ResponseVerifier.
//
//   node saml.mjs [iterations=300] [response.xml=saml-response.xml] [idp-cert.pem=../../idp/keys/idp-cert.pem]
//
// Setup (not timed): Polis with `db: { engine: 'mem' }`, one SAML connection created from IdP
// metadata carrying the certificate that signed the response. The process clock is shifted
// so that "now" is one minute after the response's IssueInstant (the Rust bench verifies at
// the same instant).
//
// Timed, per iteration:
//   full  `oauthController.samlResponse({ SAMLResponse, RelayState })`: what Polis's ACS
//         endpoint runs: issuer parse, connection lookup by entity id, session lookup,
//         `@boxyhq/saml20` validate (signature, audience, times, InResponseTo), claims
//         mapping, authorization-code minting and storing, session delete. Each iteration
//         first runs `authorize` (untimed) to create the pending session the response answers;
//         `@boxyhq/saml20`'s `request` is wrapped so the AuthnRequest ID it mints is the
//         response's InResponseTo (a captured IdP response cannot answer a random ID).
//   validate  `@boxyhq/saml20` `validate(xml, opts)` alone, with the exact opts `samlResponse`
//         passed it (captured during the warm-up): the verification subset.
//
// The two are interleaved call by call (a noisy minute hits both), after 30 warm-up rounds.
// Prints one JSON object: median and mean wall and CPU microseconds of each (CPU: the
// process's, all threads, garbage collector included), and the response size.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const here = dirname(fileURLToPath(import.meta.url));
const [itersArg, xmlPath, certPath] = process.argv.slice(2);
const ITERS = Number(itersArg || 300);
const xml = readFileSync(xmlPath || join(here, 'saml-response.xml'), 'utf8');
const certPem = readFileSync(certPath || join(here, '../../idp/keys/idp-cert.pem'), 'utf8');
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

// Polis's SP endpoints: ACS = externalUrl + samlPath, audience = samlAudience.
const acs = new URL(destination);
const jackson = await (jacksonModule.controllers || jacksonModule.default.controllers || jacksonModule.default)({
  externalUrl: acs.origin,
  samlPath: acs.pathname,
  samlAudience: audience,
  db: { engine: 'mem' },
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
const tenant = 'acme.com', product = 'bench';
const redirectUri = 'https://app.example.com/cb';
const conn = await api.createSAMLConnection({
  rawMetadata: metadata,
  tenant,
  product,
  name: 'bench',
  defaultRedirectUrl: redirectUri,
  redirectUrl: ['https://app.example.com/*'],
});

// The AuthnRequest ID Polis stores in the session becomes the response's InResponseTo.
const realRequest = saml20.request;
saml20.request = (...a) => ({ ...realRequest(...a), id: requestId });
// Capture the opts samlResponse hands to validate.
let validateOpts = null;
const realValidate = saml20.validate;
saml20.validate = (raw, opts) => {
  validateOpts = opts;
  return realValidate(raw, opts);
};

let stateCounter = 0;
async function pendingSession() {
  const r = await oauth.authorize({
    client_id: conn.clientID,
    redirect_uri: redirectUri,
    state: `s${++stateCounter}`,
    response_type: 'code',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
  if (!r.redirect_url) throw new Error('authorize: ' + JSON.stringify(r));
  return new URL(r.redirect_url).searchParams.get('RelayState');
}
// One call, timed: wall ms and process CPU µs (all threads, the garbage collector's too).
async function timed(op) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await op();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { r, wall, cpu: c.user + c.system };
}
async function full() {
  const relayState = await pendingSession();
  const t = await timed(() => oauth.samlResponse({ SAMLResponse: b64, RelayState: relayState }));
  const r = t.r;
  if (r.error || !r.redirect_url || !new URL(r.redirect_url).searchParams.get('code')) {
    throw new Error('samlResponse refused the response: ' + JSON.stringify(r));
  }
  return t;
}
async function validateOnly() {
  const t = await timed(() => realValidate(xml, validateOpts));
  if (!t.r || !t.r.claims) throw new Error('validate returned no claims');
  return t;
}
// The two interleaved, call by call, so that a noisy minute hits both.
const samples = { full: [], validate: [] };
for (let k = 0; k < 30 + ITERS; k++) {
  const f = await full();
  if (k === 0) {
    if (!validateOpts) throw new Error('validate was never called');
    saml20.validate = realValidate;
  }
  const v = await validateOnly();
  if (k >= 30) {
    samples.full.push(f);
    samples.validate.push(v);
  }
}
function stats(list) {
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const wall = list.map((t) => t.wall * 1000), cpu = list.map((t) => t.cpu);
  return { median_us: med(wall), mean_us: mean(wall), cpu_median_us: med(cpu), cpu_mean_us: mean(cpu), iterations: list.length };
}
const fullStats = stats(samples.full);
const validateStats = stats(samples.validate);
console.log(JSON.stringify({
  engine: 'polis-mem',
  polis: require('@boxyhq/saml-jackson/package.json').version,
  saml20: require('@boxyhq/saml20/package.json').version,
  node: process.version,
  response_bytes: Buffer.byteLength(xml),
  saml_response: fullStats,
  saml20_validate: validateStats,
}));
process.exit(0);
