// @clerk/backend, unchanged, against enterprise-sso-server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { KEY, recordResponses, startServer } from '../lib/server.mjs';
import { ENTRA_EXPECTED, ENTRA_METADATA, OKTA_EXPECTED, OKTA_METADATA } from '../lib/fixtures.mjs';
import { checkInterface, loadDeclarations } from '../lib/sdk-types.mjs';

const require = createRequire(import.meta.url);
const clerkDir = path.dirname(require.resolve('@clerk/backend/package.json'));
const decls = loadDeclarations([path.join(clerkDir, 'dist', 'api', 'resources', 'JSON.d.ts')]);

// The SDK keeps the `fetch` it finds when it loads: record first, then import it.
const rec = recordResponses();
const { createClerkClient } = await import('@clerk/backend');

let server;
let ec;

before(async () => {
  server = await startServer();
  ec = createClerkClient({ secretKey: KEY, apiUrl: server.url }).enterpriseConnections;
});

after(async () => {
  rec.restore();
  const status = await server.stop();
  assert.equal(status.code, 0, `graceful exit on SIGTERM: ${JSON.stringify(status)}\n${server.stderr()}`);
});

/** The SDK's ClerkAPIResponseError of `promise`, with its first error. */
async function refusal(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(Array.isArray(e.errors) && e.errors.length > 0, `an API error, got ${e}`);
    return { status: e.status, code: e.errors[0].code, param: e.errors[0].meta?.paramName, error: e };
  }
  assert.fail('the call was expected to be refused');
}

const ids = {};

test('create a SAML connection from real Okta metadata', async () => {
  const c = await ec.createEnterpriseConnection({
    name: 'Acme (Okta)',
    provider: 'saml_okta',
    domains: ['acme-sdk.example.com'],
    organizationId: 'org_sdk_1',
    active: true,
    disableJitProvisioning: true,
    saml: {
      idpMetadata: OKTA_METADATA,
      allowSubdomains: true,
      attributeMapping: { emailAddress: 'mail', firstName: 'givenName' },
      loginHint: { mode: 'custom_attribute', source: 'employee_upn' },
    },
  });
  ids.saml = c.id;
  assert.match(c.id, /^ent_/);
  assert.equal(c.active, true);
  assert.equal(c.disableJitProvisioning, true);
  assert.equal(c.authenticatable, true);
  assert.deepEqual(c.domains, ['acme-sdk.example.com']);
  assert.equal(c.organizationId, 'org_sdk_1');
  const s = c.samlConnection;
  assert.equal(s.idpEntityId, OKTA_EXPECTED.entity_id);
  assert.equal(s.idpSsoUrl, OKTA_EXPECTED.sso_url);
  assert.equal(s.idpCertificateExpiresAt, OKTA_EXPECTED.certificates[0].not_after_ms);
  assert.equal(s.idpCertificates.length, OKTA_EXPECTED.certificates.length);
  // As the SDK documents them: base64 DER without PEM armor, the primary first.
  assert.equal(s.idpCertificate, OKTA_EXPECTED.certificates[0].der_base64);
  assert.equal(s.idpCertificates[0].certificate, s.idpCertificate);
  assert.equal(s.loginHint.mode, 'custom_attribute');
  assert.equal(s.loginHint.source, 'employee_upn');
  assert.equal(s.allowSubdomains, true);
  assert.equal(s.acsUrl, `https://sso.example.com/saml/${c.id}/acs`);
  assert.equal(c.oauthConfig, null);
});

