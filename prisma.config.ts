/**
 * Prisma CLI configuration for `npx prisma …` and the `db:*` / `generate`
 * scripts. It lives in src/ (src/infrastructure/db/prisma-config.ts) so that a
 * build ships it compiled, for the migrations the server applies at start.
 */
export { default } from './src/infrastructure/db/prisma-config.js';
