import { randomUUID } from 'node:crypto';
import { bucketOf } from '../../src/read-models/cache/position.js';

/** `n` fresh ids. */
export function ids(n: number): string[] {
  return Array.from({ length: n }, () => randomUUID());
}

/** `n` fresh ids that share one floor bucket. */
export function sameBucket(n: number): string[] {
  const first = randomUUID();
  const found = [first];
  while (found.length < n) {
    const id = randomUUID();
    if (bucketOf(id) === bucketOf(first)) found.push(id);
  }
  return found;
}
