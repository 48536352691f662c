import { mintToken } from '../../src/auth/tokens.js';
import type { AuthenticatedActor } from '../../src/domain/access.js';

/** The HS256 secret every test server (in-process or child process) verifies tokens with. */
export const TEST_JWT_SECRET = 'test-only-secret-that-is-long-enough-0123456789';

/** Staff, as most tests act (they exercise the whole workflow). */
export const ADMIN: AuthenticatedActor = { role: 'admin', userId: 'test-admin' };

/** A customer acting as the user `userId`. */
export const customer = (userId: string): AuthenticatedActor => ({ role: 'customer', userId });

/** A valid token for `actor` (1 hour unless `expiresInSec`). */
export function tokenFor(actor: AuthenticatedActor, expiresInSec = 3600): Promise<string> {
  return mintToken({ secret: TEST_JWT_SECRET, userId: actor.userId, role: actor.role, expiresInSec });
}

/** `{ authorization: 'Bearer …' }` for `actor`. */
export async function bearer(actor: AuthenticatedActor): Promise<{ authorization: string }> {
  return { authorization: `Bearer ${await tokenFor(actor)}` };
}
