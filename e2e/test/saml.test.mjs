// SAML end to end, as a user's browser does it: the customer app (lib/app.mjs, the official
// WorkOS SDK) → enterprise-sso-server's /sso/authorize → SimpleSAMLphp's real login form,
// typed into by headless Debian chromium → SimpleSAMLphp's auto-posting form → the ACS →
// the app's redirect URI with a code and its state → sso.getProfileAndToken; the same
// sign-in finished in another browser is refused. Then
// IdP-initiated from SimpleSAMLphp: refused with a page while the connection does not
// allow it, signed in to the client's default redirect URI once it does.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { appRedirectUri, appWelcomeUri, startApp } from '../lib/app.mjs';
import {
  HOOK, TEST_TIMEOUT, clerk, freePort, KEY, launchBrowser, missing, navigation, sspLogin, sspSamlFields, startSimpleSamlPhp, startSsoServer, teardown, withPage,
} from '../lib/harness.mjs';

const skip = missing(['chromium', 'simplesamlphp']);
const CLIENT = 'client_customer_app';

let server;
let ssp;
let app;
let browser;
let connectionId;
let acsUrl;

before(async () => {
  if (skip) return;
  const appPort = await freePort();
  const sspPort = await freePort();
  const callback = appRedirectUri(appPort);
  // The app is also the client IdP-initiated sign-ins go to.
  server = await startSsoServer([{ client_id: CLIENT, redirect_uris: [callback, appWelcomeUri(appPort)], default_redirect_uri: callback }]);
  const conn = await clerk(server, 'POST', '/enterprise_connections', {
    name: 'Acme SimpleSAMLphp',
    provider: 'saml_custom',
    domains: ['acme.com'],
    organization_id: 'org_acme',
    active: true,
    saml: sspSamlFields(sspPort),
  });
  connectionId = conn.id;
  acsUrl = `${server.base}/${connectionId}/acs`;
  assert.equal(conn.saml_connection.acs_url, acsUrl);
  ssp = await startSimpleSamlPhp(sspPort, server.base, [connectionId]);
  app = await startApp({ port: appPort, serverUrl: server.url, clientId: CLIENT, apiKey: KEY, acceptIdpInitiated: true });
  browser = await launchBrowser();
}, HOOK);

after(() => teardown([
  ['chromium', browser && (() => browser.close())],
  ['the app', app && (() => app.stop())],
  ['SimpleSAMLphp', ssp && (() => ssp.stop())],
  ['the server', server && (async () => assert.equal((await server.stop()).code, 0))],
]), HOOK);

/** The app's sign-in through SimpleSAMLphp's form, up to the app's page. */
async function signIn(page, user, password) {
  await page.goto(`${app.origin}/login?connection=${connectionId}`, { waitUntil: 'domcontentloaded' });
  // The server sent the browser on to the IdP with its browser-binding cookie.
  assert.ok(page.url().startsWith(new URL(ssp.ssoUrl).origin), 'the browser is at SimpleSAMLphp');
  const cookies = await page.cookies(server.url);
  assert.deepEqual(cookies.filter((c) => c.name === 'esso_browser').map((c) => [c.httpOnly, c.sameSite]), [[true, 'Lax']]);
  const landed = await navigation(page, (u) => u.startsWith(app.redirectUri), () => sspLogin(page, user, password));
  assert.ok(page.trail.includes(`303 POST ${acsUrl}`), 'the IdP posted to the ACS, which redirected');
  assert.equal(landed.status(), 200);
  assert.equal(await page.$eval('h1', (e) => e.textContent), 'Signed in');
  return app.signIns.at(-1);
}

test('SP-initiated: getAuthorizationUrl → SimpleSAMLphp login form → ACS → code and state → getProfileAndToken', { skip, timeout: TEST_TIMEOUT }, async () => {
  const jane = await withPage(browser, server, async (page) => {
    const n = app.signIns.length;
    const s = await signIn(page, 'jane', 'jane-pass');
    assert.equal(app.signIns.length, n + 1);
    assert.equal(await page.$eval('#email', (e) => e.textContent), 'jane@acme.com');
    return s;
  });
  // The app's own state came back with the code (the app compared it with its session).
  assert.equal(jane.idpInitiated, false);
  assert.match(jane.state, /^[\w-]{32}$/);
  assert.equal(app.callbacks.at(-1).state, jane.state);
  const p = jane.profile;
  assert.deepEqual(
    [p.email, p.firstName, p.lastName, p.idpId, p.connectionId, p.connectionType, p.organizationId],
    ['jane@acme.com', 'Jane', 'Doe', 'jane@acme.com', connectionId, 'GenericSAML', 'org_acme'],
  );
  assert.match(p.id, /^prof_/);
  // WorkOS's raw_attributes: one value as itself, several as an array.
  assert.equal(p.rawAttributes.mail, 'jane@acme.com');
  assert.deepEqual(p.rawAttributes.eduPersonAffiliation, ['member', 'employee']);
  // The enterprise account: the profile names it, and it is stored: signing in again from
  // another browser finds the same account, another user gets another one.
  assert.equal(jane.raw.id, p.id);
  assert.ok(jane.raw.enterprise_account_id, 'the profile names the enterprise account');
  const again = await withPage(browser, server, (page) => signIn(page, 'jane', 'jane-pass'));
  assert.notEqual(again.state, jane.state);
  assert.equal(again.raw.enterprise_account_id, jane.raw.enterprise_account_id);
  assert.equal(again.profile.id, p.id);
  const john = await withPage(browser, server, (page) => signIn(page, 'john', 'john-pass'));
  assert.equal(john.profile.email, 'john@acme.com');
  assert.notEqual(john.raw.enterprise_account_id, jane.raw.enterprise_account_id);
});

