import { Prisma } from '../generated/prisma/client.js';
import { AlreadyExistsError } from '../domain/errors.js';
import type { AggregateType, AnyDomainEvent } from '../domain/events.js';
import { centsFromDecimal, formatMoney } from '../domain/money.js';
import type { Order, OrderEvent, OrderStatus } from '../domain/orders.js';
import type { Product, ProductEvent } from '../domain/products.js';
import type { User, UserEvent } from '../domain/users.js';
import { appendEventsSql, lastAppended } from '../eventlog/append.js';
import { formatCursor } from '../eventlog/cursor.js';
import type { SqlClient } from '../eventlog/sql-client.js';
import {
  ConcurrencyError,
  type AggregateStore,
  type Appended,
  type Loaded,
  type OrderReferences,
  type SaveRequest,
  type WriteModel,
} from '../write/ports.js';
import { idempotencyKeys } from './idempotency.js';
import { isUniqueViolation } from './postgres-errors.js';

/*
 * Loads and saves are plain SQL (`$queryRaw`), never Prisma model queries:
 * Prisma 6.19 compiles each model query in its WASM query compiler, which
 * costs about twice the CPU of the same statement sent raw (findUnique
 * 1.4 ms against 0.6 ms; bench/micro/prisma-overhead.ts).
 */

/**
 * Each save is ONE SQL statement: CTEs that make a guarded write of the
 * aggregate's rows (insert for version 0, `UPDATE … WHERE version = expected`
 * otherwise) and end in one named `w` that returns a row when it succeeded,
 * followed by the event-log insert as another data-modifying CTE. PostgreSQL runs a
 * statement atomically, so state and events commit together or not at all,
 * in one round trip. A guarded write that matched no row means someone else
 * committed first: nothing was appended, and a ConcurrencyError is thrown.
 */
async function saveWithEvents<S, E extends AnyDomainEvent>(
  db: SqlClient,
  aggregateType: AggregateType,
  request: SaveRequest<S, E>,
  writeCtes: Prisma.Sql,
): Promise<Appended> {
  const append = appendEventsSql('w', {
    aggregateType,
    aggregateId: request.id,
    fromVersion: request.expectedVersion,
    events: request.events,
    metadata: request.metadata,
    occurredAt: request.now,
  });
  // With an idempotency key, the key and the command's result are stored by
  // the same statement: it exists exactly when the events do. A second
  // attempt with the key fails on its primary key and writes nothing.
  const key = request.idempotency;
  const remember = key
    ? Prisma.sql`, k AS (
        INSERT INTO idempotency_key (scope, key, command, request_hash, result, created_at, expires_at)
        SELECT ${key.scope}, ${key.key}, ${key.command}, ${key.requestHash},
          jsonb_build_object('id', ${request.id}::text, 'version', ${request.expectedVersion + request.events.length}::int,
            'position', last.tx || ':' || last.pos),
          ${request.now}, ${key.expiresAt}
        FROM (SELECT tx, pos FROM e ORDER BY pos::bigint DESC LIMIT 1) AS last)`
    : Prisma.empty;
  const rows = await db.$queryRaw<Array<{ tx: string; pos: string }>>`
    WITH ${writeCtes}, e AS (${append})${remember}
    SELECT tx, pos FROM e`;
  const last = lastAppended(rows);
  if (!last) throw new ConcurrencyError(aggregateType, request.id, request.expectedVersion);
  return { version: request.expectedVersion + request.events.length, position: formatCursor(last) };
}

class UserStore implements AggregateStore<User, UserEvent> {
  readonly aggregateType = 'User' as const;
  constructor(private readonly db: SqlClient) {}

  async load(id: string): Promise<Loaded<User> | null> {
    const [row] = await this.db.$queryRaw<Array<User & { version: number }>>`
      SELECT id::text, name, email, version FROM users WHERE id = ${id}::uuid`;
    return row ? { state: { id: row.id, name: row.name, email: row.email }, version: row.version } : null;
  }

  async save(request: SaveRequest<User, UserEvent>): Promise<Appended> {
    const { id, name, email } = request.state;
    const version = request.expectedVersion + request.events.length;
    const write =
      request.expectedVersion === 0
        ? Prisma.sql`INSERT INTO users (id, name, email, email_key, version, created_at, updated_at)
            VALUES (${id}::uuid, ${name}, ${email}, ${email.toLowerCase()}, ${version}, ${request.now}, ${request.now})
            ON CONFLICT (id) DO NOTHING RETURNING id`
        : Prisma.sql`UPDATE users SET name = ${name}, email = ${email}, email_key = ${email.toLowerCase()},
            version = ${version}, updated_at = ${request.now}
            WHERE id = ${id}::uuid AND version = ${request.expectedVersion} RETURNING id`;
    try {
      return await saveWithEvents(this.db, this.aggregateType, request, Prisma.sql`w AS (${write})`);
    } catch (error) {
      if (isUniqueViolation(error, 'email_key')) {
        throw new AlreadyExistsError(`A user with email ${email} already exists`);
      }
      throw error;
    }
  }
}

class ProductStore implements AggregateStore<Product, ProductEvent> {
  readonly aggregateType = 'Product' as const;
  constructor(private readonly db: SqlClient) {}

  async load(id: string): Promise<Loaded<Product> | null> {
    const [row] = await this.db.$queryRaw<ProductRow[]>`
      SELECT id::text, name, price::text, version FROM products WHERE id = ${id}::uuid`;
    return row ? { state: toProduct(row), version: row.version } : null;
  }

