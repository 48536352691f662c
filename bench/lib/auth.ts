/**
 * The bench's credentials. Every server process the bench starts gets
 * `AUTH_JWT_SECRET` = a random secret generated for this run (never written
 * anywhere), and every request carries an HS256 token signed with it
 * (`{ sub: 'bench-admin', role: 'admin' }`, 24 h): the `Authorization:
 * Bearer …` header on HTTP, `{ authorization: 'Bearer …' }` in graphql-ws
 * `connection_init`. A server without authentication ignores both, so the
 * bench measures either kind of checkout the same way.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';

export interface BenchAuth {
  /** The shared HS256 secret (64 characters). */
  readonly secret: string;
  /** The signed token. */
  readonly token: string;
  /** `Bearer <token>`: the Authorization header's value, and connection_init's `authorization`. */
  readonly authorization: string;
}

export async function createBenchAuth(): Promise<BenchAuth> {
  const secret = randomBytes(48).toString('base64url');
  const token = await new SignJWT({ role: 'admin' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('bench-admin')
    .setIssuedAt()
    .setExpirationTime('24h')
    .sign(new TextEncoder().encode(secret));
  return { secret, token, authorization: `Bearer ${token}` };
}

/** This process's credentials, for helpers that send requests (set once by the orchestrator). */
let current: BenchAuth | undefined;

export function useBenchAuth(auth: BenchAuth): void {
  current = auth;
}

/** The environment every server process gets. */
export function serverAuthEnv(): Record<string, string> {
  return current ? { AUTH_JWT_SECRET: current.secret } : {};
}

/** HTTP headers for a GraphQL request (JSON body, bearer token). */
export function requestHeaders(authorization = current?.authorization): Record<string, string> {
  return authorization ? { 'content-type': 'application/json', authorization } : { 'content-type': 'application/json' };
}
