/**
 * The generic command handler under transient store faults (no database: a
 * store that fails on purpose). Faults after which nothing was done are
 * retried with backoff, a bounded number of times; a fault that leaves the
 * outcome unknown is never retried behind the caller's back.
 */
import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../src/domain/users.js';
import { handleCommand } from '../../src/write/command-handler.js';
import { DatabaseUnavailableError } from '../../src/sql/client.js';
import type { AggregateStore, Appended, SaveRequest } from '../../src/write/ports.js';

type Event = UserEvent;

/** A store whose next `failures` loads or saves throw the given fault. */
function flakyStore(plan: { loads?: DatabaseUnavailableError[]; saves?: DatabaseUnavailableError[] }) {
  const calls = { load: 0, save: 0 };
  const saved: Array<SaveRequest<number, Event>> = [];
  const store: AggregateStore<number, Event> = {
    aggregateType: 'User',
    async load() {
      calls.load++;
      const fault = plan.loads?.shift();
      if (fault) throw fault;
      return { state: saved.length, version: saved.length };
    },
    async save(request): Promise<Appended> {
      calls.save++;
      const fault = plan.saves?.shift();
      if (fault) throw fault;
      saved.push(request);
      return { version: request.expectedVersion + request.events.length, position: `1:${saved.length}` };
    },
  };
  return { store, calls, saved };
}

const decide = (state: number | null) => ({
  events: [{ type: 'UserProfileUpdated' as const, data: { userId: 'a', name: `Name ${(state ?? 0) + 1}`, email: 'a@example.com' } }],
  state: (state ?? 0) + 1,
});
const options = { metadata: { correlationId: 'test' }, now: () => new Date(0), faultRetries: { retries: 3, baseDelayMs: 1 } };
const nothingDone = () => new DatabaseUnavailableError('retryable', { cause: new Error('connection refused') });
const unknownOutcome = () => new DatabaseUnavailableError('ambiguous', { cause: new Error('connection terminated') });

describe('transient store faults', () => {
  it('a save that failed without effect is sent again, and the command succeeds once', async () => {
    const { store, calls, saved } = flakyStore({ saves: [nothingDone(), nothingDone()] });
    await expect(handleCommand(store, 'a', decide, options)).resolves.toEqual({ version: 1, position: '1:1' });
    expect(calls.save).toBe(3);
    expect(saved).toHaveLength(1);
  });

  it('loads are retried too', async () => {
    const { store, calls } = flakyStore({ loads: [nothingDone(), nothingDone(), nothingDone()] });
    await expect(handleCommand(store, 'a', decide, options)).resolves.toMatchObject({ version: 1 });
    expect(calls.load).toBe(4);
  });

  it('gives up after the configured retries with the fault (SERVICE_UNAVAILABLE to clients), having written nothing', async () => {
    const { store, calls, saved } = flakyStore({ saves: Array.from({ length: 10 }, nothingDone) });
    const error = await handleCommand(store, 'a', decide, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({ fault: 'retryable' });
    expect(calls.save).toBe(4);
    expect(saved).toHaveLength(0);
  });

  it('never retries a save whose outcome is unknown (it may have committed)', async () => {
    const { store, calls } = flakyStore({ saves: [unknownOutcome()] });
    await expect(handleCommand(store, 'a', decide, options)).rejects.toMatchObject({ fault: 'ambiguous' });
    expect(calls.save).toBe(1);
  });

  it('backs off exponentially between attempts', async () => {
    const { store } = flakyStore({ saves: [nothingDone(), nothingDone(), nothingDone()] });
    const started = performance.now();
    await handleCommand(store, 'a', decide, { ...options, faultRetries: { retries: 3, baseDelayMs: 20 } });
    // 20 + 40 + 80 ms, each with ±50 % jitter: at least 70 ms in all.
    expect(performance.now() - started).toBeGreaterThanOrEqual(65);
  });
});
