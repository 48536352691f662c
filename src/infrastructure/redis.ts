import { Redis } from 'ioredis';

export interface RedisClientOptions {
  /** Longest wait for a reply, in ms (config CACHE_REDIS_TIMEOUT_MS). */
  readonly commandTimeoutMs: number;
  /** Connection errors; ioredis reconnects by itself meanwhile. Must not throw. */
  readonly onError: (error: unknown) => void;
}

/**
 * A Redis client for the cache: bounded waits and no queue, so that a Redis
 * that is down or slow costs a request at most `commandTimeoutMs` and the
 * cache answers from the database meanwhile. Commands sent while it is not
 * connected fail at once (no offline queue) and are never retried or resent
 * after a reconnect; it reconnects by itself, forever, backing off to 2 s.
 */
export function openRedis(url: string, options: RedisClientOptions): Redis {
  const redis = new Redis(url, {
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: Math.max(1000, options.commandTimeoutMs),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    // The DataLoaders of one request tick (a view's user and products) send their script calls in one write.
    enableAutoPipelining: true,
  });
  redis.on('error', options.onError);
  return redis;
}
