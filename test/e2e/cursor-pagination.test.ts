/**
 * Cursor pagination end to end: `ordersConnection`, `User.ordersConnection`
 * and `usersConnection` over orders and users placed through the real
 * command path at times the test chooses (a command service with its own
 * clock on the server's database, so several share one `createdAt`),
 * projected by the running server, read through the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../../src/generated/prisma/client.js';
import type { AuthenticatedActor } from '../../src/domain/access.js';
import { keysetStatement } from '../../src/read-models/keyset.js';
import { ORDER_VIEW } from '../../src/read-models/orders/tables.js';
import { CommandService, type CommandContext } from '../../src/write/commands.js';
import { sqlWriteModel } from '../../src/write-model/stores.js';
import { customer } from '../support/auth.js';
import { codes } from '../support/operations.js';
import { waitUntilCaughtUp } from '../support/replay.js';
import { startTestServer, type TestServer } from '../support/server.js';

const ORDERS = `query($filter: OrderFilter, $first: Int, $after: String, $last: Int, $before: String) {
  ordersConnection(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id createdAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;
const USER_ORDERS = `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  user(id: $id) {
    ordersConnection(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { id } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      totalCount
    }
  }
}`;
const USERS = `query($first: Int, $after: String, $last: Int, $before: String) {
  usersConnection(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}`;

const STAFF: AuthenticatedActor = { role: 'admin', userId: 'cursor-test' };
const ctx: CommandContext = { actor: STAFF, metadata: { correlationId: 'cursor-pagination-test' } };

interface Connection {
  edges: Array<{ cursor: string; node: { id: string; createdAt?: string } }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount?: number;
}

let server: TestServer;
let now = new Date('2026-04-01T09:00:00.000Z');
let commands: CommandService;
let product: string;
const users: Record<string, string> = {};
/** Each user's orders, newest first by (createdAt, id) as the test computes it. */
const ordersOf: Record<string, string[]> = {};
/** Every user, newest first. */
let allUsers: string[] = [];
const placedAt = new Map<string, Date>();
const registeredAt = new Map<string, Date>();

/** Newest first: later createdAt first, equal ones by id descending (PostgreSQL orders uuids as their text). */
const newestFirst = (at: Map<string, Date>) => (a: string, b: string) =>
  at.get(b)!.getTime() - at.get(a)!.getTime() || (a < b ? 1 : a > b ? -1 : 0);

async function register(name: string, at: string) {
  now = new Date(at);
  const { id } = await commands.registerUser({ name, email: `${name.toLowerCase()}.${process.pid}@example.com` }, ctx);
  users[name] = id;
  registeredAt.set(id, now);
  ordersOf[name] = [];
}

async function place(name: string, at: string) {
  now = new Date(at);
  const { id } = await commands.placeOrder({ userId: users[name]!, items: [{ productId: product, quantity: 1 }] }, ctx);
  placedAt.set(id, now);
  ordersOf[name]!.push(id);
  ordersOf[name]!.sort(newestFirst(placedAt));
  return id;
}

beforeAll(async () => {
  server = await startTestServer();
  commands = new CommandService(sqlWriteModel(server.app.db.sql), { clock: () => now });
  // Alice and Bob register at the same instant: their order is decided by id.
  await register('Alice', '2026-04-01T09:00:00.000Z');
  await register('Bob', '2026-04-01T09:00:00.000Z');
  await register('Carol', '2026-04-01T09:30:00.000Z');
  await register('Dora', '2026-04-01T09:45:00.000Z');
  now = new Date('2026-04-01T09:50:00.000Z');
  ({ id: product } = await commands.addProduct({ name: 'Pencil', price: '1.50' }, ctx));
  // Alice: seven orders, three of them at the same millisecond.
  await place('Alice', '2026-04-01T10:00:00.000Z');
  await place('Alice', '2026-04-01T10:01:00.000Z');
  for (let i = 0; i < 3; i++) await place('Alice', '2026-04-01T10:02:00.000Z');
  await place('Alice', '2026-04-01T10:03:00.000Z');
  await place('Alice', '2026-04-01T10:04:00.000Z');
  // Bob's orders fall between Alice's: a filter must leave them out.
  await place('Bob', '2026-04-01T10:00:30.000Z');
  await place('Bob', '2026-04-01T10:02:00.000Z');
  for (let i = 0; i < 5; i++) await place('Carol', `2026-04-01T11:0${i}:00.000Z`);
  for (let i = 0; i < 21; i++) await place('Dora', new Date(Date.parse('2026-04-01T12:00:00.000Z') + i * 1000).toISOString());
  allUsers = Object.values(users).sort(newestFirst(registeredAt));
  await waitUntilCaughtUp(server);
}, 180_000);
afterAll(() => server?.stop());

