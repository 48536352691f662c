import type { SqlClient } from '../sql/client.js';
import type { IdempotencyStore, RememberedResult } from '../write/ports.js';

/**
 * Idempotency keys in `idempotency_key`. They are written by the stores'
 * saves, in the same statement as the events (src/write-model/stores.ts);
 * this reads and purges them.
 */
export function idempotencyKeys(db: SqlClient): IdempotencyStore {
  return {
    async find(scope, key, now) {
      // An expired record goes (so the key can be stored again), in the same round trip.
      const [row] = await db.$queryRaw<Array<{ command: string; request_hash: string; result: RememberedResult['result'] }>>`
        WITH expired AS (DELETE FROM idempotency_key WHERE scope = ${scope} AND key = ${key} AND expires_at <= ${now})
        SELECT command, request_hash, result FROM idempotency_key
        WHERE scope = ${scope} AND key = ${key} AND expires_at > ${now}`;
      return row ? { command: row.command, requestHash: row.request_hash, result: row.result } : null;
    },
    async purgeExpired(now) {
      return db.$executeRaw`DELETE FROM idempotency_key WHERE expires_at <= ${now}`;
    },
  };
}
