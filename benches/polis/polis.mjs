// Ory Polis (npm @boxyhq/saml-jackson) on its SQLite engine, in process: the same
// create / lookup / get-then-update as `polis_peer` runs on enterprise-sso, timed here.
//
//   node polis.mjs <connections> <ops> <metadata.xml> <db file> <tasks>
//
// Prints one JSON object: microseconds per operation (mean over `ops`, after a warm-up),
// and operations per second with `tasks` concurrent async loops.
import { readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import jacksonModule from '@boxyhq/saml-jackson';

const [n, ops, metadataPath, dbFile, tasksArg] = process.argv.slice(2);
const N = Number(n), OPS = Number(ops), TASKS = Number(tasksArg || 16);
const metadata = readFileSync(metadataPath, 'utf8');
// Polis refuses one IdP entity id for two tenants: each connection gets its own.
const rawMetadata = (i) => metadata.replace(/entityID="([^"]+)"/, (_, id) => `entityID="${id}-${i}"`);
for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(dbFile + suffix, { force: true });

const jackson = await (jacksonModule.controllers || jacksonModule.default)({
  externalUrl: 'https://sso.example.com',
  samlPath: '/api/oauth/saml',
  samlAudience: 'https://saml.example.com',
  db: { engine: 'sql', type: 'sqlite', url: dbFile },
  noAnalytics: true,
});
const api = jackson.connectionAPIController || jackson.apiController;
const tenant = (i) => `t${i}.bench.example.com`;
const product = 'bench';
const base = { defaultRedirectUrl: 'https://app.example.com/cb', redirectUrl: ['https://app.example.com/*'] };

// Fill: N connections, one per tenant.
const clients = [];
const tCreate0 = performance.now();
for (let i = 0; i < N; i++) {
  const r = await api.createSAMLConnection({ ...base, rawMetadata: rawMetadata(i), tenant: tenant(i), product, name: `bench ${i}` });
  clients.push({ clientID: r.clientID, clientSecret: r.clientSecret, tenant: tenant(i) });
}
const createUs = ((performance.now() - tCreate0) * 1000) / N;

const pick = (k) => clients[(k * 7919) % clients.length];
async function timed(label, count, op) {
  for (let k = 0; k < Math.min(50, count); k++) await op(k);
  const t0 = performance.now();
  for (let k = 0; k < count; k++) await op(k);
  return ((performance.now() - t0) * 1000) / count;
}
// `TASKS` async loops sharing `count` operations: completed operations per second, and
// how many failed (Polis on SQLite shares one connection, so concurrent writes collide:
// "cannot start a transaction within a transaction").
async function concurrent(count, op) {
  let next = 0, failed = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: TASKS }, async () => {
    while (next < count) {
      try { await op(next++); } catch { failed++; }
    }
  }));
  return { per_s: (count - failed) / ((performance.now() - t0) / 1000), failed };
}
const lookup = async (k) => {
  const found = await api.getConnections({ tenant: pick(k).tenant, product });
  if (found.length !== 1) throw new Error('lookup found ' + found.length);
};
const getThenUpdate = async (k) => {
  const c = pick(k);
  const [current] = await api.getConnections({ clientID: c.clientID });
  if (!current) throw new Error('get found nothing');
  await api.updateSAMLConnection({ ...c, product, name: `renamed ${k}` });
};
const out = {
  engine: 'polis-sqlite',
  connections: N,
  create_us: createUs,
  lookup_us: await timed('lookup', OPS, lookup),
  update_us: await timed('update', Math.max(1, OPS / 4), getThenUpdate),
  tasks: TASKS,
  lookup_concurrent: await concurrent(OPS, lookup),
  update_concurrent: await concurrent(Math.max(1, OPS / 4), getThenUpdate),
};
console.log(JSON.stringify(out));
process.exit(0);
