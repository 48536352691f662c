import { migrateDeploy } from './src/infrastructure/db/migrate.js';
import { createDatabase, dropDatabase, withDatabaseName } from './src/infrastructure/db/pg-admin.js';
import { rm } from 'node:fs/promises';
const server = 'postgresql://postgres@127.0.0.1:5432/test';
for (let i = 0; i < 3; i++) {
  const name = `scratch_timing_${i}`;
  await dropDatabase(server, name); await createDatabase(server, name);
  let t = Date.now(); await migrateDeploy({ databaseUrl: withDatabaseName(server, name) }); const fresh = Date.now() - t;
  t = Date.now(); await migrateDeploy({ databaseUrl: withDatabaseName(server, name) }); const noop = Date.now() - t;
  console.log(`postgres: fresh ${fresh} ms, nothing pending ${noop} ms`);
  await dropDatabase(server, name);
}
for (let i = 0; i < 3; i++) {
  const dir = `/tmp/scratch-timing-${i}/db`;
  await rm(`/tmp/scratch-timing-${i}`, { recursive: true, force: true });
  let t = Date.now(); await migrateDeploy({ pgliteDir: dir }); const fresh = Date.now() - t;
  t = Date.now(); await migrateDeploy({ pgliteDir: dir }); const noop = Date.now() - t;
  console.log(`pglite: fresh ${fresh} ms, nothing pending ${noop} ms`);
  await rm(`/tmp/scratch-timing-${i}`, { recursive: true, force: true });
}
try { await migrateDeploy({ databaseUrl: withDatabaseName(server, 'does_not_exist_db') }); } catch (e: any) { console.log('failure message:', e.message.split('\n').filter(Boolean).slice(0, 3).join(' | ')); }
