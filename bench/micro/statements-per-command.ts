/**
 * Micro-benchmark: how many SQL statements one `placeOrder` costs the server,
 * all work included (the command, the three projectors, the subscription
 * feeds, notifications), at one command at a time — the shape where nothing
 * is batched. The app runs in this process with the `onQuery` hook the tests
 * use; statements are grouped by their first words.
 *
 *   npx tsx bench/micro/statements-per-command.ts [commands=50] [--root=<checkout>] [--concurrency=16]
 *
 * With `--concurrency`, that many clients send back to back, as the
 * benchmark's load does: the projectors and feeds then batch.
 *
 * Creates its own migrated database on the local PostgreSQL and drops it.
 * Statements sent outside Prisma's adapter (LISTEN/NOTIFY and lease
 * connections, or a plain-SQL port that does not report to onQuery) are not
 * seen.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { createBenchAuth } from '../lib/auth.js';
import { BenchDatabases } from '../lib/db.js';
import { body, PLACE_ORDER } from '../lib/operations.js';
import { ROOT, sleep } from '../lib/processes.js';
import { buildWorld, insertEvents, insertWriteModel, withClient } from '../lib/seed.js';

const args = process.argv.slice(2);
const commands = Number(args.find((a) => !a.startsWith('--')) ?? 50);
const concurrency = Number(args.find((a) => a.startsWith('--concurrency='))?.slice('--concurrency='.length) ?? 1);
const root = args.find((a) => a.startsWith('--root='))?.slice('--root='.length) ?? ROOT;
const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(root, path)).href) as Promise<T>;

const { startApp } = await load<typeof import('../../src/app.js')>('src/app.ts');
const { loadConfig } = await load<typeof import('../../src/config.js')>('src/config.ts');

const dbs = new BenchDatabases();
const stop = () => void dbs.dropAll().finally(() => process.exit(130));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
try {
  await dbs.createTemplate();
  const url = await dbs.create('statements');
  const world = buildWorld({ users: 2, products: 5, ordersPerUser: 1, profileUpdates: 0, productUpdates: 0 });
  await withClient(url, async (client) => {
    await insertWriteModel(client, world);
    await insertEvents(client, world.events);
  });
  const auth = await createBenchAuth();
  const statements: string[] = [];
  let counting = false;
  const config = loadConfig({ ...process.env, DATABASE_URL: url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_ENV: 'production', AUTH_JWT_SECRET: auth.secret });
  const app = await startApp(config, pino({ level: 'warn' }), { onQuery: (sql) => counting && statements.push(sql) });
  for (const projector of app.projectors) await projector.catchUp();
  const user = world.users[0]!;
  const request = body(PLACE_ORDER, { input: { userId: user.id, items: world.products.slice(0, 3).map((p, i) => ({ productId: p.id, quantity: i + 1 })) } });
  const send = async () => {
    const res = await fetch(app.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth.authorization }, body: request });
    const text = await res.text();
    if (!text.includes('"orderId"')) throw new Error(`placeOrder failed: ${text.slice(0, 300)}`);
  };
  for (let i = 0; i < 5; i++) await send(); // warm-up
  await sleep(1500);
  counting = true;
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  if (concurrency === 1) {
    for (let i = 0; i < commands; i++) {
      await send();
      await sleep(20); // let the projectors and feeds finish: nothing is batched
    }
  } else {
    let sent = 0;
    const client = async () => {
      while (sent++ < commands) await send();
    };
    await Promise.all(Array.from({ length: concurrency }, client));
  }
  await sleep(500);
  counting = false;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await app.stop();
  const kinds = new Map<string, number>();
  for (const sql of statements) {
    const words = sql.trim().replace(/\s+/g, ' ').split(' ');
    const head = /^(INSERT|UPDATE|DELETE)$/i.test(words[0]!)
      ? `${words[0]} ${words[1]} ${words[2]}`
      : /^WITH$/i.test(words[0]!)
        ? `WITH … (${sql.match(/INSERT INTO (\w+)/gi)?.join(', ') ?? ''})`
        : /^SELECT$/i.test(words[0]!)
          ? `SELECT … FROM ${sql.match(/FROM\s+"?(\w+)/i)?.[1] ?? '?'}`
          : words[0]!;
    kinds.set(head, (kinds.get(head) ?? 0) + 1);
  }
  console.log(`${commands} placeOrder, ${concurrency === 1 ? 'one at a time' : `${concurrency} clients`}: ${(statements.length / commands).toFixed(1)} statements per command seen by onQuery; ` +
    `process CPU ${(((cpu.user + cpu.system) / 1000) / commands).toFixed(1)} ms per command (${seconds.toFixed(1)} s)`);
  for (const [kind, n] of [...kinds].sort((a, b) => b[1] - a[1])) console.log(`  ${(n / commands).toFixed(2).padStart(6)}  ${kind}`);
} finally {
  await dbs.dropAll();
}
process.exit(0);
