import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

/** `json`: one JSON object per line, for log collectors. `pretty`: for a person at a terminal. */
export type LogFormat = 'json' | 'pretty';

/**
 * The log format: `LOG_FORMAT` when set; otherwise pretty when a person is
 * watching (stdout is a terminal) in development, and JSON lines everywhere
 * else — pipes, files, containers, and `NODE_ENV=production` even at a
 * terminal.
 */
export function logFormat(
  config: { readonly LOG_FORMAT?: LogFormat; readonly NODE_ENV: string },
  stdoutIsTerminal: boolean = process.stdout.isTTY === true,
): LogFormat {
  if (config.LOG_FORMAT) return config.LOG_FORMAT;
  return stdoutIsTerminal && config.NODE_ENV !== 'production' ? 'pretty' : 'json';
}

/** Structured logs on stdout, as JSON lines (the default) or pretty-printed (pino-pretty). */
export function createLogger(level: string, format: LogFormat = 'json'): Logger {
  const options = { level, base: { service: 'orders-graphql' } };
  if (format === 'json') return pino(options);
  // In-process and synchronous, like pino's own stdout: nothing is lost when
  // the process exits right after logging (a failed start).
  return pino(options, pretty({ sync: true, ignore: 'pid,hostname,service', translateTime: 'SYS:HH:MM:ss.l' }));
}
