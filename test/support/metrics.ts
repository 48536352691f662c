/** The value of one sample of Prometheus text (exact label set), or undefined. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').split(',').filter(Boolean).sort().join(',');
    if (have === wanted) return Number(match[3]);
  }
  return undefined;
}

/** The sum of every sample of `name` whose labels include `labels`. */
export function total(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = new Set((match[2] ?? '').split(',').filter(Boolean));
    if (Object.entries(labels).every(([k, v]) => have.has(`${k}="${v}"`))) sum += Number(match[3]);
  }
  return sum;
}

/** GET /metrics of a server (its GraphQL URL), as text. */
export async function scrapeMetrics(graphqlUrl: string): Promise<string> {
  const res = await fetch(new URL('/metrics', graphqlUrl));
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}