  save(request: SaveRequest<Product, ProductEvent>): Promise<Appended> {
    const { id, name, price } = request.state;
    const version = request.expectedVersion + request.events.length;
    const write =
      request.expectedVersion === 0
        ? Prisma.sql`INSERT INTO products (id, name, price, version, created_at, updated_at)
            VALUES (${id}::uuid, ${name}, ${formatMoney(price)}::numeric, ${version}, ${request.now}, ${request.now})
            ON CONFLICT (id) DO NOTHING RETURNING id`
        : Prisma.sql`UPDATE products SET name = ${name}, price = ${formatMoney(price)}::numeric,
            version = ${version}, updated_at = ${request.now}
            WHERE id = ${id}::uuid AND version = ${request.expectedVersion} RETURNING id`;
    return saveWithEvents(this.db, this.aggregateType, request, Prisma.sql`w AS (${write})`);
  }
}

interface ProductRow {
  id: string;
  name: string;
  /** numeric(14, 2) as text: always two decimals. */
  price: string;
  version: number;
}

function toProduct(row: ProductRow): Product {
  return { id: row.id, name: row.name, price: centsFromDecimal(row.price) };
}

interface OrderRow {
  id: string;
  user_id: string;
  status: OrderStatus;
  cancellation_reason: string | null;
  total: string;
  version: number;
  lines: Array<{ productId: string; productName: string; unitPrice: string; quantity: number }>;
}

class OrderStore implements AggregateStore<Order, OrderEvent> {
  readonly aggregateType = 'Order' as const;
  constructor(private readonly db: SqlClient) {}

  /** One round trip: the order with its lines aggregated as JSON. */
  async load(id: string): Promise<Loaded<Order> | null> {
    const [row] = await this.db.$queryRaw<OrderRow[]>`
      SELECT o.id::text, o.user_id::text, o.status::text, o.cancellation_reason, o.total::text, o.version,
        COALESCE((SELECT json_agg(json_build_object('productId', l.product_id, 'productName', l.product_name,
                   'unitPrice', l.unit_price::text, 'quantity', l.quantity) ORDER BY l.line_no)
                  FROM order_lines l WHERE l.order_id = o.id), '[]'::json) AS lines
      FROM orders o WHERE o.id = ${id}::uuid`;
    if (!row) return null;
    return {
      version: row.version,
      state: {
        id: row.id,
        userId: row.user_id,
        status: row.status,
        cancellationReason: row.cancellation_reason,
        total: centsFromDecimal(row.total),
        lines: row.lines.map((l) => ({ ...l, unitPrice: centsFromDecimal(l.unitPrice) })),
      },
    };
  }

  save(request: SaveRequest<Order, OrderEvent>): Promise<Appended> {
    const order = request.state;
    const version = request.expectedVersion + request.events.length;
    if (request.expectedVersion !== 0) {
      const write = Prisma.sql`UPDATE orders SET status = ${order.status}::"OrderStatus",
          cancellation_reason = ${order.cancellationReason}, version = ${version}, updated_at = ${request.now}
          WHERE id = ${order.id}::uuid AND version = ${request.expectedVersion} RETURNING id`;
      return saveWithEvents(this.db, this.aggregateType, request, Prisma.sql`w AS (${write})`);
    }
    const lines = order.lines.map((l, index) => ({
      line_no: index + 1,
      product_id: l.productId,
      product_name: l.productName,
      unit_price: formatMoney(l.unitPrice),
      quantity: l.quantity,
    }));
    // The lines ride along as another CTE; they are inserted only if the order was.
    const writes = Prisma.sql`
      o AS (
        INSERT INTO orders (id, user_id, status, cancellation_reason, total, version, created_at, updated_at)
        VALUES (${order.id}::uuid, ${order.userId}::uuid, ${order.status}::"OrderStatus", NULL,
                ${formatMoney(order.total)}::numeric, ${version}, ${request.now}, ${request.now})
        ON CONFLICT (id) DO NOTHING RETURNING id
      ), l AS (
        INSERT INTO order_lines (order_id, line_no, product_id, product_name, unit_price, quantity)
        SELECT o.id, x.line_no, x.product_id, x.product_name, x.unit_price, x.quantity
        FROM o CROSS JOIN jsonb_to_recordset(${JSON.stringify(lines)}::jsonb)
          AS x(line_no int, product_id uuid, product_name text, unit_price numeric, quantity int)
      ), w AS (SELECT id FROM o)`;
    return saveWithEvents(this.db, this.aggregateType, request, writes);
  }
}

/** The customer and the products of a new order, as two subselects of one statement. */
function orderReferences(db: SqlClient): OrderReferences {
  return {
    async load(userId, productIds) {
      const [row] = await db.$queryRaw<Array<{ customer: (User & { version: number }) | null; products: ProductRow[] }>>`
        SELECT
          (SELECT json_build_object('id', u.id::text, 'name', u.name, 'email', u.email, 'version', u.version)
           FROM users u WHERE u.id = ${userId}::uuid) AS customer,
          (SELECT coalesce(json_agg(json_build_object('id', p.id::text, 'name', p.name, 'price', p.price::text, 'version', p.version)), '[]'::json)
           FROM products p WHERE p.id = ANY(string_to_array(${productIds.join(',')}, ',')::uuid[])) AS products`;
      const customer = row?.customer ?? null;
      return {
        customer: customer ? { state: { id: customer.id, name: customer.name, email: customer.email }, version: customer.version } : null,
        products: (row?.products ?? []).map(toProduct),
      };
    },
  };
}

/** The write model on a SqlClient: a PrismaClient, or `pg` on the same database (src/infrastructure/db/sql-client.ts). */
export function sqlWriteModel(db: SqlClient): WriteModel {
  return {
    users: new UserStore(db),
    products: new ProductStore(db),
    orderReferences: orderReferences(db),
    orders: new OrderStore(db),
    idempotency: idempotencyKeys(db),
  };
}
