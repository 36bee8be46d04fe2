/**
 * Synthetic sample data, made here from a seed so the project ships no third-party prices:
 * an ERCOT-flavoured power price series (a daily shape, weekly and seasonal drift, noise, windy
 * nights with negative prices, and rare scarcity spikes up to the $5,000/MWh cap) and a site.yaml.
 * The numbers are plausible, not real; docs/energy.md says so, and so does the file's header.
 */

/** splitmix32: small, fast and the same on every platform, which is all a sample needs. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

export interface SampleOptions {
  seed: number;
  /** First interval (UTC epoch ms). */
  start: number;
  intervals: number;
  stepMinutes: number;
}

/** Prices in $/MWh, one per interval. */
export function samplePrices(o: SampleOptions): Float64Array {
  const r = rng(o.seed);
  const out = new Float64Array(o.intervals);
  let wind = 0;
  let spike = 0;
  for (let t = 0; t < o.intervals; t++) {
    const at = new Date(o.start + t * o.stepMinutes * 60_000);
    // Central time is UTC-6 or -5; an hour's error does not matter for a synthetic shape.
    const hour = (at.getUTCHours() + at.getUTCMinutes() / 60 + 18) % 24;
    const summer = Math.max(0, Math.sin(((at.getUTCMonth() + 0.5 - 3) / 12) * 2 * Math.PI));
    const daily =
      10 * Math.sin(((hour - 9) / 24) * 2 * Math.PI) + (hour >= 15 && hour < 20 ? 15 + 40 * summer : 0);
    wind = 0.97 * wind + (r() - 0.5) * 6;
    if (spike > 0) spike *= 0.6;
    if (r() < 0.0015 * (1 + 3 * summer) * (hour >= 14 && hour < 21 ? 4 : 0.2)) spike = 300 + r() ** 3 * 4700;
    const night = hour < 6 ? 1 : 0;
    let p = 32 + daily - 2.5 * wind * (1 + night) + (r() - 0.5) * 8 + spike;
    if (night && wind > 8 && r() < 0.3) p = -5 - r() * 25;
    out[t] = Math.round(Math.min(5000, Math.max(-250, p)) * 100) / 100;
  }
  return out;
}

export function samplePricesCsv(o: SampleOptions): string {
  const prices = samplePrices(o);
  const lines = [
    `# SYNTHETIC power prices made by "lightproof energy sample --seed ${o.seed}": not market data.`,
    'timestamp,price_usd_per_mwh',
  ];
  for (let t = 0; t < prices.length; t++) {
    lines.push(
      `${new Date(o.start + t * o.stepMinutes * 60_000).toISOString().replace('.000Z', 'Z')},${prices[t]}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** A 40 MW mullet site: S21-class miners in the back, H100-class GPUs in the front. */
export function sampleSiteYaml(o: Pick<SampleOptions, 'start' | 'intervals' | 'stepMinutes'>): string {
  const end = o.start + o.intervals * o.stepMinutes * 60_000;
  const day = 86_400_000;
  const at = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');
  // A peak window in the afternoon of the horizon's middle day, and a demand-response event a day later.
  const mid = o.start + Math.floor((end - o.start) / day / 2) * day;
  return `# SYNTHETIC sample site for "lightproof energy plan" (see docs/energy.md). Not a real site.
name: sample-mullet
gridCapMw: 40
btcUsd: 91000
asics:
  count: 8000            # S21-class: 200 TH/s at 17.5 J/TH, 3.5 kW each = 28 MW
  thPerSecond: 200
  joulesPerTh: 17.5
gpus:
  count: 16000           # H100-class at 1,275 W at the wall = 20.4 MW
  watts: 1275
  tokensPerSecond: 2209
ai:
  price:
    usdPerMillionTokens: 0.6
  demand:
    gpus: 9000           # steady inference demand; half of it is under SLA
    sla: 0.5
  backlog:
    - name: nightly-batch
      gpuHours: 20000
      from: ${at(o.start)}
      deadline: ${at(Math.min(end, o.start + 3 * day))}
  tokensPerRequest: 1000
hashprice:
  difficulty: 152000000000000
  subsidyBtc: 3.125
  feesBtcPerBlock: 0.02
poolFee: 0.02
peaks:
  - name: 4cp-sample
    from: ${at(mid + 20 * 3_600_000)}
    to: ${at(mid + 21 * 3_600_000)}
    usdPerKw: 30
demandResponse:
  - from: ${at(mid + day + 19 * 3_600_000)}
    to: ${at(mid + day + 21 * 3_600_000)}
    maxMw: 15
    creditUsdPerMwh: 100
`;
}