test('a sign-in started in one browser and finished in another (login CSRF): refused at the ACS, no code for the app', { skip, timeout: TEST_TIMEOUT }, async () => {
  const calls = app.callbacks.length;
  // The first browser starts and stops at the IdP's form; the IdP URL the server sent it
  // to (with the AuthnRequest) is what an attacker would send to a victim. (The form's own
  // URL would not do: SimpleSAMLphp keeps that state in its session and, in another browser,
  // restarts it as an IdP-initiated sign-in.)
  const link = await withPage(browser, server, async (page) => {
    const res = await page.goto(`${app.origin}/login?connection=${connectionId}`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#username');
    const toIdp = res.request().redirectChain().map((r) => r.url()).find((u) => u.startsWith(`${ssp.ssoUrl}?SAMLRequest=`));
    assert.ok(toIdp, 'the server sent the browser to the IdP with an AuthnRequest');
    return toIdp;
  });
  await withPage(browser, server, async (page) => {
    await page.goto(link, { waitUntil: 'domcontentloaded' });
    const res = await navigation(page, (u) => u === acsUrl, () => sspLogin(page, 'jane', 'jane-pass'));
    assert.equal(res.status(), 400);
    assert.equal(res.headers().location, undefined);
    assert.equal(await page.$eval('#error', (e) => e.textContent), 'saml_browser_mismatch');
  });
  assert.equal(app.callbacks.length, calls, 'the app was never reached');
});

/** Sets the connection's allow_idp_initiated through the Clerk API. */
async function allowIdpInitiated(allow) {
  const c = await clerk(server, 'PATCH', `/enterprise_connections/${connectionId}`, { saml: { allow_idp_initiated: allow } });
  assert.equal(c.saml_connection.allow_idp_initiated, allow);
}

test('IdP-initiated from SimpleSAMLphp while the connection does not allow it: a readable 403 page, no redirect', { skip, timeout: TEST_TIMEOUT }, async () => {
  await allowIdpInitiated(false);
  const calls = app.callbacks.length;
  await withPage(browser, server, async (page) => {
    await page.goto(ssp.idpInitiatedUrl(`${server.base}/${connectionId}`), { waitUntil: 'domcontentloaded' });
    const res = await navigation(page, (u) => u === acsUrl, () => sspLogin(page, 'jane', 'jane-pass'));
    assert.equal(res.status(), 403);
    assert.equal(res.headers().location, undefined);
    assert.equal(page.url(), acsUrl);
    assert.equal(await page.$eval('#error', (e) => e.textContent), 'idp_initiated_sso_disabled');
    assert.match(await page.evaluate(() => document.body.innerText), /IdP-initiated sign-in is disabled for connection \S+: start the sign-in from the application\./);
  });
  assert.equal(app.callbacks.length, calls, 'the app was never reached');
});

test('IdP-initiated from SimpleSAMLphp with the connection allowing it: signed in at the client\'s default redirect URI', { skip, timeout: TEST_TIMEOUT }, async () => {
  await allowIdpInitiated(true);
  const n = app.signIns.length;
  const s = await withPage(browser, server, async (page) => {
    await page.goto(ssp.idpInitiatedUrl(`${server.base}/${connectionId}`), { waitUntil: 'domcontentloaded' });
    const res = await navigation(page, (u) => u.startsWith(app.redirectUri), () => sspLogin(page, 'jane', 'jane-pass'));
    assert.equal(res.status(), 200);
    assert.ok(page.trail.includes(`303 POST ${acsUrl}`), 'the IdP posted to the ACS, which redirected');
    assert.equal(await page.$eval('#email', (e) => e.textContent), 'jane@acme.com');
    return app.signIns.at(-1);
  });
  assert.equal(app.signIns.length, n + 1);
  // A code and no state: nothing of a client request exists for an unsolicited Response.
  assert.deepEqual(app.callbacks.at(-1), { path: '/callback', state: null, hasCode: true, error: null });
  assert.equal(s.idpInitiated, true);
  assert.equal(s.profile.email, 'jane@acme.com');
  assert.equal(s.profile.connectionId, connectionId);
  assert.ok(s.raw.enterprise_account_id);
});

test('IdP-initiated with a RelayState naming redirect_uri=: a registered one is followed, another refused with a page', { skip, timeout: TEST_TIMEOUT }, async () => {
  await allowIdpInitiated(true);
  const url = (to) => `${ssp.idpInitiatedUrl(`${server.base}/${connectionId}`)}&RelayState=${encodeURIComponent(`redirect_uri=${to}`)}`;
  const welcome = `${app.origin}/welcome`;
  await withPage(browser, server, async (page) => {
    await page.goto(url(welcome), { waitUntil: 'domcontentloaded' });
    await navigation(page, (u) => u.startsWith(`${welcome}?`), () => sspLogin(page, 'jane', 'jane-pass'));
    assert.equal(await page.$eval('#email', (e) => e.textContent), 'jane@acme.com');
  });
  assert.deepEqual(app.callbacks.at(-1), { path: '/welcome', state: null, hasCode: true, error: null });
  const calls = app.callbacks.length;
  await withPage(browser, server, async (page) => {
    await page.goto(url('https://evil.example.com/cb'), { waitUntil: 'domcontentloaded' });
    const res = await navigation(page, (u) => u === acsUrl, () => sspLogin(page, 'jane', 'jane-pass'));
    assert.equal(res.status(), 400);
    assert.equal(res.headers().location, undefined);
    assert.equal(await page.$eval('#error', (e) => e.textContent), 'idp_initiated_redirect_not_registered');
    assert.match(await page.evaluate(() => document.body.innerText), /evil\.example\.com/);
  });
  assert.equal(app.callbacks.length, calls, 'the app was never reached');
});
