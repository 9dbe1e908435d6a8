// What the browser tests share: the server (sdk-tests/lib/server.mjs's startServer), the
// IdPs from idp/ as child processes on free loopback ports, headless Debian chromium through
// puppeteer-core, and failure diagnostics (page URL, page text, the navigations, the
// server's log) with codes, tokens, verifiers, SAML messages and passwords masked.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

import { KEY, startServer, within } from '../../sdk-tests/lib/server.mjs';

export { KEY, within };
export const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Why the tests cannot run here (false when they can); with CI=true that is an error. */
export function missing(needs) {
  const have = {
    chromium: [fs.existsSync(CHROMIUM), `${CHROMIUM} is missing (run \`bash idp/install.sh\`)`],
    simplesamlphp: [fs.existsSync('/usr/share/simplesamlphp/www/index.php'), 'SimpleSAMLphp is not installed (run `bash idp/install.sh`)'],
    'oidc-provider': [fs.existsSync(path.join(root, 'idp/node/node_modules/oidc-provider')), 'oidc-provider is not installed (run `bash idp/install.sh`)'],
  };
  const why = needs.map((n) => have[n]).filter(([ok]) => !ok).map(([, msg]) => msg);
  const skip = why.length ? why.join('; ') : false;
  if (skip && process.env.CI === 'true') throw new Error(skip);
  return skip;
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/**
 * The server on a port picked first (its SP base URL must name it), with the OAuth clients,
 * and loopback fetches allowed (the OIDC provider's discovery, token and JWKS endpoints);
 * `env` adds to its environment (a key ring).
 */
export async function startSsoServer(clients, env = {}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}/saml`;
  const server = await startServer({
    listen: `127.0.0.1:${port}`,
    spBaseUrl: base,
    args: ['--clients', JSON.stringify(clients)],
    env: { ENTERPRISE_SSO_INSECURE_FETCH_LOOPBACK_FOR_TESTS: '1', RUST_LOG: 'info', ...env },
  });
  return { ...server, base };
}

/** A call to the server's Clerk API (the API key as bearer): the JSON body, or throws. */
export async function clerk(server, method, route, body) {
  const res = await fetch(`${server.url}/v1${route}`, {
    method,
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} /v1${route}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/**
 * Runs one of idp/'s IdPs in the foreground and waits for its first stdout line (its
 * metadata or discovery URL). `stop()` sends SIGTERM (start.sh then stops php).
 */
export async function startIdp(cmd, args, env = {}) {
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const line = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start: ${err}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) { clearTimeout(timer); resolve(out.slice(0, nl).trim()); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${args[0]} exited ${code}: ${err}`)); });
  });
  return {
    url: line,
    stderr: () => err,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await within(10000, `${args[0]} stopping on SIGTERM`, exited, () => child.kill('SIGKILL'), () => err.slice(-2000));
    },
  };
}

/** SimpleSAMLphp's URLs on `port` (known before it starts, for the connection). */
export function sspEndpoints(port) {
  const origin = `http://127.0.0.1:${port}`;
  return {
    entityId: `${origin}/saml2/idp/metadata.php`,
    ssoUrl: `${origin}/saml2/idp/SSOService.php`,
    /** SimpleSAMLphp 1.19's IdP-initiated URL for one SP. */
    idpInitiatedUrl: (spEntityId) => `${origin}/saml2/idp/SSOService.php?spentityid=${encodeURIComponent(spEntityId)}`,
  };
}

/** The connection fields for SimpleSAMLphp on `port` (its key pair is idp/keys/idp). */
export function sspSamlFields(port) {
  const { entityId, ssoUrl } = sspEndpoints(port);
  return {
    idp_entity_id: entityId,
    idp_sso_url: ssoUrl,
    idp_certificate: fs.readFileSync(path.join(root, 'idp/keys/idp-cert.pem'), 'utf8'),
  };
}

/**
 * SimpleSAMLphp (idp/simplesamlphp/start.sh, its real login form) on `port` with one
 * remote SP per connection: entity id `{base}/{id}`, ACS `{base}/{id}/acs`. `extra`: more
 * flags, e.g. `['--audience', uri]` for an IdP whose app names another SP entity id.
 */
export async function startSimpleSamlPhp(port, base, connectionIds, extra = []) {
  const args = ['idp/simplesamlphp/start.sh', '--port', String(port), ...extra];
  for (const id of connectionIds) args.push('--sp-entity-id', `${base}/${id}`, '--acs', `${base}/${id}/acs`);
  const idp = await startIdp('bash', args);
  return { ...idp, ...sspEndpoints(port) };
}

/** oidc-provider (idp/node/op.mjs); its confidential client `rp` may redirect to `callback`. */
export async function startOidcProvider(callback) {
  const port = await freePort();
  return startIdp(process.execPath, ['idp/node/op.mjs', String(port)], {
    OP_CLIENT_REDIRECT_URIS: callback,
    OP_PUBLIC_REDIRECT_URIS: callback,
    OP_ADMIN: '0',
  });
}

/**
 * Headless Debian chromium. Every DevTools call is bounded (30 s), and `close()` too: a
 * browser that does not close in 15 s is killed, and that is an error.
 */
export async function launchBrowser() {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    protocolTimeout: 30000,
    // --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  const close = browser.close.bind(browser);
  browser.close = () => within(15000, 'chromium closing', close(), () => browser.process()?.kill('SIGKILL'));
  return browser;
}

