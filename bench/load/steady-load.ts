/**
 * A steady open-loop load: one request every 1000/rate ms, on schedule,
 * whatever the responses do (node:http with a keep-alive agent: about a
 * fifth of the CPU per request of Node's fetch, and this process shares the
 * machine with the server it measures).
 *
 *   node --import tsx bench/load/steady-load.ts <file with a JSON LoadConfig having overallRate>
 *
 * Why not autocannon's `overallRate`: it gives each connection a per-second
 * quota that it sends back to back when each second starts (and the
 * connections' seconds start together), so "200/s" arrives as one burst of
 * 200 requests per second — every request then queues behind the burst.
 * Prints one JSON line (LoadResult), like http-load.ts; sends the same
 * Authorization header ($BENCH_AUTHORIZATION).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { requestHeaders } from '../lib/auth.js';
import { now, summarize } from '../lib/stats.js';
import { verifier, type LoadConfig, type LoadResult } from './http-load.js';

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadConfig;
const rate = config.overallRate!;
const bodies = config.bodies ?? [config.body!];
const headers = requestHeaders(process.env.BENCH_AUTHORIZATION || undefined);
const agent = new http.Agent({ keepAlive: true });
const verified = verifier(config.verify);

/** POSTs `body`; resolves with the status and the whole response text. */
function post(body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(config.url, { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

async function run(durationSec: number, record: boolean): Promise<LoadResult> {
  const latencies: number[] = [];
  const orders: Array<[string, number]> = [];
  let errors = 0;
  let non2xx = 0;
  let mismatches = 0;
  let sampleError: string | undefined;
  const inFlight = new Set<Promise<void>>();
  const fire = () => {
    const sentAt = now();
    const body = bodies[Math.floor(Math.random() * bodies.length)]!;
    const request = post(body)
      .then(({ status, text }) => {
        const at = now();
        if (status < 200 || status >= 300) {
          non2xx++;
          sampleError ??= text.slice(0, 500);
          return;
        }
        if (!verified(body, text)) {
          mismatches++;
          sampleError ??= text.slice(0, 500);
          return;
        }
        latencies.push(at - sentAt);
        if (record && config.recordOrders) {
          const match = /"orderId":"([0-9a-f-]{36})"/.exec(text);
          if (match) orders.push([match[1]!, at]);
        }
      })
      .catch((error: unknown) => {
        errors++;
        sampleError ??= String(error);
      })
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
  };
  const interval = 1000 / rate;
  const started = now();
  const end = started + durationSec * 1000;
  let next = started;
  let sent = 0;
  while (next < end) {
    const wait = next - now();
    if (wait > 0.5) await new Promise((resolve) => setTimeout(resolve, wait));
    fire();
    sent++;
    next = started + sent * interval;
  }
  await Promise.all(inFlight);
  return {
    requests: latencies.length,
    rps: latencies.length / durationSec,
    latencyMs: summarize(latencies),
    errors,
    non2xx,
    mismatches,
    failures: errors + non2xx + mismatches,
    durationSec,
    orders: record && config.recordOrders ? orders : undefined,
    sampleError,
  };
}

if (config.warmupSec > 0) await run(config.warmupSec, false);
const result = await run(config.durationSec, true);
process.stdout.write(`${JSON.stringify(result)}\n`);
