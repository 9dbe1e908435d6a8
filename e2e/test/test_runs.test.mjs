// Connection test runs end to end (Clerk's test_runs), as an IT admin tries a connection:
// `POST /v1/enterprise_connections/{id}/test_runs` → headless chromium visits the URL → the
// server sends it to SimpleSAMLphp with an AuthnRequest → the admin types a user into the
// real login form → the Response is posted to the ACS, which shows the run's outcome page →
// `GET …/test_runs` lists the run: success, the parsed user, the raw SAML messages. Then the
// IdP's app misconfigured (SimpleSAMLphp names another SP entity id as the audience,
// `start.sh --audience`): a failed run whose logs name the expected and the received
// audience. No account is ever created. The server runs with a key ring: the store's files
// never hold what a run keeps from the IdP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import {
  HOOK, TEST_TIMEOUT, clerk, freePort, launchBrowser, missing, navigation, sspLogin, sspSamlFields, startSimpleSamlPhp, startSsoServer, teardown, withPage,
} from '../lib/harness.mjs';

const skip = missing(['chromium', 'simplesamlphp']);
const WRONG_AUDIENCE = 'https://sso.old-name.example/saml/acme';

let server;
let ssp;
let sspPort;
let browser;
let connectionId;

before(async () => {
  if (skip) return;
  sspPort = await freePort();
  server = await startSsoServer(
    [{ client_id: 'client_admin_console', redirect_uris: ['http://127.0.0.1:9/callback'] }],
    { ENTERPRISE_SSO_KEYRING: `e2e:${crypto.randomBytes(32).toString('base64')}` },
  );
  // Not active yet: an admin tries the connection before switching it on.
  const conn = await clerk(server, 'POST', '/enterprise_connections', {
    name: 'Acme SimpleSAMLphp (trial)',
    provider: 'saml_custom',
    domains: ['acme.com'],
    saml: sspSamlFields(sspPort),
  });
  assert.equal(conn.active, false);
  connectionId = conn.id;
  ssp = await startSimpleSamlPhp(sspPort, server.base, [connectionId]);
  browser = await launchBrowser();
}, HOOK);

after(() => teardown([
  ['chromium', browser && (() => browser.close())],
  ['SimpleSAMLphp', ssp && (() => ssp.stop())],
  ['the server', server && (async () => assert.equal((await server.stop()).code, 0))],
]), HOOK);

