/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`): self time per
 * function and per package, optionally only within a time window.
 *
 *   node --import tsx bench/profile/summarize.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  readonly file: string;
  /** Sampled time in the window (ms), idle included. */
  readonly totalMs: number;
  readonly idleMs: number;
  readonly functions: Array<{ name: string; where: string; pkg: string; selfMs: number; pct: number }>;
  readonly packages: Array<{ pkg: string; selfMs: number; pct: number }>;
  /**
   * Self time per package with Node's runtime and native frames (socket
   * writes, crypto, JSON, timers) charged to the nearest package or source
   * folder that called them: "who made the machine do it".
   */
  readonly callers: Array<{ pkg: string; selfMs: number; pct: number }>;
}

/** Buckets whose time is charged to the frame that called into them. */
const RUNTIME = new Set(['node (runtime)', '(native)']);

/** Which package (or part of the runtime) a frame belongs to. */
function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName.startsWith('(')) return functionName; // (garbage collector), (program), (idle)
    return '(native)';
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return 'node (runtime)';
  // The only WebAssembly the server runs on PostgreSQL: Prisma's query compiler (query_compiler_bg.wasm).
  if (url.startsWith('wasm://')) return 'wasm (Prisma query compiler)';
  const src = url.indexOf('/src/');
  if (src >= 0) return `src/${url.slice(src + 5).split('/')[0]}`;
  const bench = url.indexOf('/bench/');
  if (bench >= 0) return 'bench';
  return url;
}

function where(frame: CallFrame): string {
  if (!frame.url) return '';
  const nm = frame.url.lastIndexOf('/node_modules/');
  const short = nm >= 0 ? frame.url.slice(nm + 14) : frame.url.replace(/^file:\/\/.*?\/(src|bench)\//, '$1/');
  return `${short}:${frame.lineNumber + 1}`;
}

/**
 * Self time per function. `window` (µs, in the profile's own monotonic clock,
 * which is CLOCK_MONOTONIC like process.hrtime) keeps only samples inside it.
 */
export function summarizeProfile(file: string, top = 25, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  /** The package of the nearest frame up the stack that is not runtime or native code. */
  const callerOf = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const pkg = packageOf(byId.get(at)!.callFrame);
      if (!RUNTIME.has(pkg) && pkg !== '(root)') return pkg;
    }
    return packageOf(byId.get(id)!.callFrame);
  };
  const self = new Map<number, number>();
  let t = profile.startTime;
  let inWindow = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    inWindow++;
    const id = profile.samples[i]!;
    // The sample's time is the gap to the next sample.
    const next = profile.timeDeltas[i + 1] ?? delta;
    self.set(id, (self.get(id) ?? 0) + next);
  }
  if (window && inWindow === 0) return summarizeProfile(file, top); // clocks did not line up: use everything

  const functions = new Map<string, { name: string; where: string; pkg: string; selfUs: number }>();
  const packages = new Map<string, number>();
  const callers = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    total += us;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const key = `${frame.functionName}@${frame.url}:${frame.lineNumber}:${frame.columnNumber}`;
    const pkg = packageOf(frame);
    const entry = functions.get(key) ?? { name: frame.functionName || '(anonymous)', where: where(frame), pkg, selfUs: 0 };
    entry.selfUs += us;
    functions.set(key, entry);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
    const caller = RUNTIME.has(pkg) ? callerOf(id) : pkg;
    callers.set(caller, (callers.get(caller) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => (busy > 0 ? (100 * us) / busy : 0);
  return {
    file,
    totalMs: total / 1000,
    idleMs: idle / 1000,
    functions: [...functions.values()]
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, pkg: f.pkg, selfMs: f.selfUs / 1000, pct: pct(f.selfUs) })),
    packages: [...packages.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([pkg, us]) => ({ pkg, selfMs: us / 1000, pct: pct(us) })),
    callers: [...callers.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20)
      .map(([pkg, us]) => ({ pkg, selfMs: us / 1000, pct: pct(us) })),
  };
}

export function formatSummary(summary: ProfileSummary): string {
  const busy = summary.totalMs - summary.idleMs;
  const lines = [
    `profile: ${summary.file}`,
    `sampled ${summary.totalMs.toFixed(0)} ms, busy ${busy.toFixed(0)} ms (${((100 * busy) / Math.max(1, summary.totalMs)).toFixed(0)}% of one core), idle ${summary.idleMs.toFixed(0)} ms`,
    '',
    'self time by package (% of busy):',
    ...summary.packages.map((p) => `  ${p.pct.toFixed(1).padStart(5)}%  ${p.selfMs.toFixed(0).padStart(6)} ms  ${p.pkg}`),
    '',
    'self time by package, runtime and native calls charged to their caller (% of busy):',
    ...summary.callers.map((p) => `  ${p.pct.toFixed(1).padStart(5)}%  ${p.selfMs.toFixed(0).padStart(6)} ms  ${p.pkg}`),
    '',
    'top functions by self time (% of busy):',
    ...summary.functions.map(
      (f) => `  ${f.pct.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(6)} ms  ${f.name}  ${f.where}`,
    ),
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('usage: bench/profile/summarize.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(formatSummary(summarizeProfile(file, Number(top ?? 25))));
}
