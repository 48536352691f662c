/**
 * Demo data (src/demo/seed.ts): `npm run seed` (scripts/seed.ts) and
 * `SEED=1 npm start` (src/main.ts) fill an empty database with users,
 * products and orders in every status by sending commands, so the event log
 * and every projection agree; both produce the same data; neither touches a
 * database that has events; the script refuses a PGlite directory in use; and
 * the server, started as `npm start` would, stops cleanly on a signal.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { DEMO_PRODUCTS, DEMO_USERS, eventCount, seedOnFirstStart } from '../../src/demo/seed.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { ADMIN, TEST_JWT_SECRET, bearer } from '../support/auth.js';
import { startTestServer, testDbKind } from '../support/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const STATUSES = ['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED'] as const;

const databases: TestDatabase[] = [];
async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase(testDbKind());
  databases.push(db);
  return db;
}
afterAll(async () => {
  await Promise.all(databases.map((d) => d.dispose()));
});

/** The environment that points the app at `db`, as a user would set it. */
function envFor(db: TestDatabase, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { DATABASE_URL: _url, PGLITE_DIR: _dir, SEED: _seed, ...inherited } = process.env;
  const env: NodeJS.ProcessEnv = { ...inherited, NODE_ENV: 'development', LOG_LEVEL: 'info', AUTH_JWT_SECRET: TEST_JWT_SECRET, ...extra };
  return db.databaseUrl ? { ...env, DATABASE_URL: db.databaseUrl } : { ...env, PGLITE_DIR: db.pgliteDir! };
}

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
}

/** Runs a TypeScript entry point with tsx, as the npm scripts do. */
function runTsx(script: string, env: NodeJS.ProcessEnv, args: string[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [script, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, output }));
  });
}

const money = (s: string) => Math.round(Number(s) * 100);

/** The demo data as the API shows it, without ids (which differ per run). */
async function snapshot(url: string) {
  const post = async (query: string) => {
    const headers = { 'content-type': 'application/json', ...(await bearer(ADMIN)) };
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query }) });
    const body = (await res.json()) as { data?: any; errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const data = await post(`{
    users(pageSize: 100) { total users { name email orderCount totalSpent } }
    products(pageSize: 100) { total products { name price } }
    orders(pageSize: 100) { total orders { userName status statusDisplay cancellationReason total items { productName quantity price } } }
    projections { name lag }
  }`);
  const byStatus: Record<string, number> = {};
  for (const status of STATUSES) byStatus[status] = (await post(`{ orders(filter: { status: ${status} }) { total } }`)).orders.total;
  return { ...data, byStatus };
}

function expectDemoData(data: Awaited<ReturnType<typeof snapshot>>) {
  expect(data.users.total).toBe(DEMO_USERS.length);
  expect(data.users.total).toBe(20);
  expect(data.products.total).toBe(30);
  expect(data.orders.total).toBe(80);
  expect(data.byStatus).toEqual({ PENDING: 16, CONFIRMED: 14, SHIPPED: 12, DELIVERED: 24, CANCELLED: 14 });
  expect(data.projections.map((p: any) => p.lag)).toEqual([0, 0, 0, 0]);

  // Realistic names, including the profile and catalog changes made halfway.
  const names = data.users.users.map((u: any) => u.name);
  expect(names).toContain('Amara Okafor');
  expect(names).toContain('Sofia Rossi-Bianchi');
  expect(data.products.products.map((p: any) => p.name)).toContain(DEMO_PRODUCTS[5]!.name);
  expect(data.products.products.find((p: any) => p.name === '27-inch 4K Monitor').price).toBe('299.00');

  // Cancellations carry their reasons.
  const cancelled = data.orders.orders.filter((o: any) => o.status === 'CANCELLED');
  expect(cancelled).toHaveLength(14);
  for (const o of cancelled) {
    expect(o.cancellationReason.length).toBeGreaterThan(3);
    expect(o.statusDisplay).toBe(`Cancelled (${o.cancellationReason})`);
  }

  // The projections agree with each other: user totals are the sums of their orders.
  const orders = data.orders.orders as any[];
  expect(data.users.users.reduce((n: number, u: any) => n + u.orderCount, 0)).toBe(80);
  const spent = data.users.users.reduce((n: number, u: any) => n + money(u.totalSpent), 0);
  expect(spent).toBe(orders.filter((o) => o.status !== 'CANCELLED').reduce((n, o) => n + money(o.total), 0));
  for (const o of orders) {
    expect(money(o.total)).toBe(o.items.reduce((n: number, i: any) => n + money(i.price) * i.quantity, 0));
  }
}

/** Orders as comparable rows: the same demo data sorts to the same list. */
const orderRows = (data: Awaited<ReturnType<typeof snapshot>>) =>
  (data.orders.orders as any[])
    .map((o) => JSON.stringify([o.userName, o.status, o.cancellationReason, o.total, o.items.map((i: any) => [i.productName, i.quantity, i.price]).sort()]))
    .sort();

