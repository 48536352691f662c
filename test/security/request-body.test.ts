/**
 * Request bodies over MAX_BODY_BYTES, as clients really send them: with a
 * Content-Length (refused before a byte of the body is read, and without a
 * `100 Continue` to a client that asked for one), and chunked (refused when
 * the count crosses the limit). Either way the client gets its 413 and then
 * a clean end of the connection — the rest of its body is read and thrown
 * away, within DRAIN_MAX_BYTES and DRAIN_MAX_MS — rather than a reset that
 * `fetch` reports as EPIPE. Sent with fetch (undici) and with raw sockets
 * (node:net), on the direct JSON path and on the express path (gzip).
 * The pair at the limit (exactly MAX_BODY_BYTES accepted): hostile-input.test.ts.
 */
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRAIN_MAX_BYTES, DRAIN_MAX_MS } from '../../src/server/body-limit.js';
import { ADMIN, tokenFor } from '../support/auth.js';
import { uniqueEmail } from '../support/operations.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { eventCount, expectNothingLeakedSoFar, request, seen, written } from './support.js';

const MAX_BODY_BYTES = 4096;

let server: TestServer;
let port: number;
let token: string;
beforeAll(async () => {
  server = await startTestServer({ MAX_BODY_BYTES });
  port = Number(new URL(server.url).port);
  token = await tokenFor(ADMIN);
});
afterAll(() => server?.stop());

