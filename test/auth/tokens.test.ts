import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, UnsecuredJWT, exportJWK, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.js';
import { devSecretPath, resolveAuth } from '../../src/auth/setup.js';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { TEST_JWT_SECRET } from '../support/auth.js';
import { registerUser } from '../support/operations.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Issue 7 §1: bearer tokens. Each case is sent over HTTP to a real server
 * configured as a deployment would be (HS256 secret; issuer and audience;
 * a JWKS file; a JWKS URL); what the client sees is asserted: the status,
 * the code, the message. A header that is present but not a valid token
 * refuses the whole request (401), even for operations anonymous callers may
 * run — the client believes it is signed in.
 */

const SECRET = new TextEncoder().encode(TEST_JWT_SECRET);
const now = () => Math.floor(Date.now() / 1000);

/** Needs staff: proves a token was accepted and read as `role: admin`. */
const STAFF_ONLY = '{ users(pageSize: 1) { total } }';
/** Open to anyone: a refusal of it can only come from the token. */
const PUBLIC = '{ products { total } }';

interface Reply {
  status: number;
  body: { data?: any; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  wwwAuthenticate: string | null;
}

async function post(url: string, authorization: string | undefined, query: string): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: (await res.json()) as Reply['body'], wwwAuthenticate: res.headers.get('www-authenticate') };
}

/** Accepted as staff: 200 with data. */
async function expectAccepted(url: string, token: string): Promise<void> {
  const reply = await post(url, `Bearer ${token}`, STAFF_ONLY);
  expect(reply.body.errors, JSON.stringify(reply.body)).toBeUndefined();
  expect(reply.status).toBe(200);
  expect(reply.body.data.users.total).toEqual(expect.any(Number));
}

/** Refused: 401, UNAUTHENTICATED, no data — even for a public query. Returns the message. */
async function expectRefused(url: string, authorization: string, message?: RegExp): Promise<string> {
  const reply = await post(url, authorization, PUBLIC);
  expect(reply.status, JSON.stringify(reply.body)).toBe(401);
  expect(reply.body.data).toBeUndefined();
  expect(reply.body.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  expect(reply.wwwAuthenticate).toMatch(/^Bearer/);
  const text = reply.body.errors![0]!.message;
  if (message) expect(text).toMatch(message);
  // Nothing internal leaks into the message.
  expect(text).not.toMatch(/at \w+ \(|node_modules|\.ts:|SELECT|secret/i);
  return text;
}

interface SignOptions {
  alg?: string;
  key?: CryptoKey | Uint8Array;
  kid?: string;
  /** Seconds since the epoch; null: no `exp` claim. */
  exp?: number | null;
}

/** A signed JWT with `claims` (defaults: sub test-admin, role admin, exp in an hour). */
function sign(claims: JWTPayload = {}, options: SignOptions = {}): Promise<string> {
  const { alg = 'HS256', key = SECRET, kid, exp = now() + 3600 } = options;
  const payload: JWTPayload = { sub: 'test-admin', role: 'admin', iat: now(), ...claims };
  if (exp !== null) payload.exp = exp;
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}) }).sign(key);
}

// ─────────────────────────────── HS256 ───────────────────────────────