const ids = (c: Connection) => c.edges.map((e) => e.node.id);

/** Every page forward (`first: size`, then `after` each end cursor) until there is no next page. */
async function forward(fetch: (args: Record<string, unknown>) => Promise<Connection>, size: number): Promise<Connection[]> {
  const pages = [await fetch({ first: size })];
  while (pages.at(-1)!.pageInfo.hasNextPage) pages.push(await fetch({ first: size, after: pages.at(-1)!.pageInfo.endCursor }));
  return pages;
}

/** Every page backward (`last: size`, then `before` each start cursor) until there is no previous page. */
async function backward(fetch: (args: Record<string, unknown>) => Promise<Connection>, size: number): Promise<Connection[]> {
  const pages = [await fetch({ last: size })];
  while (pages.at(-1)!.pageInfo.hasPreviousPage) pages.push(await fetch({ last: size, before: pages.at(-1)!.pageInfo.startCursor }));
  return pages;
}

const chunks = <T>(items: readonly T[], size: number) =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));
/** The same items cut into pages of `size` from the oldest end, oldest page first in the result's last place. */
const chunksFromEnd = <T>(items: readonly T[], size: number) => chunks([...items].reverse(), size).map((c) => c.reverse());

const ordersOfUser = (userId: string, who?: AuthenticatedActor) => async (args: Record<string, unknown>) => {
  const client = who ? server.as(who) : server;
  return (await client.ok(ORDERS, { filter: { userId }, ...args })).ordersConnection as Connection;
};

