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
  readonly resolve: () => void;
}

/**
 * Where each projection stands, as far as this process knows, and a way to
 * wait until one reaches a cursor (read-your-writes). Projectors in this
 * process report their progress directly; `refresh` reads checkpoints that
 * another process may have moved.
 */
export class ProjectionProgress {
  private readonly reached = new Map<string, Cursor>();
  private readonly waiters = new Map<string, Set<Waiter>>();

  constructor(
    private readonly refresh: (projection: string) => Promise<Cursor>,
    private readonly pollMs = 200,
  ) {}

  current(projection: string): Cursor {
    return this.reached.get(projection) ?? LOG_START;
  }

  /** Records that `projection` has committed everything up to `cursor`. */
  advance(projection: string, cursor: Cursor): void {
    if (compareCursors(cursor, this.current(projection)) <= 0) return;
    this.reached.set(projection, cursor);
    for (const waiter of this.waiters.get(projection) ?? []) {
      if (compareCursors(cursor, waiter.cursor) >= 0) waiter.resolve();
    }
  }

  /** Resolves once `projection` has reached `cursor`; rejects with ProjectionTimeoutError after `timeoutMs`. */
  async waitFor(projection: string, cursor: Cursor, timeoutMs: number): Promise<void> {
    if (compareCursors(this.current(projection), cursor) >= 0) return;
    let waiter!: Waiter;
    const reached = new Promise<void>((resolve) => (waiter = { cursor, resolve }));
    const set = this.waiters.get(projection) ?? new Set<Waiter>();
    this.waiters.set(projection, set);
    set.add(waiter);
    let timer: NodeJS.Timeout | undefined;
    let poller: NodeJS.Timeout | undefined;
    try {
      // Slow fallback for projectors in other processes.
      poller = setInterval(() => {
        this.refresh(projection).then((c) => this.advance(projection, c), () => undefined);
      }, this.pollMs);
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ProjectionTimeoutError(projection, cursor, this.current(projection), timeoutMs)),
          timeoutMs,
        );
      });
      await Promise.race([reached, timeout]);
    } finally {
      clearTimeout(timer);
      clearInterval(poller);
      set.delete(waiter);
    }
  }
}
