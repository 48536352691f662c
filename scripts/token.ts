/**
 * Mints a bearer token the server accepts:
 *
 *   npm run token -- --user <user id> [--role customer|admin] [--expires 12h]
 *
 * Uses the same configuration as the server: AUTH_JWT_SECRET (plus
 * AUTH_ISSUER / AUTH_AUDIENCE), or — on the embedded default — the generated
 * development secret beside PGLITE_DIR. With AUTH_JWKS the private key lives
 * with your identity provider, so tokens come from there.
 * Prints only the token on stdout, so `TOKEN=$(npm run -s token -- --user …)` works.
 */
import { parseArgs } from 'node:util';
import { resolveAuth } from '../src/auth/setup.js';
import { ROLES, type Role } from '../src/auth/tokens.js';
import { loadConfig } from '../src/config.js';

const USAGE = 'usage: npm run token -- --user <user id> [--role customer|admin] [--expires <seconds, or e.g. 30m, 12h, 7d>]';

/** "90", "30m", "12h", "7d" → seconds. */
function seconds(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!match) throw new Error(`--expires: expected seconds or a number with s, m, h or d, got "${text}"`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      user: { type: 'string' },
      role: { type: 'string', default: 'customer' },
      expires: { type: 'string', default: '12h' },
    },
    strict: true,
  }));
} catch (error) {
  fail((error as Error).message);
}
if (!values.user) fail('--user is required');
if (!ROLES.includes(values.role as Role)) fail(`--role: expected ${ROLES.join(' or ')}, got "${values.role}"`);
let expiresInSec: number;
try {
  expiresInSec = seconds(values.expires!);
} catch (error) {
  fail((error as Error).message);
}

try {
  const auth = resolveAuth(loadConfig());
  if (!auth.mint) fail('This deployment verifies tokens with AUTH_JWKS: tokens are issued by the identity provider that holds its private key.');
  console.log(await auth.mint(values.user, values.role as Role, expiresInSec));
} catch (error) {
  fail((error as Error).message);
}
