import { openDatabase } from './src/infrastructure/db/database.js';
import { pendingMigrations } from './src/infrastructure/db/migrate.js';

const targets = [
  { databaseUrl: 'postgresql://postgres@127.0.0.1:5432/scratch_migrate_dev' },
  { pgliteDir: '/tmp/pgl3/db' },
];
for (const target of targets) {
  const seen: string[] = [];
  const t0 = Date.now();
  const db = await openDatabase({ ...target, onQuery: (s) => seen.push(s.split('\n')[0]!.slice(0, 60)) });
  console.log('\n==', db.kind, 'open ms', Date.now() - t0);
  console.log('pending', await pendingMigrations((sql) => db.prisma.$queryRawUnsafe(sql)));
  seen.length = 0;
  await db.prisma.projectionCheckpoint.findMany();
  console.log('findMany ->', seen); seen.length = 0;
  await db.prisma.$transaction(async (tx) => { await tx.$executeRawUnsafe('SELECT 1'); });
  console.log('interactive tx ->', seen); seen.length = 0;
  await db.prisma.$transaction(async (tx) => { await tx.$executeRawUnsafe('SELECT 1'); }, { isolationLevel: 'Serializable' });
  console.log('serializable tx ->', seen); seen.length = 0;
  await db.prisma.$transaction(async (tx) => { await tx.$executeRawUnsafe('SELECT 1'); throw new Error('x'); }).catch(() => {});
  console.log('rolled back tx ->', seen); seen.length = 0;
  await db.prisma.$transaction([db.prisma.projectionCheckpoint.count(), db.prisma.userView.count()]);
  console.log('batch tx ->', seen); seen.length = 0;
  const id = crypto.randomUUID();
  await db.prisma.user.create({ data: { id, name: 'a', email: 'a@x', emailKey: `a${id}@x`, version: 1, createdAt: new Date(), updatedAt: new Date() } });
  console.log('create ->', seen); seen.length = 0;
  const rows = await db.prisma.$queryRawUnsafe<any[]>(
    "SELECT 1::bigint AS big, 12.50::numeric(14,2) AS num, pg_current_xact_id()::text AS xid_text, pg_current_xact_id()::text::bigint AS xid_big, 5::int AS i, now() AS ts, '{\"a\":1}'::jsonb AS j");
  for (const [k, v] of Object.entries(rows[0])) console.log('  ', k, typeof v, v?.constructor?.name, String(v));
  try { await db.prisma.$queryRawUnsafe('SELECT pg_current_xact_id() AS xid8'); console.log('  raw xid8 ok'); } catch (e: any) { console.log('  raw xid8 ->', e.message.split('\n').slice(-1)[0]); }
  try { const r = await db.prisma.$queryRawUnsafe<any[]>("SELECT relname, relkind, reltype::regtype::text, 'pg_class'::regclass AS rc FROM pg_class LIMIT 1"); console.log('  catalog ok', r[0]); } catch (e: any) { console.log('  catalog ->', e.message.split('\n').slice(-1)[0]); }
  try { const r = await db.prisma.$queryRawUnsafe<any[]>("SELECT tx_id FROM event_log LIMIT 1"); console.log('  tx_id col ok', r); } catch (e: any) { console.log('  tx_id col ->', e.message.split('\n').slice(-1)[0]); }
  await db.prisma.user.delete({ where: { id } });
  const t1 = Date.now();
  await db.close();
  await db.close();
  console.log('close ms', Date.now() - t1);
}
const mem0 = Date.now();
const mem = await openDatabase({ memory: true });
console.log('\nmemory open ms', Date.now() - mem0, await mem.prisma.$queryRawUnsafe('SELECT 1 AS one'));
await mem.close();
setTimeout(() => { console.log('STILL ALIVE', process.getActiveResourcesInfo()); }, 3000).unref();
