/** Latency summaries for benchmarks: figures are printed, never asserted. */
export function summarize(samplesMs: number[]): {
  n: number;
  medianMs: number;
  p90Ms: number;
  p99Ms: number;
} {
  const s = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return { n: s.length, medianMs: at(0.5), p90Ms: at(0.9), p99Ms: at(0.99) };
}

export async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out;
}

export function row(name: string, samples: number[]): string {
  const x = summarize(samples);
  return `${name.padEnd(58)} n=${String(x.n).padStart(4)}  median ${x.medianMs.toFixed(2).padStart(8)} ms  p90 ${x.p90Ms.toFixed(2).padStart(8)} ms  p99 ${x.p99Ms.toFixed(2).padStart(8)} ms`;
}
