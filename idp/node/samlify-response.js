#!/usr/bin/env node
// samlify@2.13.1 in the IdP role: prints one signed SAML Response (base64, HTTP-POST binding
// form) with no server. TEST ONLY.
//
// Usage:
//   node idp/node/samlify-response.js [--email jane@acme.com] [--request-id _req_0001 | --unsolicited]
//        [--sp-entity-id http://127.0.0.1:3000/saml/sp] [--acs http://127.0.0.1:3000/saml/acs]
//        [--idp-entity-id http://127.0.0.1:7000/idp] [--sign both|assertion|response]
//        [--encrypt] [--key idp] [--sha1] [--now 2026-06-01T12:00:00Z] [--seed s1]
//        [--given-name Jane] [--family-name Doe] [--lifetime-seconds 300] [--xml]
//   Environment equivalents: SP_ENTITY_ID, SP_ACS_URL, IDP_ENTITY_ID.
//
// --sign both       Assertion signed, then the Response (default)
// --sign assertion  only the Assertion;  --sign response  only the Response
// --encrypt         EncryptedAssertion to idp/keys/sp-cert.pem (aes256-cbc + rsa-oaep-mgf1p);
//                   with --sign both the Assertion is signed, encrypted, then the Response signed
// --unsolicited     no InResponseTo anywhere (IdP-initiated)
// --now             pins the clock (IssueInstant, NotBefore, NotOnOrAfter); --seed: fixed IDs
// Signatures: rsa-sha256 / sha256 / exclusive c14n (samlify's defaults); --sha1 for rsa-sha1.
// The Response has an AuthnStatement and an AttributeStatement (mail, givenName, sn).
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf('--' + name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error('--' + name + ' needs a value');
  return v;
}
const flag = (name) => args.includes('--' + name);
if (flag('help') || flag('h')) {
  process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 21).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
  process.exit(0);
}

const now = opt('now');
if (now) {
  const fixed = Date.parse(now);
  if (Number.isNaN(fixed)) throw new Error('bad --now');
  const RealDate = Date;
  global.Date = class extends RealDate {
    constructor(...a) { if (a.length === 0) super(fixed); else super(...a); }
    static now() { return fixed; }
  };
}
const saml = require('samlify');
saml.setSchemaValidator({ validate: () => Promise.resolve('skipped') }); // we only create

const keys = path.join(__dirname, '..', 'keys');
const email = opt('email', 'jane@acme.com');
const requestId = flag('unsolicited') ? null : opt('request-id', '_req_0001');
const spEntity = opt('sp-entity-id', process.env.SP_ENTITY_ID || 'http://127.0.0.1:3000/saml/sp');
const acs = opt('acs', process.env.SP_ACS_URL || 'http://127.0.0.1:3000/saml/acs');
const idpEntity = opt('idp-entity-id', process.env.IDP_ENTITY_ID || 'http://127.0.0.1:7000/idp');
const sign = opt('sign', 'both');
const keyName = opt('key', 'idp');
const lifetime = parseInt(opt('lifetime-seconds', '300'), 10);
if (!['both', 'assertion', 'response'].includes(sign)) throw new Error('--sign both|assertion|response');

const seed = opt('seed');
let counter = 0;
const generateID = seed
  ? () => '_' + crypto.createHash('sha256').update(seed + '/' + (++counter)).digest('hex').slice(0, 40)
  : () => '_' + crypto.randomUUID().replace(/-/g, '');

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const idp = saml.IdentityProvider({
  entityID: idpEntity,
  privateKey: fs.readFileSync(path.join(keys, keyName + '-key.pem')),
  signingCert: fs.readFileSync(path.join(keys, keyName + '-cert.pem')),
  isAssertionEncrypted: flag('encrypt'),
  generateID,
  nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
  requestSignatureAlgorithm: flag('sha1')
    ? 'http://www.w3.org/2000/09/xmldsig#rsa-sha1'
    : 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  singleSignOnService: [{ Binding: saml.Constants.namespace.binding.redirect, Location: idpEntity + '/sso' }],
  singleLogoutService: [{ Binding: saml.Constants.namespace.binding.redirect, Location: idpEntity + '/slo' }],
});
const sp = saml.ServiceProvider({
  entityID: spEntity,
  wantAssertionsSigned: sign !== 'response',
  wantMessageSigned: sign !== 'assertion',
  encryptCert: fs.readFileSync(path.join(keys, 'sp-cert.pem')),
  assertionConsumerService: [{ Binding: saml.Constants.namespace.binding.post, Location: acs }],
});

const given = opt('given-name', email.split('@')[0].replace(/^./, (c) => c.toUpperCase()));
const family = opt('family-name', 'Doe');

// samlify's default template has no AuthnStatement and no attributes; this one has both, and
// drops InResponseTo entirely for an unsolicited response. samlify still fills, signs and encrypts it.
function template() {
  const t = new Date();
  const iso = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const later = new Date(t.getTime() + lifetime * 1000);
  const irt = requestId === null ? '' : ` InResponseTo="${esc(requestId)}"`;
  const id = generateID();
  const aid = generateID();
  const attr = (name, friendly, value) =>
    `<saml:Attribute Name="${name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri" FriendlyName="${friendly}">` +
    `<saml:AttributeValue xsi:type="xs:string">${esc(value)}</saml:AttributeValue></saml:Attribute>`;
  const context =
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${iso(t)}" Destination="${esc(acs)}"${irt}>` +
    `<saml:Issuer>${esc(idpEntity)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    `<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${aid}" Version="2.0" IssueInstant="${iso(t)}">` +
    `<saml:Issuer>${esc(idpEntity)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(email)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${iso(later)}" Recipient="${esc(acs)}"${irt}/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${iso(t)}" NotOnOrAfter="${iso(later)}"><saml:AudienceRestriction><saml:Audience>${esc(spEntity)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${iso(t)}" SessionIndex="${aid}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement>${attr('urn:oid:0.9.2342.19200300.100.1.3', 'mail', email)}${attr('urn:oid:2.5.4.42', 'givenName', given)}${attr('urn:oid:2.5.4.4', 'sn', family)}</saml:AttributeStatement>` +
    `</saml:Assertion></samlp:Response>`;
  return { id, context };
}

idp
  .createLoginResponse(sp, requestId === null ? null : { extract: { request: { id: requestId } } }, 'post', { email }, template, flag('encrypt') && sign !== 'assertion')
  .then((r) => {
    const out = flag('xml') ? Buffer.from(r.context, 'base64').toString('utf8') : r.context;
    process.stdout.write(out + '\n');
  })
  .catch((e) => {
    process.stderr.write('samlify-response: ' + (e && e.stack ? e.stack : e) + '\n');
    process.exit(1);
  });