/** A new run's URL, visited: SimpleSAMLphp's login form, then the outcome page at the ACS. */
async function runOnce(user, password) {
  const { url } = await clerk(server, 'POST', `/enterprise_connections/${connectionId}/test_runs`);
  assert.ok(url.startsWith(`${server.base}/${connectionId}/test_runs/`), url);
  const acs = `${server.base}/${connectionId}/acs`;
  return withPage(browser, server, async (page) => {
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    assert.ok(page.url().startsWith(`http://127.0.0.1:${sspPort}/`), 'the browser is at SimpleSAMLphp');
    assert.match(page.trail[0], new RegExp(`^302 GET ${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    const landed = await navigation(page, (u) => u === acs, () => sspLogin(page, user, password));
    assert.equal(landed.status(), 200, 'the outcome page');
    return {
      page: await page.evaluate(() => document.body.innerText),
      run: await page.$eval('#run', (e) => e.textContent),
      status: await page.$eval('#status', (e) => e.textContent),
    };
  });
}

/** Every byte of the server's store files (database, WAL, shm), as latin1 text. */
function storeBytes() {
  return fs.readdirSync(server.dir).map((f) => fs.readFileSync(path.join(server.dir, f)).toString('latin1')).join('');
}

/** The connection's runs, newest first (the Clerk list). */
async function runs(query = '') {
  return clerk(server, 'GET', `/enterprise_connections/${connectionId}/test_runs${query}`);
}

test('a test run from its URL: SimpleSAMLphp login → success, the parsed user and the raw SAML messages', { skip, timeout: TEST_TIMEOUT }, async () => {
  const shown = await runOnce('jane', 'jane-pass');
  assert.equal(shown.status, 'success', shown.page);
  assert.match(shown.page, /jane@acme\.com/);
  const list = await runs();
  assert.equal(list.total_count, 1);
  const [run] = list.data;
  assert.equal(run.id, shown.run);
  assert.equal(run.status, 'success');
  assert.equal(run.connection_type, 'saml');
  assert.deepEqual(run.parsed_user_info, { email_address: 'jane@acme.com', first_name: 'Jane', last_name: 'Doe', user_id: 'jane@acme.com' });
  assert.equal(typeof run.created_at, 'number');
  assert.equal(run.oauth, null);
  // The raw messages: our AuthnRequest, SimpleSAMLphp's Response, the RelayState.
  assert.match(run.saml.saml_request, /<samlp?:AuthnRequest\b/);
  assert.match(run.saml.saml_request, new RegExp(`AssertionConsumerServiceURL="${server.base}/${connectionId}/acs"`));
  assert.match(run.saml.saml_response, /<samlp:Response\b[\s\S]*jane@acme\.com/);
  assert.match(run.saml.saml_response, new RegExp(`<saml:Audience>${server.base}/${connectionId}</saml:Audience>`));
  assert.ok(run.saml.relay_state, 'the RelayState');
  const codes = run.logs.map((l) => l.code);
  for (const c of ['request_sent', 'saml_response_verified', 'account_lookup', 'test_run_succeeded']) {
    assert.ok(codes.includes(c), `${c} in ${JSON.stringify(run.logs)}`);
  }
  assert.equal(codes.at(-1), 'test_run_succeeded');
  // Not active yet: said as a warning, not an error.
  assert.ok(run.logs.some((l) => l.code === 'connection_inactive' && l.level === 'warning'), JSON.stringify(run.logs));
  assert.ok(!run.logs.some((l) => l.level === 'error'), JSON.stringify(run.logs));
  // The run changed nothing on the connection.
  assert.equal((await clerk(server, 'GET', `/enterprise_connections/${connectionId}`)).active, false);
  // Sealed at rest: neither the Response's signature nor the user's address is in the files.
  const signature = run.saml.saml_response.match(/<ds:SignatureValue>\s*([A-Za-z0-9+/]{40})/);
  assert.ok(signature, 'a signed Response');
  const files = storeBytes();
  assert.ok(files.length > 0, 'the store files');
  assert.ok(!files.includes(signature[1]), 'the SAML Response is in the store files');
  assert.ok(!files.includes('jane@acme.com'), 'the user is in the store files');
});

test("the IdP's app names another audience: a failed run whose logs name the expected and received audience", { skip, timeout: TEST_TIMEOUT }, async () => {
  // The same IdP and users; its app for this SP now sends WRONG_AUDIENCE (an admin typed
  // the SP's old entity id). The connection is unchanged.
  await ssp.stop();
  ssp = await startSimpleSamlPhp(sspPort, server.base, [connectionId], ['--audience', WRONG_AUDIENCE]);
  const shown = await runOnce('jane', 'jane-pass');
  assert.equal(shown.status, 'failed', shown.page);
  assert.match(shown.page, /saml_audience_mismatch/);

  const failed = await runs('?status=failed');
  assert.equal(failed.total_count, 1);
  const [run] = failed.data;
  assert.equal(run.id, shown.run);
  assert.equal(run.status, 'failed');
  assert.equal(run.parsed_user_info ?? null, null, 'nothing was read from a refused Response');
  assert.match(run.saml.saml_response, new RegExp(`<saml:Audience>${WRONG_AUDIENCE}</saml:Audience>`));
  const err = run.logs.find((l) => l.level === 'error');
  assert.equal(err.code, 'saml_audience_mismatch', JSON.stringify(run.logs));
  assert.ok(err.message.includes(WRONG_AUDIENCE), `the received audience in: ${err.message}`);
  assert.ok(err.message.includes(`${server.base}/${connectionId}`), `the expected audience in: ${err.message}`);
  // Both runs are listed, newest first; the first one is still the success.
  const all = await runs();
  assert.deepEqual(all.data.map((r) => r.status), ['failed', 'success']);
  assert.equal(all.total_count, 2);
  // A used URL does not start another run.
  assert.equal((await runs('?status=pending')).total_count, 0);
});
