import { startApp } from './app.js';
import { loadConfig } from './config.js';
import { seedOnFirstStart } from './demo/seed.js';
import { createLogger, logFormat } from './logger.js';

const config = loadConfig();
const logger = createLogger(config.LOG_LEVEL, logFormat(config));

try {
  const app = await startApp(config, logger);
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    app.stop().then(
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
