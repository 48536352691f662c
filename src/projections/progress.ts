import { compareCursors, formatCursor, LOG_START, type Cursor } from '../eventlog/cursor.js';

/** The read model has not caught up with a write within the allowed time. */
export class ProjectionTimeoutError extends Error {
  readonly code = 'PROJECTION_TIMEOUT';
  constructor(projection: string, wanted: Cursor, reached: Cursor, timeoutMs: number) {
    super(
      `The ${projection} projection had not reached position ${formatCursor(wanted)} after ${timeoutMs} ms ` +
        `(it is at ${formatCursor(reached)}); the command was committed, query again shortly`,
    );
  }
}

interface Waiter {
  readonly cursor: Cursor;
  readonly resolve: (lsn: bigint | undefined) => void;
}

/**
 * Where a projection stands: its checkpoint, and (with read replicas) a WAL
 * position of the read database at or after the commit that moved the
 * checkpoint there, which a replica must have replayed to show that state.
 */
export interface Reached {
  readonly cursor: Cursor;
  readonly lsn?: bigint;
}

/**
 * Where each projection stands, as far as this process knows, and a way to
 * wait until one reaches a cursor (read-your-writes). Projectors in this
 * process report their progress directly; `refresh` reads checkpoints that
 * another process may have moved.
 */
export class ProjectionProgress {
  private readonly reached = new Map<string, Reached>();
  private readonly waiters = new Map<string, Set<Waiter>>();

  constructor(
    /** Reads where a projection stands (another process may have moved it). */
    private readonly refresh: (projection: string) => Promise<Reached>,
    private readonly pollMs = 200,
  ) {}

  current(projection: string): Cursor {
    return this.reached.get(projection)?.cursor ?? LOG_START;
  }

  /**
   * Records that `projection` has committed everything up to `cursor` (and,
   * when known, a WAL position covering that commit: see Reached).
   */
  advance(projection: string, cursor: Cursor, lsn?: bigint): void {
    const was = this.reached.get(projection);
    const order = was ? compareCursors(cursor, was.cursor) : 1;
    if (order < 0 || (order === 0 && (lsn === undefined || (was?.lsn !== undefined && was.lsn >= lsn)))) return;
    // At the same cursor only a position is learnt; a later cursor replaces both.
    this.reached.set(projection, { cursor, lsn });
    for (const waiter of this.waiters.get(projection) ?? []) {
      if (compareCursors(cursor, waiter.cursor) >= 0) waiter.resolve(lsn);
    }
  }

  /**
   * Resolves once `projection` has reached `cursor`, with the WAL position
   * known for that state (undefined when none is); rejects with
   * ProjectionTimeoutError after `timeoutMs`.
   */
  async waitFor(projection: string, cursor: Cursor, timeoutMs: number): Promise<bigint | undefined> {
    const now = this.reached.get(projection);
    if (now && compareCursors(now.cursor, cursor) >= 0) return now.lsn;
    let waiter!: Waiter;
    const reached = new Promise<bigint | undefined>((resolve) => (waiter = { cursor, resolve }));
    const set = this.waiters.get(projection) ?? new Set<Waiter>();
    this.waiters.set(projection, set);
    set.add(waiter);
    let timer: NodeJS.Timeout | undefined;
    let poller: NodeJS.Timeout | undefined;
    try {
      // Slow fallback for projectors in other processes.
      poller = setInterval(() => {
        this.refresh(projection).then((r) => this.advance(projection, r.cursor, r.lsn), () => undefined);
      }, this.pollMs);
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ProjectionTimeoutError(projection, cursor, this.current(projection), timeoutMs)),
          timeoutMs,
        );
      });
      return await Promise.race([reached, timeout]);
    } finally {
      clearTimeout(timer);
      clearInterval(poller);
      set.delete(waiter);
    }
  }
}
