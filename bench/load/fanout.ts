/**
 * Fan-out subscribers: a separate process holding many `ordersChanged`
 * subscriptions over many graphql-ws connections (the `graphql-ws` client).
 *
 *   node --import tsx bench/load/fanout.ts '<json { wsUrl, triggerUrl, triggerBody }>'
 *
 * Driven by JSON lines on stdin, answers with JSON lines on stdout:
 *   { cmd: 'open', connections, perConnection } → opens that many more, then
 *       proves every subscription is live with a probe change all must receive
 *       → { ok, open, openMs, probeMs }
 *   { cmd: 'change' } → places one order (HTTP), waits until every open
 *       subscription has received it → { ok, open, requestMs, firstMs, p50Ms, allMs }
 *       (times from the mutation's HTTP response to first / median / last delivery)
 *   { cmd: 'close' } → closes everything and exits.
 *
 * With $BENCH_AUTHORIZATION ("Bearer <token>", bench/lib/auth.ts), every
 * connection_init carries `{ authorization }` and the trigger request the
 * Authorization header.
 */
import { createInterface } from 'node:readline';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { requestHeaders } from '../lib/auth.js';
import { ORDERS_CHANGED } from '../lib/operations.js';
import { now, percentile } from '../lib/stats.js';

interface Config {
  readonly wsUrl: string;
  readonly triggerUrl: string;
  readonly triggerBody: string;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const authorization = process.env.BENCH_AUTHORIZATION || undefined;
const headers = requestHeaders(authorization);
const clients: Client[] = [];
const disposers: Array<() => void> = [];
let open = 0;
let failures = 0;
let lastError = '';

interface Pending {
  readonly arrivals: number[];
  done?: () => void;
}
/** orderId → arrival times, while a change is being awaited. */
const awaited = new Map<string, Pending>();
/** Deliveries for orders not awaited yet (the message can beat the HTTP response). */
const early = new Map<string, number[]>();

function onMessage(orderId: string | undefined): void {
  if (!orderId) return;
  const at = now();
  const entry = awaited.get(orderId);
  if (!entry) {
    const list = early.get(orderId) ?? [];
    list.push(at);
    early.set(orderId, list);
    return;
  }
  entry.arrivals.push(at);
  if (entry.arrivals.length >= open) entry.done?.();
}

function connect(): Client {
  return createClient({
    url: config.wsUrl,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: authorization ? { authorization } : undefined,
    on: {
      error: (error) => {
        failures++;
        lastError = String((error as Error)?.message ?? error);
      },
    },
  });
}

async function placeOrder(): Promise<{ orderId: string; sentAt: number; answeredAt: number }> {
  const sentAt = now();
  const res = await fetch(config.triggerUrl, { method: 'POST', headers, body: config.triggerBody });
  const text = await res.text();
  const answeredAt = now();
  const match = /"orderId":"([0-9a-f-]{36})"/.exec(text);
  if (!match) throw new Error(`trigger failed: ${text.slice(0, 300)}`);
  return { orderId: match[1]!, sentAt, answeredAt };
}

/** One change, timed until every open subscription has it. */
async function change(timeoutMs = 30_000) {
  const { orderId, sentAt, answeredAt } = await placeOrder();
  const entry: Pending = { arrivals: early.get(orderId) ?? [] };
  early.delete(orderId);
  awaited.set(orderId, entry);
  try {
    if (entry.arrivals.length < open) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${entry.arrivals.length} of ${open} subscriptions got the change within ${timeoutMs} ms`)),
          timeoutMs,
        );
        entry.done = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    awaited.delete(orderId);
  }
  const arrivals = entry.arrivals.sort((a, b) => a - b);
  return {
    open,
    requestMs: answeredAt - sentAt,
    firstMs: arrivals[0]! - answeredAt,
    p50Ms: percentile(arrivals, 50) - answeredAt,
    allMs: arrivals[arrivals.length - 1]! - answeredAt,
  };
}

async function openMore(connections: number, perConnection: number) {
  const started = now();
  for (let c = 0; c < connections; c++) {
    const client = connect();
    clients.push(client);
    for (let s = 0; s < perConnection; s++) {
      const dispose = client.subscribe<{ ordersChanged: { id: string } }>(
        { query: ORDERS_CHANGED },
        {
          next: (message) => onMessage(message.data?.ordersChanged?.id),
          error: (error) => {
            failures++;
            lastError = JSON.stringify(error).slice(0, 300);
          },
          complete: () => undefined,
        },
      );
      disposers.push(dispose);
      open++;
    }
  }
  // There is no "subscribed" acknowledgement in the protocol: a probe change
  // that every subscription receives proves they are all registered.
  const openMs = now() - started;
  let probe: Awaited<ReturnType<typeof change>> | undefined;
  for (let attempt = 0; attempt < 20 && !probe; attempt++) {
    probe = await change(5_000).catch(() => undefined);
  }
  if (!probe) throw new Error(`subscriptions did not all become live (${failures} failures: ${lastError})`);
  return { open, openMs, probeMs: probe.allMs, failures };
}

const lines = createInterface({ input: process.stdin });
const reply = (payload: unknown) => process.stdout.write(`${JSON.stringify(payload)}\n`);
for await (const line of lines) {
  if (!line.trim()) continue;
  const command = JSON.parse(line) as { cmd: string; connections?: number; perConnection?: number };
  try {
    if (command.cmd === 'open') reply({ ok: true, ...(await openMore(command.connections!, command.perConnection!)) });
    else if (command.cmd === 'change') reply({ ok: true, ...(await change()) });
    else if (command.cmd === 'close') {
      disposers.forEach((d) => d());
      await Promise.all(clients.map((c) => c.dispose()));
      reply({ ok: true });
      break;
    }
  } catch (error) {
    reply({ ok: false, error: String((error as Error)?.message ?? error), failures, lastError });
  }
}
process.exit(0);
