// Starts enterprise-sso-server on a free loopback port over a temporary SQLite store, and
// records every JSON body it answers with (so tests can check raw responses).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const KEY = 'sk_test_sdk_suite_3f9c2a';

/**
 * `promise`'s value, or, once `ms` have passed, an error naming `what` (and `detail()`, e.g.
 * a log's tail), after `onTimeout()` ran (e.g. a SIGKILL): a test that waits on a process
 * or a browser fails with a reason instead of hanging the run.
 */
export async function within(ms, what, promise, onTimeout = () => {}, detail = () => '') {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => {
      try { onTimeout(); } catch { /* already gone */ }
      const more = detail();
      reject(new Error(`${what}: not done within ${ms} ms${more ? `\n${more}` : ''}`));
    }, ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

export function serverBinary() {
  const bin = process.env.SSO_SERVER_BIN ?? path.join(here, '..', '..', 'target', 'debug', 'enterprise-sso-server');
  if (!fs.existsSync(bin)) {
    throw new Error(`${bin} not found: run \`cargo build -p enterprise-sso-http --bin enterprise-sso-server\` first (or set SSO_SERVER_BIN)`);
  }
  return bin;
}

/**
 * Starts the server. Options (all optional): `listen` (default 127.0.0.1:0), `spBaseUrl`
 * (default https://sso.example.com/saml), `args` (more flags, e.g. ['--clients', json]),
 * `env` (more environment variables).
 */
export async function startServer({ listen = '127.0.0.1:0', spBaseUrl = 'https://sso.example.com/saml', args = [], env = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sso-sdk-'));
  const child = spawn(serverBinary(), ['--listen', listen, '--store', `sqlite:${path.join(dir, 'sso.db')}`, '--sp-base-url', spBaseUrl, '--shutdown-grace', '5s', ...args], {
    env: { ...process.env, ENTERPRISE_SSO_API_KEYS: KEY, RUST_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 15000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${stderr}`)); });
  });
  return {
    url,
    port: Number(new URL(url).port),
    /** The directory of its SQLite store (database, WAL, shm), removed when it stops. */
    dir,
    stderr: () => stderr,
    /**
     * SIGTERM, and the exit status. A server still running 15 s later (its shutdown grace
     * is 5 s here) is killed, and that is an error naming the tail of its log.
     */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
      const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      child.kill('SIGTERM');
      try {
        return await within(15000, 'the server stopping on SIGTERM', exited, () => child.kill('SIGKILL'), () => stderr.trim().split('\n').slice(-20).join('\n'));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Wraps global fetch to keep the JSON body of every response from a loopback server.
 * Install it before importing an SDK that captures `fetch` when it loads.
 */
export function recordResponses(baseUrl = 'http://127.0.0.1:') {
  const seen = [];
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const res = await original(input, init);
    const url = typeof input === 'string' ? input : input.url ?? String(input);
    if (url.startsWith(baseUrl)) {
      const text = await res.clone().text();
      seen.push({ method: init?.method ?? 'GET', url, status: res.status, contentType: res.headers.get('content-type'), body: text ? JSON.parse(text) : null });
    }
    return res;
  };
  return { seen, restore: () => { globalThis.fetch = original; } };
}
