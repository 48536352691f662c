/**
 * Micro-benchmark: the cost per statement of the ways the code reads a
 * read-model row — Prisma `findMany` / `findUnique` (Prisma 6.19's client
 * engine: the request is compiled by the WASM query compiler, then
 * interpreted), Prisma `$queryRaw` (also compiled), and `pg` on the same pool —
 * one statement at a time, so wall time is per-statement latency and CPU is
 * this process's CPU per statement.
 *
 *   node --import tsx bench/micro/prisma-overhead.ts [iterations=2000]
 *
 * Creates its own migrated database on the local PostgreSQL (BENCH_PG_URL
 * overrides the server) and drops it, also after a failure or Ctrl-C.
 */
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient as ReadPrismaClient } from '../../src/generated/prisma-read/client.js';
import { openDatabase } from '../../src/infrastructure/db/database.js';
import { BenchDatabases } from '../lib/db.js';
import { now } from '../lib/stats.js';

const iterations = Number(process.argv[2] ?? 2000);
const dbs = new BenchDatabases();
// Ctrl-C or a kill still drops the database.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void dbs.dropAll().finally(() => process.exit(130)));
}
try {
  await dbs.createTemplate();
  const url = await dbs.create('micro');
  const db = await openDatabase({ databaseUrl: url, poolSize: 4 });
  if (db.kind !== 'postgres') throw new Error('PostgreSQL only');
  // The read schema's client (its model queries), on the same pool.
  const prisma = new ReadPrismaClient({ adapter: new PrismaPg(db.pool) });
  await db.pool.query(
    `INSERT INTO user_view (id, name, email, version, order_count, total_spent, last_tx, last_pos, created_at, updated_at)
     SELECT gen_random_uuid(), 'User ' || i, 'user' || i || '@bench.example', 1, 0, 0, 1, i, now(), now() FROM generate_series(1, 50) i`,
  );
  const ids = ((await db.pool.query('SELECT id FROM user_view LIMIT 20')).rows as Array<{ id: string }>).map((r) => r.id);

  const measure = async (name: string, fn: (id: string) => Promise<unknown>) => {
    for (let i = 0; i < 200; i++) await fn(ids[i % ids.length]!); // warm-up
    const cpu0 = process.cpuUsage();
    const t0 = now();
    for (let i = 0; i < iterations; i++) await fn(ids[i % ids.length]!);
    const wallUs = ((now() - t0) * 1000) / iterations;
    const cpu = process.cpuUsage(cpu0);
    const cpuUs = (cpu.user + cpu.system) / iterations;
    console.log(`${name.padEnd(64)} ${wallUs.toFixed(0).padStart(5)} µs wall ${cpuUs.toFixed(0).padStart(5)} µs CPU`);
  };

  await measure('prisma.userView.findMany({ where: { id: { in: [id] } } })', (id) =>
    prisma.userView.findMany({ where: { id: { in: [id] } } }),
  );
  await measure('prisma.userView.findUnique({ where: { id } })', (id) => prisma.userView.findUnique({ where: { id } }));
  await measure("prisma.$queryRaw`SELECT * FROM user_view WHERE id = ANY(…)`", (id) =>
    prisma.$queryRaw`SELECT * FROM user_view WHERE id = ANY(string_to_array(${id}, ',')::uuid[])`,
  );
  await measure("pool.query('SELECT * FROM user_view WHERE id = ANY($1)')", (id) =>
    db.pool.query(`SELECT * FROM user_view WHERE id = ANY(string_to_array($1, ',')::uuid[])`, [id]),
  );
  await prisma.$disconnect();
  await db.close();
} finally {
  await dbs.dropAll();
}
process.exit(0);
