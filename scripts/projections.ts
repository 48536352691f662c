/**
 * Operating the projections from a shell (same configuration as the server):
 *
 *   npm run projections -- status
 *   npm run projections -- dead-letters [<name>]
 *   npm run projections -- retry <name> <aggregate id>    # apply its dead letters again
 *   npm run projections -- skip <name> <aggregate id>     # drop its failed event, apply the rest
 *   npm run projections -- rebuild <name|all>
 *
 * `rebuild` replays the whole event log. While a server runs the projection
 * (it holds the projection's lease), the rebuild is blue/green: new tables
 * are built beside the served ones and swapped in atomically. Without a
 * running server it rebuilds in place. `rebuild all` reads the log once for
 * the projections it rebuilds in place, and once for the blue/green ones:
 * each batch is applied by all of them together. `retry` / `skip` are carried out by
 * the projector that runs the projection — the server's, or, without one,
 * this process's.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PROJECTIONS } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { newId } from '../src/domain/ids.js';
import { EventLogReader } from '../src/eventlog/reader.js';
import type { Database } from '../src/infrastructure/db/database.js';
import { openDatabases } from '../src/infrastructure/db/databases.js';
import { openLeases } from '../src/infrastructure/db/leases.js';
import { openNotifications } from '../src/infrastructure/db/notifications.js';
import { InstanceSignals } from '../src/infrastructure/signals.js';
import { listDeadLetters } from '../src/projections/dead-letters.js';
import { ProjectionOperations } from '../src/projections/operations.js';
import { Projector } from '../src/projections/projector.js';
import type { Projection } from '../src/projections/projection.js';
import { readModel } from '../src/projections/status.js';
import { rebuildBlueGreen, rebuildInPlace } from '../src/projections/rebuild.js';

const USAGE = `usage: npm run projections -- <command>
  status                          each projection: status, position, lag, dead letters, last error
  dead-letters [<name>]           the parked events
  retry <name> <aggregate id>     apply the aggregate's dead letters again (after fixing the cause)
  skip <name> <aggregate id>      drop the aggregate's failed event, apply the ones waiting behind it
  rebuild <name|all>              replay the event log (blue/green while a server runs it, else in place)
projections: ${PROJECTIONS.map((p) => p.name).join(', ')}`;

/** Asks the servers' projectors to carry out a request (the one holding the lease acts). */
async function wakeServers(db: Database): Promise<void> {
  const notifications = await openNotifications(db, () => undefined);
  try {
    await InstanceSignals.requestWake(notifications);
  } finally {
    await notifications.close();
  }
}

/**
 * Tells the servers (on the read database's notifications) that a rebuild
 * changed the projection's views without a checkpoint to show it: they drop
 * what they cache of them, in process and in Redis.
 */
async function flushServerCaches(db: Database, projection: string): Promise<void> {
  const notifications = await openNotifications(db, () => undefined);
  try {
    await InstanceSignals.requestCacheFlush(notifications, projection);
  } finally {
    await notifications.close();
  }
}

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

const [command, ...args] = process.argv.slice(2);
const names = PROJECTIONS.map((p) => p.name);
const projectionArg = (name: string | undefined, allowAll = false) => {
  if (allowAll && name === 'all') return [...PROJECTIONS];
  const found = PROJECTIONS.find((p) => p.name === name);
  if (!found) fail(`expected a projection (${names.join(', ')}${allowAll ? ', or all' : ''}), got ${name ? `"${name}"` : 'nothing'}`);
  return [found];
};
if (!command || !['status', 'dead-letters', 'retry', 'skip', 'rebuild'].includes(command)) {
  fail(command ? `unknown command "${command}"` : 'a command is needed');
}

