/**
 * Turns a site and a price series into the model's per-interval numbers, and refuses up front the
 * sites whose loads can never fit, naming the interval or job, before HiGHS is asked.
 */
import { LightproofError } from '../core/errors.js';
import { hashpriceSeries, miningUsdPerMwh } from './hashprice.js';
import type { Problem } from './model.js';
import type { PriceSeries } from './prices.js';
import type { Site } from './site.js';

/** What accounting needs besides the model: the price actually paid and the credits. */
export interface Market {
  starts: Float64Array;
  stepMinutes: number;
  /** $/MWh the site pays. */
  price: Float64Array;
  /** $/MWh paid for each MWh below the grid cap during demand-response events. */
  credit: Float64Array;
  gridCapMw: number;
  hashprice: Float64Array;
}

/** The extra price-file columns SITE reads (hashprice, AI demand). */
export function columnsFor(site: Site): string[] {
  const out: string[] = [];
  if (site.hashprice.kind === 'column') out.push(site.hashprice.column);
  if (site.ai.demand?.kind === 'column') out.push(site.ai.demand.column);
  return out;
}

export function problemFrom(site: Site, prices: PriceSeries): { problem: Problem; market: Market } {
  const n = prices.prices.length;
  const step = prices.stepMinutes * 60_000;
  const dt = prices.stepMinutes / 60;
  const { starts } = prices;
  const column = (name: string) => {
    const c = prices.columns[name];
    if (!c)
      throw new LightproofError(
        'LP_ENERGY_CSV_COLUMNS',
        `${prices.source} has no "${name}" column, which ${site.source} reads.`,
      );
    return c;
  };
  const hashprice = hashpriceSeries(site.hashprice, n, site.btcUsd, column);
  const badHp = hashprice.findIndex((v) => !(v >= 0));
  if (badHp >= 0) {
    throw new LightproofError(
      'LP_ENERGY_CSV_VALUE',
      `${prices.source}: the hashprice at ${iso(starts[badHp]!)} is ${hashprice[badHp]}; it must be 0 or more ($/PH/day).`,
    );
  }
  const mine = hashprice.map((hp) => miningUsdPerMwh(hp, site.asics.joulesPerTh, site.poolFee));

  const cap = new Float64Array(n).fill(site.gridCapMw);
  const credit = new Float64Array(n);
  /** Intervals overlapping [from, to). */
  const overlapping = (from: number, to: number): [number, number] => [
    Math.max(0, Math.floor((from - starts[0]!) / step)),
    Math.min(n - 1, Math.ceil((to - starts[0]!) / step) - 1),
  ];
  for (const e of site.demandResponse) {
    const [a, b] = overlapping(e.from, e.to);
    for (let t = a; t <= b; t++) {
      if (e.maxMw !== null) cap[t] = Math.min(cap[t]!, e.maxMw);
      credit[t]! += e.creditUsdPerMwh;
    }
  }

  const gpuMw = site.gpus.fleetMw;
  const demandGpus =
    site.ai.demand === null
      ? new Float64Array(n)
      : site.ai.demand.kind === 'gpus'
        ? new Float64Array(n).fill(site.ai.demand.gpus)
        : column(site.ai.demand.column);
  const aiMax = new Float64Array(n);
  const aiMin = new Float64Array(n);
  const sla = site.ai.demand?.sla ?? 0;
  for (let t = 0; t < n; t++) {
    const g = demandGpus[t]!;
    if (!(g >= 0))
      throw new LightproofError(
        'LP_ENERGY_CSV_VALUE',
        `${prices.source}: the AI demand at ${iso(starts[t]!)} is ${g} GPUs; it must be 0 or more.`,
      );
    aiMax[t] = (Math.min(g, site.gpus.count) * site.gpus.watts) / 1e6;
    aiMin[t] = sla * aiMax[t]!;
    if (aiMin[t]! > cap[t]! + 1e-9) {
      throw new LightproofError(
        'LP_ENERGY_INFEASIBLE',
        `${site.source}: at ${iso(starts[t]!)} the AI SLA floor needs ${round(aiMin[t]!)} MW but the site may draw only ${round(cap[t]!)} MW (grid cap or a demand-response event). Lower ai.demand.sla or the event's maxMw.`,
        { status: 422, details: { interval: iso(starts[t]!) } },
      );
    }
  }

  const jobs = site.ai.backlog.map((j) => {
    const first = Math.max(0, Math.ceil((j.from - starts[0]!) / step));
    const last = Math.min(n - 1, Math.floor((j.deadline - starts[0]!) / step) - 1);
    const mwh = (j.gpuHours * site.gpus.watts) / 1e6;
    const room = first > last ? 0 : (last - first + 1) * dt * Math.min(gpuMw, site.gridCapMw);
    if (mwh > room + 1e-9) {
      throw new LightproofError(
        'LP_ENERGY_INFEASIBLE',
        `${site.source}: backlog job "${j.name}" needs ${round(mwh)} MWh of GPU time, but between ${iso(j.from)} and its deadline ${iso(j.deadline)} the price series leaves room for at most ${round(room)} MWh. Move the deadline, shrink the job or add GPUs.`,
        { status: 422, details: { job: j.name } },
      );
    }
    return { name: j.name, mwh, first, last };
  });

  const peaks = site.peaks.flatMap((w) => {
    const [first, last] = overlapping(w.from, w.to);
    return first <= last ? [{ name: w.name, first, last, usdPerMw: w.usdPerKw * 1000 }] : [];
  });

  const stepsUp =
    site.asics.minUpHours === null ? null : Math.max(1, Math.ceil(site.asics.minUpHours / dt - 1e-9));
  const problem: Problem = {
    n,
    dtHours: dt,
    price: prices.prices.map((p, t) => p + credit[t]!),
    mineUsdPerMwh: mine,
    aiUsdPerMwh: site.ai.usdPerMwh,
    cap,
    mineMw: site.asics.fleetMw,
    aiMin,
    aiMax,
    gpuMw,
    jobs,
    peaks,
    rampMw: site.asics.rampMwPerHour === null ? null : site.asics.rampMwPerHour * dt,
    minUpSteps: stepsUp,
    minLoadFraction: site.asics.minLoadFraction,
    startupUsd: site.asics.startupUsd,
  };
  return {
    problem,
    market: {
      starts,
      stepMinutes: prices.stepMinutes,
      price: prices.prices,
      credit,
      gridCapMw: site.gridCapMw,
      hashprice,
    },
  };
}

const iso = (t: number) => new Date(t).toISOString();
const round = (x: number) => Math.round(x * 1000) / 1000;