test('create OIDC connections; the client secret never comes back', async () => {
  for (let i = 0; i < 4; i++) {
    const c = await ec.createEnterpriseConnection({
      name: `Globex ${i}`,
      provider: i === 3 ? 'oidc_gitlab' : 'oidc_custom',
      domains: [`globex${i}-sdk.example.com`],
      organizationId: i % 2 === 0 ? 'org_sdk_2' : undefined,
      oidc: {
        clientId: `client-${i}`,
        clientSecret: 'super-secret-oidc-value',
        authUrl: 'https://login.globex.example.com/authorize',
        tokenUrl: 'https://login.globex.example.com/token',
      },
    });
    ids[`oidc${i}`] = c.id;
    assert.equal(c.oauthConfig.clientId, `client-${i}`);
    assert.equal(c.oauthConfig.requiresPkce, false);
    assert.equal(c.samlConnection, null);
    assert.equal(c.active, false);
  }
  assert.ok(rec.seen.every((r) => !JSON.stringify(r.body).includes('super-secret-oidc-value')));
});

test('list with filters and offset paging, newest first', async () => {
  const all = await ec.getEnterpriseConnectionList();
  assert.equal(all.totalCount, 5);
  assert.deepEqual(all.data.map((c) => c.id), [ids.oidc3, ids.oidc2, ids.oidc1, ids.oidc0, ids.saml]);
  const seen = [];
  for (let offset = 0; offset < 5; offset += 2) {
    const page = await ec.getEnterpriseConnectionList({ limit: 2, offset });
    assert.equal(page.totalCount, 5);
    seen.push(...page.data.map((c) => c.id));
  }
  assert.deepEqual(seen, all.data.map((c) => c.id));
  const org = await ec.getEnterpriseConnectionList({ organizationId: 'org_sdk_2' });
  assert.deepEqual(org.data.map((c) => c.id), [ids.oidc2, ids.oidc0]);
  assert.equal(org.totalCount, 2);
  const active = await ec.getEnterpriseConnectionList({ active: true });
  assert.deepEqual(active.data.map((c) => c.id), [ids.saml]);
});

test('get, and update with PATCH semantics', async () => {
  const got = await ec.getEnterpriseConnection(ids.oidc1);
  assert.equal(got.name, 'Globex 1');
  const updated = await ec.updateEnterpriseConnection(ids.oidc1, {
    name: 'Globex One',
    syncUserAttributes: true,
    allowOrganizationAccountLinking: true,
    oidc: { requiresPkce: true, userInfoUrl: 'https://login.globex.example.com/userinfo' },
  });
  assert.equal(updated.name, 'Globex One');
  assert.equal(updated.syncUserAttributes, true);
  assert.equal(updated.allowOrganizationAccountLinking, true);
  assert.equal(updated.oauthConfig.requiresPkce, true);
  assert.equal(updated.oauthConfig.userInfoUrl, 'https://login.globex.example.com/userinfo');
  assert.equal(updated.oauthConfig.clientId, 'client-1', 'absent fields are kept');
  assert.deepEqual(updated.domains, ['globex1-sdk.example.com']);
  assert.ok(updated.updatedAt >= got.updatedAt);
  const saml = await ec.updateEnterpriseConnection(ids.saml, { saml: { loginHint: { mode: 'off' }, forceAuthn: true } });
  assert.equal(saml.samlConnection.loginHint.mode, 'off');
  assert.equal(saml.samlConnection.loginHint.source, undefined);
  assert.equal(saml.samlConnection.forceAuthn, true);
  assert.equal(saml.samlConnection.idpEntityId, OKTA_EXPECTED.entity_id, 'metadata values kept');
});

