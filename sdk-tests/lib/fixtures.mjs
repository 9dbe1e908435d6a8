// Real IdP metadata from the core crate's corpus (sources in its SOURCES.md), with the
// values Python's ElementTree read from it (expected.py), not this library.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const corpus = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'crates', 'enterprise-sso', 'tests', 'corpus', 'saml');

export const OKTA_METADATA = fs.readFileSync(path.join(corpus, 'okta.xml'), 'utf8');
export const OKTA_EXPECTED = JSON.parse(fs.readFileSync(path.join(corpus, 'okta.expected.json'), 'utf8'));
export const ENTRA_METADATA = fs.readFileSync(path.join(corpus, 'entra_common_signed.xml'), 'utf8');
export const ENTRA_EXPECTED = JSON.parse(fs.readFileSync(path.join(corpus, 'entra_common_signed.expected.json'), 'utf8'));
