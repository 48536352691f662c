/** The GraphQL operations the bench sends; the raw baselines answer the same bodies with the same JSON shapes. */

/** The pure command path: the payload without its entity (no wait for the projection). */
export const PLACE_ORDER = /* GraphQL */ `mutation Place($input: PlaceOrderInput!) {
  placeOrder(input: $input) { orderId version position }
}`;

/** Read-your-writes: the payload's entity waits until the orders projection has applied the command. */
export const PLACE_ORDER_READ_YOUR_WRITES = /* GraphQL */ `mutation PlaceAndRead($input: PlaceOrderInput!) {
  placeOrder(input: $input) { orderId version position order { id status total items { productId quantity } } }
}`;

/** One order with its nested user and products. */
export const ORDER = /* GraphQL */ `query Order($id: ID!) {
  order(id: $id) {
    id status statusDisplay total itemCount position createdAt updatedAt
    user { id name email orderCount totalSpent }
    items { productId productName quantity price subtotal product { id name price } }
  }
}`;

/** One user's profile (what a public dashboard reads again and again). */
export const USER = /* GraphQL */ `query User($id: ID!) {
  user(id: $id) { id name email orderCount totalSpent position createdAt updatedAt }
}`;

/** A page of 20 orders of one user, with nested user and products. */
export const ORDERS = /* GraphQL */ `query Orders($userId: ID!) {
  orders(filter: { userId: $userId }, page: 1, pageSize: 20) {
    total totalPages
    orders { id status total createdAt user { id name } items { productId quantity product { id name price } } }
  }
}`;

/** What an infinite scroll of one customer's orders asks for: 20 orders after a cursor (none: the first page), no count. */
export const ORDERS_CONNECTION = /* GraphQL */ `query OrdersAfter($userId: ID!, $after: String) {
  ordersConnection(filter: { userId: $userId }, first: 20, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { id status total createdAt user { id name } items { productId quantity product { id name price } } } }
  }
}`;

/** The same orders by offset page (which always counts the user's orders too). */
export const ORDERS_PAGE = /* GraphQL */ `query OrdersPage($userId: ID!, $page: Int!) {
  orders(filter: { userId: $userId }, page: $page, pageSize: 20) {
    orders { id status total createdAt user { id name } items { productId quantity product { id name price } } }
  }
}`;

/**
 * The PostGraphile peer's ORDER (bench/peers/postgraphile-server.ts, Amber
 * preset names): the scalar columns of order_view that ORDER's fields come
 * from (`position` is last_tx:last_pos; `statusDisplay` has no column),
 * `items` as the JSON column it is (no product per item: nothing relates a
 * JSON element to product_view), and the customer through the smart-tag
 * foreign key. Aliases give it ORDER's field names where the column is the
 * same.
 */
export const POSTGRAPHILE_ORDER = /* GraphQL */ `query Order($id: UUID!) {
  order: orderViewByRowId(rowId: $id) {
    id: rowId status total itemCount lastTx lastPos createdAt updatedAt
    user: userViewByUserId { id: rowId name email orderCount totalSpent }
    items
  }
}`;

/** The PostGraphile peer's ORDERS: 20 orders of a user, newest first (ORDERS' order), with the count and each order's customer. */
export const POSTGRAPHILE_ORDERS = /* GraphQL */ `query Orders($userId: UUID!) {
  orders: allOrderViews(condition: { userId: $userId }, orderBy: [CREATED_AT_DESC, ROW_ID_DESC], first: 20) {
    totalCount
    orders: nodes { id: rowId status total createdAt user: userViewByUserId { id: rowId name } items }
  }
}`;

/** What fan-out and lag subscribers ask for. */
export const ORDERS_CHANGED = /* GraphQL */ `subscription Changes { ordersChanged { id status position } }`;

export function body(query: string, variables: Record<string, unknown>): string {
  return JSON.stringify({ query, variables });
}
