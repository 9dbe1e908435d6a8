#!/usr/bin/env node
// Smoke test and example RP driver for op.mjs (no browser): code + PKCE through the
// devInteractions login and consent pages, token, ID token checked with jose, userinfo,
// then a key rotation through the admin endpoint. TEST ONLY.
//
// Usage: node idp/node/op-smoke.mjs [PORT]   (starts op.mjs itself on PORT, default 7101)
// Prints "N passed, N failed" at the end; exits non-zero on failure.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';

const here = path.dirname(fileURLToPath(import.meta.url));
const port = parseInt(process.argv[2] || '7101', 10);
const redirect = 'http://127.0.0.1:3999/cb';
const op = spawn(process.execPath, [path.join(here, 'op.mjs'), String(port)], {
  env: { ...process.env, OP_CLIENT_REDIRECT_URIS: redirect, OP_PUBLIC_REDIRECT_URIS: redirect },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const discoveryUrl = await new Promise((resolve, reject) => {
  op.stdout.once('data', (d) => resolve(String(d).trim()));
  op.once('exit', (c) => reject(new Error('op.mjs exited ' + c)));
  setTimeout(() => reject(new Error('op.mjs not ready')), 15000).unref();
});
let passed = 0;
let failed = 0;
const check = (name, ok, extra = '') => {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${extra ? ' ' + extra : ''}`);
};

const b64u = (b) => Buffer.from(b).toString('base64url');
async function signIn(disc, { clientId, clientSecret, login }) {
  const jar = new Map();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const keep = (r) => {
    for (const c of r.headers.getSetCookie()) {
      const [kv] = c.split(';');
      const i = kv.indexOf('=');
      jar.set(kv.slice(0, i), kv.slice(i + 1));
    }
  };
  const go = async (url, init = {}) => {
    const r = await fetch(url, { redirect: 'manual', ...init, headers: { ...(init.headers || {}), cookie: cookie() } });
    keep(r);
    return r;
  };
  const verifier = b64u(crypto.randomBytes(32));
  const challenge = b64u(crypto.createHash('sha256').update(verifier).digest());
  const state = b64u(crypto.randomBytes(12));
  const nonce = b64u(crypto.randomBytes(12));
  const q = new URLSearchParams({
    client_id: clientId, response_type: 'code', scope: 'openid email profile', redirect_uri: redirect,
    state, nonce, code_challenge: challenge, code_challenge_method: 'S256', login_hint: login,
  });
  let r = await go(`${disc.authorization_endpoint}?${q}`);
  let loc = new URL(r.headers.get('location'), disc.issuer);
  for (let i = 0; i < 8 && !loc.href.startsWith(redirect); i++) {
    if (loc.pathname.startsWith('/interaction/')) {
      const page = await (await go(loc)).text();
      const body = page.includes('name="login"')
        ? new URLSearchParams({ prompt: 'login', login, password: 'x' })
        : new URLSearchParams({ prompt: 'consent' });
      r = await go(loc, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    } else {
      r = await go(loc);
    }
    loc = new URL(r.headers.get('location'), disc.issuer);
  }
  const cb = loc.searchParams;
  const form = new URLSearchParams({ grant_type: 'authorization_code', code: cb.get('code'), redirect_uri: redirect, code_verifier: verifier, client_id: clientId });
  if (clientSecret) form.set('client_secret', clientSecret);
  const tr = await fetch(disc.token_endpoint, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const tokens = await tr.json();
  return { cb, state, nonce, tokens, status: tr.status };
}

try {
  const disc = await (await fetch(discoveryUrl)).json();
  check('discovery', disc.issuer === `http://127.0.0.1:${port}` && disc.code_challenge_methods_supported.includes('S256'));
  const JWKS = createRemoteJWKSet(new URL(disc.jwks_uri));
  for (const c of [{ clientId: 'rp', clientSecret: 'rp-secret' }, { clientId: 'rp-public' }]) {
    const { cb, state, nonce, tokens, status } = await signIn(disc, { ...c, login: 'jane@acme.com' });
    check(`${c.clientId}: callback has code, state and iss`, cb.get('code') && cb.get('state') === state && cb.get('iss') === disc.issuer);
    check(`${c.clientId}: token`, status === 200 && tokens.id_token, JSON.stringify(tokens).slice(0, 200));
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token, JWKS, { issuer: disc.issuer, audience: c.clientId, algorithms: ['RS256', 'ES256'] });
    check(`${c.clientId}: id token`, payload.sub === 'jane@acme.com' && payload.email === 'jane@acme.com' && payload.nonce === nonce && payload.given_name === 'Jane' && protectedHeader.kid === 'idp');
    const ui = await (await fetch(disc.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json();
    check(`${c.clientId}: userinfo`, ui.email === 'jane@acme.com' && ui.family_name === 'Doe', JSON.stringify(ui));
  }
  // rotation: idp2 signs, idp still published
  const ar = await (await fetch(`http://127.0.0.1:${port}/__admin/keys?use=idp2,idp`, { method: 'POST' })).json();
  check('rotate', ar.signing === 'idp2');
  const jwks = await (await fetch(disc.jwks_uri)).json();
  check('jwks after rotation has idp2 and idp', jwks.keys.map((k) => k.kid).join(',') === 'idp2,idp');
  const { tokens } = await signIn(disc, { clientId: 'rp', clientSecret: 'rp-secret', login: 'john@acme.com' });
  check('id token after rotation signed by idp2', decodeProtectedHeader(tokens.id_token).kid === 'idp2');
  // pkce required for the public client
  const q = new URLSearchParams({ client_id: 'rp-public', response_type: 'code', scope: 'openid', redirect_uri: redirect, state: 's' });
  const r = await fetch(`${disc.authorization_endpoint}?${q}`, { redirect: 'manual' });
  const l = new URL(r.headers.get('location') || 'http://x/');
  check('public client without PKCE refused', l.searchParams.get('error') === 'invalid_request');
} catch (e) {
  check('exception', false, e.stack);
} finally {
  op.kill('SIGTERM');
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
