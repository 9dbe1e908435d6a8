// OIDC end to end, as a user's browser does it: the customer app as a public client (the
// official WorkOS SDK without an API key, PKCE from sso.getAuthorizationUrlWithPKCE) →
// enterprise-sso-server's /sso/authorize → npm oidc-provider's real login and consent
// pages, filled in by headless Debian chromium → the server's OIDC callback → the app's
// redirect URI with a code and its state → sso.getProfileAndToken with the code verifier.
// And the user declining on the consent page: the app's redirect URI gets WorkOS's
// error=access_denied with its own state, and no code.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { appRedirectUri, startApp } from '../lib/app.mjs';
import {
  HOOK, TEST_TIMEOUT, clerk, freePort, launchBrowser, missing, navigation, opDecline, opLogin, startOidcProvider, startSsoServer, teardown, withPage,
} from '../lib/harness.mjs';

const skip = missing(['chromium', 'oidc-provider']);
const CLIENT = 'client_customer_spa';

let server;
let op;
let app;
let browser;
let connectionId;

before(async () => {
  if (skip) return;
  const appPort = await freePort();
  server = await startSsoServer([{ client_id: CLIENT, redirect_uris: [appRedirectUri(appPort)] }]);
  // The connection's callback URL names its id, and the provider must know it before it
  // starts: create the connection, start the provider, then point the connection at its
  // discovery document (the server reads it on write) and activate it.
  const conn = await clerk(server, 'POST', '/enterprise_connections', {
    name: 'Acme oidc-provider',
    provider: 'oidc_custom',
    domains: ['acme.com'],
    organization_id: 'org_acme',
    oidc: { client_id: 'rp', client_secret: 'rp-secret' },
  });
  connectionId = conn.id;
  op = await startOidcProvider(`${server.base}/${connectionId}/callback`);
  const active = await clerk(server, 'PATCH', `/enterprise_connections/${connectionId}`, { active: true, oidc: { discovery_url: op.url } });
  assert.equal(active.active, true);
  app = await startApp({ port: appPort, serverUrl: server.url, clientId: CLIENT, pkce: true });
  browser = await launchBrowser();
}, HOOK);

after(() => teardown([
  ['chromium', browser && (() => browser.close())],
  ['the app', app && (() => app.stop())],
  ['oidc-provider', op && (() => op.stop())],
  ['the server', server && (async () => assert.equal((await server.stop()).code, 0))],
]), HOOK);

test('getAuthorizationUrlWithPKCE → oidc-provider login and consent → callback → code and state → getProfileAndToken with the verifier', { skip, timeout: TEST_TIMEOUT }, async () => {
  const issuer = new URL(op.url).origin;
  const s = await withPage(browser, server, async (page) => {
    await page.goto(`${app.origin}/login?organization=org_acme`, { waitUntil: 'domcontentloaded' });
    assert.ok(page.url().startsWith(issuer), 'the browser is at the provider');
    // The app asked with an S256 challenge; the server asked the provider with its own.
    const authorize = page.trail.find((t) => t.includes('/sso/authorize?'));
    assert.match(authorize, /^302 GET .*[?&]code_challenge_method=S256/);
    assert.match(authorize, /[?&]organization=org_acme/);
    const landed = await navigation(page, (u) => u.startsWith(app.redirectUri), () => opLogin(page, 'jane@acme.com', 'any-password'));
    assert.equal(landed.status(), 200);
    assert.ok(page.trail.some((t) => t.startsWith(`303 GET ${server.base}/${connectionId}/callback?`)), 'the provider redirected to the callback, which redirected');
    assert.equal(await page.$eval('#email', (e) => e.textContent), 'jane@acme.com');
    assert.equal(await page.$eval('#name', (e) => e.textContent), 'Jane Doe');
    return app.signIns.at(-1);
  });
  assert.equal(s.idpInitiated, false);
  assert.equal(app.callbacks.at(-1).state, s.state);
  assert.match(s.state, /^[\w-]{43}$/, "the SDK's state");
  const p = s.profile;
  assert.deepEqual(
    [p.email, p.firstName, p.lastName, p.idpId, p.connectionId, p.connectionType, p.organizationId],
    ['jane@acme.com', 'Jane', 'Doe', 'jane@acme.com', connectionId, 'GenericOIDC', 'org_acme'],
  );
  assert.equal(p.rawAttributes.email, 'jane@acme.com');
  assert.equal(p.rawAttributes.given_name, 'Jane');
  // The claims keep their JSON types, as WorkOS sends them.
  assert.equal(p.rawAttributes.email_verified, true);
  assert.equal(typeof p.rawAttributes.iat, 'number');
  assert.equal(s.raw.id, p.id);
  assert.ok(s.raw.enterprise_account_id, 'the profile names the enterprise account');
  // Stored: the same user from another browser is the same account.
  const again = await withPage(browser, server, async (page) => {
    await page.goto(`${app.origin}/login?organization=org_acme`, { waitUntil: 'domcontentloaded' });
    await navigation(page, (u) => u.startsWith(app.redirectUri), () => opLogin(page, 'jane@acme.com', 'any-password'));
    assert.equal(await page.$eval('h1', (e) => e.textContent), 'Signed in');
    return app.signIns.at(-1);
  });
  assert.notEqual(again.state, s.state);
  assert.equal(again.raw.enterprise_account_id, s.raw.enterprise_account_id);
});

test('the user declines consent at oidc-provider → the app gets error=access_denied with its state, no code', { skip, timeout: TEST_TIMEOUT }, async () => {
  const calls = app.callbacks.length;
  const signIns = app.signIns.length;
  await withPage(browser, server, async (page) => {
    await page.goto(`${app.origin}/login?organization=org_acme`, { waitUntil: 'domcontentloaded' });
    const authorize = page.trail.find((t) => t.includes('/sso/authorize?'));
    const sent = new URL(authorize.replace(/^\d+ GET /, '')).searchParams.get('state');
    const landed = await navigation(page, (u) => u.startsWith(app.redirectUri), () => opDecline(page, 'jane@acme.com', 'any-password'));
    // oidc-provider sent error=access_denied to the server's callback, which sent it on.
    assert.ok(page.trail.some((t) => t.startsWith(`303 GET ${server.base}/${connectionId}/callback?error=access_denied`)), page.trail.join('\n'));
    assert.equal(landed.status(), 400, "the app's own error page");
    const back = new URL(landed.url());
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.match(back.searchParams.get('error_description'), /access_denied: End-User aborted interaction/);
    assert.equal(back.searchParams.get('state'), sent, "the app's state came back");
    assert.equal(back.searchParams.get('code'), null);
    assert.equal(await page.$eval('#error', (e) => e.textContent), 'access_denied');
  });
  assert.equal(app.callbacks.length, calls + 1);
  assert.deepEqual({ ...app.callbacks.at(-1), state: undefined }, { path: '/callback', state: undefined, hasCode: false, error: 'access_denied' });
  assert.equal(app.signIns.length, signIns, 'no sign-in');
});