describe('HS256 with AUTH_JWT_SECRET', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('accepts a valid HS256 token and acts with its role', async () => {
    await expectAccepted(server.url, await sign());
  });

  it('reads sub and role: a customer token acts as that customer', async () => {
    const { userId } = await registerUser(server, 'Token holder');
    const token = await sign({ sub: userId, role: 'customer' });
    const self = await post(server.url, `Bearer ${token}`, `{ user(id: "${userId}") { id name } }`);
    expect(self.body).toEqual({ data: { user: { id: userId, name: 'Token holder' } } });
    const staff = await post(server.url, `Bearer ${token}`, STAFF_ONLY);
    expect(staff.status).toBe(200);
    expect(staff.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  it('accepts "bearer" in any case', async () => {
    const reply = await post(server.url, `bearer ${await sign()}`, STAFF_ONLY);
    expect(reply.body.errors).toBeUndefined();
  });

  it('treats a request without an Authorization header as anonymous (200 for public data, UNAUTHENTICATED for the rest)', async () => {
    const pub = await post(server.url, undefined, PUBLIC);
    expect(pub.status).toBe(200);
    expect(pub.body.errors).toBeUndefined();
    const staff = await post(server.url, undefined, STAFF_ONLY);
    expect(staff.body.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(staff.body.data ?? null).toBeNull();
  });

  it('refuses an expired token: 401, UNAUTHENTICATED, and says it expired', async () => {
    await expectRefused(server.url, `Bearer ${await sign({ iat: now() - 7200 }, { exp: now() - 60 })}`, /expired/i);
  });

  it('refuses a token signed with another secret', async () => {
    const other = new TextEncoder().encode('another-secret-that-is-long-enough-9876543210');
    await expectRefused(server.url, `Bearer ${await sign({}, { key: other })}`, /signature/i);
  });

  it('refuses an unsigned token (alg: none)', async () => {
    const unsigned = new UnsecuredJWT({ sub: 'test-admin', role: 'admin' }).setIssuedAt().setExpirationTime('1h').encode();
    expect(unsigned.endsWith('.')).toBe(true);
    await expectRefused(server.url, `Bearer ${unsigned}`);
  });

  it('refuses a token whose signature was stripped', async () => {
    const token = await sign();
    await expectRefused(server.url, `Bearer ${token.slice(0, token.lastIndexOf('.') + 1)}`);
  });

  it('refuses a token whose payload was altered after signing (customer → admin)', async () => {
    const token = await sign({ role: 'customer' });
    const [header, , signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'test-admin', role: 'admin', exp: now() + 3600 })).toString('base64url');
    await expectRefused(server.url, `Bearer ${header}.${forged}.${signature}`, /signature/i);
  });

  it('refuses a token without a role', async () => {
    await expectRefused(server.url, `Bearer ${await sign({ role: undefined })}`, /role/);
  });

  it('refuses a token with role "root"', async () => {
    await expectRefused(server.url, `Bearer ${await sign({ role: 'root' })}`, /role/);
  });

  it('refuses a token without exp', async () => {
    await expectRefused(server.url, `Bearer ${await sign({}, { exp: null })}`, /exp/);
  });

  it('refuses a token without sub', async () => {
    await expectRefused(server.url, `Bearer ${await sign({ sub: undefined })}`, /sub/);
  });

  it('refuses a token that is not valid yet (nbf in the future)', async () => {
    await expectRefused(server.url, `Bearer ${await sign({ nbf: now() + 600 })}`, /nbf/);
  });

  it('does not require iss/aud when none is configured', async () => {
    await expectAccepted(server.url, await sign({ iss: 'anyone', aud: 'anything' }));
  });

  const garbage: Array<[string, string]> = [
    ['"Bearer xyz"', 'Bearer xyz'],
    ['"Basic …" credentials', `Basic ${Buffer.from('admin:secret').toString('base64')}`],
    ['"Bearer" without a token', 'Bearer '],
    ['a bare token without "Bearer"', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'],
    ['three dot-separated segments that are not a JWT', 'Bearer abc.def.ghi'],
  ];
  for (const [name, header] of garbage) {
    it(`refuses ${name} with 401 for the whole request`, async () => {
      await expectRefused(server.url, header);
    });
  }
});

// ─────────────────────────── issuer and audience ───────────────────────────

describe('AUTH_ISSUER and AUTH_AUDIENCE', () => {
  const ISSUER = 'https://id.example.test/';
  const AUDIENCE = 'orders-api';
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('accepts the configured iss and aud', async () => {
    await expectAccepted(server.url, await sign({ iss: ISSUER, aud: AUDIENCE }));
  });

  it('accepts aud as a list that contains the configured audience', async () => {
    await expectAccepted(server.url, await sign({ iss: ISSUER, aud: ['billing', AUDIENCE] }));
  });

  it('refuses a wrong iss', async () => {
    await expectRefused(server.url, `Bearer ${await sign({ iss: 'https://evil.example.test/', aud: AUDIENCE })}`, /iss/);
  });

  it('refuses a wrong aud', async () => {
    await expectRefused(server.url, `Bearer ${await sign({ iss: ISSUER, aud: 'another-api' })}`, /aud/);
  });

  it('refuses a token without iss or aud', async () => {
    await expectRefused(server.url, `Bearer ${await sign({ aud: AUDIENCE })}`, /iss/);
    await expectRefused(server.url, `Bearer ${await sign({ iss: ISSUER })}`, /aud/);
  });
});

// ─────────────────────────────── JWKS ───────────────────────────────

interface Keys {
  es256: { privateKey: CryptoKey; publicKey: CryptoKey };
  rs256: { privateKey: CryptoKey; publicKey: CryptoKey };
  /** Not in the published set. */
  stranger: { privateKey: CryptoKey; publicKey: CryptoKey };
  jwks: { keys: unknown[] };
}

async function makeKeys(): Promise<Keys> {
  const es256 = await generateKeyPair('ES256', { extractable: true });
  const rs256 = await generateKeyPair('RS256', { extractable: true });
  const stranger = await generateKeyPair('ES256', { extractable: true });
  const jwks = {
    keys: [
      { ...(await exportJWK(es256.publicKey)), kid: 'es-1', alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(rs256.publicKey)), kid: 'rs-1', alg: 'RS256', use: 'sig' },
    ],
  };
  // Only public parts are published.
  for (const key of jwks.keys) expect(key).not.toHaveProperty('d');
  return { es256, rs256, stranger, jwks };
}

/** The cases every JWKS configuration must get right, for a server at `url()`. */
function jwksCases(url: () => string, keys: () => Keys) {
  it('accepts an ES256 token signed with a key of the set', async () => {
    await expectAccepted(url(), await sign({}, { alg: 'ES256', key: keys().es256.privateKey, kid: 'es-1' }));
  });

  it('accepts an RS256 token signed with a key of the set', async () => {
    await expectAccepted(url(), await sign({}, { alg: 'RS256', key: keys().rs256.privateKey, kid: 'rs-1' }));
  });

  it('refuses an HS256 token (even one signed with the test secret)', async () => {
    await expectRefused(url(), `Bearer ${await sign()}`, /algorithm/);
  });

  it('refuses a token signed with a key outside the set under a known kid', async () => {
    await expectRefused(url(), `Bearer ${await sign({}, { alg: 'ES256', key: keys().stranger.privateKey, kid: 'es-1' })}`, /signature/);
  });

  it('refuses a token whose kid is not in the set', async () => {
    await expectRefused(url(), `Bearer ${await sign({}, { alg: 'ES256', key: keys().stranger.privateKey, kid: 'es-unknown' })}`);
  });

  it('refuses an unsigned token (alg: none)', async () => {
    const unsigned = new UnsecuredJWT({ sub: 'test-admin', role: 'admin' }).setExpirationTime('1h').encode();
    await expectRefused(url(), `Bearer ${unsigned}`);
  });

  it('refuses an expired ES256 token, saying it expired', async () => {
    await expectRefused(url(), `Bearer ${await sign({}, { alg: 'ES256', key: keys().es256.privateKey, kid: 'es-1', exp: now() - 60 })}`, /expired/);
  });

  it('refuses an RS256 token with role "root"', async () => {
    await expectRefused(url(), `Bearer ${await sign({ role: 'root' }, { alg: 'RS256', key: keys().rs256.privateKey, kid: 'rs-1' })}`, /role/);
  });
}

describe('AUTH_JWKS from a file (RS256/ES256)', () => {
  let keys: Keys;
  let dir: string;
  let server: TestServer;
  beforeAll(async () => {
    keys = await makeKeys();
    dir = mkdtempSync(join(tmpdir(), 'orders-jwks-'));
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify(keys.jwks));
    server = await startTestServer({ AUTH_JWT_SECRET: undefined, AUTH_JWKS: file });
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  jwksCases(() => server.url, () => keys);
});

describe('AUTH_JWKS from a URL (RS256/ES256)', () => {
  let keys: Keys;
  let jwksServer: http.Server;
  let fetches = 0;
  let server: TestServer;
  beforeAll(async () => {
    keys = await makeKeys();
    jwksServer = http.createServer((req, res) => {
      if (req.url !== '/.well-known/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(keys.jwks));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const { port } = jwksServer.address() as AddressInfo;
    server = await startTestServer({ AUTH_JWT_SECRET: undefined, AUTH_JWKS: `http://127.0.0.1:${port}/.well-known/jwks.json` });
  });
  afterAll(async () => {
    await server?.stop();
    jwksServer?.closeAllConnections();
    await new Promise((resolve) => jwksServer?.close(resolve));
  });

  jwksCases(() => server.url, () => keys);

  it('fetched the key set from the URL', () => {
    expect(fetches).toBeGreaterThan(0);
  });
});

// ─────────────────────────── configuration ───────────────────────────

describe('configuration refusals', () => {
  const POSTGRES = 'postgresql://postgres@127.0.0.1:5432/orders_never_created';
  const config = (overrides: Partial<Config>, env: NodeJS.ProcessEnv = {}) => loadConfig(env, { LOG_LEVEL: 'silent', ...overrides });

  it('resolveAuth refuses a PostgreSQL DATABASE_URL with neither AUTH_JWT_SECRET nor AUTH_JWKS', () => {
    expect(() => resolveAuth(config({ DATABASE_URL: POSTGRES }))).toThrow(/AUTH_JWT_SECRET.*AUTH_JWKS/s);
  });

  it('resolveAuth refuses NODE_ENV=production on the embedded database with neither', () => {
    const dir = mkdtempSync(join(tmpdir(), 'orders-auth-'));
    try {
      expect(() => resolveAuth(config({ NODE_ENV: 'production', PGLITE_DIR: join(dir, 'pglite') }))).toThrow(/AUTH_JWT_SECRET/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resolveAuth refuses both AUTH_JWT_SECRET and AUTH_JWKS', () => {
    expect(() => resolveAuth(config({ DATABASE_URL: POSTGRES, AUTH_JWT_SECRET: TEST_JWT_SECRET, AUTH_JWKS: '/nonexistent/jwks.json' }))).toThrow(
      /not both/,
    );
  });

  it('resolveAuth accepts a PostgreSQL DATABASE_URL with a secret', () => {
    const auth = resolveAuth(config({ DATABASE_URL: POSTGRES, AUTH_JWT_SECRET: TEST_JWT_SECRET }));
    expect(auth.development).toBe(false);
  });

  it('loadConfig refuses an AUTH_JWT_SECRET shorter than 32 characters, and takes 32', () => {
    expect(() => loadConfig({ AUTH_JWT_SECRET: 'x'.repeat(31) })).toThrow(/AUTH_JWT_SECRET: expected at least 32 characters/);
    expect(loadConfig({ AUTH_JWT_SECRET: 'x'.repeat(32) }).AUTH_JWT_SECRET).toBe('x'.repeat(32));
  });

  it('the server refuses to start without token configuration, before it touches the database', async () => {
    const error = await startApp(config({ DATABASE_URL: POSTGRES, PORT: 0, HOST: '127.0.0.1' }), createLogger('silent')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/AUTH_JWT_SECRET.*AUTH_JWKS/s);
  });

  it('a TokenVerifier needs exactly one of a secret and a JWKS', () => {
    expect(() => new TokenVerifier({})).toThrow(/exactly one/);
    expect(() => new TokenVerifier({ secret: TEST_JWT_SECRET, jwks: 'http://127.0.0.1:1/jwks.json' })).toThrow(/exactly one/);
  });

  it('the embedded default generates one development secret, readable by its owner only, and keeps it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orders-auth-'));
    try {
      const cfg = config({ PGLITE_DIR: join(dir, 'pglite') });
      const first = resolveAuth(cfg);
      const path = devSecretPath(cfg);
      expect(first.development).toBe(true);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readFileSync(path, 'utf8').trim().length).toBeGreaterThanOrEqual(32);
      // A second start (or `npm run token`) on the same data verifies the first one's tokens.
      const token = await first.mint!('dev-admin', 'admin', 60);
      const second = resolveAuth(cfg);
      await expect(second.verifier.verify(token)).resolves.toMatchObject({ actor: { role: 'admin', userId: 'dev-admin' } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('TokenVerifier remembers verified tokens (a client sends the same one with every request)', () => {
  const sign = (claims: JWTPayload, exp: number) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(exp).sign(SECRET);

  it('still refuses a remembered token once it has expired', async () => {
    const verifier = new TokenVerifier({ secret: TEST_JWT_SECRET, clockToleranceSec: 0 });
    const token = await sign({ sub: 'u-1', role: 'customer' }, now() + 2);
    expect((await verifier.verify(token)).actor).toEqual({ role: 'customer', userId: 'u-1' });
    expect((await verifier.verify(token)).actor).toEqual({ role: 'customer', userId: 'u-1' });
    await new Promise((resolve) => setTimeout(resolve, (now() + 3 - Date.now() / 1000) * 1000));
    await expect(verifier.verify(token)).rejects.toThrow(/expired/);
  });

  it('drops a remembered token when the JWKS at its URL rotates: a token signed by the removed key is refused on its next use', async () => {
    const [oldKey, newKey] = [await generateKeyPair('ES256', { extractable: true }), await generateKeyPair('ES256', { extractable: true })];
    const published = async (key: CryptoKey, kid: string) => ({ keys: [{ ...(await exportJWK(key)), kid, alg: 'ES256', use: 'sig' }] });
    let jwks = await published(oldKey.publicKey, 'old');
    let fetches = 0;
    const jwksServer = http.createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = jwksServer.address() as AddressInfo;
      // No cooldown: the first token naming an unknown key makes it fetch the set again.
      const verifier = new TokenVerifier({ jwks: `http://127.0.0.1:${port}/jwks.json`, jwksCooldownSec: 0 });
      const signed = (key: CryptoKey, kid: string) =>
        new SignJWT({ sub: 'u-3', role: 'customer' }).setProtectedHeader({ alg: 'ES256', kid }).setExpirationTime(now() + 3600).sign(key);
      const before = await signed(oldKey.privateKey, 'old');
      expect((await verifier.verify(before)).actor).toEqual({ role: 'customer', userId: 'u-3' });
      // Verified once more against the set as fetched, then remembered: no further fetch.
      await verifier.verify(before);
      await verifier.verify(before);
      expect(fetches).toBe(1);

      // Rotation: the old key is gone from the set, a new one is in.
      jwks = await published(newKey.publicKey, 'new');
      expect((await verifier.verify(await signed(newKey.privateKey, 'new'))).actor.userId).toBe('u-3');
      expect(fetches).toBe(2);
      await expect(verifier.verify(before)).rejects.toThrow(/no key in the key set matches the token/);
    } finally {
      jwksServer.closeAllConnections();
      await new Promise((resolve) => jwksServer.close(resolve));
    }
  });

  it('refuses a remembered token whose payload was altered (customer → admin)', async () => {
    const verifier = new TokenVerifier({ secret: TEST_JWT_SECRET });
    const token = await sign({ sub: 'u-2', role: 'customer' }, now() + 3600);
    await verifier.verify(token);
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'u-2', role: 'admin', exp: now() + 3600 })).toString('base64url')}.${signature}`;
    await expect(verifier.verify(forged)).rejects.toThrow(/signature/);
  });
});