describe('ordersConnection', () => {
  it('pages forward newest first, ties on createdAt broken by id, with exact pageInfo at both ends', async () => {
    const alice = ordersOf.Alice!;
    const tied = alice.filter((id) => placedAt.get(id)!.toISOString() === '2026-04-01T10:02:00.000Z');
    expect(tied).toHaveLength(3);
    const pages = await forward(ordersOfUser(users.Alice!), 2);
    expect(pages.map(ids)).toEqual(chunks(alice, 2));
    // Pages of 2 cut through the three tied orders: [7th, 6th], [tie, tie], [tie, 2nd], [1st].
    expect(pages[1]!.edges.map((e) => e.node.createdAt)).toEqual(['2026-04-01T10:02:00.000Z', '2026-04-01T10:02:00.000Z']);
    expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual([true, true, true, false]);
    expect(pages.map((p) => p.pageInfo.hasPreviousPage)).toEqual([false, true, true, true]);
    for (const page of pages) {
      expect(page.pageInfo.startCursor).toBe(page.edges[0]!.cursor);
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)!.cursor);
    }
  });

  it('pages backward from the oldest, with exact pageInfo at both ends', async () => {
    const alice = ordersOf.Alice!;
    const pages = await backward(ordersOfUser(users.Alice!), 2);
    expect(pages.map(ids)).toEqual(chunksFromEnd(alice, 2));
    expect(pages.map(ids)).toEqual([[alice[5], alice[6]], [alice[3], alice[4]], [alice[1], alice[2]], [alice[0]]]);
    expect(pages.map((p) => p.pageInfo.hasPreviousPage)).toEqual([true, true, true, false]);
    expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual([false, true, true, true]);
  });

  it('turns back: `last` before a page’s start cursor gives the pages before it', async () => {
    const alice = ordersOf.Alice!;
    const fetch = ordersOfUser(users.Alice!);
    const third = await fetch({ first: 2, after: (await fetch({ first: 4 })).pageInfo.endCursor });
    expect(ids(third)).toEqual(alice.slice(4, 6));
    const back = await fetch({ last: 3, before: third.pageInfo.startCursor });
    expect(ids(back)).toEqual(alice.slice(1, 4));
    expect(back.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
    // Both cursors: what lies between them.
    const between = await fetch({ after: back.edges[0]!.cursor, before: third.pageInfo.endCursor });
    expect(ids(between)).toEqual(alice.slice(2, 5));
  });

  it('filters like orders: by user and status, staff seeing everyone', async () => {
    const everyone = Object.values(ordersOf).flat().sort(newestFirst(placedAt));
    const all = await forward(async (args) => (await server.ok(ORDERS, args)).ordersConnection, 7);
    expect(all.flatMap(ids)).toEqual(everyone);
    const pending = await forward(async (args) => (await server.ok(ORDERS, { filter: { status: 'PENDING', userId: users.Bob }, ...args })).ordersConnection, 1);
    expect(pending.flatMap(ids)).toEqual(ordersOf.Bob);
    const none = (await server.ok(ORDERS, { filter: { status: 'SHIPPED' } })).ordersConnection;
    expect(none).toEqual({ edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } });
  });

  it('counts totalCount only when it is asked for', async () => {
    server.statements.length = 0;
    await server.ok(ORDERS, { filter: { userId: users.Dora } });
    expect(server.statements.filter((sql) => /count\(\*\)/.test(sql))).toEqual([]);
    const counted = await server.ok(`query($f: OrderFilter) { ordersConnection(filter: $f, first: 1) { totalCount edges { node { id } } } }`, { f: { userId: users.Dora } });
    expect(counted.ordersConnection.totalCount).toBe(21);
    expect(server.statements.filter((sql) => /count\(\*\)/.test(sql))).toHaveLength(1);
  });

  it('gives 20 without first or last, and takes 1 to 100 of either; both, or outside 1–100, is BAD_USER_INPUT', async () => {
    const dora = ordersOf.Dora!;
    const fetch = ordersOfUser(users.Dora!);
    expect(ids(await fetch({}))).toEqual(dora.slice(0, 20));
    expect(ids(await fetch({ first: 100 }))).toEqual(dora);
    expect(ids(await fetch({ last: 100 }))).toEqual(dora);
    expect(ids(await fetch({ first: 1 }))).toEqual(dora.slice(0, 1));
    expect(ids(await fetch({ last: 1 }))).toEqual(dora.slice(-1));
    for (const args of [{ first: 0 }, { first: 101 }, { first: -1 }, { last: 0 }, { last: 101 }, { first: 5, last: 5 }]) {
      const response = await server.gql(ORDERS, { filter: { userId: users.Dora }, ...args });
      expect(codes(response), JSON.stringify(args)).toEqual(['BAD_USER_INPUT']);
      expect(response.data ?? null).toBeNull();
    }
  });

  it('an order placed between two page requests neither repeats nor skips one going forward', async () => {
    const carol = [...ordersOf.Carol!];
    const fetch = ordersOfUser(users.Carol!);
    const first = await fetch({ first: 2 });
    expect(ids(first)).toEqual(carol.slice(0, 2));
    const offsetBefore = await server.ok(`query($f: OrderFilter) { orders(filter: $f, page: 2, pageSize: 2) { orders { id } } }`, { f: { userId: users.Carol } });
    expect(offsetBefore.orders.orders.map((o: { id: string }) => o.id)).toEqual(carol.slice(2, 4));

    const placed = await place('Carol', '2026-04-01T13:00:00.000Z');
    await waitUntilCaughtUp(server);
    // The fault this guards against: offset pages shift, page 2 now repeats page 1's last order.
    const offsetAfter = await server.ok(`query($f: OrderFilter) { orders(filter: $f, page: 2, pageSize: 2) { orders { id } } }`, { f: { userId: users.Carol } });
    expect(offsetAfter.orders.orders.map((o: { id: string }) => o.id)).toEqual(carol.slice(1, 3));

    const second = await fetch({ first: 2, after: first.pageInfo.endCursor });
    const third = await fetch({ first: 2, after: second.pageInfo.endCursor });
    expect([ids(second), ids(third)]).toEqual([carol.slice(2, 4), carol.slice(4)]);
    expect(third.pageInfo.hasNextPage).toBe(false);
    // The new order is before the first page: turning back from it finds exactly that one.
    const newer = await fetch({ last: 2, before: first.pageInfo.startCursor });
    expect(ids(newer)).toEqual([placed]);
    expect(newer.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
  });

  describe('cursors', () => {
    let cursor: string;
    beforeAll(async () => {
      cursor = (await ordersOfUser(users.Alice!)({ first: 2 })).pageInfo.endCursor!;
    });
    const refused = async (variables: Record<string, unknown>, who?: AuthenticatedActor) => {
      const response = await (who ? server.as(who) : server).gql(ORDERS, variables);
      expect(response.data ?? null, JSON.stringify(variables)).toBeNull();
      return { codes: codes(response), message: response.errors?.[0]?.message ?? '' };
    };
    const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

    it('are accepted as issued', async () => {
      expect(ids(await ordersOfUser(users.Alice!)({ first: 2, after: cursor }))).toEqual(ordersOf.Alice!.slice(2, 4));
    });

    it('refuse what is not a cursor as BAD_USER_INPUT, for after and before', async () => {
      const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      const malformed = [
        '',
        'abc',
        '!!!!',
        `${cursor}=`,
        b64('not json'),
        b64('null'),
        b64([1, 2]),
        b64({ ...decoded, k: undefined }),
        b64({ ...decoded, k: [decoded.k[0]] }),
        b64({ ...decoded, k: ['yesterday', decoded.k[1]] }),
        b64({ ...decoded, k: ['2026-02-30T10:00:00.000Z', decoded.k[1]] }),
        b64({ ...decoded, k: [decoded.k[0], 'not-a-uuid'] }),
        b64({ ...decoded, k: [decoded.k[0], `${decoded.k[1]}'; DROP TABLE order_view; --`] }),
        'x'.repeat(5000),
      ];
      for (const bad of malformed) {
        for (const field of ['after', 'before']) {
          const result = await refused({ filter: { userId: users.Alice }, [field]: bad });
          expect(result.codes, `${field}: ${bad}`).toEqual(['BAD_USER_INPUT']);
          expect(result.message).toBe(`${field}: not a cursor`);
        }
      }
    });

    it('refuse a cursor changed in any one character, or whose key was changed', async () => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      for (let i = 0; i < cursor.length; i++) {
        const other = alphabet[(alphabet.indexOf(cursor[i]!) + 1) % alphabet.length]!;
        const tampered = cursor.slice(0, i) + other + cursor.slice(i + 1);
        expect((await refused({ filter: { userId: users.Alice }, after: tampered })).codes, `position ${i}`).toEqual(['BAD_USER_INPUT']);
      }
      // Decoded, another key put in, encoded again: valid in form, but not what the server issued.
      const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      const moved = b64({ ...decoded, k: [decoded.k[0], ordersOf.Alice![5]] });
      const result = await refused({ filter: { userId: users.Alice }, after: moved });
      expect(result).toEqual({ codes: ['BAD_USER_INPUT'], message: expect.stringMatching(/^after: not a cursor of ordersConnection with this filter/) });
    });

    it('refuse a cursor of another filter or another connection', async () => {
      const statusCursor = (await server.ok(ORDERS, { filter: { userId: users.Alice, status: 'PENDING' }, first: 1 })).ordersConnection.pageInfo.endCursor;
      const unfiltered = (await server.ok(ORDERS, { first: 1 })).ordersConnection.pageInfo.endCursor;
      const usersCursor = (await server.ok(USERS, { first: 1 })).usersConnection.pageInfo.endCursor;
      const nested = (await server.ok(USER_ORDERS, { id: users.Alice, first: 1 })).user.ordersConnection.pageInfo.endCursor;
      for (const [foreign, why] of [
        [statusCursor, /with this filter/],
        [unfiltered, /with this filter/],
        [(await ordersOfUser(users.Bob!)({ first: 1 })).pageInfo.endCursor, /with this filter/],
        [usersCursor, /another connection/],
        [nested, /another connection/],
      ] as const) {
        const result = await refused({ filter: { userId: users.Alice }, after: foreign });
        expect(result.codes).toEqual(['BAD_USER_INPUT']);
        expect(result.message).toMatch(why);
      }
      // …and the other way round.
      expect(codes(await server.gql(USERS, { after: cursor }))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await server.gql(USER_ORDERS, { id: users.Alice, before: cursor }))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await server.gql(USER_ORDERS, { id: users.Bob, after: nested }))).toEqual(['BAD_USER_INPUT']);
    });
  });

  describe('access, as for orders', () => {
    it('shows a customer their own orders only, with or without their own filter', async () => {
      const alice = customer(users.Alice!);
      const mine = await forward(async (args) => (await server.as(alice).ok(ORDERS, args)).ordersConnection, 3);
      expect(mine.flatMap(ids)).toEqual(ordersOf.Alice);
      // The same set, the same cursors: a cursor of one pages the other.
      const filtered = await ordersOfUser(users.Alice!, alice)({ first: 3, after: mine[0]!.pageInfo.endCursor });
      expect(ids(filtered)).toEqual(ids(mine[1]!));
    });

    it("refuses another user's filter as FORBIDDEN, and anonymous callers as UNAUTHENTICATED", async () => {
      const alice = customer(users.Alice!);
      expect(codes(await server.as(alice).gql(ORDERS, { filter: { userId: users.Bob } }))).toEqual(['FORBIDDEN']);
      expect(codes(await server.as('anonymous').gql(ORDERS, {}))).toEqual(['UNAUTHENTICATED']);
    });

    it("refuses staff's or another customer's cursor to a customer", async () => {
      const staffCursor = (await server.ok(ORDERS, { first: 1 })).ordersConnection.pageInfo.endCursor;
      const bobCursor = (await server.as(customer(users.Bob!)).ok(ORDERS, { first: 1 })).ordersConnection.pageInfo.endCursor;
      for (const after of [staffCursor, bobCursor]) {
        expect(codes(await server.as(customer(users.Alice!)).gql(ORDERS, { after }))).toEqual(['BAD_USER_INPUT']);
      }
    });
  });

  it.each([
    ['all orders', [], 'order_view_created_at_id_idx'],
    ['one user', [Prisma.sql`t.user_id = '00000000-0000-4000-8000-000000000000'::uuid`], 'order_view_user_id_created_at_id_idx'],
    ['one status', [Prisma.sql`t.status = 'PENDING'::"OrderStatus"`], 'order_view_status_created_at_id_idx'],
  ])('reads a window of %s along its index: the keyset in the index condition, no sort', async (_, conditions, index) => {
    const key = { createdAt: new Date('2026-04-01T10:02:00.000Z'), id: ordersOf.Alice![3]! };
    for (const window of [
      { take: 'first', count: 20, after: key, before: null },
      { take: 'last', count: 20, after: null, before: key },
    ] as const) {
      const statement = keysetStatement(ORDER_VIEW, 't', conditions, window);
      // The tables are tiny: without sequential scans the planner shows which index serves the order.
      const plan = await server.app.db.sql.$transaction(async (tx) => {
        await tx.$executeRaw`SET LOCAL enable_seqscan = off`;
        return tx.$queryRaw<Array<{ 'QUERY PLAN': string }>>`EXPLAIN ${statement}`;
      });
      const text = plan.map((row) => row['QUERY PLAN']).join('\n');
      expect(text, text).toContain(`Index Scan${window.take === 'last' ? ' Backward' : ''} using ${index} on order_view t`);
      expect(text, text).toMatch(/Index Cond: .*ROW\(created_at, id\) [<>]/);
      expect(text, text).not.toMatch(/Sort/);
    }
  });
});

