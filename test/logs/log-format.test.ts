/**
 * Logs a person can read: `npm start` at a terminal logs pretty lines whose
 * start-up block says where the API and the IDE are and how to get a token;
 * piped (a log collector, a file) or in production the same server logs JSON
 * lines; LOG_FORMAT decides explicitly.
 *
 * "At a terminal" is real: the server runs under a pseudo-terminal made by
 * util-linux `script`, so its stdout is a TTY.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { logFormat } from '../../src/logger.js';
import { browserBase, startupText } from '../../src/server/startup-log.js';
import { TEST_JWT_SECRET } from '../support/auth.js';
import { ROOT } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { startServerProcess, type ServerProcess } from '../support/process.js';

const SCRIPT = '/usr/bin/script';

/** A server started as `npm start` does, with its stdout on a pseudo-terminal. */
interface TerminalServer {
  /** Everything it printed, without colours and carriage returns. */
  text(): string;
  /** The server process itself (the child of `script`). */
  readonly pid: number;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

async function startAtTerminal(env: Record<string, string | undefined>): Promise<TerminalServer> {
  if (!existsSync(SCRIPT)) throw new Error(`this test needs ${SCRIPT} (util-linux) to give the server a terminal`);
  const serverEnv = Object.fromEntries(
    Object.entries({ ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env }).filter(([, v]) => v !== undefined),
  ) as NodeJS.ProcessEnv;
  // -e: exit with the server's status; -f: flush at once; -q: no banner.
  const terminal: ChildProcess = spawn(SCRIPT, ['-qfec', `${process.execPath} --import tsx src/main.ts`, '/dev/null'], {
    cwd: ROOT,
    env: serverEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let raw = '';
  terminal.stdout!.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
  terminal.stderr!.setEncoding('utf8').on('data', (chunk: string) => (raw += chunk));
  const exited = new Promise<void>((resolve) => terminal.once('exit', () => resolve()));
  const text = () => stripVTControlCharacters(raw).replace(/\r/g, '');

  // The server is the only child of `script`; signal it directly, for a graceful stop.
  let pid: number | undefined;
  for (let i = 0; i < 100 && pid === undefined; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const children = readFileSync(`/proc/${terminal.pid}/task/${terminal.pid}/children`, 'utf8').trim();
    if (children) pid = Number(children.split(' ')[0]);
  }
  if (pid === undefined) {
    terminal.kill('SIGKILL');
    throw new Error(`script started no server: ${text()}`);
  }
  const serverPid = pid;

  return {
    text,
    pid: serverPid,
    async waitFor(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = text().match(pattern);
        if (match) return match;
        if (terminal.exitCode !== null) throw new Error(`the server exited before printing ${pattern}:\n${text()}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${text()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (terminal.exitCode !== null) return;
      try {
        process.kill(serverPid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(serverPid, 'SIGKILL');
        } catch {
          // already gone
        }
        terminal.kill('SIGKILL');
      }, 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Lines of stdout that are JSON objects. */
function jsonLines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as unknown);
}

describe('which format', () => {
  it('is pretty at a terminal in development, JSON when piped or in production, and LOG_FORMAT decides explicitly', () => {
    const dev = loadConfig({});
    const production = loadConfig({ NODE_ENV: 'production' });
    expect(logFormat(dev, true)).toBe('pretty');
    expect(logFormat(dev, false)).toBe('json');
    expect(logFormat(production, true)).toBe('json');
    expect(logFormat(production, false)).toBe('json');
    expect(logFormat(loadConfig({ LOG_FORMAT: 'json' }), true)).toBe('json');
    expect(logFormat(loadConfig({ LOG_FORMAT: 'pretty' }), false)).toBe('pretty');
    expect(logFormat(loadConfig({ NODE_ENV: 'production', LOG_FORMAT: 'pretty' }), false)).toBe('pretty');
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT/);
  });

  it('names the address a person opens, and never the database credentials', () => {
    expect(browserBase('0.0.0.0', 4000)).toBe('http://localhost:4000');
    expect(browserBase('127.0.0.1', 4000)).toBe('http://localhost:4000');
    expect(browserBase('192.0.2.7', 4000)).toBe('http://192.0.2.7:4000');
    expect(browserBase('fd00::7', 4000)).toBe('http://[fd00::7]:4000');
    const started = { url: 'http://127.0.0.1:4000/graphql', port: 4000, database: 'postgres', auth: { mint: async () => 'unused' }, persistedDocuments: 23 } as const;
    const env = { DATABASE_URL: 'postgresql://orders:s3cret@db.example.com:5432/orders', AUTH_JWT_SECRET: TEST_JWT_SECRET };
    const text = startupText(loadConfig(env), started, undefined);
    expect(text.split('\n')[0]).toBe('Server started on PostgreSQL (orders at db.example.com:5432)');
    expect(text).not.toContain('s3cret');
    expect(text).toMatch(/^ {4}IDE +open http:\/\/localhost:4000\/graphql in a browser, and put \{"Authorization": "Bearer <token>"\} into its Headers tab$/m);
    expect(text).toMatch(/^ {4}Tokens +npm run token -- --user <user id> \[--role admin\], with the same AUTH_JWT_SECRET$/m);
    // The mode is named only when it is on.
    expect(text).not.toContain('Documents');
    const trusted = startupText(loadConfig({ ...env, TRUSTED_DOCUMENTS: 'true' }), started, undefined);
    expect(trusted).toMatch(/^ {4}Documents +trusted only: the 23 of the manifest, by documentId$/m);
  });
});

describe('npm start at a terminal, on the embedded database', () => {
  let db: TestDatabase;
  let server: TerminalServer | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('pglite');
    server = await startAtTerminal({ PGLITE_DIR: db.pgliteDir, AUTH_JWT_SECRET: undefined, DATABASE_URL: undefined, NODE_ENV: undefined, LOG_FORMAT: undefined });
    await server.waitFor(/More tokens.*\n/, 120_000);
  }, 150_000);
  afterAll(async () => {
    await server?.stop();
    await db?.dispose();
  });

  it('prints a readable start-up block: the API, the IDE, a working admin token', async () => {
    const text = server!.text();
    const block = text.slice(text.indexOf('Server started'));
    const port = Number(/GraphQL API +http:\/\/localhost:(\d+)\/graphql/.exec(block)?.[1]);
    expect(port).toBeGreaterThan(0);
    const lines = block.split('\n').slice(0, 6);
    expect(lines[0]).toBe(`Server started on the embedded database (PGlite in ${db.pgliteDir})`);
    expect(lines.slice(1)).toEqual([
      `    GraphQL API   http://localhost:${port}/graphql  (subscriptions: ws://localhost:${port}/graphql)`,
      `    IDE           open http://localhost:${port}/graphql in a browser on this machine: it is signed in as the development admin`,
      expect.stringMatching(/^ {4}Admin token {3}Authorization: Bearer [\w-]+\.[\w-]+\.[\w-]+$/),
      '                  (valid 12 h; for curl and other clients)',
      '    More tokens   npm run token -- --user <user id> [--role admin]',
    ]);
    // Each line carries a time and a level, and none is JSON.
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Server started/m);
    expect(jsonLines(text)).toEqual([]);

    // The printed header works as it is.
    const header = /Admin token +(Authorization: Bearer \S+)/.exec(block)![1]!;
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: header.replace(/^Authorization: /, '') },
      body: JSON.stringify({ query: '{ users { total } }' }),
    });
    expect(await res.json()).toEqual({ data: { users: { total: 0 } } });
  });
});

