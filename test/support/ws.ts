import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import type { AuthenticatedActor } from '../../src/domain/access.js';
import { ADMIN, bearer } from './auth.js';

/**
 * A graphql-ws client for a test server's http URL, signed in as staff unless
 * `as` says otherwise ('anonymous': no token in connection_init).
 */
export function wsClient(httpUrl: string, options: { lazy?: boolean; as?: AuthenticatedActor | 'anonymous' } = {}): Client {
  const who = options.as ?? ADMIN;
  return createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: options.lazy ?? true,
    retryAttempts: 0,
    connectionParams: async () => (who === 'anonymous' ? {} : bearer(who)),
  });
}

/**
 * Subscribes and records every message and its arrival time
 * (performance.now()). `next(n)` waits until `n` messages arrived in total;
 * `error` holds a protocol error, if any. A persisted document is named by
 * `{ documentId }` instead of the query (sent with the empty `query`
 * graphql-ws requires).
 */
export function record<T = any>(client: Client, query: string | { documentId: string }, variables?: Record<string, unknown>) {
  const messages: Array<FormattedExecutionResult<T, unknown>> = [];
  const arrivals: number[] = [];
  let error: unknown;
  let completed = false;
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  const dispose = client.subscribe<T>(
    typeof query === 'string' ? { query, variables } : ({ query: '', documentId: query.documentId, variables } as { query: string }),
    {
      next: (m) => {
        messages.push(m);
        arrivals.push(performance.now());
        notify();
      },
      error: (e) => {
        error = e;
        notify();
      },
      complete: () => {
        completed = true;
        notify();
      },
    },
  );
  const until = (done: () => boolean, timeoutMs: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      if (done()) return resolve();
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(messages)}`));
      }, timeoutMs);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        listeners.delete(check);
        resolve();
      };
      listeners.add(check);
    });
  return {
    messages,
    arrivals,
    get error() {
      return error;
    },
    get completed() {
      return completed;
    },
    /** The `data` of every message so far. */
    data: () => messages.map((m) => m.data as T),
    /** Resolves once `done()` holds (checked on every message, error and completion). */
    until,
    next: (count: number, timeoutMs = 10_000) => until(() => messages.length >= count, timeoutMs, `${count} message(s)`),
    failed: (timeoutMs = 10_000) => until(() => error !== undefined, timeoutMs, 'an error'),
    dispose,
  };
}
