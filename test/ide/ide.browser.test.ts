/**
 * The GraphQL IDE (src/server/ide.ts): served to browsers at GET /graphql from
 * this server's own assets, off in production unless enabled — and, in a real
 * headless Chromium (Debian's package, driven by playwright-core), usable: the
 * schema documentation, explorer, history and headers editor are there, a
 * query shows its result, and an `orderStatusChanged` subscription shows the
 * update a mutation makes. Saves test-results/ide.png.
 *
 * Chromium is installed with apt when missing (test/ide/chromium.ts); if that
 * is impossible, these tests fail with the reason.
 */
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { IDE_ASSETS_PATH } from '../../src/server/ide.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { addProduct, placeOrder, registerUser, transition } from '../support/operations.js';
import { ADMIN, bearer, tokenFor } from '../support/auth.js';
import { launchChromium } from './chromium.js';

const RESULTS_DIR = fileURLToPath(new URL('../../test-results/', import.meta.url));
const SCREENSHOT = `${RESULTS_DIR}ide.png`;
const WELCOME_SCREENSHOT = `${RESULTS_DIR}ide-welcome.png`;
/** What Chromium sends when a person opens a URL. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ kind: 'postgres', IDE_ENABLED: true });
});
afterAll(async () => {
  await server?.stop();
});

/** A GET's status, with exactly these request headers. */
function statusOf(url: URL, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

/** Absolute http(s) URLs in a text, except XML namespace names (never fetched). */
function externalUrls(text: string): string[] {
  return (text.match(/https?:\/\/[^\s"'`)<>]+/g) ?? []).filter((u) => !u.startsWith('http://www.w3.org/'));
}

describe('IDE over HTTP', () => {
  it('is on by default, off with NODE_ENV=production unless IDE_ENABLED=true', () => {
    expect(loadConfig({}).IDE_ENABLED).toBe(true);
    expect(loadConfig({ NODE_ENV: 'development' }).IDE_ENABLED).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production' }).IDE_ENABLED).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', IDE_ENABLED: 'true' }).IDE_ENABLED).toBe(true);
    expect(loadConfig({ IDE_ENABLED: 'false' }).IDE_ENABLED).toBe(false);
  });

  it('serves a page to browsers that loads only this server’s assets', async () => {
    const res = await fetch(server.url, { headers: { accept: BROWSER_ACCEPT } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('vary')).toMatch(/accept/i);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://${new URL(server.url).host} wss://${new URL(server.url).host}`);
    const html = await res.text();
    expect(html).toContain('<div id="graphiql">');
    expect(externalUrls(html)).toEqual([]);

    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((r) => !r.startsWith('data:'));
    expect(refs.length).toBe(8);
    for (const ref of refs) {
      expect(ref.startsWith(`${IDE_ASSETS_PATH}/`)).toBe(true);
      const asset = await fetch(new URL(ref, server.url));
      expect(asset.status, ref).toBe(200);
      expect(asset.headers.get('content-type'), ref).toMatch(/^text\/(javascript|css)/);
      const body = await asset.text();
      if (ref.includes('.css')) {
        // Stylesheets would load fonts and images themselves: only data: URIs.
        expect([...body.matchAll(/url\(\s*["']?([^"')]+)/g)].map((m) => m[1]).filter((u) => !u!.startsWith('data:'))).toEqual([]);
        expect(body).not.toMatch(/@import/);
      }
    }
    // Versioned assets are cached; revalidation answers 304.
    const again = await fetch(new URL(refs[0]!, server.url));
    expect(again.headers.get('cache-control')).toContain('immutable');
    // (fetch would add `cache-control: no-cache` to a conditional request.)
    const etag = again.headers.get('etag')!;
    expect(await statusOf(new URL(refs[0]!, server.url), { 'if-none-match': etag })).toBe(304);
    expect((await fetch(new URL(`${IDE_ASSETS_PATH}/secrets.js`, server.url))).status).toBe(404);
    expect((await fetch(new URL(`${IDE_ASSETS_PATH}/..%2f..%2fpackage.json`, server.url))).status).toBe(404);
  });

  it('leaves GraphQL requests alone: JSON GETs and POSTs reach the API', async () => {
    const get = await fetch(`${server.url}?query=${encodeURIComponent('{ projections { name } }')}`, {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true', ...(await bearer(ADMIN)) },
    });
    expect(get.status).toBe(200);
    expect(((await get.json()) as any).data.projections).toHaveLength(4);
    const curl = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: '*/*', 'apollo-require-preflight': 'true' },
    });
    expect(await curl.json()).toEqual({ data: { __typename: 'Query' } });
    expect((await server.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
  });

  it('in production (IDE disabled) answers a browser’s GET with a plain 404, and the API still works', async () => {
    const production = await startTestServer({ IDE_ENABLED: loadConfig({ NODE_ENV: 'production' }).IDE_ENABLED });
    try {
      const res = await fetch(production.url, { headers: { accept: BROWSER_ACCEPT } });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).not.toMatch(/graphiql/i);
      expect((await fetch(new URL(`${IDE_ASSETS_PATH}/graphiql.min.js`, production.url))).status).toBe(404);
      expect((await production.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
    } finally {
      await production.stop();
    }
  });
});

/** The visible CodeMirror editor of a GraphiQL section ("Headers" also holds the hidden variables editor). */
const editor = (page: Page, section: string) =>
  page.locator(`section[aria-label="${section}"] .CodeMirror`).filter({ visible: true }).first();

/**
 * Replaces an editor's text (CodeMirror 5, as GraphiQL 3 uses), then waits
 * out GraphiQL's debounce (100 ms) before it takes the new operation name
 * and headers into its state, as a person would by being slower.
 */
async function setEditor(page: Page, section: string, text: string) {
  await editor(page, section).evaluate((el, value) => {
    (el as unknown as { CodeMirror: { setValue(v: string): void } }).CodeMirror.setValue(value);
  }, text);
  await page.waitForTimeout(600);
}

/** The result pane's text, as shown on the screen. */
const shown = (page: Page) => editor(page, 'Result Window').locator('.CodeMirror-code').innerText();

/** The text of an editor (the visible one of its section). */
const editorText = (page: Page, section: string) =>
  editor(page, section).evaluate((el) => (el as unknown as { CodeMirror: { getValue(): string } }).CodeMirror.getValue());

async function execute(page: Page) {
  await page.getByRole('button', { name: /^Execute query/ }).click();
}

/** The lines of an editor that run past its right edge, out of sight (CodeMirror does not wrap them). */
const cutOff = (page: Page, section: string) =>
  editor(page, section).evaluate((el) => {
    const right = el.getBoundingClientRect().right;
    return [...el.querySelectorAll('.CodeMirror-line > span')]
      .filter((line) => line.getBoundingClientRect().right > right)
      .map((line) => line.textContent);
  });

describe('IDE in headless Chromium', () => {
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  const requests: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // Installing Chromium with apt, when it is missing, takes a while.
    browser = await launchChromium();
    browser.context.on('request', (r) => requests.push(r.url()));
    browser.context.on('page', (p) => {
      p.on('pageerror', (e) => pageErrors.push(e.message));
      p.on('websocket', (ws) => requests.push(ws.url()));
    });
  }, 20 * 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  async function openIde(): Promise<Page> {
    const page = await browser.context.newPage();
    await page.goto(server.url);
    await editor(page, 'Query Editor').waitFor({ timeout: 20_000 });
    return page;
  }

  /** Pastes an admin token into the Headers tab, as a person would after `npm start` printed one. */
  async function signIn(page: Page, extra: Record<string, string> = {}) {
    const token = await tokenFor(ADMIN);
    await page.getByRole('button', { name: 'Headers' }).click();
    await setEditor(page, 'Headers', JSON.stringify({ Authorization: `Bearer ${token}`, ...extra }, null, 2));
  }

  it('on PostgreSQL, starts with an empty Headers tab and a welcome that says how to sign in', async () => {
    // First of these tests: no tab of this origin has stored headers yet.
    const page = await openIde();
    expect(await editorText(page, 'Query Editor')).toContain('# Sign in first: open the "Headers" tab');
    await page.getByRole('button', { name: 'Headers' }).click();
    expect(await editorText(page, 'Headers')).toBe('');
    await page.close();
  });

  it('opens, has docs, explorer, history and a headers editor, and runs a query with its headers', async () => {
    const { userId } = await registerUser(server, 'Margaret Hamilton');
    const { productId } = await addProduct(server, 'Apollo Guidance Computer manual', '59.00');
    await placeOrder(server, userId, [{ productId, quantity: 1 }]);

    const page = await openIde();
    expect(await page.title()).toContain('GraphiQL');

    // Schema documentation, from introspection.
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await expect.poll(() => docs.innerText()).toMatch(/subscription:\s*Subscription/);
    // The explorer plugin lists the schema's query fields.
    await page.getByRole('button', { name: 'Show GraphiQL Explorer' }).click();
    await expect.poll(() => page.locator('.graphiql-explorer-root').first().innerText()).toContain('projections');

    // Signed out, the catalog is open, orders are not.
    await setEditor(page, 'Query Editor', 'query Catalog { products { total products { name price } } }');
    await execute(page);
    await expect.poll(() => shown(page)).toContain('Apollo Guidance Computer manual');
    expect(await shown(page)).toContain('"59.00"');
    await setEditor(page, 'Query Editor', 'query Mine { orders { total } }');
    await execute(page);
    await expect.poll(() => shown(page)).toContain('UNAUTHENTICATED');

    // A pasted token (and any other header) from the headers editor goes with the request.
    await signIn(page, { 'x-request-id': 'ide-browser-test' });
    const sent = page.waitForRequest(
      (r) =>
        r.method() === 'POST' &&
        r.headers()['x-request-id'] === 'ide-browser-test' &&
        /^Bearer /.test(r.headers()['authorization'] ?? '') &&
        (r.postData() ?? '').includes('Mine'),
    );
    await execute(page);
    await sent;
    await expect.poll(() => shown(page)).toMatch(/"total":\s*1\b/);

    // The query is in the history.
    await page.getByRole('button', { name: 'Show History' }).click();
    await expect.poll(() => page.locator('.graphiql-history').innerText()).toContain('Catalog');
    await page.close();
  });

  it('shows an orderStatusChanged subscription’s updates when mutations change the order', async () => {
    const { userId } = await registerUser(server, 'Katherine Johnson');
    const { productId } = await addProduct(server, 'Slide rule', '12.00');
    const { orderId } = await placeOrder(server, userId, [{ productId, quantity: 2 }]);

    const watcher = await openIde();
    // The token travels in the websocket's connection_init payload too.
    await signIn(watcher);
    await setEditor(
      watcher,
      'Query Editor',
      `subscription Watch {\n  orderStatusChanged(orderId: "${orderId}") {\n    id\n    status\n    statusDisplay\n    version\n  }\n}`,
    );
    await execute(watcher);
    // The current view first…
    await expect.poll(() => shown(watcher), { timeout: 10_000 }).toContain('"PENDING"');

    // …then a mutation from another IDE tab…
    const other = await openIde();
    await signIn(other);
    await setEditor(
      other,
      'Query Editor',
      `mutation Confirm {\n  confirmOrder(input: { orderId: "${orderId}" }) {\n    version\n    order { status }\n  }\n}`,
    );
    await execute(other);
    await expect.poll(() => shown(other), { timeout: 10_000 }).toContain('"CONFIRMED"');
    await other.close();
    // …shows up in the subscription.
    await expect.poll(() => shown(watcher), { timeout: 10_000 }).toContain('"CONFIRMED"');
    expect(await shown(watcher)).toMatch(/"version":\s*2/);

    // So does one sent by any other client.
    expect((await transition(server, 'shipOrder', orderId)).errors).toBeUndefined();
    await expect.poll(() => shown(watcher), { timeout: 10_000 }).toContain('"SHIPPED"');
    expect(await shown(watcher)).toMatch(/"version":\s*3/);

    // The screenshot also shows the subscription's documentation.
    await watcher.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    await watcher.locator('.graphiql-doc-explorer').getByRole('link', { name: 'Subscription' }).first().click();
    await expect.poll(() => watcher.locator('.graphiql-doc-explorer').innerText()).toContain('orderStatusChanged');
    mkdirSync(RESULTS_DIR, { recursive: true });
    await watcher.screenshot({ path: SCREENSHOT });
    await watcher.close();
  });

  it('made no request outside this server, and the page raised no errors', () => {
    const origin = new URL(server.url);
    expect(requests.length).toBeGreaterThan(8);
    const foreign = requests.filter((u) => {
      if (u.startsWith('data:')) return false;
      const url = new URL(u);
      return url.hostname !== origin.hostname || url.port !== origin.port;
    });
    expect(foreign).toEqual([]);
    // The subscriptions went over graphql-ws to this server.
    expect(requests).toContain(server.url.replace(/^http/, 'ws'));
    expect(pageErrors).toEqual([]);
  });
});

describe('IDE in headless Chromium on the embedded default (npm start)', () => {
  let embedded: TestServer;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // As `npm start` runs: PGlite, development, no token configuration.
    embedded = await startTestServer({ kind: 'pglite', AUTH_JWT_SECRET: undefined, NODE_ENV: 'development', IDE_ENABLED: true });
    browser = await launchChromium();
    browser.context.on('page', (p) => p.on('pageerror', (e) => pageErrors.push(e.message)));
  }, 20 * 60_000);
  afterAll(async () => {
    await browser?.close();
    await embedded?.stop();
  });

  it('a browser on the same machine finds the admin token in the Headers tab, and the first query just runs', async () => {
    const page = await browser.context.newPage();
    // 127.0.0.1: a loopback request, as from a browser on this machine.
    await page.goto(embedded.url);
    await editor(page, 'Query Editor').waitFor({ timeout: 20_000 });
    const welcome = await editorText(page, 'Query Editor');
    expect(welcome).toContain('# You are signed in as the development admin');
    expect(welcome).toContain('query Dashboard {');
    await page.getByRole('button', { name: 'Headers' }).click();
    const headers = JSON.parse(await editorText(page, 'Headers')) as { Authorization: string };
    expect(headers.Authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);

    // The welcome fits the editor beside the result pane: no line runs out of
    // sight, in this window nor in a 1280-pixel-wide one.
    expect(await cutOff(page, 'Query Editor')).toEqual([]);
    await page.setViewportSize({ width: 1280, height: 800 });
    await expect.poll(() => editor(page, 'Query Editor').evaluate((el) => el.getBoundingClientRect().right)).toBeLessThan(600);
    expect(await cutOff(page, 'Query Editor')).toEqual([]);
    await page.setViewportSize({ width: 1440, height: 900 });

    // Nothing typed, nothing pasted: the Dashboard query runs as staff.
    await execute(page);
    await expect.poll(() => shown(page)).toContain('"projections"');
    const result = await shown(page);
    expect(result).not.toContain('"errors"');
    expect(result).toMatch(/"orders":\s*\{\s*"total":\s*0/);
    mkdirSync(RESULTS_DIR, { recursive: true });
    await page.screenshot({ path: WELCOME_SCREENSHOT });

    await page.close();
    expect(pageErrors).toEqual([]);
  });
});
