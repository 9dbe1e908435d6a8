// The "customer app": a small web app that adds enterprise SSO the way WorkOS documents it,
// with the official SDK unchanged and pointed at our server. `GET /login?connection=…`
// (or `organization=…`) keeps a random state (and with PKCE the verifier) in its own
// session cookie and redirects to `sso.getAuthorizationUrl` / `getAuthorizationUrlWithPKCE`;
// `GET /callback` checks the state against the session, exchanges the code with
// `sso.getProfileAndToken` and shows who signed in. An IdP-initiated sign-in arrives at
// the callback with a code and no state; the app takes it only when told to.
import crypto from 'node:crypto';
import http from 'node:http';
import { WorkOS } from '@workos-inc/node';

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Where an app on `port` takes its sign-ins back (register it with the server first). */
export const appRedirectUri = (port) => `http://127.0.0.1:${port}/callback`;
/** A second landing page that takes sign-ins the same way (an IdP-initiated RelayState may name it). */
export const appWelcomeUri = (port) => `http://127.0.0.1:${port}/welcome`;

/**
 * Starts the app on `port` (from freePort). `apiKey`: the client secret (a confidential
 * client); without it the app is a public client and must use PKCE. `serverUrl`: the SSO
 * server.
 */
export async function startApp({ port, serverUrl, clientId, apiKey, pkce = false, acceptIdpInitiated = false }) {
  const { hostname, port: apiPort } = new URL(serverUrl);
  const workos = apiKey
    ? new WorkOS(apiKey, { apiHostname: hostname, port: Number(apiPort), https: false })
    : new WorkOS({ clientId, apiHostname: hostname, port: Number(apiPort), https: false });
  const origin = `http://127.0.0.1:${port}`;
  const redirectUri = appRedirectUri(port);
  const sessions = new Map();
  const app = {
    origin,
    redirectUri,
    /** Every request to /callback or /welcome: `{path, state, hasCode, error}` (never the code). */
    callbacks: [],
    /** Every completed sign-in: `{profile, raw, state, idpInitiated}`. */
    signIns: [],
  };

  const page = (res, status, title, body) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><title>${escape(title)}</title><h1>${escape(title)}</h1>${body}`);
  };

  async function login(url, res, sid) {
    const selector = {
      connection: url.searchParams.get('connection') ?? undefined,
      organization: url.searchParams.get('organization') ?? undefined,
      loginHint: url.searchParams.get('login_hint') ?? undefined,
    };
    let to;
    let session;
    if (pkce) {
      const r = await workos.sso.getAuthorizationUrlWithPKCE({ ...selector, clientId, redirectUri });
      to = r.url;
      session = { state: r.state, codeVerifier: r.codeVerifier };
    } else {
      const state = crypto.randomBytes(24).toString('base64url');
      to = workos.sso.getAuthorizationUrl({ ...selector, clientId, redirectUri, state });
      session = { state };
    }
    sessions.set(sid, session);
    res.writeHead(302, { location: to, 'set-cookie': `app_sid=${sid}; Path=/; HttpOnly; SameSite=Lax` });
    res.end();
  }

  async function callback(url, res, sid) {
    const code = url.searchParams.get('code');
    const state = url.searchParams.get('state');
    const error = url.searchParams.get('error');
    app.callbacks.push({ path: url.pathname, state, hasCode: Boolean(code), error });
    if (error) {
      return page(res, 400, 'Sign-in failed', `<p id="error">${escape(error)}</p><p>${escape(url.searchParams.get('error_description') ?? '')}</p>`);
    }
    const session = sessions.get(sid);
    let idpInitiated = false;
    if (state === null) {
      if (!acceptIdpInitiated) return page(res, 400, 'Sign-in failed', '<p id="error">no state</p>');
      idpInitiated = true;
    } else if (!session || session.state !== state) {
      return page(res, 400, 'Sign-in failed', '<p id="error">state does not match this browser\'s session</p>');
    }
    sessions.delete(sid);
    const { accessToken, profile } = await workos.sso.getProfileAndToken({
      code,
      clientId,
      codeVerifier: idpInitiated ? undefined : session?.codeVerifier,
    });
    // The SDK keeps only WorkOS's fields; the enterprise account id is this server's
    // extension, read from the profile endpoint as sent.
    const raw = await (await fetch(`${serverUrl}/sso/profile`, { headers: { authorization: `Bearer ${accessToken}` } })).json();
    app.signIns.push({ profile, raw, state, idpInitiated });
    page(res, 200, 'Signed in', `<p id="email">${escape(profile.email)}</p><p id="name">${escape(`${profile.firstName ?? ''} ${profile.lastName ?? ''}`)}</p>`);
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, origin);
    const sid = /(?:^|;\s*)app_sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1] ?? crypto.randomBytes(16).toString('base64url');
    const handler = { '/login': login, '/callback': callback, '/welcome': callback }[url.pathname];
    if (!handler) return page(res, 404, 'Not found', '');
    handler(url, res, sid).catch((e) => {
      // The SDK's error (e.g. invalid_grant) with its description; never the code.
      page(res, 500, 'Sign-in failed', `<p id="error">${escape(e.error ?? e.name)}</p><p>${escape(e.errorDescription ?? e.message)}</p>`);
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  app.stop = () => new Promise((resolve) => server.close(resolve));
  return app;
}
