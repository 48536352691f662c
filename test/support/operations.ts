import type { TestServer } from './server.js';

export const ORDER_FIELDS = /* GraphQL */ `
  id userId userName userEmail itemCount total status statusDisplay cancellationReason version createdAt updatedAt
  items { productId productName quantity price subtotal }
`;
export const USER_FIELDS = 'id name email version orderCount totalSpent createdAt updatedAt';
export const PRODUCT_FIELDS = 'id name price version createdAt updatedAt';

let counter = 0;
/** A unique, valid email for this test run. */
export function uniqueEmail(prefix = 'user'): string {
  counter++;
  return `${prefix}.${process.pid}.${Date.now().toString(36)}.${counter}@example.com`;
}

export async function registerUser(server: TestServer, name = 'Ada Lovelace', email = uniqueEmail()) {
  const data = await server.ok(
    `mutation($input: RegisterUserInput!) { registerUser(input: $input) { userId version position user { ${USER_FIELDS} } } }`,
    { input: { name, email } },
  );
  return data.registerUser as { userId: string; version: number; position: string; user: any };
}

export async function addProduct(server: TestServer, name = 'Widget', price: string | number = '19.99') {
  const data = await server.ok(
    `mutation($input: AddProductInput!) { addProduct(input: $input) { productId version position product { ${PRODUCT_FIELDS} } } }`,
    { input: { name, price } },
  );
  return data.addProduct as { productId: string; version: number; position: string; product: any };
}

export const PLACE_ORDER = `mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { orderId version position order { ${ORDER_FIELDS} } } }`;

export async function placeOrder(server: TestServer, userId: string, items: Array<{ productId: string; quantity: number }>) {
  const data = await server.ok(PLACE_ORDER, { input: { userId, items } });
  return data.placeOrder as { orderId: string; version: number; position: string; order: any };
}

export type Transition = 'confirmOrder' | 'shipOrder' | 'deliverOrder';

export function transition(server: TestServer, mutation: Transition, orderId: string, expectedVersion?: number) {
  return server.gql(
    `mutation($input: OrderCommandInput!) { ${mutation}(input: $input) { orderId version position order { ${ORDER_FIELDS} } } }`,
    { input: { orderId, expectedVersion } },
  );
}

export function cancel(server: TestServer, orderId: string, reason: string, expectedVersion?: number) {
  return server.gql(
    `mutation($input: CancelOrderInput!) { cancelOrder(input: $input) { orderId version position order { ${ORDER_FIELDS} } } }`,
    { input: { orderId, reason, expectedVersion } },
  );
}

/** The error codes of a response, in order. */
export function codes(response: { errors?: Array<{ extensions?: Record<string, unknown> }> }): unknown[] {
  return (response.errors ?? []).map((e) => e.extensions?.code);
}