describe('JSON lines where no person reads them', () => {
  const started: Array<ServerProcess | TerminalServer | undefined> = [];
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(started.map((s) => s?.stop()));
    await Promise.all(databases.map((d) => d.dispose()));
  });

  it('piped, by default', async () => {
    const db = await createTestDatabase('pglite');
    databases.push(db);
    const server = await startServerProcess({
      env: { PGLITE_DIR: db.pgliteDir, AUTH_JWT_SECRET: undefined, NODE_ENV: undefined, LOG_FORMAT: undefined },
      startTimeoutMs: 120_000,
    });
    started.push(server);
    await server.waitForLog((l) => /development admin token/.test(String(l.msg)));
    expect(server.logs.find((l) => l.msg === 'server started')).toMatchObject({ database: 'pglite', url: server.url, port: server.port });
    // Nothing but JSON on stdout.
    expect(server.output.filter((o) => !/^\s*$/.test(o))).toEqual([]);
  }, 150_000);

  it('in production, even at a terminal', async () => {
    const db = await createTestDatabase('pglite');
    databases.push(db);
    const server = await startAtTerminal({ PGLITE_DIR: db.pgliteDir, NODE_ENV: 'production', AUTH_JWT_SECRET: TEST_JWT_SECRET, LOG_FORMAT: undefined });
    started.push(server);
    await server.waitFor(/"msg":"server started"/, 120_000);
    const lines = jsonLines(server.text()) as Array<Record<string, unknown>>;
    expect(lines.find((l) => l.msg === 'server started')).toMatchObject({ database: 'pglite', level: 30 });
    expect(server.text()).not.toContain('Server started on');
  }, 150_000);
});
