/**
 * The in-process layer against the model of test/cache/layer-model.ts:
 * random interleavings of commits, late invalidations, readers that store
 * what they read long after, evictions (room for two of four views) and
 * flushes — never a hit older than the reader is entitled to, never one older
 * than what was served before.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryLayer } from '../../src/read-models/cache/memory-layer.js';
import { operations, runModel, type LayerUnderTest } from './layer-model.js';

function memoryUnderTest(layer: MemoryLayer): LayerUnderTest<number> {
  return {
    begin: async () => layer.generation,
    fill: async (id, generation, position, stamp) => void layer.fill('users', [{ id, entry: { view: { id }, position, stamp }, bytes: 10 }], generation),
    get: async (id) => layer.get('users', [id]).get(id)?.position,
    invalidate: async (id, floor) => void layer.invalidate('users', [{ id, floor }]),
    flush: async () => void layer.flush('users'),
  };
}

describe('the in-process layer, under random interleavings', () => {
  it('never answers older than entitled, nor older than it answered before', async () => {
    let hits = 0;
    await fc.assert(
      fc.asyncProperty(operations({ flush: true }), async (ops) => {
        hits += (await runModel(memoryUnderTest(new MemoryLayer({ maxEntries: 2 })), ops)).hits;
      }),
      { numRuns: 400 },
    );
    // The runs did hit the cache (a property over misses only would prove nothing).
    expect(hits).toBeGreaterThan(100);
  });

  it('would fail without floors: a layer that takes every fill serves a stale view', async () => {
    // The same model against a layer that forgets invalidations' floors: the model must catch it.
    const forgetful = (): LayerUnderTest<number> => {
      const layer = new MemoryLayer();
      return { ...memoryUnderTest(layer), invalidate: async (id) => void layer.invalidate('users', [{ id, floor: { tx: 0n, pos: 0n } }]) };
    };
    const failure = await fc
      .check(fc.asyncProperty(operations({ flush: false }), async (ops) => void (await runModel(forgetful(), ops))), { numRuns: 400 })
      .then((r) => r.failed);
    expect(failure).toBe(true);
  });
});
