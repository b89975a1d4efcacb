// Latency summaries for the load generator: nearest-rank percentiles over the per-SA setup times.

export interface LatencySummary {
  readonly count: number;
  readonly min: number;
  readonly median: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentile (p in 0..100) of ascending `sorted`; NaN for an empty list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} not in 0..100`);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const s = [...samples].sort((a, b) => a - b);
  return {
    count: s.length,
    min: s[0] ?? Number.NaN,
    median: percentile(s, 50),
    p99: percentile(s, 99),
    max: s[s.length - 1] ?? Number.NaN,
  };
}
