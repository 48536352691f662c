import WebSocket, { type ClientOptions } from 'ws';
import type { AuthenticatedActor } from '../../src/domain/access.js';
import { ADMIN, bearer } from './auth.js';

/** A message of the graphql-transport-ws protocol, as received, with its arrival time. */
export interface Received {
  readonly at: number;
  readonly message: { type: string; id?: string; payload?: any };
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
  readonly at: number;
}

/**
 * A bare graphql-transport-ws client on the `ws` package: no retries, no
 * keep-alive of its own, no hidden protocol steps. Records every message with
 * its arrival time (performance.now()), so tests can assert exactly what the
 * server sent and when.
 */
export class RawWsClient {
  readonly received: Received[] = [];
  readonly pings: number[] = [];
  readonly opened: Promise<number>;
  readonly closed: Promise<Closed>;
  closeEvent: Closed | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly socket: WebSocket,
  ) {
    this.opened = new Promise((resolve, reject) => {
      socket.once('open', () => resolve(performance.now()));
      socket.once('error', reject);
    });
    this.opened.catch(() => undefined); // connect() reports it
    this.closed = new Promise((resolve) => {
      socket.once('close', (code, reason) => {
        this.closeEvent = { code, reason: reason.toString(), at: performance.now() };
        resolve(this.closeEvent);
        this.notify();
      });
    });
    // A socket error is always followed by 'close'; tests assert on that.
    socket.on('error', () => undefined);
    socket.on('ping', () => this.pings.push(performance.now()));
    socket.on('message', (data) => {
      this.received.push({ at: performance.now(), message: JSON.parse(String(data)) });
      this.notify();
    });
  }

  /**
   * Opens a socket with the graphql-transport-ws subprotocol and, by default,
   * initialises it as staff (`as`: someone else; 'anonymous': no token).
   */
  static async connect(
    httpUrl: string,
    options: { init?: boolean; ws?: ClientOptions; as?: AuthenticatedActor | 'anonymous' } = {},
  ): Promise<RawWsClient> {
    const client = new RawWsClient(new WebSocket(httpUrl.replace(/^http/, 'ws'), 'graphql-transport-ws', options.ws));
    await client.opened;
    if (options.init ?? true) {
      const who = options.as ?? ADMIN;
      client.send({ type: 'connection_init', payload: who === 'anonymous' ? {} : await bearer(who) });
      await client.waitFor((m) => m.type === 'connection_ack', 5_000, 'connection_ack');
    }
    return client;
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  subscribe(id: string, query: string, variables?: Record<string, unknown>): void {
    this.send({ id, type: 'subscribe', payload: { query, variables } });
  }

  complete(id: string): void {
    this.send({ id, type: 'complete' });
  }

  /** Messages of one operation, in arrival order. */
  of(id: string): Received[] {
    return this.received.filter((r) => r.message.id === id);
  }

  /** `next` payloads' data of one operation. */
  data(id: string): any[] {
    return this.of(id)
      .filter((r) => r.message.type === 'next')
      .map((r) => r.message.payload.data);
  }

  /** Resolves once `done()` holds (checked on every message and on close). */
  until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (done()) return resolve();
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; last messages: ${JSON.stringify(this.received.slice(-5).map((r) => r.message)).slice(0, 2000)}`));
      }, timeoutMs);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      this.listeners.add(check);
    });
  }

  /** The first message (from now on, or already received) matching `match`. */
  async waitFor(match: (message: Received['message']) => boolean, timeoutMs: number, what: string): Promise<Received> {
    let found: Received | undefined;
    await this.until(() => (found = this.received.find((r) => match(r.message))) !== undefined, timeoutMs, what);
    return found!;
  }

  /** Waits until operation `id` has at least `count` messages (of any type). */
  async messages(id: string, count: number, timeoutMs = 10_000): Promise<Received[]> {
    await this.until(() => this.of(id).length >= count, timeoutMs, `${count} message(s) for operation ${id}`);
    return this.of(id);
  }

  /** Closes (if still open) and waits for the close to complete. */
  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    if (this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.terminate();
    } else {
      (this.socket as unknown as { _socket?: { resume(): void } })._socket?.resume();
      this.socket.close(1000);
      // Do not wait for a peer that may not answer.
      const timer = setTimeout(() => this.socket.terminate(), 1_000);
      await this.closed;
      clearTimeout(timer);
      return;
    }
    await this.closed;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
