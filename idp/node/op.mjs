#!/usr/bin/env node
// oidc-provider@9.13.3 (OpenID-certified) as an OpenID Provider on loopback. TEST ONLY.
//
// Usage:  node idp/node/op.mjs [PORT]            (or OP_PORT; default 7001)
// Prints the discovery URL (ISSUER/.well-known/openid-configuration) on stdout when ready;
// stops on SIGTERM/SIGINT.
//
// Environment (all optional):
//   OP_ISSUER                      issuer (default http://127.0.0.1:PORT)
//   OP_CLIENT_ID / OP_CLIENT_SECRET         confidential client (default rp / rp-secret)
//   OP_CLIENT_REDIRECT_URIS        comma-separated (default http://127.0.0.1:3000/cb)
//   OP_CLIENT_AUTH_METHOD          client_secret_post (default) | client_secret_basic
//   OP_PUBLIC_CLIENT_ID            public client, PKCE required (default rp-public)
//   OP_PUBLIC_REDIRECT_URIS        comma-separated (default http://127.0.0.1:3000/cb)
//   OP_KEYS                        signing keys from idp/keys, comma-separated, first signs:
//                                  idp (RS256, kid "idp"), idp2 (RS256, kid "idp2"),
//                                  idp-ec (ES256, kid "idp-ec").  Default "idp".
//   OP_ADMIN                       "0" disables the admin endpoints below (default enabled)
//
// What it serves (oidc-provider defaults): /.well-known/openid-configuration, /jwks, /auth,
// /token, /me (userinfo), /session/end; code flow only, PKCE S256 (required for the public
// client, optional for the confidential one); `iss` in the authorization response (RFC 9207).
// Login and consent are oidc-provider's devInteractions pages: any login (an email) and any
// password; POST prompt=login&login=jane@acme.com&password=x, then prompt=consent.
// Claims: sub = the login, email, email_verified, given_name, family_name, also in the ID token.
//
// Key rotation (admin endpoints, loopback only, no auth: a test fixture):
//   POST /__admin/keys?use=idp2,idp   restart the provider in place with these keys (first
//                                     signs; the others stay published in the JWKS).
//   POST /__admin/keys?use=idp2       drop the old key entirely.
//   GET  /__admin/keys                current list.
// Sessions, codes and tokens survive a rotation (oidc-provider's in-memory store is shared).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Provider from 'oidc-provider';

const here = path.dirname(fileURLToPath(import.meta.url));
const keysDir = path.join(here, '..', 'keys');
const port = parseInt(process.argv[2] || process.env.OP_PORT || '7001', 10);
const issuer = process.env.OP_ISSUER || `http://127.0.0.1:${port}`;
const list = (v, d) => (v || d).split(',').map((s) => s.trim()).filter(Boolean);

const KNOWN = {
  'jane@acme.com': { given_name: 'Jane', family_name: 'Doe' },
  'john@acme.com': { given_name: 'John', family_name: 'Roe' },
};

function jwkFor(name) {
  const pem = fs.readFileSync(path.join(keysDir, `${name}-key.pem`));
  const key = crypto.createPrivateKey(pem);
  const jwk = key.export({ format: 'jwk' });
  const alg = key.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
  return { ...jwk, kid: name, use: 'sig', alg };
}

const clients = [
  {
    client_id: process.env.OP_CLIENT_ID || 'rp',
    client_secret: process.env.OP_CLIENT_SECRET || 'rp-secret',
    redirect_uris: list(process.env.OP_CLIENT_REDIRECT_URIS, 'http://127.0.0.1:3000/cb'),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: process.env.OP_CLIENT_AUTH_METHOD || 'client_secret_post',
  },
  {
    client_id: process.env.OP_PUBLIC_CLIENT_ID || 'rp-public',
    redirect_uris: list(process.env.OP_PUBLIC_REDIRECT_URIS, 'http://127.0.0.1:3000/cb'),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  },
];

const cookieKeys = ['enterprise-sso-test-op-cookie-key-not-secret'];

function makeProvider(keyNames) {
  const p = new Provider(issuer, {
    clients,
    jwks: { keys: keyNames.map(jwkFor) },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name', 'name'] },
    conformIdTokenClaims: false, // put email/profile claims in the ID token too
    cookies: { keys: cookieKeys },
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => {
        const k = KNOWN[id] || { given_name: String(id).split('@')[0], family_name: 'Test' };
        return { sub: id, email: id, email_verified: true, ...k, name: `${k.given_name} ${k.family_name}` };
      },
    }),
    features: { devInteractions: { enabled: true }, userinfo: { enabled: true } },
    ttl: { AuthorizationCode: 60, AccessToken: 600, IdToken: 600, Session: 3600, Interaction: 600, Grant: 3600 },
  });
  p.on('server_error', (ctx, err) => process.stderr.write(`op: server_error ${err && err.stack}\n`));
  return p;
}

let keyNames = list(process.env.OP_KEYS, 'idp');
let provider = makeProvider(keyNames);
let handler = provider.callback();
const admin = process.env.OP_ADMIN !== '0';

const server = http.createServer((req, res) => {
  if (admin && req.url.startsWith('/__admin/keys')) {
    const u = new URL(req.url, issuer);
    if (req.method === 'POST') {
      const want = list(u.searchParams.get('use'), '');
      try {
        if (want.length === 0) throw new Error('use=KEY[,KEY...] required');
        const next = makeProvider(want);
        provider = next;
        handler = next.callback();
        keyNames = want;
      } catch (e) {
        res.writeHead(400, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: String(e.message || e) }));
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ keys: keyNames, signing: keyNames[0] }));
  }
  return handler(req, res);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${issuer}/.well-known/openid-configuration\n`);
});
const stop = () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 500).unref();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
