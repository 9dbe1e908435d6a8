// @workos-inc/node, unchanged, against enterprise-sso-server. Connections are made with
// the Clerk SDK (WorkOS's SDK has no call that creates an SSO connection).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createClerkClient } from '@clerk/backend';
import { WorkOS } from '@workos-inc/node';

import { KEY, recordResponses, startServer } from '../lib/server.mjs';
import { OKTA_METADATA } from '../lib/fixtures.mjs';
import { checkInterface, loadDeclarations } from '../lib/sdk-types.mjs';

const require = createRequire(import.meta.url);
const workosLib = path.join(path.dirname(require.resolve('@workos-inc/node/package.json')), 'lib');
const decls = loadDeclarations(
  fs.readdirSync(workosLib).filter((f) => f.endsWith('.d.cts')).map((f) => path.join(workosLib, f)),
);

let server;
let rec;
let workos;
const ids = [];

before(async () => {
  server = await startServer();
  const ec = createClerkClient({ secretKey: KEY, apiUrl: server.url }).enterpriseConnections;
  for (let i = 0; i < 7; i++) {
    const c = await ec.createEnterpriseConnection(
      i % 3 === 0
        ? { name: `Okta ${i}`, provider: 'saml_okta', domains: [`w${i}.example.org`], organizationId: 'org_w', active: true, saml: { idpMetadata: OKTA_METADATA } }
        : { name: `OIDC ${i}`, provider: 'oidc_custom', domains: [`w${i}.example.org`], oidc: { clientId: 'c', clientSecret: 's', authUrl: 'https://idp.example.org/a', tokenUrl: 'https://idp.example.org/t' } },
    );
    ids.push(c.id);
  }
  rec = recordResponses(server.url);
  workos = new WorkOS(KEY, { apiHostname: '127.0.0.1', port: server.port, https: false });
});

after(async () => {
  rec.restore();
  const status = await server.stop();
  assert.equal(status.code, 0, `graceful exit on SIGTERM: ${JSON.stringify(status)}`);
});

test('getConnection', async () => {
  const c = await workos.sso.getConnection(ids[0]);
  assert.equal(c.id, ids[0]);
  assert.equal(c.object, 'connection');
  assert.equal(c.type, 'OktaSAML');
  assert.equal(c.state, 'validating', 'active, no sign-in yet');
  assert.equal(c.organizationId, 'org_w');
  assert.deepEqual(c.domains.map((d) => d.domain), ['w0.example.org']);
  assert.ok(!Number.isNaN(Date.parse(c.createdAt)));
  const o = await workos.sso.getConnection(ids[1]);
  assert.equal(o.type, 'GenericOIDC');
  assert.equal(o.state, 'inactive');
  assert.equal(o.organizationId, undefined);
});

test('listConnections with cursors both ways', async () => {
  const newestFirst = [...ids].reverse();
  const forward = [];
  const pages = [];
  let afterCursor;
  do {
    const page = await workos.sso.listConnections({ limit: 3, after: afterCursor });
    pages.push(page);
    forward.push(...page.data.map((c) => c.id));
    afterCursor = page.listMetadata.after ?? undefined;
  } while (afterCursor);
  assert.deepEqual(forward, newestFirst);
  assert.equal(pages[0].listMetadata.before, null);
  let back = pages.at(-1).data.map((c) => c.id);
  let beforeCursor = pages.at(-1).listMetadata.before;
  while (beforeCursor) {
    const page = await workos.sso.listConnections({ limit: 3, before: beforeCursor });
    back = [...page.data.map((c) => c.id), ...back];
    beforeCursor = page.listMetadata.before;
  }
  assert.deepEqual(back, newestFirst);
  const asc = await workos.sso.listConnections({ order: 'asc', limit: 100 });
  assert.deepEqual(asc.data.map((c) => c.id), ids);
  const auto = await (await workos.sso.listConnections()).autoPagination();
  assert.deepEqual(auto.map((c) => c.id), newestFirst);
});

test('listConnections filters', async () => {
  const okta = await workos.sso.listConnections({ connectionType: 'OktaSAML' });
  assert.deepEqual(okta.data.map((c) => c.id), [ids[6], ids[3], ids[0]]);
  const oidc = await workos.sso.listConnections({ connectionType: 'GenericOIDC', limit: 3 });
  assert.deepEqual(oidc.data.map((c) => c.id), [ids[5], ids[4], ids[2]]);
  const oidcRest = await workos.sso.listConnections({ connectionType: 'GenericOIDC', limit: 3, after: oidc.listMetadata.after });
  assert.deepEqual(oidcRest.data.map((c) => c.id), [ids[1]]);
  assert.equal(oidcRest.listMetadata.after, null);
  const byOrg = await workos.sso.listConnections({ organizationId: 'org_w', limit: 2 });
  assert.deepEqual(byOrg.data.map((c) => c.id), [ids[6], ids[3]]);
  const byDomain = await workos.sso.listConnections({ domain: 'W4.Example.ORG' });
  assert.deepEqual(byDomain.data.map((c) => c.id), [ids[4]]);
});

test('deleteConnection, then a 404 the SDK reports as NotFoundException', async () => {
  await workos.sso.deleteConnection(ids[2]);
  await assert.rejects(workos.sso.getConnection(ids[2]), (e) => e.name === 'NotFoundException' && e.status === 404 && e.code === 'resource_not_found');
  const bad = new WorkOS('sk_wrong', { apiHostname: '127.0.0.1', port: server.port, https: false });
  await assert.rejects(bad.sso.getConnection(ids[0]), (e) => e.name === 'UnauthorizedException' && e.status === 401);
});

test("every response body has every field the SDK's types require", () => {
  const errors = [];
  for (const r of rec.seen) {
    const where = `${r.method} ${r.url} (${r.status})`;
    if (r.status >= 400 || r.body === null) continue;
    assert.equal(r.contentType, 'application/json', where);
    if (r.body.object === 'list') {
      checkInterface(decls, 'ListResponse', r.body, where, errors);
      r.body.data.forEach((c, i) => checkInterface(decls, 'ConnectionResponse', c, `${where} data[${i}]`, errors));
    } else {
      checkInterface(decls, 'ConnectionResponse', r.body, where, errors);
    }
  }
  assert.ok(rec.seen.length > 10, `responses recorded: ${rec.seen.length}`);
  assert.deepEqual(errors, []);
});
