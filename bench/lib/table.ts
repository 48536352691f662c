export interface Row {
  readonly scenario: string;
  readonly metric: string;
  readonly unit: string;
  readonly ours: number | null;
  readonly baseline: number | null;
  /** ours / baseline. */
  readonly ratio: number | null;
  /** Human-readable target, e.g. "ratio ≥ 0.50" or "≤ 50 ms". */
  readonly target: string | null;
  readonly met: boolean | null;
  readonly note?: string;
  /** min–max over the rounds whose median `ours` / `baseline` is. */
  readonly spread?: { readonly ours?: readonly [number, number]; readonly baseline?: readonly [number, number] };
  /** Why the figure does not count: a run had failed or unverified answers. */
  readonly invalid?: string;
}

/** The row with the rounds' ranges (and marked invalid when a run of it failed). */
export function withRounds(r: Row, spread: Row['spread'], invalid?: string): Row {
  return { ...r, spread, ...(invalid ? { invalid, met: false } : {}) };
}

export type Check =
  | { readonly kind: 'ratio≥'; readonly value: number }
  | { readonly kind: 'ours≤'; readonly value: number }
  | { readonly kind: 'ours≥'; readonly value: number };

export function row(
  scenario: string,
  metric: string,
  unit: string,
  ours: number | null | undefined,
  baseline: number | null | undefined,
  check?: Check,
  note?: string,
): Row {
  const o = ours ?? null;
  const b = baseline ?? null;
  const ratio = o !== null && b !== null && b !== 0 && Number.isFinite(o) && Number.isFinite(b) ? o / b : null;
  let target: string | null = null;
  let met: boolean | null = null;
  if (check) {
    if (check.kind === 'ratio≥') {
      target = `ratio ≥ ${check.value.toFixed(2)}`;
      met = ratio === null ? false : ratio >= check.value;
    } else if (check.kind === 'ours≤') {
      target = `≤ ${fmt(check.value)} ${unit}`;
      met = o === null ? false : o <= check.value;
    } else {
      target = `≥ ${fmt(check.value)} ${unit}`;
      met = o === null ? false : o >= check.value;
    }
  }
  return { scenario, metric, unit, ours: o, baseline: b, ratio, target, met, note };
}

export function fmt(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function cells(r: Row): string[] {
  const range = (s?: readonly [number, number]) => (s ? ` (${fmt(s[0])}–${fmt(s[1])})` : '');
  const withUnit = (v: number | null, s?: readonly [number, number]) => (v === null ? '—' : `${fmt(v)} ${r.unit}${range(s)}`);
  return [
    r.scenario,
    r.metric,
    withUnit(r.ours, r.spread?.ours),
    withUnit(r.baseline, r.spread?.baseline),
    r.ratio === null ? '—' : r.ratio.toFixed(2),
    r.target ?? '—',
    r.invalid ? 'INVALID' : r.met === null ? '' : r.met ? 'yes' : 'NO',
  ];
}

const HEADER = ['scenario', 'metric', 'ours', 'baseline', 'ratio', 'target', 'met?'];

/** A fixed-width table for the terminal. */
export function textTable(rows: readonly Row[]): string {
  const all = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' │ ');
  const rule = widths.map((w) => '─'.repeat(w)).join('─┼─');
  return [line(HEADER), rule, ...rows.map((r) => line(cells(r)))].join('\n');
}

/** The same table as Markdown (for bench/README.md). */
export function markdownTable(rows: readonly Row[]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${HEADER.join(' | ')} |`,
    `| ${HEADER.map((_, i) => (i >= 2 && i <= 4 ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${cells(r).map(esc).join(' | ')} |`),
  ].join('\n');
}
