#!/usr/bin/env node
// Browser smoke test and example: headless Debian chromium driven by puppeteer-core signs in
// through SimpleSAMLphp's real login form and through oidc-provider's login + consent pages,
// with a tiny loopback "SP" that records what the browser posts / is redirected to. TEST ONLY.
//
// Usage: node idp/node/browser-smoke.mjs      (env CHROMIUM=/usr/bin/chromium, BASE_PORT=7150)
// Starts: an SP stub on BASE_PORT, SimpleSAMLphp on BASE_PORT+1 (idp/simplesamlphp/start.sh),
// op.mjs on BASE_PORT+2; stops all of them. Prints "N passed, N failed"; exits 1 on failure.
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const idp = path.dirname(here);
const base = parseInt(process.env.BASE_PORT || '7150', 10);
const [spPort, sspPort, opPort] = [base, base + 1, base + 2];
const sp = `http://127.0.0.1:${spPort}`;
const spEntity = `${sp}/saml/sp`;
const acs = `${sp}/saml/acs`;
const cb = `${sp}/cb`;
let passed = 0;
let failed = 0;
const check = (name, ok, extra = '') => {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${extra ? ' ' + extra : ''}`);
};

// The SP stub: records the ACS POST and the OIDC callback.
const seen = [];
const stub = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    seen.push({ method: req.method, url: req.url, body });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('sp stub got ' + req.method + ' ' + req.url.split('?')[0]);
  });
});
await new Promise((r) => stub.listen(spPort, '127.0.0.1', r));

const procs = [];
function startOp() {
  const p = spawn(process.execPath, [path.join(here, 'op.mjs'), String(opPort)], {
    env: { ...process.env, OP_CLIENT_REDIRECT_URIS: cb }, stdio: ['ignore', 'pipe', 'ignore'] });
  procs.push(p);
  return new Promise((resolve, reject) => {
    p.stdout.once('data', (d) => resolve(String(d).trim()));
    setTimeout(() => reject(new Error('op.mjs not ready')), 15000).unref();
  });
}

let browser;
try {
  execFileSync(path.join(idp, 'simplesamlphp', 'start.sh'),
    ['--daemon', '--port', String(sspPort), '--sp-entity-id', spEntity, '--acs', acs], { stdio: ['ignore', 'pipe', 'inherit'] });
  const discovery = await startOp();
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  console.log('browser', await browser.version());

  // --- SAML, SP-initiated, through SimpleSAMLphp's login form
  const reqId = '_' + crypto.randomBytes(16).toString('hex');
  const sso = `http://127.0.0.1:${sspPort}/saml2/idp/SSOService.php`;
  const authn = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${reqId}" Version="2.0" IssueInstant="${new Date().toISOString().replace(/\.\d+Z/, 'Z')}" Destination="${sso}" AssertionConsumerServiceURL="${acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>${spEntity}</saml:Issuer></samlp:AuthnRequest>`;
  const q = new URLSearchParams({ SAMLRequest: zlib.deflateRawSync(Buffer.from(authn)).toString('base64'), RelayState: 'rs-browser' });
  const page = await browser.newPage();
  await page.goto(`${sso}?${q}`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#username');
  await page.type('#username', 'jane');
  await page.type('#password', 'jane-pass');
  await Promise.all([
    page.waitForResponse((r) => r.url() === acs, { timeout: 20000 }),
    page.click('button[type=submit], input[type=submit], #submit_button, button'),
  ]);
  const post = seen.find((s) => s.url === '/saml/acs');
  const f = new URLSearchParams(post ? post.body : '');
  const xml = Buffer.from(f.get('SAMLResponse') || '', 'base64').toString();
  check('ssp: browser posted a SAMLResponse to the ACS', xml.includes(`InResponseTo="${reqId}"`) && xml.includes('>jane@acme.com</saml:NameID>'));
  check('ssp: RelayState echoed', f.get('RelayState') === 'rs-browser');

  // --- OIDC, through oidc-provider's devInteractions login and consent pages
  const disc = await (await fetch(discovery)).json();
  const verifier = crypto.randomBytes(32).toString('base64url');
  const aq = new URLSearchParams({
    client_id: 'rp', response_type: 'code', scope: 'openid email profile', redirect_uri: cb, state: 'st1', nonce: 'n1',
    code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  });
  const p2 = await browser.newPage();
  await p2.goto(`${disc.authorization_endpoint}?${aq}`, { waitUntil: 'domcontentloaded' });
  await p2.waitForSelector('input[name=login]');
  await p2.type('input[name=login]', 'jane@acme.com');
  await p2.type('input[name=password]', 'anything');
  await Promise.all([p2.waitForNavigation({ waitUntil: 'domcontentloaded' }), p2.click('button[type=submit]')]);
  if (!p2.url().startsWith(cb)) {
    await Promise.all([p2.waitForNavigation({ waitUntil: 'domcontentloaded' }), p2.click('button[type=submit], button[autofocus]')]);
  }
  const u = new URL(p2.url());
  check('op: browser landed on the redirect URI with code, state and iss', u.href.startsWith(cb) && u.searchParams.get('code') && u.searchParams.get('state') === 'st1' && u.searchParams.get('iss') === disc.issuer, u.href.slice(0, 120));
  const tok = await (await fetch(disc.token_endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: u.searchParams.get('code'), redirect_uri: cb, code_verifier: verifier, client_id: 'rp', client_secret: 'rp-secret' }) })).json();
  const claims = JSON.parse(Buffer.from((tok.id_token || '..').split('.')[1], 'base64url').toString() || '{}');
  check('op: token exchange gives an ID token for jane', claims.email === 'jane@acme.com' && claims.nonce === 'n1');
} catch (e) {
  check('exception', false, e && e.stack);
} finally {
  if (browser) await browser.close().catch(() => {});
  for (const p of procs) p.kill('SIGTERM');
  try { execFileSync(path.join(idp, 'simplesamlphp', 'start.sh'), ['--stop', '--port', String(sspPort)]); } catch { /* ignore */ }
  stub.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
