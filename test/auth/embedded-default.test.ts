/**
 * Authentication out of the box: `npm start` on the embedded database prints
 * a development admin token, `npm run token` mints tokens the running server
 * accepts, and a PostgreSQL or production deployment without token
 * configuration refuses to start (there is no switch that turns auth off).
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScript } from '../support/cli.js';
import { startServerProcess, stopAll, type ServerProcess } from '../support/process.js';

/** Environment without any token configuration, as on a fresh machine. */
function bareEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AUTH_|DATABASE_URL$|PGLITE_DIR$|NODE_ENV$)/.test(k)));
  return { ...env, LOG_LEVEL: 'info', ...extra };
}

const run = runScript;

async function post(url: string, query: string, token?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: any; errors?: Array<{ extensions?: { code?: string } }> };
}

describe('the embedded default', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'orders-auth-'));
  const pgliteDir = join(dir, 'pglite');
  let server: ServerProcess;
  let adminToken: string;

  beforeAll(async () => {
    server = await startServerProcess({
      env: { AUTH_JWT_SECRET: undefined, DATABASE_URL: undefined, NODE_ENV: undefined, PGLITE_DIR: pgliteDir },
      startTimeoutMs: 120_000,
    });
  }, 150_000);
  afterAll(async () => {
    await stopAll([server]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('npm start prints a development admin token that the IDE header can carry', async () => {
    const line = await server.waitForLog((l) => /development admin token/.test(String(l.msg)));
    adminToken = String(line.token);
    expect((line.headers as Record<string, string>).Authorization).toBe(`Bearer ${adminToken}`);
    const users = await post(server.url, '{ users { total } projections { name } }', adminToken);
    expect(users.errors).toBeUndefined();
    expect(users.data.projections).toHaveLength(4);
    // Without it, the same query is refused.
    expect((await post(server.url, '{ users { total } }')).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('keeps its generated secret beside the data, readable by its owner only', () => {
    expect(statSync(join(dir, 'dev-auth-secret')).mode & 0o777).toBe(0o600);
  });

  it('npm run token mints a customer token the running server accepts, for that user only', async () => {
    const registered = await post(
      server.url,
      'mutation { registerUser(input: { name: "Ada", email: "ada@example.com" }) { userId } }',
    );
    const userId = registered.data.registerUser.userId as string;
    const minted = await run('scripts/token.ts', ['--user', userId], bareEnv({ PGLITE_DIR: pgliteDir }));
    expect(minted.code, minted.stderr).toBe(0);
    const token = minted.stdout.trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

    const self = await post(server.url, `{ user(id: "${userId}") { name } }`, token);
    expect(self).toEqual({ data: { user: { name: 'Ada' } } });
    const all = await post(server.url, '{ users { total } }', token);
    expect(all.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('npm run token -- --role admin mints a staff token; bad arguments say how to call it', async () => {
    const minted = await run('scripts/token.ts', ['--user', 'ops', '--role', 'admin', '--expires', '5m'], bareEnv({ PGLITE_DIR: pgliteDir }));
    expect(minted.code, minted.stderr).toBe(0);
    expect((await post(server.url, '{ users { total } }', minted.stdout.trim())).errors).toBeUndefined();

    const bad = await run('scripts/token.ts', ['--user', 'ops', '--role', 'root'], bareEnv({ PGLITE_DIR: pgliteDir }));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--role: expected customer or admin, got "root"');
    expect(bad.stderr).toContain('usage: npm run token');
  });
});

describe('deployments without token configuration', () => {
  it('on PostgreSQL, the server refuses to start and says what to set', async () => {
    const started = await run('src/main.ts', [], bareEnv({ DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/test', PORT: '0' }));
    expect(started.code).toBe(1);
    expect(started.stdout).toContain('authentication needs AUTH_JWT_SECRET (HS256, at least 32 characters) or AUTH_JWKS');
  }, 60_000);

  it('with NODE_ENV=production, even the embedded database needs it', async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'orders-auth-prod-'));
    try {
      const started = await run('src/main.ts', [], bareEnv({ NODE_ENV: 'production', PGLITE_DIR: join(dir, 'pglite'), PORT: '0' }));
      expect(started.code).toBe(1);
      expect(started.stdout).toContain('authentication needs AUTH_JWT_SECRET');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('npm run token cannot mint for a JWKS deployment: the identity provider does', async () => {
    const dir = mkdtempSync(join(os.tmpdir(), 'orders-auth-jwks-'));
    try {
      const { publicKey } = await generateKeyPair('ES256');
      const jwks = join(dir, 'jwks.json');
      writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256', kid: 'k1' }] }));
      const minted = await run('scripts/token.ts', ['--user', 'u1'], bareEnv({ AUTH_JWKS: jwks, DATABASE_URL: 'postgresql://x@127.0.0.1/none' }));
      expect(minted.code).toBe(2);
      expect(minted.stdout).toBe('');
      expect(minted.stderr).toContain('tokens are issued by the identity provider that holds its private key');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