/**
 * The end of a test file: runs every `[what, step]` (each skipped when it is undefined),
 * each bounded by 20 s, all of them even when one fails; then throws the failures.
 */
export async function teardown(steps) {
  const failed = [];
  for (const [what, step] of steps) {
    if (!step) continue;
    try {
      await within(20000, what, Promise.resolve().then(step));
    } catch (e) {
      failed.push(e);
    }
  }
  if (failed.length) throw new AggregateError(failed, failed.map((e) => e.message).join('\n'));
}

/** How long a test file's `before` and `after` hooks may take. */
export const HOOK = { timeout: 120000 };

/**
 * How long one test may take (node's `--test-timeout` would also bound each whole file).
 * A test past it is reported as failed, with its name; the file's `after` still runs.
 */
export const TEST_TIMEOUT = 90000;

// Query parameters and form fields whose values are secrets or too long to be useful.
const MASKED = ['code', 'code_verifier', 'access_token', 'id_token', 'client_secret', 'SAMLResponse', 'SAMLRequest', 'AuthState', 'password', 'sid'];
const maskRe = new RegExp(`([?&#](?:${MASKED.join('|')})=)[^&#\\s"'<]*`, 'g');

/** A URL or text with secret-bearing query values masked, and long runs of base64 cut. */
export function redact(s) {
  return String(s)
    .replace(maskRe, '$1…')
    .replace(/\b(code|access_token|code_verifier|SAMLResponse)("?\s*[:=]\s*"?)[A-Za-z0-9+/=_\-.%]{16,}/g, '$1$2…')
    .replace(/[A-Za-z0-9+/=_-]{120,}/g, '…');
}

/**
 * A fresh browser context (no cookies: the IdP's session of another test does not sign
 * this one in) and a page that records its top-level navigations for diagnostics.
 */
export async function newPage(browser) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const trail = [];
  page.on('response', (res) => {
    const req = res.request();
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
      trail.push(`${res.status()} ${req.method()} ${redact(res.url())}`);
    }
  });
  page.trail = trail;
  page.closeContext = () => within(10000, 'closing a browser context', context.close());
  return page;
}

/**
 * Runs `fn(page)`; if it throws, the error gains the page's URL, its text, the navigations
 * so far and the tail of the server's log (all redacted).
 */
export async function withPage(browser, server, fn) {
  const page = await newPage(browser);
  try {
    return await fn(page);
  } catch (e) {
    let text = '(unreadable)';
    try { text = await page.evaluate(() => document.body?.innerText ?? ''); } catch { /* page gone */ }
    const log = server.stderr().trim().split('\n').slice(-15).join('\n    ');
    e.message += `\n  page URL: ${redact(page.url())}\n  page text: ${redact(text.slice(0, 1500))}`
      + `\n  navigations:\n    ${page.trail.join('\n    ')}\n  server log (tail):\n    ${redact(log)}`;
    throw e;
  } finally {
    await page.closeContext().catch(() => {});
  }
}

/** Types into SimpleSAMLphp's real login form and submits it. */
export async function sspLogin(page, user, password) {
  await page.waitForSelector('#username');
  await page.type('#username', user);
  await page.type('#password', password);
  await page.click('button[type=submit], input[type=submit], #submit_button');
}

/**
 * Runs `action` and waits for the main frame's document from a URL matching `pred`, and for
 * it to load: that response (status, headers) for the assertions. An error page (4xx, 5xx)
 * from elsewhere on the way fails at once, naming what it got.
 */
export async function navigation(page, pred, action) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().isNavigationRequest() && r.request().frame() === page.mainFrame()
      && (pred(r.url()) || r.status() >= 400)),
    action(),
  ]);
  await page.waitForFunction(() => document.readyState !== 'loading');
  if (!pred(res.url())) {
    throw new Error(`the browser was answered ${res.status()} at ${redact(res.url())}, before reaching the page expected`);
  }
  return res;
}

/**
 * Logs in on oidc-provider's devInteractions pages, then declines on the consent page: its
 * "[ Cancel ]" link (oidc-provider's /interaction/<uid>/abort), which sends the browser back
 * with error=access_denied. Returns after the link is clicked.
 */
export async function opDecline(page, login, password) {
  await page.waitForSelector('input[name=login]');
  await page.type('input[name=login]', login);
  await page.type('input[name=password]', password);
  await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('button[type=submit]')]);
  assert.match(await page.evaluate(() => document.body.innerText), /Authorize/);
  const cancel = await page.waitForSelector('a[href$="/abort"]');
  assert.equal(await cancel.evaluate((a) => a.textContent.trim()), '[ Cancel ]');
  await cancel.click();
}

/**
 * Signs in on oidc-provider's devInteractions pages: types the login and a password,
 * submits, then confirms the consent page. Returns after the consent form is submitted.
 */
export async function opLogin(page, login, password) {
  await page.waitForSelector('input[name=login]');
  await page.type('input[name=login]', login);
  await page.type('input[name=password]', password);
  await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click('button[type=submit]')]);
  // The consent page: "Authorize" with the requested scopes, one submit button.
  assert.match(await page.evaluate(() => document.body.innerText), /Authorize/);
  assert.equal(await page.$('input[name=login]'), null, 'the login was accepted');
  await page.click('button[type=submit]');
}