test('refused updates surface their code and parameter through the SDK, and change nothing', async () => {
  const before = await ec.getEnterpriseConnection(ids.oidc0);
  const pkce = await refusal(ec.updateEnterpriseConnection(ids.oidc0, { oidc: { clientSecret: null } }));
  assert.deepEqual([pkce.status, pkce.code, pkce.param], [422, 'form_public_client_requires_pkce', 'oidc.requires_pkce']);
  const wrong = await refusal(ec.updateEnterpriseConnection(ids.oidc0, { saml: { forceAuthn: true } }));
  assert.deepEqual([wrong.status, wrong.code, wrong.param], [422, 'form_param_not_allowed_for_provider', 'saml']);
  const taken = await refusal(ec.updateEnterpriseConnection(ids.oidc0, { domains: ['acme-sdk.example.com'] }));
  assert.deepEqual([taken.status, taken.code], [409, 'domain_already_claimed']);
  const hint = await refusal(ec.updateEnterpriseConnection(ids.saml, { saml: { loginHint: { mode: 'custom_attribute' } } }));
  assert.deepEqual([hint.status, hint.code, hint.param], [422, 'form_param_missing', 'saml.login_hint.source']);
  const after = await ec.getEnterpriseConnection(ids.oidc0);
  assert.deepEqual(after, before);
  const missing = await refusal(ec.getEnterpriseConnection('ent_01HF8Q5X6ZJ0Y4C7N9T2W3V5KM'));
  assert.deepEqual([missing.status, missing.code], [404, 'resource_not_found']);
});

test('a wrong secret key is refused with 401', async () => {
  const other = createClerkClient({ secretKey: 'sk_test_wrong', apiUrl: server.url }).enterpriseConnections;
  const r = await refusal(other.getEnterpriseConnectionList());
  assert.deepEqual([r.status, r.code], [401, 'api_key_invalid']);
});

test('delete', async () => {
  const deleted = await ec.deleteEnterpriseConnection(ids.oidc3);
  assert.equal(deleted.id, ids.oidc3);
  assert.equal(deleted.deleted, true);
  const gone = await refusal(ec.getEnterpriseConnection(ids.oidc3));
  assert.equal(gone.status, 404);
  assert.equal((await ec.getEnterpriseConnectionList()).totalCount, 4);
});

test('certificates are base64 DER and the primary comes first in idpCertificates', async () => {
  // Entra's metadata lists three signing certificates; the second expires last, so it is
  // the primary (`idpCertificate`) and the SDK reads it first.
  const c = await ec.createEnterpriseConnection({
    name: 'Contoso (Entra)',
    provider: 'saml_microsoft',
    domains: ['contoso-sdk.example.com'],
    saml: { idpMetadata: ENTRA_METADATA },
  });
  const der = ENTRA_EXPECTED.certificates.map((x) => x.der_base64);
  const s = c.samlConnection;
  assert.deepEqual(s.idpCertificates.map((x) => x.certificate), [der[1], der[0], der[2]]);
  assert.equal(s.idpCertificate, der[1]);
  assert.equal(s.idpCertificates[0].expiresAt, ENTRA_EXPECTED.certificates[1].not_after_ms);
  assert.equal(s.idpCertificateExpiresAt, ENTRA_EXPECTED.certificates[1].not_after_ms);
  await ec.deleteEnterpriseConnection(c.id);
});

test("every response body has every field the SDK's types require", () => {
  assert.ok(rec.seen.length > 15, `responses recorded: ${rec.seen.length}`);
  const errors = [];
  for (const r of rec.seen) {
    assert.equal(r.contentType, 'application/json', `${r.method} ${r.url}`);
    const where = `${r.method} ${r.url} (${r.status})`;
    if (r.status >= 400) {
      for (const e of r.body.errors) {
        for (const k of ['code', 'message', 'long_message']) if (typeof e[k] !== 'string') errors.push(`${where}: errors[].${k}`);
      }
    } else if (Array.isArray(r.body.data)) {
      assert.equal(typeof r.body.total_count, 'number');
      r.body.data.forEach((c, i) => checkInterface(decls, 'EnterpriseConnectionJSON', c, `${where} data[${i}]`, errors));
    } else if (r.body.deleted === true) {
      checkInterface(decls, 'DeletedObjectJSON', r.body, where, errors);
    } else {
      checkInterface(decls, 'EnterpriseConnectionJSON', r.body, where, errors);
    }
  }
  assert.deepEqual(errors, []);
});