const TOO_LARGE = {
  errors: [{ message: `The request body is larger than ${MAX_BODY_BYTES} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
};

/** A registerUser request (one event when executed), padded with JSON whitespace to `bytes`. */
function registration(bytes = 0): Buffer {
  const json = JSON.stringify({
    query: 'mutation($input: RegisterUserInput!) { registerUser(input: $input) { userId } }',
    variables: { input: { name: 'Uploader', email: uniqueEmail('upload') } },
  });
  return Buffer.from(json + ' '.repeat(Math.max(0, bytes - Buffer.byteLength(json))));
}

/** A body streamed in `chunk`-byte pieces (fetch sends it chunked, without a Content-Length). */
function streamOf(bytes: Buffer, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(new Uint8Array(bytes.subarray(offset, (offset += chunk))));
    },
  });
}

/**
 * A raw HTTP/1.1 connection: what the server sent, and how the connection
 * ended — `end` (the server closed it cleanly) or `error` (a reset).
 */
class RawConnection {
  readonly socket: net.Socket;
  text = '';
  written = 0;
  /** When the server's complete 413 answer had arrived (performance.now()). */
  answeredAt: number | undefined;
  readonly ended: Promise<{ how: 'end' | 'error'; at: number; error?: string }>;
  private readonly waiters = new Set<() => void>();

  constructor() {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.ended = new Promise((resolve) => {
      this.socket.once('end', () => resolve({ how: 'end', at: performance.now() }));
      this.socket.once('error', (error) => resolve({ how: 'error', at: performance.now(), error: error.message }));
    });
    this.socket.on('data', (data) => {
      this.text += data.toString('latin1');
      if (this.answeredAt === undefined && this.answer()) this.answeredAt = performance.now();
      for (const waiter of [...this.waiters]) waiter();
    });
    this.socket.on('close', () => {
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  static async open(): Promise<RawConnection> {
    const connection = new RawConnection();
    await new Promise<void>((resolve, reject) => {
      connection.socket.once('connect', resolve);
      connection.socket.once('error', reject);
    });
    return connection;
  }

  /** The first complete response after any `100 Continue`: status, headers and its Content-Length body. */
  answer(): { status: number; headers: string; body: string } | undefined {
    const text = this.text.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
    const head = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(text);
    if (!head) return undefined;
    const length = Number(/^content-length: *(\d+)/im.exec(head[2]!)?.[1] ?? 0);
    const body = text.slice(head[0].length, head[0].length + length);
    return body.length < length ? undefined : { status: Number(head[1]), headers: head[2]!, body };
  }

  write(data: string | Buffer): Promise<void> {
    this.written += Buffer.byteLength(data);
    return new Promise((resolve, reject) => this.socket.write(data, (error) => (error ? reject(error) : resolve())));
  }

  /** Resolves when `condition` holds; fails after `timeoutMs`. */
  until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received: ${JSON.stringify(this.text.slice(0, 400))}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const head = (headers: Record<string, string | number>) =>
  `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;
const jsonHead = (headers: Record<string, string | number>) =>
  head({ 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, ...headers });
const chunk = (data: Buffer | string) => `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`;

/** Runs `action` on a fresh raw connection, destroyed afterwards whatever happens. */
async function withConnection<T>(action: (connection: RawConnection) => Promise<T>): Promise<T> {
  const connection = await RawConnection.open();
  try {
    return await action(connection);
  } finally {
    connection.destroy();
  }
}

describe('a Content-Length over the limit', () => {
  it('is answered 413 before any of the body is sent; the body then sent is read to its end and the connection closes cleanly', async () => {
    const body = registration(MAX_BODY_BYTES + 1);
    const { events } = await written(server, () =>
      withConnection(async (connection) => {
        await connection.write(jsonHead({ 'Content-Length': body.length }));
        await connection.until(() => connection.answer() !== undefined, 10_000, 'the 413');
        const answer = connection.answer()!;
        expect(connection.written, 'bytes of body sent before the answer').toBe(Buffer.byteLength(jsonHead({ 'Content-Length': body.length })));
        expect(answer.status).toBe(413);
        expect(answer.headers).toMatch(/^connection: close$/im);
        expect(JSON.parse(answer.body)).toEqual(TOO_LARGE);
        const sentAt = performance.now();
        await connection.write(body);
        const ended = await connection.ended;
        expect(ended.how, ended.error).toBe('end');
        expect(ended.at).toBeGreaterThanOrEqual(sentAt);
      }),
    );
    expect(events).toBe(0);
  });

  it('with `Expect: 100-continue` → 413 at once, never "100 Continue"; the connection closes without waiting for the body', async () => {
    const { events } = await written(server, () =>
      withConnection(async (connection) => {
        await connection.write(jsonHead({ 'Content-Length': MAX_BODY_BYTES + 1, Expect: '100-continue' }));
        await connection.until(() => connection.answer() !== undefined, 10_000, 'the 413');
        expect(connection.text).not.toMatch(/100 Continue/);
        expect(connection.text).toMatch(/^HTTP\/1\.1 413 /);
        expect(JSON.parse(connection.answer()!.body)).toEqual(TOO_LARGE);
        const ended = await connection.ended;
        expect(ended.how, ended.error).toBe('end');
      }),
    );
    expect(events).toBe(0);
  });

  it('with `Expect: 100-continue` and a body within the limit → "100 Continue", then the body is executed', async () => {
    const body = registration(MAX_BODY_BYTES);
    const { result, events } = await written(server, () =>
      withConnection(async (connection) => {
        await connection.write(jsonHead({ 'Content-Length': body.length, Expect: '100-continue' }));
        await connection.until(() => connection.text.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), 10_000, '100 Continue');
        expect(connection.answer()).toBeUndefined();
        await connection.write(body);
        await connection.until(() => connection.answer() !== undefined, 10_000, 'the answer');
        return connection.answer()!;
      }),
    );
    expect(result.status, result.body).toBe(200);
    expect(JSON.parse(result.body).data.registerUser.userId).toEqual(expect.any(String));
    expect(events).toBe(1);
  });

  it('on the express path too (a gzip body): 413 before the body, the same answer', async () => {
    await withConnection(async (connection) => {
      await connection.write(jsonHead({ 'Content-Length': MAX_BODY_BYTES + 1, 'Content-Encoding': 'gzip' }));
      await connection.until(() => connection.answer() !== undefined, 10_000, 'the 413');
      expect(connection.written).toBe(Buffer.byteLength(jsonHead({ 'Content-Length': MAX_BODY_BYTES + 1, 'Content-Encoding': 'gzip' })));
      expect(connection.answer()!.status).toBe(413);
      expect(JSON.parse(connection.answer()!.body)).toEqual(TOO_LARGE);
    });
  });
});

describe('a chunked body that crosses the limit', () => {
  it('fetch, uploading 4 MB as fast as it can, gets the 413 every time (no EPIPE), and nothing is written', async () => {
    const before = await eventCount(server);
    for (let i = 0; i < 6; i++) {
      const { status, json } = await request(server, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: streamOf(registration(4_000_000)),
      });
      expect(status, `upload ${i + 1}`).toBe(413);
      expect(json).toEqual(TOO_LARGE);
    }
    expect(await eventCount(server)).toBe(before);
  });

  it('fetch, a gzip body that inflates past the limit (the express path) → the same 413', async () => {
    const { status, json } = await request(server, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${token}` },
      body: streamOf(gzipSync(registration(3_000_000)), 1024),
    });
    expect(status).toBe(413);
    expect(json).toEqual(TOO_LARGE);
  });

  it('raw socket: the 413 comes when the limit is crossed; the body sent after it is read to its last chunk, then the connection closes cleanly', async () => {
    await withConnection(async (connection) => {
      await connection.write(jsonHead({ 'Transfer-Encoding': 'chunked' }));
      const piece = Buffer.alloc(1024, 0x20);
      while (connection.answer() === undefined && connection.written < 64 * 1024) await connection.write(chunk(piece));
      await connection.until(() => connection.answer() !== undefined, 10_000, 'the 413');
      expect(connection.answer()!.status).toBe(413);
      expect(JSON.parse(connection.answer()!.body)).toEqual(TOO_LARGE);
      // Well past the limit, and then some, after the answer: all of it is read.
      for (let i = 0; i < 200; i++) await connection.write(chunk(piece));
      const lastChunkAt = performance.now();
      await connection.write('0\r\n\r\n');
      const ended = await connection.ended;
      expect(ended.how, ended.error).toBe('end');
      expect(ended.at).toBeGreaterThanOrEqual(lastChunkAt);
    });
  });

  it(`raw socket: a body that never ends is cut once ${DRAIN_MAX_BYTES} bytes more have been discarded`, async () => {
    await withConnection(async (connection) => {
      await connection.write(jsonHead({ 'Transfer-Encoding': 'chunked' }));
      const piece = chunk(Buffer.alloc(64 * 1024, 0x20));
      let ended: { how: string } | undefined;
      void connection.ended.then((e) => (ended = e));
      // Far beyond the bound: the server must stop it long before.
      while (ended === undefined && connection.written < 20 * DRAIN_MAX_BYTES) {
        await connection.write(piece).catch(() => undefined);
      }
      expect(ended, `still open after ${connection.written} bytes`).toBeDefined();
      expect(connection.answer()?.status).toBe(413);
      // It read the whole allowance before cutting (what sits in socket buffers on the way is the slack).
      expect(connection.written).toBeGreaterThan(MAX_BODY_BYTES + DRAIN_MAX_BYTES);
      expect(connection.written).toBeLessThan(MAX_BODY_BYTES + DRAIN_MAX_BYTES + 16 * 1024 * 1024);
    });
  });

  it(`raw socket: a body that trickles on is cut ${DRAIN_MAX_MS} ms after the 413`, async () => {
    await withConnection(async (connection) => {
      await connection.write(jsonHead({ 'Transfer-Encoding': 'chunked' }));
      await connection.write(chunk(Buffer.alloc(MAX_BODY_BYTES + 1, 0x20)));
      await connection.until(() => connection.answer() !== undefined, 10_000, 'the 413');
      const answeredAt = connection.answeredAt!;
      let ended: { at: number } | undefined;
      void connection.ended.then((e) => (ended = e));
      while (ended === undefined && performance.now() - answeredAt < DRAIN_MAX_MS + 10_000) {
        await connection.write(chunk('x')).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(ended, 'the trickle was never cut').toBeDefined();
      expect(ended!.at - answeredAt).toBeGreaterThanOrEqual(DRAIN_MAX_MS - 50);
      expect(ended!.at - answeredAt).toBeLessThan(DRAIN_MAX_MS + 5_000);
    });
  });
});

describe('this suite', () => {
  it('the server still answers on new connections', async () => {
    const { status, json } = await request(server, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(status).toBe(200);
    expect(json).toEqual({ data: { __typename: 'Query' } });
  });

  it('no response contained a stack trace, SQL, a file path or "prisma"', () => {
    expect(seen.length).toBeGreaterThan(0);
    expectNothingLeakedSoFar();
  });
});
