import type { Prisma } from '../../generated/prisma/client.js';
import { DEFAULTS } from '../../config.js';
import { DatabaseUnavailableError, type SqlClient, type SqlDatabase } from '../../sql/client.js';
import { CatalogTypesPool } from './catalog-types-pool.js';
import { pgSqlDatabase } from './sql-client.js';

/** A WAL position ("16/B374D848") as a number, for comparing. */
export function parseLsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export interface ReplicaRouterOptions {
  /** A replica whose replay is further behind the read primary than this is skipped, in ms (default DEFAULTS.READ_REPLICA_MAX_LAG_MS). */
  readonly maxLagMs?: number;
  /** How often each replica (and the primary's WAL position) is checked, in ms (default DEFAULTS.READ_REPLICA_CHECK_MS). */
  readonly checkIntervalMs?: number;
  /** How long a read that needs a position waits for a replica to replay it before reading the primary, in ms (default DEFAULTS.READ_REPLICA_WAIT_MS). */
  readonly waitMs?: number;
  /** Connections per replica (default DEFAULTS.DB_POOL_SIZE). */
  readonly poolSize?: number;
  /** How long a replica's pool waits for a connection, in ms (default DEFAULTS.DB_CONNECT_TIMEOUT_MS). */
  readonly connectTimeoutMs?: number;
  /** Every statement sent to a replica (tests count them). */
  readonly onQuery?: (sql: string) => void;
  /** A replica's check failed (it is skipped until one succeeds). Must not throw. */
  readonly onError?: (replica: string, error: unknown) => void;
  /**
   * A read that must see a WAL position found its source (`covering`): after
   * how many seconds, and whether a replica had replayed it or the wait ran
   * out (or no replica was usable) and it goes to the primary. Must not throw.
   */
  readonly onCovered?: (seconds: number, source: 'replica' | 'primary') => void;
}

interface Replica {
  /** The URL without its password, for status and logs. */
  readonly name: string;
  readonly pool: CatalogTypesPool;
  readonly sql: SqlDatabase;
  /** Reachable, a standby, and at most maxLagMs behind, at the last check. */
  usable: boolean;
  /** What it had replayed at the last check (0 until one succeeded). */
  replayed: bigint;
  lagMs: number;
}

export interface ReplicaStatus {
  readonly name: string;
  readonly usable: boolean;
  readonly replayed: string;
  readonly lagMs: number;
}

/**
 * Reads spread over PostgreSQL streaming replicas of the read database,
 * falling back to the read primary; nothing ever fails because a replica is
 * missing. Replicas are checked every `checkIntervalMs`: one that cannot be
 * reached, is not in recovery, or has not replayed what the primary had
 * `maxLagMs` ago, is skipped until a later check says otherwise.
 *
 * Lag is measured in WAL, not in time since the last replayed transaction
 * (which grows on an idle primary too): each check records the primary's
 * `pg_current_wal_lsn()`, and a replica is as far behind as the oldest such
 * sample it has not replayed (`pg_last_wal_replay_lsn()`).
 *
 * The floor: every read goes to a replica only if it has replayed at least
 * `floor`, a WAL position this process has seen the read primary reach — the
 * subscription feeds raise it before sending what they read (so no query of
 * this process reads an older state than a message it sent), and a read
 * that needs a position (read-your-writes) asks for that one.
 */
