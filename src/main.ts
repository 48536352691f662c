import { startApp } from './app.js';
import { loadConfig } from './config.js';
import { seedOnFirstStart } from './demo/seed.js';
import { createLogger, logFormat } from './logger.js';
import { startTracing } from './observability/tracing-setup.js';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL, logFormat(config));

try {
  // Before the app: its spans need the SDK registered (when configured at all).
  const tracing = await startTracing(config, logger);
  const app = await startApp(config, logger);
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    app
      .stop()
      // Last, whatever happened: the spans buffered until now are exported.
      .finally(() => tracing?.shutdown())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  await seedOnFirstStart(app, { seed: config.SEED, logger }).catch((err: unknown) => {
    logger.error({ err }, 'seeding demo data failed; the server keeps running');
  });
} catch (err) {
  logger.fatal({ err }, err instanceof Error ? err.message : 'startup failed');
  process.exit(1);
}
