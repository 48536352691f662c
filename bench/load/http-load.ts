/**
 * The HTTP load generator: a separate process driving autocannon.
 *
 *   node --import tsx bench/load/http-load.ts <file with a JSON LoadConfig>
 *
 * Warms up, then runs for a fixed time and prints one JSON line (LoadResult)
 * on stdout. Latencies are recorded per response with sub-millisecond
 * resolution (autocannon's own histogram keeps whole milliseconds).
 * Every request carries `Authorization: $BENCH_AUTHORIZATION` when set
 * (bench/lib/auth.ts; passed in the environment, never in the config file).
 */
import { readFileSync } from 'node:fs';
import autocannon, { type Request } from 'autocannon';
import { requestHeaders } from '../lib/auth.js';
import { now, summarize, type Summary } from '../lib/stats.js';

export interface LoadConfig {
  readonly url: string;
  /** One body for every request, or … */
  readonly body?: string;
  /** … a body picked at random per request. */
  readonly bodies?: readonly string[];
  readonly connections: number;
  readonly durationSec: number;
  readonly warmupSec: number;
  /**
   * Open loop: requests per second. The bench sends these runs to
   * steady-load.ts instead (autocannon's overallRate comes in per-second bursts).
   */
  readonly overallRate?: number;
  /** Record (orderId, response time) pairs from placeOrder responses, for the lag scenario. */
  readonly recordOrders?: boolean;
}

export interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly latencyMs: Summary;
  readonly errors: number;
  readonly non2xx: number;
  /** 2xx responses that carried GraphQL `errors` (or no data). */
  readonly mismatches: number;
  readonly durationSec: number;
  /** [orderId, absolute ms] when recordOrders. */
  readonly orders?: Array<[string, number]>;
  readonly sampleError?: string;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadConfig;
const headers = requestHeaders(process.env.BENCH_AUTHORIZATION || undefined);

function run(durationSec: number, record: boolean): Promise<LoadResult> {
  const latencies: number[] = [];
  const orders: Array<[string, number]> = [];
  let sampleError: string | undefined;
  const bodies = config.bodies;
  const request: Request = {
    method: 'POST',
    headers,
    body: config.body ?? bodies?.[0],
  };
  if (bodies && bodies.length > 1) {
    request.setupRequest = (req) => ({ ...req, body: bodies[Math.floor(Math.random() * bodies.length)]! });
  }
  if (record && config.recordOrders) {
    request.onResponse = (status, body) => {
      const at = now();
      if (status !== 200) return;
      const match = /"orderId":"([0-9a-f-]{36})"/.exec(body);
      if (match) orders.push([match[1]!, at]);
    };
  }
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: config.url,
        connections: config.connections,
        duration: durationSec,
        pipelining: 1,
        timeout: 30,
        overallRate: config.overallRate,
        requests: [request],
        verifyBody: (body: string) => {
          const ok = body.startsWith('{"data":') && !body.includes('"errors"');
          if (!ok && !sampleError) sampleError = body.slice(0, 500);
          return ok;
        },
      },
      (error, result) => {
        if (error) return reject(error);
        resolve({
          requests: result['2xx'],
          rps: result['2xx'] / durationSec,
          latencyMs: summarize(latencies),
          errors: result.errors + result.timeouts,
          non2xx: result.non2xx,
          mismatches: result.mismatches,
          durationSec,
          orders: record && config.recordOrders ? orders : undefined,
          sampleError,
        });
      },
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      if (status >= 200 && status < 300) latencies.push(responseTime);
    });
  });
}

if (config.warmupSec > 0) await run(config.warmupSec, false);
const result = await run(config.durationSec, true);
process.stdout.write(`${JSON.stringify(result)}\n`);
