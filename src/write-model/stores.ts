import { Prisma } from '../generated/prisma/client.js';
import { AlreadyExistsError } from '../domain/errors.js';
import type { AggregateType, AnyDomainEvent } from '../domain/events.js';
import { centsFromDecimal, formatMoney } from '../domain/money.js';
import type { Order, OrderEvent, OrderStatus } from '../domain/orders.js';
import type { Product, ProductEvent } from '../domain/products.js';
import type { User, UserEvent } from '../domain/users.js';
import { appendEventsSql, lastAppended } from '../eventlog/append.js';
import { formatCursor } from '../eventlog/cursor.js';
import type { SqlClient } from '../sql/client.js';
import {
  ConcurrencyError,
  type AggregateStore,
  type Appended,
  type Loaded,
  type OrderReferences,
  type SaveRequest,
  type WriteModel,
} from '../write/ports.js';
import { idArray } from '../sql/fragments.js';
import { idempotencyKeys } from './idempotency.js';
import { isUniqueViolation } from './postgres-errors.js';
import { ORDER_LINES, ORDERS, PRODUCTS, USERS } from './tables.js';

/*
 * Loads and saves are plain SQL through the SqlClient port, never Prisma
 * model queries (see the README's "How Prisma is used"); rows are selected,
 * inserted and mapped through the table definitions in ./tables.ts.
 */

type Row = Record<string, unknown>;

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
    const [row] = await this.db.$queryRaw<Row[]>`SELECT ${USERS.selectList()} FROM users WHERE id = ${id}::uuid`;
    if (!row) return null;
    const user = USERS.fromRow(row);
    return { state: { id: user.id, name: user.name, email: user.email }, version: user.version };
  }

  async save(request: SaveRequest<User, UserEvent>): Promise<Appended> {
    const { id, name, email } = request.state;
    const version = request.expectedVersion + request.events.length;
    const row = { id, name, email, emailKey: email.toLowerCase(), version, createdAt: request.now, updatedAt: request.now };
    const write =
      request.expectedVersion === 0
        ? Prisma.sql`INSERT INTO users (${USERS.columnList()}) VALUES ${USERS.values(row)}
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
    const [row] = await this.db.$queryRaw<Row[]>`SELECT ${PRODUCTS.selectList()} FROM products WHERE id = ${id}::uuid`;
    if (!row) return null;
    const product = PRODUCTS.fromRow(row);
    return { state: toProduct(product), version: product.version };
  }

  save(request: SaveRequest<Product, ProductEvent>): Promise<Appended> {
    const { id, name, price } = request.state;
    const version = request.expectedVersion + request.events.length;
    const row = { id, name, price: formatMoney(price), version, createdAt: request.now, updatedAt: request.now };
    const write =
      request.expectedVersion === 0
        ? Prisma.sql`INSERT INTO products (${PRODUCTS.columnList()}) VALUES ${PRODUCTS.values(row)}
            ON CONFLICT (id) DO NOTHING RETURNING id`
        : Prisma.sql`UPDATE products SET name = ${name}, price = ${formatMoney(price)}::numeric,
            version = ${version}, updated_at = ${request.now}
            WHERE id = ${id}::uuid AND version = ${request.expectedVersion} RETURNING id`;
    return saveWithEvents(this.db, this.aggregateType, request, Prisma.sql`w AS (${write})`);
  }
}

function toProduct(row: { id: string; name: string; price: string }): Product {
  return { id: row.id, name: row.name, price: centsFromDecimal(row.price) };
}

class OrderStore implements AggregateStore<Order, OrderEvent> {
  readonly aggregateType = 'Order' as const;
  constructor(private readonly db: SqlClient) {}

  /** One round trip: the order with its lines aggregated as JSON. */
  async load(id: string): Promise<Loaded<Order> | null> {
    const [row] = await this.db.$queryRaw<Array<Row & { lines: Row[] }>>`
      SELECT ${ORDERS.selectList('o')},
        COALESCE((SELECT jsonb_agg(${ORDER_LINES.recordJson('l')} ORDER BY l.line_no)
                  FROM order_lines l WHERE l.order_id = o.id), '[]'::jsonb) AS lines
      FROM orders o WHERE o.id = ${id}::uuid`;
    if (!row) return null;
    const order = ORDERS.fromRow(row);
    return {
      version: order.version,
      state: {
        id: order.id,
        userId: order.userId,
        status: order.status,
        cancellationReason: order.cancellationReason,
        total: centsFromDecimal(order.total),
        lines: row.lines.map((record) => {
          const l = ORDER_LINES.fromRecord(record);
          return { productId: l.productId, productName: l.productName, unitPrice: centsFromDecimal(l.unitPrice), quantity: l.quantity };
        }),
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
    const lines = order.lines.map((l, index) =>
      ORDER_LINES.toRecord({
        orderId: order.id,
        lineNo: index + 1,
        productId: l.productId,
        productName: l.productName,
        unitPrice: formatMoney(l.unitPrice),
        quantity: l.quantity,
      }),
    );
    const row = {
      id: order.id, userId: order.userId, status: order.status, cancellationReason: null,
      total: formatMoney(order.total), version, createdAt: request.now, updatedAt: request.now,
    };
    // The lines ride along as another CTE; they are inserted only if the order was.
    const writes = Prisma.sql`
      o AS (
        INSERT INTO orders (${ORDERS.columnList()}) VALUES ${ORDERS.values(row)}
        ON CONFLICT (id) DO NOTHING RETURNING id
      ), l AS (
        INSERT INTO order_lines (${ORDER_LINES.columnList()})
        SELECT ${ORDER_LINES.columnList('x')}
        FROM o CROSS JOIN jsonb_to_recordset(${JSON.stringify(lines)}::jsonb) AS x(${ORDER_LINES.recordType()})
      ), w AS (SELECT id FROM o)`;
    return saveWithEvents(this.db, this.aggregateType, request, writes);
  }
}

/** The customer and the products of a new order, as two subselects of one statement. */
function orderReferences(db: SqlClient): OrderReferences {
  return {
    async load(userId, productIds) {
      const [row] = await db.$queryRaw<Array<{ customer: Row | null; products: Row[] }>>`
        SELECT
          (SELECT ${USERS.recordJson('u')} FROM users u WHERE u.id = ${userId}::uuid) AS customer,
          (SELECT coalesce(jsonb_agg(${PRODUCTS.recordJson('p')}), '[]'::jsonb)
           FROM products p WHERE p.id = ANY(${idArray(productIds)})) AS products`;
      const customer = row?.customer ? USERS.fromRecord(row.customer) : null;
      return {
        customer: customer ? { state: { id: customer.id, name: customer.name, email: customer.email }, version: customer.version } : null,
        products: (row?.products ?? []).map((p) => toProduct(PRODUCTS.fromRecord(p))),
      };
    },
  };
}

/** The write model on the SqlClient port (src/infrastructure/db/sql-client.ts). */
export function sqlWriteModel(db: SqlClient): WriteModel {
  return {
    users: new UserStore(db),
    products: new ProductStore(db),
    orderReferences: orderReferences(db),
    orders: new OrderStore(db),
    idempotency: idempotencyKeys(db),
  };
}
