import fc from 'fast-check';
import { expect } from 'vitest';
import type { Cursor } from '../../src/eventlog/cursor.js';
import { ids, sameBucket } from './support.js';

/**
 * A model of one view's life around a cache layer, for property tests of the
 * layers' rules: commits change ids at increasing positions; this instance
 * learns of them later (`learn`: each changed id invalidated, then the known
 * checkpoint moves, as src/read-models/cache/instance-invalidation.ts does),
 * or a subscription feed invalidates some first (`feed`); readers stamp
 * themselves with the known checkpoint, read the committed state, and store it
 * later (`begin` … `finish`), in any interleaving; the layer may evict and be
 * flushed. Every hit (`get`) must reflect every change up to the known
 * checkpoint (read-your-writes) and be no older than anything served before
 * it (a client's reads never go backwards).
 */

export interface LayerUnderTest<Token> {
  /** Before a read: what a fill from that read must carry (undefined: the layer would not take one). */
  begin(id: string): Promise<Token | undefined>;
  fill(id: string, token: Token, position: Cursor, stamp: Cursor): Promise<void>;
  /** The entry's position, or undefined for a miss. */
  get(id: string): Promise<Cursor | undefined>;
  invalidate(id: string, floor: Cursor): Promise<void>;
  flush(): Promise<void>;
}

type Op =
  | { op: 'commit'; id: number }
  | { op: 'learn' }
  | { op: 'feed'; count: number }
  | { op: 'begin'; id: number }
  | { op: 'finish'; reader: number }
  | { op: 'get'; id: number }
  | { op: 'flush' };

const ID_COUNT = 4;

export const operations = (options: { flush: boolean }) =>
  fc.array(
    fc.oneof(
      { arbitrary: fc.record({ op: fc.constant('commit' as const), id: fc.nat(ID_COUNT - 1) }), weight: 3 },
      { arbitrary: fc.constant({ op: 'learn' as const }), weight: 2 },
      { arbitrary: fc.record({ op: fc.constant('feed' as const), count: fc.integer({ min: 1, max: 3 }) }), weight: 1 },
      { arbitrary: fc.record({ op: fc.constant('begin' as const), id: fc.nat(ID_COUNT - 1) }), weight: 4 },
      { arbitrary: fc.record({ op: fc.constant('finish' as const), reader: fc.nat(20) }), weight: 4 },
      { arbitrary: fc.record({ op: fc.constant('get' as const), id: fc.nat(ID_COUNT - 1) }), weight: 4 },
      { arbitrary: fc.constant({ op: 'flush' as const }), weight: options.flush ? 1 : 0 },
    ),
    { minLength: 10, maxLength: 80 },
  ) as fc.Arbitrary<Op[]>;

const at = (pos: number): Cursor => ({ tx: 9n, pos: BigInt(pos) });

/** Runs one sequence of operations against a fresh layer; fails on the first stale or backward hit. */
export async function runModel<Token>(layer: LayerUnderTest<Token>, ops: readonly Op[]): Promise<{ hits: number }> {
  // Two of the ids share a floor bucket, so that bucket floors are exercised too.
  const names = [...sameBucket(2), ...ids(ID_COUNT - 2)];
  let clock = 0;
  let known = 0;
  const committed = new Map<string, number>();
  const commits: Array<{ id: string; pos: number }> = [];
  let learned = 0;
  let fed = 0;
  const readers: Array<{ id: string; stamp: number; token: Token | undefined; value: number }> = [];
  const served = new Map<string, number>();
  let hits = 0;
  const entitled = (id: string) => Math.max(0, ...commits.filter((c) => c.id === id && c.pos <= known).map((c) => c.pos));

  for (const step of ops) {
    switch (step.op) {
      case 'commit': {
        const id = names[step.id]!;
        committed.set(id, ++clock);
        commits.push({ id, pos: clock });
        break;
      }
      case 'learn': {
        if (learned === commits.length) break;
        const checkpoint = clock;
        for (const { id, pos } of commits.slice(learned)) await layer.invalidate(id, at(Math.max(checkpoint, pos)));
        learned = commits.length;
        fed = Math.max(fed, learned);
        known = checkpoint;
        break;
      }
      case 'feed': {
        const next = commits.slice(fed, fed + step.count);
        for (const { id, pos } of next) await layer.invalidate(id, at(pos));
        fed += next.length;
        break;
      }
      case 'begin': {
        const id = names[step.id]!;
        const stamp = known;
        const token = await layer.begin(id);
        readers.push({ id, stamp, token, value: committed.get(id) ?? 0 });
        break;
      }
      case 'finish': {
        if (readers.length === 0) break;
        const [r] = readers.splice(step.reader % readers.length, 1);
        if (r!.token !== undefined) await layer.fill(r!.id, r!.token, at(r!.value), at(r!.stamp));
        served.set(r!.id, Math.max(served.get(r!.id) ?? 0, r!.value));
        break;
      }
      case 'get': {
        const id = names[step.id]!;
        const position = await layer.get(id);
        if (position === undefined) break;
        hits++;
        const pos = Number(position.pos);
        expect(pos, `a hit for ${id} older than the checkpoint known (${known}) entitles`).toBeGreaterThanOrEqual(entitled(id));
        expect(pos, `a hit for ${id} older than what was served before it`).toBeGreaterThanOrEqual(served.get(id) ?? 0);
        served.set(id, Math.max(served.get(id) ?? 0, pos));
        break;
      }
      case 'flush':
        await layer.flush();
        break;
    }
  }
  return { hits };
}
