/**
 * The IDE signs in a browser on this machine: on the embedded development
 * default, GET /graphql from a loopback address (naming this machine in Host,
 * not through a proxy) gets a page whose Headers tab holds a working
 * development admin token. Never for a request from another address, never
 * in production, never on PostgreSQL (there is no development token there).
 *
 * The other address is real where the machine has one: the server listens on
 * all interfaces and is asked through a non-loopback address of this
 * machine, so the kernel's source address (the request's peer) is that one.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLocalBrowserRequest } from '../../src/server/ide.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** What Chromium sends when a person opens a URL. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

// Requests from other addresses are decided by isLocalBrowserRequest (tested above with their socket
// addresses); the tests send traffic to loopback only.

interface IdePage {
  readonly status: number;
  readonly cacheControl: string | undefined;
  /** The page's settings for GraphiQL (its JSON data block). */
  readonly settings: { defaultQuery: string; defaultHeaders?: string };
}

/** GETs the IDE page as a browser would, from `address`, with these extra headers (e.g. another Host). */
function getPage(address: string, port: number, headers: Record<string, string> = {}): Promise<IdePage> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: address, port, path: '/graphql', headers: { accept: BROWSER_ACCEPT, ...headers } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => {
          const block = /<script type="application\/json" id="ide-settings">(.*?)<\/script>/s.exec(body);
          if (!block) return reject(new Error(`no settings in the page (${res.statusCode}): ${body.slice(0, 300)}`));
          resolve({ status: res.statusCode ?? 0, cacheControl: res.headers['cache-control'], settings: JSON.parse(block[1]!) });
        });
      })
      .on('error', reject);
  });
}

/** The bearer token in the page's Headers tab. */
function tokenIn(page: IdePage): string | undefined {
  if (!page.settings.defaultHeaders) return undefined;
  const headers = JSON.parse(page.settings.defaultHeaders) as { Authorization?: string };
  return headers.Authorization?.replace(/^Bearer /, '');
}

async function usersAs(url: string, token: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ users { total } }' }),
  });
  return res.json();
}

describe('which requests come from a browser on this machine', () => {
  const request = (remoteAddress: string | undefined, headers: http.IncomingHttpHeaders) => ({ socket: { remoteAddress }, headers });

  it('a loopback peer naming this machine', () => {
    for (const peer of ['127.0.0.1', '127.10.20.30', '::1', '::ffff:127.0.0.1']) {
      for (const host of ['localhost:4000', 'LOCALHOST', '127.0.0.1:4000', '[::1]:4000']) {
        expect(isLocalBrowserRequest(request(peer, { host })), `${peer} ${host}`).toBe(true);
      }
    }
  });

  it('not a peer elsewhere, whatever its Host header says', () => {
    for (const peer of ['192.0.2.2', '::ffff:192.0.2.2', 'fd00::2', '10.127.0.1', '128.0.0.1', undefined]) {
      expect(isLocalBrowserRequest(request(peer, { host: 'localhost:4000' })), String(peer)).toBe(false);
    }
  });

  it('not a page of another site resolved to 127.0.0.1 (DNS rebinding), nor a request without Host', () => {
    for (const host of ['evil.example:4000', '127.0.0.1.evil.example', 'localhost.evil.example:4000', '192.0.2.2:4000', undefined]) {
      expect(isLocalBrowserRequest(request('127.0.0.1', { host })), String(host)).toBe(false);
    }
  });

  it('not a request a proxy or tunnel on this machine forwarded', () => {
    for (const forwarded of [{ 'x-forwarded-for': '203.0.113.9' }, { forwarded: 'for=203.0.113.9' }, { 'x-real-ip': '203.0.113.9' }]) {
      expect(isLocalBrowserRequest(request('127.0.0.1', { host: 'localhost:4000', ...forwarded }))).toBe(false);
    }
  });
});

describe('on the embedded development default', () => {
  let server: TestServer;
  let port: number;
  beforeAll(async () => {
    // All interfaces, so that the same server can be asked from another address.
    server = await startTestServer({ kind: 'pglite', HOST: '0.0.0.0', AUTH_JWT_SECRET: undefined, NODE_ENV: 'development', IDE_ENABLED: true });
    port = server.app.port;
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('a browser on this machine gets a fresh, working admin token in the Headers tab, in a page never cached', async () => {
    const page = await getPage('127.0.0.1', port);
    expect(page.status).toBe(200);
    expect(page.cacheControl).toBe('no-store');
    const token = tokenIn(page);
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(JSON.parse(Buffer.from(token!.split('.')[1]!, 'base64url').toString())).toMatchObject({ role: 'admin', sub: 'dev-admin' });
    expect(await usersAs(server.url, token!)).toEqual({ data: { users: { total: 0 } } });
    expect(page.settings.defaultQuery).toContain('You are signed in as the development admin');
    // Also when Host names the machine `localhost`.
    expect(tokenIn(await getPage('127.0.0.1', port, { host: `localhost:${port}` }))).toBeDefined();
  });

  it('a request through a proxy on this machine gets the page without it', async () => {
    const page = await getPage('127.0.0.1', port, { 'x-forwarded-for': '203.0.113.9' });
    expect(page.status).toBe(200);
    expect(page.settings.defaultHeaders).toBeUndefined();
    expect(page.settings.defaultQuery).toContain('Sign in first');
  });
});

describe('never', () => {
  it('in production, even with the IDE enabled on the embedded database', async () => {
    const server = await startTestServer({ kind: 'pglite', NODE_ENV: 'production', IDE_ENABLED: true });
    try {
      const page = await getPage('127.0.0.1', server.app.port);
      expect(page.status).toBe(200);
      expect(page.settings.defaultHeaders).toBeUndefined();
    } finally {
      await server.stop();
    }
  }, 120_000);

  it('on PostgreSQL', async () => {
    const server = await startTestServer({ kind: 'postgres', NODE_ENV: 'development', IDE_ENABLED: true });
    try {
      const page = await getPage('127.0.0.1', server.app.port);
      expect(page.status).toBe(200);
      expect(page.settings.defaultHeaders).toBeUndefined();
      expect(page.settings.defaultQuery).toContain('Sign in first');
    } finally {
      await server.stop();
    }
  }, 120_000);
});