const config = loadConfig();
if (!config.DATABASE_URL && existsSync(join(resolve(config.PGLITE_DIR), 'postmaster.pid'))) {
  console.error(
    `The embedded database in ${config.PGLITE_DIR} is in use: stop the server first (PGlite serves one process at a time).`,
  );
  process.exit(1);
}
let databases;
try {
  // Refuses (MigrationsPendingError) unless both databases are migrated.
  databases = await openDatabases({
    ...(config.DATABASE_URL ? { databaseUrl: config.DATABASE_URL, poolSize: 4 } : { pgliteDir: config.PGLITE_DIR }),
    readDatabaseUrl: config.READ_DATABASE_URL,
    migrate: false,
  });
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
// The log and the commands' notifications on the write database; read models, checkpoints and leases on the read one.
const { write: db, read: readDb } = databases;
const leases = openLeases(readDb, () => undefined);
let exitCode = 0;
try {
  // The same SQL port as the server's hot paths (pg directly on PostgreSQL): a rebuild replays the whole log.
  const reader = new EventLogReader(db.sql);
  const read = readModel(readDb.sql, reader, names);

  switch (command) {
    case 'status': {
      for (const p of await read.projections()) {
        console.log(
          `${p.name.padEnd(10)} ${p.status.padEnd(8)} position ${p.position.padEnd(14)} lag ${String(p.lag).padStart(6)} events ` +
            `(${p.lagSeconds.toFixed(1)} s)  dead letters ${p.deadLetterCount}${p.lastError ? `\n           last error: ${p.lastError}` : ''}`,
        );
      }
      break;
    }
    case 'dead-letters': {
      const [projection] = args[0] ? projectionArg(args[0]) : [undefined];
      const letters = await listDeadLetters(readDb.sql, { projection: projection?.name });
      if (letters.length === 0) console.log('No dead letters.');
      for (const l of letters) {
        console.log(
          `${l.projection} ${l.state.padEnd(7)} ${l.aggregateType} ${l.aggregateId} ${l.eventType} at ${l.position}, ` +
            `attempts ${l.attempts}, parked ${l.parkedAt.toISOString()}${l.error ? `\n  ${l.error}` : ''}`,
        );
      }
      break;
    }
    case 'retry':
    case 'skip': {
      const [projection] = projectionArg(args[0]);
      if (!args[1]) fail('an aggregate id is needed');
      const operations = new ProjectionOperations(
        { write: db.sql, read: readDb.sql },
        names,
        () => read.projections(),
        async (name) => {
          if (await leases.tryAcquire(name)) {
            // No server runs it: carry the request out here.
            const projector = new Projector(readDb.sql, reader, projection!);
            await projector.catchUp();
            await leases.release(name);
          } else {
            await wakeServers(db);
          }
        },
      );
      const requestId = newId();
      const metadata = { correlationId: requestId, requestId, actor: { role: 'operator' } };
      const status = await operations.redrive(projection!.name, args[1], command === 'retry' ? 'RETRY' : 'SKIP', metadata, 30_000);
      const left = status.deadLetters.filter((l) => l.aggregateId === args[1]);
      console.log(
        left.length === 0
          ? `${command === 'retry' ? 'Retried' : 'Skipped'}: ${projection!.name} has no dead letters left for ${args[1]} (${status.deadLetterCount} in all; status ${status.status}).`
          : `Still parked: ${left.length} dead letter(s) for ${args[1]}; last error: ${left[0]!.error ?? status.lastError}`,
      );
      if (left.length) exitCode = 1;
      break;
    }
    case 'rebuild': {
      // Those no server runs (their leases are free) in place, the others blue/green; each group replays the log once.
      const inPlace: Projection[] = [];
      const served: Projection[] = [];
      for (const projection of projectionArg(args[0], true)) {
        (await leases.tryAcquire(projection.name) ? inPlace : served).push(projection);
      }
      for (const [group, how] of [
        [inPlace, 'in place (no server was running it)'],
        [served, 'blue/green (swapped in while a server serves it)'],
      ] as const) {
        if (group.length === 0) continue;
        const started = performance.now();
        const label = group.map((p) => p.name).join(', ');
        const progress = (n: number) => process.stderr.write(`\r${label}: ${n} events replayed`);
        const events = group === inPlace
          ? await rebuildInPlace(readDb.sql, reader, group, { onProgress: progress })
          : await rebuildBlueGreen(readDb.sql, reader, group, { onProgress: progress });
        for (const projection of group) {
          if (group === inPlace) await leases.release(projection.name);
          await flushServerCaches(readDb, projection.name);
        }
        const seconds = (performance.now() - started) / 1000;
        process.stderr.write('\n');
        for (const projection of group) {
          console.log(
            `Rebuilt ${projection.name} ${how}: ${events} events in ${seconds.toFixed(1)} s (${Math.round(events / Math.max(seconds, 0.001))} events/s` +
              `${group.length > 1 ? `, replayed together with ${group.filter((p) => p !== projection).map((p) => p.name).join(', ')}` : ''}).`,
          );
        }
      }
      break;
    }
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  exitCode = 1;
} finally {
  await leases.close();
  await databases.close();
}
process.exit(exitCode);
