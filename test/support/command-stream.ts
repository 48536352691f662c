/**
 * A stream of keyed commands whose every outcome can be checked afterwards
 * (command-audit.ts): the client side of the crash tests (test/crash) and of
 * the database restart test (test/faults).
 *
 * Several client loops each own a user and that user's orders, and send one
 * command at a time — placeOrder; confirm/ship/deliver/cancel of the loop's
 * own orders; renames of its own user — every one with a fresh idempotency
 * key and an expected version. Since a loop owns what it changes, its model
 * of them is exact and every command it sends is valid: a refusal
 * (VERSION_CONFLICT, INVALID_TRANSITION…) means a write was lost or applied
 * twice.
 *
 * A command without an answer (the connection died) or with a retryable one
 * (SERVICE_UNAVAILABLE) has an unknown outcome until a retry with the same
 * key and input answers; its loop's model waits for that answer. Every
 * command is kept in `sent`, with each answer it got.
 *
 * Commands and choices come from seeded generators: a seed repeats a run's
 * choices as far as timing allows.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { uniqueEmail } from './operations.js';

/** mulberry32: small, seedable, good enough to pick commands and delays. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    shuffled: <T>(items: readonly T[]): T[] => [...items].sort(() => next() - 0.5),
  };
}
export type Random = ReturnType<typeof prng>;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ───────────────────────────── Commands ─────────────────────────────

export type Mutation =
  | 'registerUser'
  | 'addProduct'
  | 'updateUserProfile'
  | 'placeOrder'
  | 'confirmOrder'
  | 'shipOrder'
  | 'deliverOrder'
  | 'cancelOrder';

const DOCUMENTS: Record<Mutation, string> = {
  registerUser: `mutation($input: RegisterUserInput!) { registerUser(input: $input) { id: userId version position } }`,
  addProduct: `mutation($input: AddProductInput!) { addProduct(input: $input) { id: productId version position } }`,
  updateUserProfile: `mutation($input: UpdateUserProfileInput!) { updateUserProfile(input: $input) { id: userId version position } }`,
  placeOrder: `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id: orderId version position } }`,
  confirmOrder: `mutation($input: OrderCommandInput!) { confirmOrder(input: $input) { id: orderId version position } }`,
  shipOrder: `mutation($input: OrderCommandInput!) { shipOrder(input: $input) { id: orderId version position } }`,
  deliverOrder: `mutation($input: OrderCommandInput!) { deliverOrder(input: $input) { id: orderId version position } }`,
  cancelOrder: `mutation($input: CancelOrderInput!) { cancelOrder(input: $input) { id: orderId version position } }`,
};

/** The one event each command appends. */
export const EVENT_OF: Record<Mutation, string> = {
  registerUser: 'UserRegistered',
  addProduct: 'ProductAdded',
  updateUserProfile: 'UserProfileUpdated',
  placeOrder: 'OrderPlaced',
  confirmOrder: 'OrderConfirmed',
  shipOrder: 'OrderShipped',
  deliverOrder: 'OrderDelivered',
  cancelOrder: 'OrderCancelled',
};

/** Error codes that are the service's answer to the command itself (it ran, and was refused). */
const REFUSALS = new Set([
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'INVALID_TRANSITION',
  'VERSION_CONFLICT',
  'ALREADY_EXISTS',
  'IDEMPOTENCY_KEY_REUSED',
  'UNAUTHENTICATED',
  'FORBIDDEN',
]);

export interface Result {
  readonly id: string;
  readonly version: number;
  readonly position: string;
}

export type Answer =
  | { readonly outcome: 'acknowledged'; readonly result: Result }
  /** A GraphQL error with a domain code: the command ran and was refused. */
  | { readonly outcome: 'refused'; readonly detail: string }
  /**
   * No answer (connection reset, refused, timed out: `codes` empty) or a
   * retryable one (SERVICE_UNAVAILABLE…: its error codes, and whether every
   * error said `retryable: true`).
   */
  | { readonly outcome: 'unknown'; readonly detail: string; readonly codes: readonly string[]; readonly retryable: boolean };

