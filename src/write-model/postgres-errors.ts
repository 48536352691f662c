/**
 * Recognises a PostgreSQL unique violation (SQLSTATE 23505) in an error thrown
 * through Prisma's driver adapters, optionally on a given constraint/index.
 */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const text = describe(error);
  const unique = /23505|unique constraint|UniqueConstraintViolation/i.test(text);
  return unique && (constraint === undefined || text.includes(constraint));
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const parts = [error.message];
  const meta = (error as { meta?: unknown }).meta;
  if (meta) parts.push(JSON.stringify(meta));
  const cause = (error as { cause?: unknown }).cause;
  if (cause && cause !== error) parts.push(describe(cause));
  return parts.join(' ');
}