describe('User.ordersConnection', () => {
  const fetchFor = (name: string) => async (args: Record<string, unknown>) =>
    (await server.ok(USER_ORDERS, { id: users[name], ...args })).user.ordersConnection as Connection;

  it('pages a user’s orders forward and backward, cursors its own', async () => {
    const forwardPages = await forward(fetchFor('Alice'), 3);
    expect(forwardPages.map(ids)).toEqual(chunks(ordersOf.Alice!, 3));
    expect(forwardPages.map((p) => [p.pageInfo.hasPreviousPage, p.pageInfo.hasNextPage])).toEqual([[false, true], [true, true], [true, false]]);
    expect(forwardPages[0]!.totalCount).toBe(7);
    const backwardPages = await backward(fetchFor('Alice'), 3);
    expect(backwardPages.map(ids)).toEqual(chunksFromEnd(ordersOf.Alice!, 3));
    expect(backwardPages.map((p) => [p.pageInfo.hasPreviousPage, p.pageInfo.hasNextPage])).toEqual([[true, false], [true, true], [false, true]]);
    expect(codes(await server.gql(USER_ORDERS, { id: users.Alice, first: 3, last: 3 }))).toEqual(['BAD_USER_INPUT']);
  });

  /** Background work (projectors, subscription feeds) also sends statements; they are not the query's. */
  const BACKGROUND = /event_log|_change|projection_checkpoint|pg_notify/;
  const NESTED = `query($n: Int!) {
    usersConnection(first: $n) {
      edges { node { id ordersConnection(first: 2) { totalCount edges { node { id user { name } } } pageInfo { hasNextPage } } } }
    }
  }`;

  it('is batched: a page of users with their orders costs the same few statements however many users', async () => {
    const statementsFor = async (n: number) => {
      server.statements.length = 0;
      const data = await server.ok(NESTED, { n });
      return { count: server.statements.filter((sql) => !BACKGROUND.test(sql)).length, data };
    };
    const one = await statementsFor(1);
    const all = await statementsFor(100);
    expect(all.data.usersConnection.edges.map((e: any) => e.node.id)).toEqual(allUsers);
    for (const { node } of all.data.usersConnection.edges) {
      const name = Object.keys(users).find((n) => users[n] === node.id)!;
      expect(node.ordersConnection.edges.map((e: any) => e.node.id)).toEqual(ordersOf[name]!.slice(0, 2));
      expect(node.ordersConnection.totalCount).toBe(ordersOf[name]!.length);
      expect(node.ordersConnection.pageInfo.hasNextPage).toBe(ordersOf[name]!.length > 2);
    }
    // users, their order windows, their order counts, the orders' users.
    expect(all.count).toBe(4);
    expect(one.count).toBe(all.count);
  });

  it('costs first × what it selects, so nested connections cannot dodge the cost limit', async () => {
    const deep = `{ ordersConnection(first: 100) { edges { node { user { ordersConnection(first: 100) { edges { node { id } } } } } } } }`;
    const response = await server.gql(deep);
    expect(codes(response)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(response.errors?.[0]?.message).toMatch(/^Query cost \d+ exceeds the limit of 10000/);
    expect(codes(await server.gql(deep.replaceAll('100', '5')))).toEqual([]);
  });
});

describe('usersConnection', () => {
  const fetch = async (args: Record<string, unknown>) => (await server.ok(USERS, args)).usersConnection as Connection;

  it('pages users newest first, ties on createdAt broken by id, both ways', async () => {
    expect(registeredAt.get(users.Alice!)).toEqual(registeredAt.get(users.Bob!));
    const forwardPages = await forward(fetch, 3);
    expect(forwardPages.map(ids)).toEqual(chunks(allUsers, 3));
    expect(forwardPages.map((p) => [p.pageInfo.hasPreviousPage, p.pageInfo.hasNextPage])).toEqual([[false, true], [true, false]]);
    expect(forwardPages[0]!.totalCount).toBe(4);
    const backwardPages = await backward(fetch, 3);
    expect(backwardPages.map(ids)).toEqual(chunksFromEnd(allUsers, 3));
    expect(backwardPages.map((p) => [p.pageInfo.hasPreviousPage, p.pageInfo.hasNextPage])).toEqual([[true, false], [false, true]]);
  });

  it('is for staff only', async () => {
    expect(codes(await server.as(customer(users.Alice!)).gql(USERS, {}))).toEqual(['FORBIDDEN']);
    expect(codes(await server.as('anonymous').gql(USERS, {}))).toEqual(['UNAUTHENTICATED']);
  });
});
