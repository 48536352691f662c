import { createHash } from 'node:crypto';
import type DataLoader from 'dataloader';
import { ValidationError } from '../domain/errors.js';
import { isId } from '../domain/ids.js';
import type { Keyset, KeysetPage, KeysetWindow } from '../read-models/keyset.js';

export const MAX_PAGE_SIZE = 100;

/** `page` starts at 1; `pageSize` is 1–100. */
export function checkPage(page: number, pageSize: number): void {
  if (!Number.isInteger(page) || page < 1) throw new ValidationError('page', `expected an integer ≥ 1, got ${page}`);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new ValidationError('pageSize', `expected an integer from 1 to ${MAX_PAGE_SIZE}, got ${pageSize}`);
  }
}

type PageFields<K extends string> = { readonly [F in K]: <T>(p: { readonly items: readonly T[] }) => T[] } & {
  readonly totalPages: (p: { readonly total: number; readonly pageSize: number }) => number;
};

/** A page type's fields: its items under `field`, and the number of pages. */
export function pageFields<K extends string>(field: K): PageFields<K> {
  return {
    [field]: <T>(p: { readonly items: readonly T[] }) => p.items as T[],
    totalPages: (p: { readonly total: number; readonly pageSize: number }) => Math.ceil(p.total / p.pageSize),
  } as PageFields<K>;
}

/**
 * A page's entities by id, in the page's order, through `loader` (the cache,
 * then one statement for the ids it did not hold): cheaper than reading the
 * page's rows again when most are cached (bench/README.md, "Cache"). An id
 * whose view is gone since the page was read is left out; a failed load
 * fails the page.
 */
export async function viewsInOrder<V>(loader: DataLoader<string, V | null>, ids: readonly string[]): Promise<V[]> {
  const views = await loader.loadMany(ids);
  const failure = views.find((v): v is Error => v instanceof Error);
  if (failure) throw failure;
  return views.filter((v): v is V => v !== null);
}

// ───────────── Cursor connections (Relay) ─────────────

/** Page size of a connection asked for with neither `first` nor `last`. */
export const DEFAULT_CONNECTION_SIZE = 20;

export interface ConnectionArgs {
  readonly first?: number | null;
  readonly after?: string | null;
  readonly last?: number | null;
  readonly before?: string | null;
}

/**
 * What a cursor pages: the connection (`ordersConnection`,
 * `User.ordersConnection`, …) and the filter as the server applies it —
 * after access rules, so a customer's scope is part of it.
 */
export interface CursorScope {
  readonly connection: string;
  readonly filter: Readonly<Record<string, string | null | undefined>>;
}

/**
 * Cursors are opaque to clients: base64url of `{"c": connection, "k":
 * [createdAt, id], "h": digest}`, where the digest is a SHA-256 of the
 * connection, its filter and the key. A cursor from another connection or
 * another filter, or one whose key was changed, does not match it and is
 * refused. It is not signed with a secret on purpose: a cursor grants
 * nothing — every request applies the access rules to its own token, and a
 * key only says where to continue within what the caller may see anyway — so
 * a secret would buy no protection, while it would have to be shared by
 * every instance and would invalidate every cursor in flight when rotated.
 */
function digest(scope: CursorScope, key: readonly [string, string]): string {
  const filter = Object.keys(scope.filter)
    .sort()
    .map((name) => [name, scope.filter[name] ?? null]);
  return createHash('sha256').update(JSON.stringify([scope.connection, filter, key])).digest('base64url').slice(0, 22);
}

export function encodeCursor(scope: CursorScope, row: Keyset): string {
  const key = [row.createdAt.toISOString(), row.id] as const;
  return Buffer.from(JSON.stringify({ c: scope.connection, k: key, h: digest(scope, key) })).toString('base64url');
}

const BASE64URL = /^[A-Za-z0-9_-]{1,400}$/;
const ISO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The key a cursor names, if it is one of this scope's; BAD_USER_INPUT naming `field` otherwise. */
export function decodeCursor(scope: CursorScope, field: 'after' | 'before', cursor: string): Keyset {
  const bad = (why: string) => new ValidationError(field, why);
  let parsed: unknown;
  try {
    const bytes = Buffer.from(cursor, 'base64url');
    // Decoding is lenient (it ignores stray padding bits): a cursor must be exactly what encoding gave.
    if (!BASE64URL.test(cursor) || bytes.toString('base64url') !== cursor) throw bad('not a cursor');
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw bad('not a cursor');
  }
  const { c, k, h } = (parsed ?? {}) as { c?: unknown; k?: unknown; h?: unknown };
  const key = Array.isArray(k) && k.length === 2 ? k : null;
  const at = typeof key?.[0] === 'string' && ISO_MILLIS.test(key[0]) ? new Date(key[0]) : null;
  const id = typeof key?.[1] === 'string' && isId(key[1]) ? key[1] : null;
  if (typeof c !== 'string' || typeof h !== 'string' || !at || Number.isNaN(at.getTime()) || at.toISOString() !== key![0] || !id) {
    throw bad('not a cursor');
  }
  if (c !== scope.connection) throw bad(`a cursor of another connection, not of ${scope.connection}`);
  if (h !== digest(scope, [key![0], id])) throw bad(`not a cursor of ${scope.connection} with this filter (another filter's, or altered)`);
  return { createdAt: at, id };
}

/**
 * The window a connection's arguments ask for: `first` (with `after`) pages
 * forward, `last` (with `before`) backward, each 1–100; `first: 20` when
 * neither is given; both is BAD_USER_INPUT, as is a cursor not of `scope`.
 */
export function connectionWindow(args: ConnectionArgs, scope: CursorScope): KeysetWindow {
  const { first, last } = args;
  if (first != null && last != null) throw new ValidationError('first', 'give first or last, not both');
  const size = (name: 'first' | 'last', value: number) => {
    if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
      throw new ValidationError(name, `expected an integer from 1 to ${MAX_PAGE_SIZE}, got ${value}`);
    }
    return value;
  };
  return {
    take: last != null ? 'last' : 'first',
    count: last != null ? size('last', last) : first != null ? size('first', first) : DEFAULT_CONNECTION_SIZE,
    after: args.after != null ? decodeCursor(scope, 'after', args.after) : null,
    before: args.before != null ? decodeCursor(scope, 'before', args.before) : null,
  };
}

export interface EdgeModel<T> {
  readonly cursor: string;
  readonly node: T;
}

/** What a connection field returns; `totalCount` is counted only when asked for. */
export interface ConnectionModel<T> {
  readonly edges: ReadonlyArray<EdgeModel<T>>;
  readonly pageInfo: {
    readonly hasNextPage: boolean;
    readonly hasPreviousPage: boolean;
    readonly startCursor: string | null;
    readonly endCursor: string | null;
  };
  readonly count: () => Promise<number>;
}

/** A connection of a keyset page, its cursors bound to `scope`. */
export function toConnection<T extends Keyset>(scope: CursorScope, page: KeysetPage<T>, count: () => Promise<number>): ConnectionModel<T> {
  const edges = page.rows.map((node) => ({ cursor: encodeCursor(scope, node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNext,
      hasPreviousPage: page.hasPrevious,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    count,
  };
}

/** An empty connection (a filter that matches nothing by construction). */
export function emptyConnection<T>(): ConnectionModel<T> {
  return {
    edges: [],
    pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    count: async () => 0,
  };
}

/** A connection type's fields besides the ones read as they are. */
export const connectionFields = {
  edges: <T>(c: ConnectionModel<T>) => c.edges as Array<EdgeModel<T>>,
  totalCount: <T>(c: ConnectionModel<T>) => c.count(),
};
