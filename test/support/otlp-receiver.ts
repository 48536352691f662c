import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real OTLP/HTTP trace receiver, as small as it can be: `POST /v1/traces`
 * with a JSON `ExportTraceServiceRequest` (what the OTLP/HTTP JSON exporter
 * sends) is decoded into spans and answered `{}` (all accepted). Anything
 * else is answered 404 or 415 and counted in `refused`.
 */

/** OTLP's SpanKind numbers. */
export const KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
/** OTLP's status codes. */
export const STATUS = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };

export interface ReceivedLink {
  readonly traceId: string;
  readonly spanId: string;
  readonly attributes: Record<string, AttributeValue>;
}

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  /** Start time, in ns since the epoch. */
  readonly start: bigint;
  readonly attributes: Record<string, AttributeValue>;
  readonly links: ReceivedLink[];
  readonly status: { readonly code: number; readonly message?: string };
  readonly resource: Record<string, AttributeValue>;
  readonly scope: string;
}

export interface OtlpReceiver {
  /** The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
  readonly url: string;
  /** Every span received so far, in order of arrival. */
  readonly spans: ReceivedSpan[];
  /** Every request body received, as sent (to search for what must never be sent). */
  readonly bodies: string[];
  /** Requests that were not a JSON trace export. */
  readonly refused: Array<{ method?: string; url?: string; contentType?: string }>;
  /** Resolves once `check` returns a value other than undefined (checked on every export); rejects after `timeoutMs`. */
  until<T>(check: (spans: readonly ReceivedSpan[]) => T | undefined, timeoutMs?: number, what?: string): Promise<T>;
  close(): Promise<void>;
}

type AnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: string;
};
type KeyValue = { key: string; value?: AnyValue };

function decodeValue(value: AnyValue | undefined): AttributeValue {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(decodeValue);
  if (value.kvlistValue) return decodeAttributes(value.kvlistValue.values);
  if (value.bytesValue !== undefined) return value.bytesValue;
  return null;
}

function decodeAttributes(list: KeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, decodeValue(kv.value)]));
}

interface ExportRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: Array<{
      scope?: { name?: string };
      spans?: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind?: number;
        startTimeUnixNano?: string | number;
        attributes?: KeyValue[];
        links?: Array<{ traceId: string; spanId: string; attributes?: KeyValue[] }>;
        status?: { code?: number; message?: string };
      }>;
    }>;
  }>;
}

/** The spans of one export request (ids as the JSON encoding has them: lowercase hex). */
export function decodeExport(body: ExportRequest): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = decodeAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind ?? 0,
          start: BigInt(s.startTimeUnixNano ?? 0),
          attributes: decodeAttributes(s.attributes),
          links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: decodeAttributes(l.attributes) })),
          status: { code: s.status?.code ?? 0, ...(s.status?.message ? { message: s.status.message } : {}) },
          resource,
          scope: ss.scope?.name ?? '',
        });
      }
    }
  }
  return spans;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const refused: OtlpReceiver['refused'] = [];
  const listeners = new Set<() => void>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const contentType = req.headers['content-type'];
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        refused.push({ method: req.method, url: req.url, contentType });
        res.writeHead(404).end();
        return;
      }
      if (!/^application\/json\b/.test(contentType ?? '')) {
        refused.push({ method: req.method, url: req.url, contentType });
        res.writeHead(415).end();
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      bodies.push(text);
      spans.push(...decodeExport(JSON.parse(text) as ExportRequest));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      listeners.forEach((l) => l());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    bodies,
    refused,
    until<T>(check: (spans: readonly ReceivedSpan[]) => T | undefined, timeoutMs = 15_000, what = 'the expected spans') {
      return new Promise<T>((resolve, reject) => {
        const attempt = () => {
          const found = check(spans);
          if (found === undefined) return false;
          clearTimeout(timer);
          listeners.delete(listener);
          resolve(found);
          return true;
        };
        const listener = () => void attempt();
        const timer = setTimeout(() => {
          listeners.delete(listener);
          reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; received ${spans.length} spans: ${spans.map((s) => s.name).join(', ')}`));
        }, timeoutMs);
        listeners.add(listener);
        attempt();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
