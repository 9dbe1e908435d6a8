// The hosted sign-in driven by @workos-inc/node, unchanged: sso.getAuthorizationUrl (and
// getAuthorizationUrlWithPKCE) → the server redirects to a real SAML IdP (pysaml2's HTTP
// IdP from idp/pysaml2/server.py with --auto-login, so no browser is needed) → its
// auto-posting form is posted to the ACS with the server's browser cookie → the redirect
// URI gets a code → sso.getProfileAndToken → sso.getProfile. A browser test can start
// the server the same way (see startSignInServer).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkOS } from '@workos-inc/node';

import { KEY, startServer } from '../lib/server.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const python = path.join(root, 'idp', '.venv', 'bin', 'python');
const CLIENT = 'client_sdk';
const CALLBACK = 'http://127.0.0.1:3999/callback';

const skip = !fs.existsSync(python)
  ? 'pysaml2 is not installed (run `bash idp/install.sh`)'
  : false;
if (skip && process.env.CI === 'true') throw new Error(skip);

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Starts a process and waits for its first stdout line. */
async function startProcess(cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start: ${err}`)), 30000);
    child.stdout.once('data', () => { clearTimeout(timer); resolve(); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${args[0]} exited ${code}: ${err}`)); });
  });
  return child;
}

let server;
let idp;
let workos;
let connectionId;
let base;

before(async () => {
  if (skip) return;
  // The SP base URL names the server's own port, so the port is picked first.
  const port = await freePort();
  base = `http://127.0.0.1:${port}/saml`;
  server = await startServer({
    listen: `127.0.0.1:${port}`,
    spBaseUrl: base,
    args: ['--clients', JSON.stringify([{ client_id: CLIENT, redirect_uris: [CALLBACK], default_redirect_uri: CALLBACK }])],
  });
  const idpPort = await freePort();
  const idpBase = `http://127.0.0.1:${idpPort}`;
  const res = await fetch(`${server.url}/v1/enterprise_connections`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      name: 'Acme pysaml2',
      provider: 'saml_custom',
      domains: ['acme.com'],
      active: true,
      organization_id: 'org_acme',
      saml: {
        idp_entity_id: `${idpBase}/metadata`,
        idp_sso_url: `${idpBase}/sso`,
        idp_certificate: fs.readFileSync(path.join(root, 'idp/keys/idp-cert.pem'), 'utf8'),
      },
    }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  connectionId = (await res.json()).id;
  idp = await startProcess(python, [
    'idp/pysaml2/server.py', '--port', String(idpPort),
    '--sp-entity-id', `${base}/${connectionId}`, '--acs', `${base}/${connectionId}/acs`,
    '--auto-login', 'jane',
  ]);
  workos = new WorkOS(KEY, { apiHostname: '127.0.0.1', port, https: false });
});

after(async () => {
  idp?.kill('SIGTERM');
  if (server) {
    const status = await server.stop();
    assert.equal(status.code, 0);
  }
});

/** Follows an authorization URL as a browser without JavaScript: the code and state. */
async function signIn(url) {
  const start = await fetch(url, { redirect: 'manual' });
  assert.equal(start.status, 302, await start.text());
  const cookie = start.headers.get('set-cookie').split(';')[0];
  assert.match(cookie, /^esso_browser=/);
  const idpPage = await fetch(start.headers.get('location'), { redirect: 'manual' });
  const html = await idpPage.text();
  const field = (name) => {
    const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
    return m && m[1].replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  };
  const action = html.match(/action="([^"]*)"/)[1].replace(/&amp;/g, '&');
  assert.equal(action, `${base}/${connectionId}/acs`);
  const form = new URLSearchParams({ SAMLResponse: field('SAMLResponse') });
  if (field('RelayState') !== null) form.set('RelayState', field('RelayState'));
  const back = await fetch(action, { method: 'POST', body: form, headers: { cookie }, redirect: 'manual' });
  assert.equal(back.status, 303, await back.text());
  const to = new URL(back.headers.get('location'));
  assert.equal(`${to.origin}${to.pathname}`, CALLBACK);
  return { code: to.searchParams.get('code'), state: to.searchParams.get('state') };
}

test('getAuthorizationUrl → IdP → ACS → getProfileAndToken → getProfile', { skip }, async () => {
  const url = workos.sso.getAuthorizationUrl({ connection: connectionId, clientId: CLIENT, redirectUri: CALLBACK, state: 'state-123' });
  const { code, state } = await signIn(url);
  assert.equal(state, 'state-123');
  const { accessToken, profile } = await workos.sso.getProfileAndToken({ code, clientId: CLIENT });
  assert.ok(accessToken);
  assert.equal(profile.email, 'jane@acme.com');
  assert.equal(profile.firstName, 'Jane');
  assert.equal(profile.lastName, 'Doe');
  assert.equal(profile.connectionId, connectionId);
  assert.equal(profile.connectionType, 'GenericSAML');
  assert.equal(profile.organizationId, 'org_acme');
  assert.match(profile.id, /^prof_/);
  assert.equal(typeof profile.rawAttributes, 'object');
  assert.deepEqual(await workos.sso.getProfile({ accessToken }), profile);
  // A code is used once.
  await assert.rejects(workos.sso.getProfileAndToken({ code, clientId: CLIENT }), (e) => e.error === 'invalid_grant');
});

test('getAuthorizationUrlWithPKCE and a public client (verifier, no secret)', { skip }, async () => {
  const { url, state, codeVerifier } = await workos.sso.getAuthorizationUrlWithPKCE({ organization: 'org_acme', clientId: CLIENT, redirectUri: CALLBACK });
  const back = await signIn(url);
  assert.equal(back.state, state);
  const publicClient = new WorkOS({ clientId: CLIENT, apiHostname: '127.0.0.1', port: Number(new URL(server.url).port), https: false });
  const wrong = await workos.sso.getAuthorizationUrlWithPKCE({ connection: connectionId, clientId: CLIENT, redirectUri: CALLBACK });
  const other = await signIn(wrong.url);
  await assert.rejects(
    publicClient.sso.getProfileAndToken({ code: other.code, clientId: CLIENT, codeVerifier }),
    (e) => e.error === 'invalid_grant',
  );
  const { profile } = await publicClient.sso.getProfileAndToken({ code: back.code, clientId: CLIENT, codeVerifier });
  assert.equal(profile.email, 'jane@acme.com');
});

test('an unregistered redirect URI gets a page, not a redirect', { skip }, async () => {
  const url = workos.sso.getAuthorizationUrl({ connection: connectionId, clientId: CLIENT, redirectUri: 'https://evil.example.com/cb' });
  const res = await fetch(url, { redirect: 'manual' });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('location'), null);
  assert.match(await res.text(), /invalid_redirect_uri/);
});
