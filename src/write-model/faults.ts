import { classifyFault } from '../infrastructure/db/faults.js';
import { StoreUnavailableError, type WriteModel } from '../write/ports.js';

/** Rethrows a transient database fault as the port's StoreUnavailableError. */
function translate(error: unknown, reading: boolean): never {
  const fault = classifyFault(error);
  if (!fault) throw error;
  // Reads change nothing: always safe to retry.
  throw new StoreUnavailableError(reading || fault === 'retryable', { cause: error });
}

/**
 * The write model with transient database faults (connection lost, database
 * down, serialization failures) reported as StoreUnavailableError, which the
 * command handler retries with backoff and the API shows as
 * SERVICE_UNAVAILABLE. Other errors pass unchanged.
 */
export function withFaultTranslation(model: WriteModel): WriteModel {
  const wrap = <T extends object>(store: T): T => {
    const wrapped = Object.create(store) as T;
    for (const method of ['load', 'save', 'find', 'purgeExpired'] as const) {
      const original = (store as Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>)[method];
      if (!original) continue;
      Object.defineProperty(wrapped, method, {
        value: (...args: unknown[]) => original.apply(store, args).catch((error: unknown) => translate(error, method !== 'save')),
        writable: true,
        configurable: true,
        enumerable: true,
      });
    }
    return wrapped;
  };
  return {
    users: wrap(model.users),
    products: wrap(model.products),
    orderReferences: wrap(model.orderReferences),
    orders: wrap(model.orders),
    idempotency: wrap(model.idempotency),
  };
}
