import type { Client } from 'graphql-ws';
import { parseCursor, compareCursors, type Cursor } from '../../src/eventlog/cursor.js';
import { uniqueEmail } from './operations.js';
import type { GraphQLResponse } from './server.js';
import { wsClient } from './ws.js';

/**
 * Many clients writing and reading the same few ids at once, through one or
 * more server instances, while the projectors run: what the cache must get
 * right. Every answer is checked against what its client is entitled to:
 *
 * - read-your-writes: a payload's entity reflects the command's position;
 *   and a later read on an instance whose payload waited for a projection
 *   up to P reflects every write of this client up to P (the instance knew
 *   P when the read began);
 * - a client's reads on one instance never go backwards;
 * - a subscription message's state is never older than what a query on the
 *   same instance then returns.
 */

export interface RaceNode {
  readonly name: string;
  /** The server's GraphQL URL (http; subscriptions on the same path). */
  readonly url: string;
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
}

export interface RaceWorld {
  readonly users: Array<{ id: string; version: number; email: string; orders: string[] }>;
  readonly products: Array<{ id: string; version: number }>;
}

export interface RaceReport {
  readonly writes: number;
  readonly reads: number;
  /** Views checked against a subscription message. */
  readonly messagesChecked: number;
  readonly violations: string[];
}

async function ok<T = any>(node: RaceNode, query: string, variables?: Record<string, unknown>): Promise<T> {
  const res = await node.gql<T>(query, variables);
  if (res.errors?.length || !res.data) throw new Error(`${node.name}: ${JSON.stringify(res.errors)}`);
  return res.data;
}

