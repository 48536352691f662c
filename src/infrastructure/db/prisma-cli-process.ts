/**
 * Process-level workarounds for running the Prisma 6.19 CLI with the WASM
 * schema engine (`engine: 'js'`). Only meant to be installed from
 * the CLI configuration (prisma-config.ts), i.e. inside the CLI process.
 */

// Kept on globalThis: the CLI's config loader (jiti, module cache off) may
// evaluate this module more than once per process.
interface HookState {
  cleanups: Array<() => Promise<void>>;
}
const STATE = Symbol.for('cqrs-orders.prisma-cli-process');
const globals = globalThis as typeof globalThis & { [STATE]?: HookState };

/**
 * Lets the CLI process exit as soon as its command is done.
 *
 * The WASM schema engine races its database work against `setTimeout`
 * timeouts (10 s around the advisory lock, 60 s more in `migrate dev`) and
 * never clears them, and PGlite's embedded PostgreSQL keeps re-arming ~10 s
 * timers of its own. On success the CLI does not call `process.exit`, so it
 * sat idle until those fired (~10 s after `migrate deploy`, ~60 s after
 * `migrate dev`, forever with a PGlite that needs recovery).
 *
 * We `unref()` timers of 1 s or more that are armed from WebAssembly. That is
 * safe: the work such a timeout guards keeps the process alive by itself
 * (sockets for PostgreSQL; PGlite runs synchronously in-process, and its
 * timers cannot fire while it executes anyway). Shorter timers, which may be
 * used to yield, are left alone.
 *
 * Because the CLI never disposes its main driver adapter, adapters register
 * cleanups with {@link onCliExit}; they run on `beforeExit`, i.e. once the
 * command has finished and nothing else is pending (not on `process.exit`,
 * which the CLI uses for failures).
 */
export function installPrismaCliProcessHooks(): void {
  if (globals[STATE]) return;
  const state: HookState = { cleanups: [] };
  globals[STATE] = state;

  const setTimeoutOriginal = globalThis.setTimeout;
  const patched = function setTimeout(this: unknown, ...args: Parameters<typeof setTimeoutOriginal>) {
    const timer = setTimeoutOriginal.apply(this, args);
    const delay = Number(args[1] ?? 0);
    if (delay >= 1000 && new Error().stack?.includes('wasm://')) timer.unref();
    return timer;
  };
  globalThis.setTimeout = Object.assign(patched, setTimeoutOriginal) as typeof setTimeoutOriginal;

  process.on('beforeExit', () => {
    const pending = state.cleanups.splice(0);
    if (pending.length === 0) return;
    // Runs asynchronously; once done the loop drains again and the process
    // exits (beforeExit fires again, with nothing left to clean up).
    void Promise.allSettled(pending.map((cleanup) => cleanup())).then((results) => {
      for (const r of results) {
        if (r.status === 'rejected') console.error('[prisma.config] cleanup failed:', r.reason);
      }
    });
  });
}

/**
 * Registers `cleanup` to run once the CLI command has finished (see
 * {@link installPrismaCliProcessHooks}). Without the hooks installed (outside
 * the CLI) this is a no-op: there, whoever opened a resource closes it.
 */
export function onCliExit(cleanup: () => Promise<void>): void {
  globals[STATE]?.cleanups.push(cleanup);
}