export interface Sent {
  readonly key: string;
  readonly mutation: Mutation;
  readonly input: Record<string, unknown>;
  /** The cycle (of kills or outages) it was sent in; 0 for the setup. */
  readonly cycle: number;
  /** The loop that sent it; -1 for the setup. */
  readonly loop: number;
  /** The first attempt's answer. */
  readonly first: Answer;
  /** Where the command's event is, once known (acknowledged first or resolved by a retry). */
  final?: Result;
  /** When that first acknowledgement arrived (ms since the epoch). */
  acknowledgedAt?: number;
  /** Retries sent, with their answers. */
  readonly retries: Answer[];
}

/** A violation found while checking a stream: a write applied twice, a write lost, or anything else that is wrong. */
export interface Finding {
  readonly kind: 'duplicate' | 'lost' | 'other';
  readonly what: string;
}

export function describeSent(s: Sent): string {
  return (
    `${s.mutation} (cycle ${s.cycle}, loop ${s.loop}, key ${s.key}) ${JSON.stringify(s.input)} → first ${JSON.stringify(s.first)}` +
    (s.retries.length ? `, retries ${JSON.stringify(s.retries)}` : '')
  );
}

/** Sends the stream's mutations to one server over HTTP. */
export class Client {
  constructor(
    readonly url: string,
    private readonly headers: Record<string, string>,
  ) {}

