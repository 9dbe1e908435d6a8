// The jose peer of `benches/benches/oidc_verify.rs`: panva's `jose` (Node) verifying the
// same RS256 ID token against the same JWKS, with the same expectations.
//
//   node benches/polis/jose_verify.mjs [token.json] [iterations]
//
// token.json is written by `cargo bench -p enterprise-sso-benches --bench oidc_verify`
// (default target/bench-data/oidc/token.json). jose comes from idp/node (`bash
// idp/install.sh`). Prints one JSON object, microseconds per call (best of 5 rounds of
// `iterations` calls each, after a warm-up), for:
//   jwt_verify        jose.jwtVerify with createLocalJWKSet (kid lookup; the imported key
//                     is cached by the set after the first call), issuer, audience,
//                     RS256 only, clock tolerance, then the nonce compared: what an RP does;
//   jwt_verify_key    jose.jwtVerify with the key imported once (no JWKS lookup);
//   floor_node_verify node:crypto verify (OpenSSL) of the same signing input, key object
//                     made once: Node's RSA floor.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(path.join(root, 'idp/node/package.json'));
const jose = await import(require.resolve('jose'));

const file = process.argv[2] || path.join(root, 'target/bench-data/oidc/token.json');
const iterations = Number(process.argv[3] || 20000);
const f = JSON.parse(readFileSync(file, 'utf8'));
const currentDate = new Date(f.now_s * 1000);
const options = {
  issuer: f.issuer,
  audience: f.audience,
  algorithms: ['RS256'],
  clockTolerance: f.clock_tolerance_s,
  currentDate,
};

const jwks = jose.createLocalJWKSet(f.jwks);
const kid = JSON.parse(Buffer.from(f.token.split('.')[0], 'base64url')).kid;
const jwk = f.jwks.keys.find((k) => k.kid === kid);
const key = await jose.importJWK(jwk, 'RS256');

async function jwtVerify() {
  const { payload } = await jose.jwtVerify(f.token, jwks, options);
  if (payload.nonce !== f.nonce) throw new Error('nonce');
  return payload;
}
async function jwtVerifyKey() {
  const { payload } = await jose.jwtVerify(f.token, key, options);
  if (payload.nonce !== f.nonce) throw new Error('nonce');
  return payload;
}
const dot = f.token.lastIndexOf('.');
const input = Buffer.from(f.token.slice(0, dot));
const sig = Buffer.from(f.token.slice(dot + 1), 'base64url');
const nodeKey = createPublicKey({ key: jwk, format: 'jwk' });
async function floor() {
  if (!cryptoVerify('RSA-SHA256', input, nodeKey, sig)) throw new Error('signature');
}

async function time(op) {
  for (let i = 0; i < Math.min(2000, iterations); i++) await op();
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) await op();
    best = Math.min(best, ((performance.now() - t0) * 1000) / iterations);
  }
  return best;
}

const out = {
  node: process.version,
  jose: JSON.parse(readFileSync(path.join(path.dirname(require.resolve('jose')), '../../package.json'), 'utf8')).version,
  token_bytes: f.token.length,
  iterations,
  jwt_verify_us: await time(jwtVerify),
  jwt_verify_key_us: await time(jwtVerifyKey),
  floor_node_verify_us: await time(floor),
};
console.log(JSON.stringify(out));
