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
 *
 * Only verified answers count: each response is checked against what the
 * config expects for its request (`verify`); anything else — another status,
 * a socket error or timeout, an answer that differs — is a failure, and a run
 * with any failure is invalid (the bench then fails).
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
  /** How each answer is checked. */
  readonly verify: Verify;
}

/**
 * `answers`: the exact response text for each request body (queries: the
 * raw baseline's answers, which ours must equal byte for byte);
 * `pattern`: a regular expression the whole response text must match
 * (commands: new ids every time).
 */
export type Verify = { readonly answers: Readonly<Record<string, string>> } | { readonly pattern: string };

/** Checks one answer to the request `body` (a trailing newline aside: Apollo Server ends its JSON with one). */
export function verifier(verify: Verify): (body: string, text: string) => boolean {
  if ('answers' in verify) return (body, text) => verify.answers[body]?.trimEnd() === text.trimEnd();
  const pattern = new RegExp(verify.pattern);
  return (_body, text) => pattern.test(text.trimEnd());
}

export interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly latencyMs: Summary;
  readonly errors: number;
  readonly non2xx: number;
  /** 2xx responses that were not the expected answer. */
  readonly mismatches: number;
  /** errors + non2xx + mismatches: a run with any is invalid. */
  readonly failures: number;
  readonly durationSec: number;
  /** [orderId, absolute ms] when recordOrders. */
  readonly orders?: Array<[string, number]>;
  readonly sampleError?: string;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadConfig;
const headers = requestHeaders(process.env.BENCH_AUTHORIZATION || undefined);

const verified = verifier(config.verify);

function run(durationSec: number, record: boolean): Promise<LoadResult> {
  const latencies: number[] = [];
  const orders: Array<[string, number]> = [];
  let sampleError: string | undefined;
  let good = 0;
  let mismatches = 0;
  const bodies = config.bodies ?? [config.body!];
  const request: Request = {
    method: 'POST',
    headers,
    body: bodies[0],
    // Each connection remembers what it asked, to check what it gets back.
    setupRequest: (req, context: Record<string, unknown>) => {
      const body = bodies.length > 1 ? bodies[Math.floor(Math.random() * bodies.length)]! : bodies[0]!;
      context.body = body;
      return { ...req, body };
    },
    onResponse: (status, text, context: Record<string, unknown>) => {
      const at = now();
      if (status < 200 || status >= 300) return; // counted by autocannon as non-2xx
      if (!verified(context.body as string, text)) {
        mismatches++;
        sampleError ??= text.slice(0, 500);
        return;
      }
      good++;
      if (record && config.recordOrders) {
        const match = /"orderId":"([0-9a-f-]{36})"/.exec(text);
        if (match) orders.push([match[1]!, at]);
      }
    },
  };
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
      },
      (error, result) => {
        if (error) return reject(error);
        const errors = result.errors + result.timeouts;
        resolve({
          requests: good,
          rps: good / durationSec,
          latencyMs: summarize(latencies),
          errors,
          non2xx: result.non2xx,
          mismatches,
          failures: errors + result.non2xx + mismatches,
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