  async send(mutation: Mutation, input: Record<string, unknown>): Promise<Answer> {
    let status: number;
    type Body = {
      data?: Record<string, Result | null> | null;
      errors?: Array<{ message: string; extensions?: { code?: string; retryable?: boolean } }>;
    };
    let body: Body;
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.headers },
        body: JSON.stringify({ query: DOCUMENTS[mutation], variables: { input } }),
        signal: AbortSignal.timeout(15_000),
      });
      status = res.status;
      body = (await res.json()) as Body;
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const detail = `${(error as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
      return { outcome: 'unknown', detail, codes: [], retryable: false };
    }
    const result = body.data?.[mutation];
    if (status === 200 && result && !body.errors?.length) return { outcome: 'acknowledged', result };
    const errors = body.errors ?? [];
    const codes = errors.map((e) => e.extensions?.code ?? '?');
    const detail = `HTTP ${status}: ${JSON.stringify(body.errors ?? body)}`;
    if (codes.length > 0 && codes.every((c) => REFUSALS.has(c))) return { outcome: 'refused', detail };
    const retryable = errors.length > 0 && errors.every((e) => e.extensions?.retryable === true);
    return { outcome: 'unknown', detail, codes, retryable };
  }
}

// ───────────────────────────── The loops' models ─────────────────────────────

export type Status = 'PENDING' | 'CONFIRMED' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED';
export interface OrderModel {
  readonly id: string;
  status: Status;
  version: number;
}
export interface LoopModel {
  readonly index: number;
  readonly userId: string;
  userVersion: number;
  userName: string;
  readonly orders: OrderModel[];
  renames: number;
}

const NEXT: Record<Status, Array<'confirmOrder' | 'shipOrder' | 'deliverOrder' | 'cancelOrder'>> = {
  PENDING: ['confirmOrder', 'confirmOrder', 'cancelOrder'],
  CONFIRMED: ['shipOrder', 'shipOrder', 'cancelOrder'],
  SHIPPED: ['deliverOrder', 'deliverOrder', 'cancelOrder'],
  DELIVERED: [],
  CANCELLED: [],
};
const STATUS_AFTER: Record<string, Status> = {
  confirmOrder: 'CONFIRMED',
  shipOrder: 'SHIPPED',
  deliverOrder: 'DELIVERED',
  cancelOrder: 'CANCELLED',
};

/** The next command of a loop: always valid for the loop's (exact) model. */
function nextCommand(random: Random, loop: LoopModel, productIds: readonly string[]): { mutation: Mutation; input: Record<string, unknown> } {
  const open = loop.orders.filter((o) => NEXT[o.status].length > 0);
  const roll = random.next();
  if (roll < 0.15) {
    loop.renames++;
    const name = `Stream loop ${loop.index} rename ${loop.renames}`;
    return { mutation: 'updateUserProfile', input: { userId: loop.userId, expectedVersion: loop.userVersion, name } };
  }
  if (roll < 0.5 || open.length === 0) {
    const count = random.int(1, 3);
    const products = random.shuffled(productIds).slice(0, count);
    return {
      mutation: 'placeOrder',
      input: { userId: loop.userId, items: products.map((productId) => ({ productId, quantity: random.int(1, 5) })) },
    };
  }
  const order = random.pick(open);
  const mutation = random.pick(NEXT[order.status]);
  const input: Record<string, unknown> = { orderId: order.id, expectedVersion: order.version };
  if (mutation === 'cancelOrder') input.reason = `Stream test, from ${order.status.toLowerCase()}`;
  return { mutation, input };
}

// ───────────────────────────── The stream ─────────────────────────────

export interface CommandStreamOptions {
  readonly seed: number;
  /** Client loops, each with its own user and orders (default 4). */
  readonly loops?: number;
  /** Products in the catalog, added by `setUp` (default 5). */
  readonly products?: number;
}

export interface RunOptions {
  /** Recorded with each command. */
  readonly cycle: number;
  /** The server each loop sends to. */
  readonly clientOf: (loop: number) => Client;
  /** Checked before each new command: the loops end once it is true. */
  readonly stopped: () => boolean;
  /**
   * What a loop does with a command whose outcome is unknown: `stop` there
   * (its server was killed; the retry comes after the restart), or `retry` it
   * with the same key and input until it answers (the server stays, the
   * database is away), for at most `retryForMs`.
   */
  readonly unknown: 'stop' | 'retry';
  /** Default 60 s. */
  readonly retryForMs?: number;
}

export class CommandStream {
  /** Every command sent, the setup's included, in the order sent. */
  readonly sent: Sent[] = [];
  readonly loops: LoopModel[] = [];
  readonly productIds: string[] = [];
  readonly seed: number;
  private readonly random: Random;
  /** One generator per loop, so that a loop's choices do not depend on how the loops interleave. */
  private readonly loopRandom: Random[];
  private readonly loopCount: number;
  private readonly productCount: number;

  constructor(options: CommandStreamOptions) {
    this.seed = options.seed;
    this.loopCount = options.loops ?? 4;
    this.productCount = options.products ?? 5;
    this.random = prng(options.seed);
    this.loopRandom = Array.from({ length: this.loopCount }, (_, i) => prng(options.seed + 7919 * (i + 1)));
  }

  /** Adds the products and registers each loop's user, keyed like everything else; throws unless each is acknowledged. */
  async setUp(client: Client): Promise<void> {
    for (let i = 0; i < this.productCount; i++) {
      const price = `${this.random.int(1, 99)}.${this.random.int(10, 99)}`;
      const r = await this.send(client, 'addProduct', { name: `Stream product ${i}`, price }, 0, -1);
      if (!r.final) throw new Error(`setup: ${describeSent(r)}`);
      this.productIds.push(r.final.id);
    }
    for (let i = 0; i < this.loopCount; i++) {
      const name = `Stream loop ${i}`;
      const r = await this.send(client, 'registerUser', { name, email: uniqueEmail(`stream${i}`) }, 0, -1);
      if (!r.final) throw new Error(`setup: ${describeSent(r)}`);
      this.loops.push({ index: i, userId: r.final.id, userVersion: r.final.version, userName: name, orders: [], renames: 0 });
    }
  }

  /** Sends a command with a fresh key and records it. */
  async send(client: Client, mutation: Mutation, input: Record<string, unknown>, cycle: number, loop: number): Promise<Sent> {
    const key = `stream-${this.seed}-${cycle}-${loop}-${randomUUID()}`;
    const keyed = { ...input, idempotencyKey: key };
    const first = await client.send(mutation, keyed);
    const record: Sent = { key, mutation, input: keyed, cycle, loop, first, retries: [] };
    if (first.outcome === 'acknowledged') this.acknowledged(record, first.result);
    this.sent.push(record);
    return record;
  }

  /**
   * Runs every loop until `stopped()`; resolves when all have ended. A loop
   * also ends at a refusal (a finding for the audit) and, with `unknown:
   * 'stop'`, at a command whose outcome is unknown.
   */
  async run(options: RunOptions): Promise<void> {
    const retryFor = options.retryForMs ?? 60_000;
    await Promise.all(
      this.loops.map(async (loop) => {
        while (!options.stopped()) {
          const client = options.clientOf(loop.index);
          const { mutation, input } = nextCommand(this.loopRandom[loop.index]!, loop, this.productIds);
          const record = await this.send(client, mutation, input, options.cycle, loop.index);
          if (record.first.outcome === 'unknown' && options.unknown === 'retry') {
            const deadline = Date.now() + retryFor;
            for (let attempt = 0; !record.final && Date.now() < deadline; attempt++) {
              await sleep(Math.min(50 * 2 ** attempt, 500));
              const answer = await this.retry(client, record, 1);
              if (answer.outcome === 'refused') break;
            }
          }
          if (!record.final) return; // without an answer (or with a refusal) the model is unsure: this loop ends
          this.apply(record);
        }
      }),
    );
  }

  /** Commands of `cycle` whose outcome is still unknown. */
  unknownOf(cycle: number): Sent[] {
    return this.sent.filter((s) => s.cycle === cycle && !s.final && s.first.outcome === 'unknown');
  }

  /**
   * Resolves commands of unknown outcome: each is sent again twice at once,
   * as a client that gave up on the first might send them. Both must get the
   * one result, whether it committed before or now by one of them; the loops'
   * models then take it.
   */
  async resolve(client: Client, unknown: readonly Sent[]): Promise<Finding[]> {
    const findings: Finding[] = [];
    await Promise.all(unknown.flatMap((s) => [this.retry(client, s), this.retry(client, s)]));
    for (const s of unknown) {
      const answers = s.retries.filter((a) => a.outcome !== 'unknown');
      const results = answers.flatMap((a) => (a.outcome === 'acknowledged' ? [a.result] : []));
      if (answers.length !== 2 || results.length !== 2) {
        findings.push({ kind: 'other', what: `retries of an unknown command did not both acknowledge: ${describeSent(s)}` });
      } else if (!isDeepStrictEqual(results[0], results[1])) {
        findings.push({ kind: 'duplicate', what: `two retries of one key answered differently: ${describeSent(s)}` });
      }
      if (s.final) this.apply(s); // the first acknowledgement (retry() keeps it)
    }
    return findings;
  }

  /** Sends acknowledged commands again: each must answer with its first result, writing nothing. */
  async reask(client: Client, acknowledged: readonly Sent[]): Promise<Finding[]> {
    const findings: Finding[] = [];
    for (const s of acknowledged) {
      const answer = await this.retry(client, s);
      if (answer.outcome !== 'acknowledged') {
        findings.push({ kind: 'other', what: `retry of an acknowledged command did not acknowledge: ${describeSent(s)}` });
      } else if (!isDeepStrictEqual(answer.result, s.final)) {
        findings.push({ kind: 'duplicate', what: `retry of an acknowledged command answered anew: ${describeSent(s)}` });
      }
    }
    return findings;
  }

  /** Picks up to `count` acknowledged commands of `cycle`. */
  sampleAcknowledged(cycle: number, count: number): Sent[] {
    const acked = this.sent.filter((s) => s.cycle === cycle && s.first.outcome === 'acknowledged');
    return this.random.shuffled(acked).slice(0, count);
  }

  /** Sends `s` again, same key and input; an unknown answer is tried again, up to `attempts` in all, with backoff. */
  async retry(client: Client, s: Sent, attempts = 5): Promise<Answer> {
    for (let attempt = 1; ; attempt++) {
      const answer = await client.send(s.mutation, s.input);
      s.retries.push(answer);
      if (answer.outcome === 'acknowledged' && !s.final) this.acknowledged(s, answer.result);
      if (answer.outcome !== 'unknown' || attempt === attempts) return answer;
      await sleep(100 * 2 ** (attempt - 1));
    }
  }

  private acknowledged(s: Sent, result: Result) {
    s.final = result;
    s.acknowledgedAt = Date.now();
  }

  /** Applies a command's known result to its loop's model. */
  private apply(sent: Sent) {
    const loop = this.loops[sent.loop]!;
    const result = sent.final!;
    if (sent.mutation === 'updateUserProfile') {
      loop.userVersion = result.version;
      loop.userName = String(sent.input.name);
    } else if (sent.mutation === 'placeOrder') {
      loop.orders.push({ id: result.id, status: 'PENDING', version: result.version });
    } else {
      const order = loop.orders.find((o) => o.id === result.id)!;
      order.status = STATUS_AFTER[sent.mutation]!;
      order.version = result.version;
    }
  }

  /** The orders of every loop, as the models say they are. */
  modelOrders(): Array<{ id: string; status: Status; version: number }> {
    return this.loops.flatMap((l) => l.orders.map(({ id, status, version }) => ({ id, status, version })));
  }

  /** The loops' users, as the models say they are. */
  modelUsers(): Array<{ id: string; name: string; version: number }> {
    return this.loops.map((l) => ({ id: l.userId, name: l.userName, version: l.userVersion }));
  }
}