/** A few users with orders, and products: the hot ids. */
export async function seedRaceWorld(node: RaceNode, counts = { users: 3, products: 6, ordersPerUser: 3 }): Promise<RaceWorld> {
  const products: RaceWorld['products'] = [];
  for (let i = 0; i < counts.products; i++) {
    const data = await ok(node, `mutation($i: AddProductInput!) { addProduct(input: $i) { productId version } }`, {
      i: { name: `Race item ${i}`, price: `${i + 1}.00` },
    });
    products.push({ id: data.addProduct.productId, version: data.addProduct.version });
  }
  const users: RaceWorld['users'] = [];
  for (let i = 0; i < counts.users; i++) {
    const email = uniqueEmail('race');
    const data = await ok(node, `mutation($i: RegisterUserInput!) { registerUser(input: $i) { userId version } }`, { i: { name: `Racer ${i}`, email } });
    const orders: string[] = [];
    for (let k = 0; k < counts.ordersPerUser; k++) {
      const placed = await ok(node, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { orderId } }`, {
        i: { userId: data.registerUser.userId, items: products.map((p, j) => ({ productId: p.id, quantity: j + 1 })) },
      });
      orders.push(placed.placeOrder.orderId);
    }
    users.push({ id: data.registerUser.userId, version: data.registerUser.version, email, orders });
  }
  return { users, products };
}

const READ = /* GraphQL */ `query($u: ID!, $o: ID!, $p: ID!) {
  user(id: $u) { id position }
  order(id: $o) { id position user { id position } items { product { id version } } }
  product(id: $p) { id version }
}`;

type Projection = 'users' | 'orders' | 'products';

/** One view as an answer showed it: how new it is (a position, or a product's version). */
interface Seen {
  readonly key: string;
  readonly projection: Projection;
  readonly position?: Cursor;
  readonly version?: number;
}

function seenIn(data: any): Seen[] {
  const out: Seen[] = [];
  const user = (u: any) => u && out.push({ key: `users:${u.id}`, projection: 'users', position: parseCursor(u.position)! });
  const product = (p: any) => p && out.push({ key: `products:${p.id}`, projection: 'products', version: p.version });
  user(data.user);
  if (data.order) {
    out.push({ key: `orders:${data.order.id}`, projection: 'orders', position: parseCursor(data.order.position)! });
    user(data.order.user);
    for (const item of data.order.items) product(item.product);
  }
  product(data.product);
  return out;
}

/** Whether `a` is older than `b`. */
const older = (a: Seen, b: { position?: Cursor; version?: number }) =>
  a.position && b.position ? compareCursors(a.position, b.position) < 0 : (a.version ?? 0) < (b.version ?? 0);

const describeSeen = (s: { position?: Cursor; version?: number }) => (s.position ? `${s.position.tx}:${s.position.pos}` : `version ${s.version}`);

/** One client: its writes and what each instance has shown it. */
class RaceClient {
  /** Per view: this client's writes, as their commands' positions (and a product's version). */
  private readonly writes = new Map<string, Array<{ position: Cursor; version?: number }>>();
  /** Per instance and projection: the position a payload there waited for. */
  private readonly known = new Map<string, Cursor>();
  /** Per instance and view: the newest state it showed this client. */
  private readonly last = new Map<string, Seen>();

  constructor(
    readonly name: string,
    private readonly violations: string[],
  ) {}

  /** This client's command changed the view `key` at `position`. */
  wrote(key: string, position: Cursor, version?: number): void {
    this.writes.set(key, [...(this.writes.get(key) ?? []), { position, version }]);
  }

  /** A payload on `node` waited until `projection` had reached `position` there. */
  reached(node: RaceNode, projection: Projection, position: Cursor): void {
    const k = `${node.name}:${projection}`;
    const known = this.known.get(k);
    if (!known || compareCursors(position, known) > 0) this.known.set(k, position);
  }

  check(node: RaceNode, what: string, seen: readonly Seen[]): void {
    for (const s of seen) {
      const known = this.known.get(`${node.name}:${s.projection}`);
      for (const w of this.writes.get(s.key) ?? []) {
        if (!known || compareCursors(w.position, known) > 0) continue;
        const entitled = s.projection === 'products' ? { version: w.version } : { position: w.position };
        if (older(s, entitled)) {
          this.violations.push(`${this.name} ${what} on ${node.name}: ${s.key} at ${describeSeen(s)}, older than its own write ${describeSeen(entitled)} known there`);
        }
      }
      const lastKey = `${node.name}:${s.key}`;
      const before = this.last.get(lastKey);
      if (before && older(s, before)) {
        this.violations.push(`${this.name} ${what} on ${node.name}: ${s.key} went back from ${describeSeen(before)} to ${describeSeen(s)}`);
      }
      if (!before || older(before, s)) this.last.set(lastKey, s);
    }
  }
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

export interface RaceOptions {
  /** Loop iterations of each writer (one per user of the world) and each reader. */
  readonly iterations: number;
  /** Clients that only read. */
  readonly readers: number;
  /** Subscribe on every instance to every hot user and order, and check a query after each message. */
  readonly subscriptions: boolean;
  /** Chance that a writer's read goes to the instance it wrote on (default 0.7). */
  readonly sameInstance?: number;
}

/** Runs the race on `nodes` over `world`; every violation is reported, none thrown. */
export async function race(nodes: readonly RaceNode[], world: RaceWorld, options: RaceOptions): Promise<RaceReport> {
  const violations: string[] = [];
  let writes = 0;
  let reads = 0;
  let messagesChecked = 0;
  const allOrders = world.users.flatMap((u) => u.orders);
  const read = async (client: RaceClient, node: RaceNode, what: string) => {
    const data = await ok(node, READ, { u: pick(world.users).id, o: pick(allOrders), p: pick(world.products).id });
    reads++;
    client.check(node, what, seenIn(data));
  };

  // Subscriptions: after each message, the same instance must answer at least as new.
  const sockets: Client[] = [];
  const checks: Array<Promise<void>> = [];
  let stopping = false;
  if (options.subscriptions) {
    for (const node of nodes) {
      const socket = wsClient(node.url);
      sockets.push(socket);
      const watch = (query: string, variables: Record<string, unknown>, field: string, projection: Projection, id: string) => {
        const client = new RaceClient(`subscriber ${field} ${id.slice(0, 8)}`, violations);
        socket.subscribe(
          { query, variables },
          {
            next: (message) => {
              if (stopping) return;
              const view = (message.data as any)?.[field];
              if (!view) return;
              const sent: Seen = { key: `${projection}:${id}`, projection, position: parseCursor(view.position)! };
              checks.push(
                ok(node, READ, { u: projection === 'users' ? id : world.users[0]!.id, o: projection === 'orders' ? id : allOrders[0], p: world.products[0]!.id }).then(
                  (data) => {
                    messagesChecked++;
                    const got = seenIn(data).find((s) => s.key === sent.key)!;
                    if (older(got, sent)) violations.push(`${client.name} on ${node.name}: query answered ${describeSeen(got)} after a message at ${describeSeen(sent)}`);
                  },
                  (error: unknown) => void violations.push(`${client.name} on ${node.name}: ${String(error)}`),
                ),
              );
            },
            error: (error) => void (stopping || violations.push(`subscription on ${node.name} failed: ${JSON.stringify(error)}`)),
            complete: () => undefined,
          },
        );
      };
      for (const user of world.users) {
        watch(`subscription($id: ID!) { userProfileChanged(userId: $id) { position } }`, { id: user.id }, 'userProfileChanged', 'users', user.id);
      }
      for (const order of allOrders) {
        watch(`subscription($id: ID!) { orderStatusChanged(orderId: $id) { position } }`, { id: order }, 'orderStatusChanged', 'orders', order);
      }
    }
  }

  const writer = async (index: number) => {
    const user = world.users[index]!;
    // Two products each: a payload that waits for one makes the client entitled to its write of the other.
    const products = [world.products[2 * index]!, world.products[2 * index + 1]!];
    const client = new RaceClient(`writer ${index}`, violations);
    const steps = new Map(user.orders.map((o) => [o, 0]));
    for (let i = 0; i < options.iterations; i++) {
      const node = pick(nodes);
      const roll = Math.random();
      // Half the payloads ask for their entity: those wait for the projection, the others do not.
      const entity = Math.random() < 0.5;
      if (roll < 0.5) {
        const data = await ok(node, `mutation($i: UpdateUserProfileInput!) { updateUserProfile(input: $i) { version position ${entity ? 'user { id position }' : ''} } }`, {
          i: { userId: user.id, expectedVersion: user.version, name: `Racer ${index} #${i}` },
        });
        const { version, position, user: view } = data.updateUserProfile;
        user.version = version;
        const at = parseCursor(position)!;
        // A rename changes the user's orders too (in the orders projection, which this payload did not wait for).
        client.wrote(`users:${user.id}`, at);
        for (const o of user.orders) client.wrote(`orders:${o}`, at);
        if (entity) {
          client.reached(node, 'users', at);
          client.check(node, 'updateUserProfile payload', [{ key: `users:${user.id}`, projection: 'users', position: parseCursor(view.position)! }]);
        }
      } else if (roll < 0.75) {
        const order = pick(user.orders);
        const step = steps.get(order)!;
        if (step >= 3) continue;
        const mutation = (['confirmOrder', 'shipOrder', 'deliverOrder'] as const)[step]!;
        const data = await ok(node, `mutation($i: OrderCommandInput!) { ${mutation}(input: $i) { position order { id position } } }`, { i: { orderId: order } });
        steps.set(order, step + 1);
        const { position, order: view } = data[mutation];
        client.wrote(`orders:${order}`, parseCursor(position)!);
        client.reached(node, 'orders', parseCursor(position)!);
        client.check(node, `${mutation} payload`, [{ key: `orders:${order}`, projection: 'orders', position: parseCursor(view.position)! }]);
      } else {
        const product = pick(products);
        const data = await ok(node, `mutation($i: UpdateProductInput!) { updateProduct(input: $i) { version position ${entity ? 'product { id version }' : ''} } }`, {
          i: { productId: product.id, expectedVersion: product.version, price: `${(i % 50) + 1}.${index}0` },
        });
        const { version, position, product: view } = data.updateProduct;
        product.version = version;
        client.wrote(`products:${product.id}`, parseCursor(position)!, version);
        if (entity) {
          client.reached(node, 'products', parseCursor(position)!);
          client.check(node, 'updateProduct payload', [{ key: `products:${product.id}`, projection: 'products', version: view.version }]);
        }
      }
      writes++;
      const readOn = Math.random() < (options.sameInstance ?? 0.7) ? node : pick(nodes);
      await read(client, readOn, 'query after a write');
    }
  };
  const reader = async (index: number) => {
    const client = new RaceClient(`reader ${index}`, violations);
    for (let i = 0; i < options.iterations * 2; i++) await read(client, pick(nodes), 'query');
  };

  try {
    // One writer per user: each knows its user's (and its products') versions.
    const writers = world.users.slice(0, Math.floor(world.products.length / 2)).map((_, i) => writer(i));
    await Promise.all([...writers, ...Array.from({ length: options.readers }, (_, i) => reader(i))]);
    await Promise.all(checks);
  } finally {
    stopping = true;
    await Promise.all(sockets.map((s) => s.dispose()));
  }
  return { writes, reads, messagesChecked, violations };
}
