/**
 * What the server says once it listens: where the API and the IDE are and how
 * to get a token. For a person at a terminal (pretty logs) one readable block;
 * for log collectors (JSON) the same facts as fields: `server started` with
 * `url`, `port`, `database` and `trustedDocuments`, and on the embedded development default a
 * `development admin token` line with `token` and `headers`.
 */
import type { Logger } from 'pino';
import { DEV_TOKEN_TTL_SEC, type Auth } from '../auth/setup.js';
import type { Config } from '../config.js';
import { logFormat } from '../logger.js';

export interface Started {
  /** The API's URL on this machine (App.url). */
  readonly url: string;
  readonly port: number;
  readonly database: 'postgres' | 'pglite';
  readonly auth: Pick<Auth, 'mint' | 'devToken'>;
  /** Documents in the persisted documents manifest. */
  readonly persistedDocuments: number;
}

type StartupConfig = Pick<Config, 'HOST' | 'DATABASE_URL' | 'PGLITE_DIR' | 'IDE_ENABLED' | 'AUTH_JWKS' | 'NODE_ENV' | 'LOG_FORMAT' | 'TRUSTED_DOCUMENTS'>;

/** The address a person types: `localhost` for a wildcard or loopback listener, else the listener's own. */
export function browserBase(host: string, port: number): string {
  const local = ['', '0.0.0.0', '::', '127.0.0.1', '::1', 'localhost'];
  const name = local.includes(host) ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

/** "PostgreSQL (orders at db.example.com:5432)", never the credentials; or the PGlite directory. */
function databaseLabel(config: StartupConfig): string {
  if (!config.DATABASE_URL) return `the embedded database (PGlite in ${config.PGLITE_DIR})`;
  try {
    const url = new URL(config.DATABASE_URL);
    return `PostgreSQL (${decodeURIComponent(url.pathname.slice(1)) || 'default database'} at ${url.host})`;
  } catch {
    return 'PostgreSQL';
  }
}

const TTL_HOURS = DEV_TOKEN_TTL_SEC / 3600;

/** The readable block: a headline, then one fact per line. */
export function startupText(config: StartupConfig, started: Started, devToken: string | undefined): string {
  const api = `${browserBase(config.HOST, started.port)}/graphql`;
  const rows: Array<[string, string]> = [
    ['GraphQL API', `${api}  (subscriptions: ${api.replace(/^http/, 'ws')})`],
    [
      'IDE',
      !config.IDE_ENABLED
        ? 'off (IDE_ENABLED=true serves it)'
        : devToken
          ? `open ${api} in a browser on this machine: it is signed in as the development admin`
          : `open ${api} in a browser, and put {"Authorization": "Bearer <token>"} into its Headers tab`,
    ],
  ];
  if (config.TRUSTED_DOCUMENTS) {
    rows.push(['Documents', `trusted only: the ${started.persistedDocuments} of the manifest, by documentId`]);
  }
  if (devToken) {
    rows.push(['Admin token', `Authorization: Bearer ${devToken}`]);
    rows.push(['', `(valid ${TTL_HOURS} h; for curl and other clients)`]);
    rows.push(['More tokens', 'npm run token -- --user <user id> [--role admin]']);
  } else if (started.auth.mint) {
    rows.push(['Tokens', 'npm run token -- --user <user id> [--role admin], with the same AUTH_JWT_SECRET']);
  } else if (config.AUTH_JWKS) {
    rows.push(['Tokens', 'from your identity provider (verified with AUTH_JWKS)']);
  }
  const width = Math.max(...rows.map(([label]) => label.length)) + 3;
  return [`Server started on ${databaseLabel(config)}`, ...rows.map(([label, text]) => `    ${label.padEnd(width)}${text}`)].join('\n');
}

/** Logs that the server started, in the form the log format calls for. */
export async function logStartup(logger: Logger, config: StartupConfig, started: Started): Promise<void> {
  const devToken = await started.auth.devToken?.();
  if (logFormat(config) === 'pretty') {
    logger.info(startupText(config, started, devToken));
    return;
  }
  logger.info(
    { url: started.url, port: started.port, database: started.database, trustedDocuments: config.TRUSTED_DOCUMENTS },
    'server started',
  );
  if (devToken) {
    const ide = config.IDE_ENABLED ? 'the IDE in a browser on this machine has it in its Headers tab already; ' : '';
    logger.info(
      { token: devToken, headers: { Authorization: `Bearer ${devToken}` } },
      `development admin token (embedded database only, valid ${TTL_HOURS} h): ${ide}` +
        'other clients send `headers`; `npm run token -- --user <id>` mints customer tokens',
    );
  }
}