describe('npm run seed and SEED=1 npm start', () => {
  let fromScript: Awaited<ReturnType<typeof snapshot>>;

  it('npm run seed fills an empty database through commands; a second run leaves it alone', async () => {
    const db = await freshDatabase();
    const run = await runTsx('scripts/seed.ts', envFor(db));
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/Done in .* 20 users, 30 products, 80 orders \(16 pending, 14 confirmed, 12 shipped, 24 delivered, 14 cancelled\); 270 commands/);

    // Look at it through a server on that database.
    const config = loadConfig({}, { PORT: 0, HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATABASE_URL: db.databaseUrl, PGLITE_DIR: db.pgliteDir ?? './data/pglite', AUTH_JWT_SECRET: TEST_JWT_SECRET });
    const app = await startApp(config, createLogger('silent'));
    try {
      // One event per command: the log holds exactly what was sent, nothing inserted beside it.
      expect(await eventCount(app.db.prisma)).toBe(270);
      fromScript = await snapshot(app.url);
      expectDemoData(fromScript);
    } finally {
      await app.stop();
    }

    const again = await runTsx('scripts/seed.ts', envFor(db));
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain('already holds 270 events: not seeding');
  }, 120_000);

  it('SEED=1 npm start seeds an empty database at startup with the same data, and the server stops cleanly on SIGINT', async () => {
    const db = await freshDatabase();
    const child = spawn(TSX, ['src/main.ts'], {
      cwd: ROOT,
      env: envFor(db, { SEED: '1', PORT: '0', HOST: '127.0.0.1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const logged = (pattern: RegExp, timeoutMs: number) =>
      new Promise<RegExpMatchArray>((resolve, reject) => {
        const check = () => {
          const match = output.match(pattern);
          if (!match) return;
          clearTimeout(timer);
          child.stdout.off('data', check);
          resolve(match);
        };
        const timer = setTimeout(() => reject(new Error(`no ${pattern} in the log within ${timeoutMs} ms:\n${output}`)), timeoutMs);
        child.stdout.on('data', check);
        check();
      });
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    try {
      const [, url] = (await logged(/"url":"(http:\/\/127\.0\.0\.1:\d+\/graphql)"/, 60_000)) as unknown as [string, string];
      await logged(/seed: demo data ready/, 90_000);
      const fromStart = await snapshot(url);
      expectDemoData(fromStart);
      // Deterministic: the same users, products and orders as `npm run seed` made.
      expect(orderRows(fromStart)).toEqual(orderRows(fromScript));
      expect(fromStart.users.users.map((u: any) => [u.name, u.email, u.orderCount, u.totalSpent]).sort()).toEqual(
        fromScript.users.users.map((u: any) => [u.name, u.email, u.orderCount, u.totalSpent]).sort(),
      );
    } finally {
      child.kill('SIGINT');
    }
    // Ctrl-C: main.ts stops everything and closes the database, then exits 0.
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(output).toContain('"msg":"server stopped"');
    if (db.pgliteDir) expect(existsSync(join(db.pgliteDir, 'postmaster.pid'))).toBe(false);
  }, 180_000);

  it.runIf(testDbKind() === 'pglite')('npm run seed refuses a PGlite directory that a server has open', async () => {
    const db = await freshDatabase();
    writeFileSync(join(db.pgliteDir!, 'postmaster.pid'), '-42\n/pglite/data\n');
    const run = await runTsx('scripts/seed.ts', envFor(db));
    expect(run.code).toBe(1);
    expect(run.output).toContain('is in use: a server seems to be running on it');
    expect(run.output).toContain('SEED=1 npm start');
  }, 60_000);
});

describe('seedOnFirstStart', () => {
  function captureLogger() {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).trim().split('\n'));
        done();
      },
    });
    return { logger: pino({ level: 'info' }, stream), messages: () => lines.map((l) => JSON.parse(l).msg as string) };
  }

  it('on an empty database without SEED, says how to seed (embedded database) and seeds nothing', async () => {
    const server = await startTestServer();
    try {
      const { logger, messages } = captureLogger();
      await seedOnFirstStart(server.app, { seed: false, logger });
      if (testDbKind() === 'pglite') {
        expect(messages().join('\n')).toMatch(/database is empty.*`npm run seed`.*`SEED=1 npm start`/);
      } else {
        expect(messages()).toEqual([]);
      }
      expect(await eventCount(server.app.db.prisma)).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it('never seeds a database that already has events, even with SEED=1', async () => {
    const server = await startTestServer();
    try {
      await server.ok('mutation { registerUser(input: { name: "Existing", email: "existing@example.com" }) { userId } }');
      const { logger, messages } = captureLogger();
      await seedOnFirstStart(server.app, { seed: true, logger });
      expect(messages()).toEqual(['SEED=1: the database already has data; not seeding']);
      expect(await eventCount(server.app.db.prisma)).toBe(1);
    } finally {
      await server.stop();
    }
  });
});