export class ReplicaRouter {
  private readonly replicas: Replica[];
  private readonly maxLagMs: number;
  private readonly checkIntervalMs: number;
  private readonly waitMs: number;
  /** The primary's WAL position at each recent check, oldest first. */
  private samples: Array<{ at: number; lsn: bigint }> = [];
  private floor = 0n;
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly primary: SqlDatabase,
    urls: readonly string[],
    private readonly options: ReplicaRouterOptions = {},
  ) {
    this.maxLagMs = options.maxLagMs ?? DEFAULTS.READ_REPLICA_MAX_LAG_MS;
    this.checkIntervalMs = options.checkIntervalMs ?? DEFAULTS.READ_REPLICA_CHECK_MS;
    this.waitMs = options.waitMs ?? DEFAULTS.READ_REPLICA_WAIT_MS;
    this.replicas = urls.map((url) => {
      const pool = new CatalogTypesPool({
        connectionString: url,
        max: options.poolSize ?? DEFAULTS.DB_POOL_SIZE,
        connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULTS.DB_CONNECT_TIMEOUT_MS,
      });
      const name = withoutPassword(url);
      pool.on('error', (error) => options.onError?.(name, error));
      return { name, pool, sql: pgSqlDatabase(pool, options.onQuery), usable: false, replayed: 0n, lagMs: Infinity };
    });
  }

  /** Checks every replica once, then keeps checking. */
  async start(): Promise<void> {
    await this.check();
    const loop = () => {
      this.timer = setTimeout(() => void this.check().finally(loop), this.checkIntervalMs);
      this.timer.unref();
    };
    loop();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.checking;
    await Promise.all(this.replicas.map((r) => r.pool.end().catch(() => undefined)));
  }

  /** The read primary's WAL position now: at or after every commit it had made when asked. */
  async primaryPosition(): Promise<bigint> {
    const [row] = await this.primary.$queryRaw<Array<{ lsn: string }>>`SELECT pg_current_wal_lsn()::text AS lsn`;
    return parseLsn(row!.lsn);
  }

  /** Reads from now on go to replicas that have replayed at least `lsn`. */
  raiseFloor(lsn: bigint): void {
    if (lsn > this.floor) this.floor = lsn;
  }

  /** Where a read goes now: the next usable replica that has replayed `atLeast` (and the floor), else the primary. */
  choose(atLeast = 0n): SqlClient {
    return this.pick(atLeast > this.floor ? atLeast : this.floor)?.sql ?? this.primary;
  }

  /**
   * Where a read that must see `lsn` goes: a usable replica once it has
   * replayed it — waiting up to `waitMs` for the one chosen — else the primary.
   */
  async covering(lsn: bigint): Promise<SqlClient> {
    const started = performance.now();
    const source = await this.find(lsn > this.floor ? lsn : this.floor);
    this.options.onCovered?.((performance.now() - started) / 1000, source ? 'replica' : 'primary');
    return source?.sql ?? this.primary;
  }

  /**
   * A usable replica that has replayed `needed`: one the last check saw
   * there, else the next one once it has (asked at once — a streaming
   * standby on a fast link replays a commit within a millisecond or so — then
   * every 1, 2, 4, up to 10 ms, until `waitMs` have passed).
   */
  private async find(needed: bigint): Promise<Replica | undefined> {
    const ready = this.pick(needed);
    if (ready) return ready;
    const candidate = this.pick(0n);
    if (!candidate) return undefined;
    const deadline = Date.now() + this.waitMs;
    for (let pause = 1; ; pause = Math.min(pause * 2, 10)) {
      // A replica that hangs must not hold the read past the wait: an answer after the deadline counts as none.
      const left = deadline - Date.now();
      let timer: NodeJS.Timeout | undefined;
      const replayed = await Promise.race([
        this.replayed(candidate).catch(() => undefined),
        new Promise<undefined>((resolve) => (timer = setTimeout(resolve, Math.max(0, left), undefined))),
      ]).finally(() => clearTimeout(timer));
      if (replayed === undefined) return undefined;
      if (replayed >= needed) return candidate;
      if (Date.now() + pause > deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  /**
   * A statement on `source` met a fault of the moment: if it is a replica,
   * it is skipped until a check finds it well again. Returns whether it was one.
   */
  failed(source: SqlClient): boolean {
    const replica = this.replicas.find((r) => r.sql === source);
    if (replica) replica.usable = false;
    return replica !== undefined;
  }

  /** Each replica as the last check saw it. */
  status(): ReplicaStatus[] {
    return this.replicas.map((r) => ({ name: r.name, usable: r.usable, replayed: formatLsn(r.replayed), lagMs: r.lagMs }));
  }

  /** Round-robin over the usable replicas that have replayed `needed`. */
  private pick(needed: bigint): Replica | undefined {
    for (let i = 0; i < this.replicas.length; i++) {
      const replica = this.replicas[(this.next + i) % this.replicas.length]!;
      if (replica.usable && replica.replayed >= needed) {
        this.next = (this.next + i + 1) % this.replicas.length;
        return replica;
      }
    }
    return undefined;
  }

  private async replayed(replica: Replica): Promise<bigint> {
    const [row] = await replica.sql.$queryRaw<Array<{ standby: boolean; lsn: string | null }>>`
      SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS lsn`;
    if (!row?.standby || !row.lsn) throw new Error(`${replica.name} is not a streaming standby`);
    const lsn = parseLsn(row.lsn);
    if (lsn > replica.replayed) replica.replayed = lsn;
    return lsn;
  }

  private check(): Promise<void> {
    this.checking ??= this.checkAll().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async checkAll(): Promise<void> {
    const now = Date.now();
    const primary = await this.primaryPosition().catch(() => undefined);
    if (primary !== undefined) {
      this.samples.push({ at: now, lsn: primary });
      // Keep what spans the lag bound, and one sample older than it.
      const keepFrom = this.samples.findIndex((s) => s.at >= now - this.maxLagMs);
      if (keepFrom > 1) this.samples = this.samples.slice(keepFrom - 1);
    }
    await Promise.all(
      this.replicas.map(async (replica) => {
        try {
          const replayed = await this.replayed(replica);
          replica.lagMs = this.lagOf(replayed, now);
          replica.usable = replica.lagMs <= this.maxLagMs;
        } catch (error) {
          replica.usable = false;
          replica.lagMs = Infinity;
          this.options.onError?.(replica.name, error);
        }
      }),
    );
  }

  /** How long ago the primary was at a position the replica has not replayed yet (0: it has replayed everything sampled). */
  private lagOf(replayed: bigint, now: number): number {
    const behind = this.samples.find((s) => s.lsn > replayed);
    return behind ? now - behind.at : 0;
  }
}

function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'replica';
  }
}

/**
 * The reads of one request (or subscription): every statement goes to one
 * source, chosen at the first statement (ReplicaRouter.choose). `require`
 * makes the statements after it read a source that shows a WAL position
 * (a replica that has replayed it, waiting a bounded time, else the read
 * primary); a function there is awaited first, and what it throws is what
 * those statements throw.
 */
export interface ReadSession {
  readonly db: SqlClient;
  require(lsn: bigint | undefined | (() => Promise<bigint | undefined>)): Promise<void>;
  /** Resolves once every `require` so far is met (rejects as the statements after it would). */
  ready(): Promise<void>;
}

/**
 * A session over `router`'s replicas, or on the read primary alone (no
 * router: `require` then only awaits what it is given).
 */
export function readSession(router: ReplicaRouter | undefined, primary: SqlClient): ReadSession {
  let target: SqlClient | undefined;
  let pending: Promise<void> = Promise.resolve();
  const current = async () => {
    await pending;
    return (target ??= router?.choose() ?? primary);
  };
  // A replica that fails a read is left for the primary (a read is safe to repeat): a missing replica never fails a request.
  const run = async <R>(statement: (db: SqlClient) => Promise<R>): Promise<R> => {
    const source = await current();
    try {
      return await statement(source);
    } catch (error) {
      if (!(error instanceof DatabaseUnavailableError) || source === primary || !router?.failed(source)) throw error;
      target = primary;
      return statement(primary);
    }
  };
  return {
    db: {
      $queryRaw: <T>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => run((db) => db.$queryRaw<T>(query, ...values)),
      $executeRaw: (query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => run((db) => db.$executeRaw(query, ...values)),
    },
    ready: () => pending,
    require(lsn) {
      pending = pending.then(async () => {
        const position = typeof lsn === 'function' ? await lsn() : lsn;
        if (!router) return;
        // Unknown: only the primary is sure to show it.
        target = position === undefined ? primary : await router.covering(position);
      });
      return pending;
    },
  };
}
