/**
 * The real browser for the IDE test: Debian's `chromium` package, driven by
 * playwright-core (which downloads no browser of its own). Installed with apt
 * when missing; when that is impossible the test fails, saying why.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Flags for a quiet, self-contained headless run that calls no Google service. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

function run(command: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
      (error, stdout, stderr) => resolve({ ok: !error, output: `${stdout}${stderr}${error ? `\n${error.message}` : ''}` }),
    );
  });
}

/**
 * Returns the Chromium executable, installing Debian's `chromium` package
 * first if it is missing (`apt-get update && apt-get install -y chromium`, as
 * root). Parallel test workers are serialized by a lock file, so only one
 * installs. Throws a readable error when Chromium cannot be had.
 */
export async function ensureChromium(timeoutMs = 15 * 60_000): Promise<string> {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const why = (reason: string) =>
    new Error(
      `The IDE browser test needs Chromium at ${CHROMIUM} (Debian package "chromium"), and it is missing: ${reason}. ` +
        'Install it with `apt-get update && apt-get install -y chromium` (as root) and run the tests again.',
    );
  if (process.platform !== 'linux' || !existsSync('/usr/bin/apt-get')) throw why('this is not a Debian-like system with apt-get');
  const root = process.getuid?.() === 0;
  const sudo = root ? [] : ['sudo', '-n'];
  if (!root && !existsSync('/usr/bin/sudo')) throw why('not running as root, and sudo is not available');
  const script =
    `test -x ${CHROMIUM} || { ${sudo.join(' ')} apt-get update -qq && ` +
    `${sudo.join(' ')} apt-get install -y -qq --no-install-recommends chromium; }`;
  const lock = join(tmpdir(), 'orders-graphql-chromium-install.lock');
  const result = existsSync('/usr/bin/flock')
    ? await run('/usr/bin/flock', [lock, 'sh', '-c', script], timeoutMs)
    : await run('sh', ['-c', script], timeoutMs);
  if (!existsSync(CHROMIUM)) {
    throw why(`installing it with apt failed:\n${result.output.trim().split('\n').slice(-20).join('\n')}`);
  }
  return CHROMIUM;
}

/** A headless Chromium with a fresh profile; `close` also deletes the profile. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const executablePath = await ensureChromium();
  const userDataDir = await mkdtemp(join(tmpdir(), 'orders-ide-chromium-'));
  // Playwright passes --user-data-dir itself for a persistent context.
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
