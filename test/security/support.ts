/**
 * Helpers for the hostile-input suites: raw HTTP requests (any method, body
 * and content type, exactly as sent), one-shot graphql-ws operations, the
 * event-log row count ("nothing was written") and the leak check every
 * response must pass.
 */
import { expect } from 'vitest';
import { ADMIN, bearer } from '../support/auth.js';
import { RawWsClient, type Closed } from '../support/raw-ws.js';
import type { TestServer } from '../support/server.js';

export interface RawResponse {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
  /** The parsed body when it is JSON. */
  readonly json: any;
}

/**
 * Every response body of a GraphQL request made through these helpers, so a
 * suite can check at its end that none of them leaked anything.
 */
export const seen: Array<{ what: string; text: string }> = [];

/** Sends a request to /graphql (or `path` below it) and records the response (unless `record: false`). */
export async function request(
  server: TestServer,
  init: { method?: string; path?: string; headers?: Record<string, string>; body?: string | ReadableStream<Uint8Array>; record?: boolean } = {},
): Promise<RawResponse> {
  const res = await fetch(server.url + (init.path ?? ''), {
    method: init.method ?? 'GET',
    headers: init.headers,
    body: init.body,
    ...(init.body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  const text = await res.text();
  const contentType = res.headers.get('content-type') ?? '';
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (init.record ?? true) seen.push({ what: `${init.method ?? 'GET'} ${init.path ?? ''} → ${res.status}`, text });
  return { status: res.status, contentType, text, json };
}

export type Who = 'admin' | 'anonymous';

/** POSTs a JSON body (an object is serialized; a string is sent as it is), as staff unless `as` says otherwise. */
export async function post(
  server: TestServer,
  body: unknown,
  options: { as?: Who; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const auth = (options.as ?? 'admin') === 'admin' ? await bearer(ADMIN) : {};
  return request(server, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth, ...options.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Rows in the event log: every command writes there, so an unchanged count means nothing was written. */
export async function eventCount(server: TestServer): Promise<number> {
  const rows = await server.app.db.prisma.$queryRawUnsafe<Array<{ n: number }>>('SELECT count(*)::int AS n FROM event_log');
  return Number(rows[0]!.n);
}

/** Runs `action` and returns its result with how many events it appended. */
export async function written<T>(server: TestServer, action: () => Promise<T>): Promise<{ result: T; events: number }> {
  const before = await eventCount(server);
  const result = await action();
  return { result, events: (await eventCount(server)) - before };
}

/** Error codes of a GraphQL response body. */
export function codesOf(body: any): unknown[] {
  return (body?.errors ?? []).map((e: any) => e?.extensions?.code);
}

export interface WsOutcome {
  /** Messages for the operation, in order. */
  readonly messages: Array<{ type: string; payload?: any }>;
  /** Set when the socket closed instead. */
  readonly closed: Closed | undefined;
}

/**
 * Sends one operation (query, mutation or subscription) as a graphql-ws
 * `subscribe` and waits until it completes, fails, or the socket closes; for
 * a subscription, until its first message.
 */
export async function wsRun(
  client: RawWsClient,
  id: string,
  payload: { query: string; documentId?: string; variables?: Record<string, unknown>; operationName?: string },
  options: { until?: 'done' | 'first'; timeoutMs?: number } = {},
): Promise<WsOutcome> {
  client.send({ id, type: 'subscribe', payload });
  const done = () =>
    client.closeEvent !== undefined ||
    client.of(id).some((r) => r.message.type === 'complete' || r.message.type === 'error' || (options.until === 'first' && r.message.type === 'next'));
  await client.until(done, options.timeoutMs ?? 10_000, `operation ${id} to finish`);
  const messages = client.of(id).map((r) => r.message as { type: string; payload?: any });
  seen.push({ what: `ws ${id}`, text: JSON.stringify(messages) + (client.closeEvent ? ` closed ${client.closeEvent.code} ${client.closeEvent.reason}` : '') });
  return { messages, closed: client.closeEvent };
}

/** Opens a graphql-ws connection as staff (or anonymously) and remembers it in `into` for closing. */
export async function wsConnect(server: TestServer, into: RawWsClient[], as: Who = 'admin'): Promise<RawWsClient> {
  const client = await RawWsClient.connect(server.url, as === 'anonymous' ? { as: 'anonymous' } : {});
  into.push(client);
  return client;
}

/**
 * What a response must never contain: a stack trace, a source file path or
 * line, SQL or a database error, or the ORM's name.
 */
export const LEAKS: ReadonlyArray<[what: string, pattern: RegExp]> = [
  ['a stack frame', /\n\s*at \S|&nbsp;at |\bat [\w$.<>]+ \(/],
  ['a file:line:column position', /\.(?:[cm]?js|ts):\d+(?::\d+)?/],
  ['a file path', /node_modules|\/src\/|file:\/\/|\/(?:[\w.-]+\/)+[\w.-]+\.(?:[cm]?js|ts)\b/],
  ['SQL', /\b(?:SELECT\s[\s\S]*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|DROP\s+TABLE)\b/i],
  ['a database error', /relation "|column "|syntax error at or near|violates .* constraint|duplicate key|\bERROR:\s|\bSQLSTATE\b|\bP\d{4}\b/],
  ['"prisma"', /prisma/i],
];

/** Fails with what leaked and where. */
export function expectNoLeak(text: string, where = 'response'): void {
  for (const [what, pattern] of LEAKS) {
    const match = pattern.exec(text);
    expect(match, `${where} contains ${what}: …${match ? text.slice(Math.max(0, match.index - 80), match.index + 80) : ''}…`).toBeNull();
  }
}

/** Every response recorded in `seen` so far, checked for leaks (call from a suite's last test). */
export function expectNothingLeakedSoFar(): void {
  expect(seen.length).toBeGreaterThan(0);
  const leaked = seen.flatMap(({ what, text }) => {
    const found = LEAKS.map(([kind, pattern]) => ({ kind, match: pattern.exec(text) })).filter((f) => f.match);
    if (!found.length) return [];
    const at = found[0]!.match!.index;
    return [`${what}: ${found.map((f) => f.kind).join(', ')}: …${text.slice(Math.max(0, at - 60), at + 100)}…`];
  });
  expect(leaked, 'responses that leaked internals').toEqual([]);
}
