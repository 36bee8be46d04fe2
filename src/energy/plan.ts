/**
 * `planSite`: site + prices → model → HiGHS → a schedule, its outcome against the three baselines,
 * and the price floor of every interval. The result is plain JSON (snake_case, money in integer
 * msat) so `lightproof energy signal` and other tools can read it back.
 */
import { floorFor, usdToMsat } from './floor.js';
import { type Market, problemFrom } from './inputs.js';
import { buildModel, type Model, type Problem } from './model.js';
import { aiOnly, evaluate, mineOnly, type Outcome, type Schedule, threshold } from './outcome.js';
import type { PriceSeries } from './prices.js';
import type { Site } from './site.js';
import { type SolveOptions, solveModel } from './solve.js';

export interface PlanInterval {
  start: string;
  price_usd_per_mwh: number;
  mining_usd_per_mwh: number;
  mining_mw: number;
  ai_mw: number;
  curtailed_mw: number;
  /** Marginal value of one more MWh at the site in this interval. */
  value_usd_per_mwh: number;
  floor_msat_per_request: number;
  floor_msat_per_1k_tokens: number;
}

export interface OutcomeMsat {
  net_msat: bigint;
  mining_msat: bigint;
  ai_msat: bigint;
  demand_response_msat: bigint;
  energy_cost_msat: bigint;
  peak_charges_msat: bigint;
  startup_msat: bigint;
  mining_mwh: number;
  ai_mwh: number;
  curtailed_mwh: number;
}

export interface Plan {
  version: 1;
  site: string;
  btc_usd: number;
  step_minutes: number;
  tokens_per_request: number;
  ai_usd_per_mwh: number;
  solver: {
    kind: 'lp' | 'milp';
    status: 'optimal' | 'time-limit';
    mip_gap: number;
    columns: number;
    rows: number;
    integers: number;
    build_ms: number;
    solve_ms: number;
  };
  outcomes: { plan: OutcomeMsat; mine_only: OutcomeMsat; ai_only: OutcomeMsat; threshold: OutcomeMsat };
  intervals: PlanInterval[];
}

export interface Planned {
  plan: Plan;
  problem: Problem;
  model: Model;
  schedule: Schedule;
  market: Market;
  /** The solver's objective ($): the plan's net less the demand-response credit at zero draw. */
  objectiveUsd: number;
}

export async function planSite(site: Site, prices: PriceSeries, o: SolveOptions = {}): Promise<Planned> {
  const { problem, market } = problemFrom(site, prices);
  const t0 = performance.now();
  const model = buildModel(problem);
  const buildMs = performance.now() - t0;
  const solved = await solveModel(model, o);
  const { n } = problem;
  const L = model.layout;
  const x = solved.colValue;
  const schedule: Schedule = { mine: x.slice(L.mine, L.mine + n), ai: x.slice(L.ai, L.ai + n) };
  problem.jobs.forEach((j, k) => {
    for (let t = j.first; t <= j.last; t++) schedule.ai[t]! += x[L.jobCol[k]! + t - j.first]!;
  });
  const value = new Float64Array(n);
  for (let t = 0; t < n; t++) value[t] = problem.price[t]! + solved.rowDual[L.capRow + t]! / problem.dtHours;
  problem.peaks.forEach((w, k) => {
    for (let t = w.first; t <= w.last; t++)
      value[t]! += solved.rowDual[L.peakRow[k]! + t - w.first]! / problem.dtHours;
  });
  const intervals: PlanInterval[] = [];
  for (let t = 0; t < n; t++) {
    const floor = floorFor(value[t]!, site);
    intervals.push({
      start: new Date(market.starts[t]!).toISOString(),
      price_usd_per_mwh: market.price[t]!,
      mining_usd_per_mwh: r4(problem.mineUsdPerMwh[t]!),
      mining_mw: r4(schedule.mine[t]!),
      ai_mw: r4(schedule.ai[t]!),
      curtailed_mw: r4(problem.mineMw - schedule.mine[t]!),
      value_usd_per_mwh: r4(value[t]!),
      floor_msat_per_request: floor.perRequestMsat,
      floor_msat_per_1k_tokens: floor.per1kTokensMsat,
    });
  }
  const msat = (o: Outcome) => toMsat(o, site.btcUsd);
  const plan: Plan = {
    version: 1,
    site: site.name,
    btc_usd: site.btcUsd,
    step_minutes: market.stepMinutes,
    tokens_per_request: site.ai.tokensPerRequest,
    ai_usd_per_mwh: r4(site.ai.usdPerMwh),
    solver: {
      kind: model.integers.length > 0 ? 'milp' : 'lp',
      status: solved.status,
      mip_gap: solved.mipGap,
      columns: model.numCols,
      rows: model.numRows,
      integers: model.integers.length,
      build_ms: Math.round(buildMs),
      solve_ms: Math.round(solved.solveMs),
    },
    outcomes: {
      plan: msat(evaluate(problem, market, schedule)),
      mine_only: msat(evaluate(problem, market, mineOnly(problem))),
      ai_only: msat(evaluate(problem, market, aiOnly(problem))),
      threshold: msat(evaluate(problem, market, threshold(problem))),
    },
    intervals,
  };
  return { plan, problem, model, schedule, market, objectiveUsd: solved.objective };
}

function toMsat(o: Outcome, btcUsd: number): OutcomeMsat {
  const m = (usd: number) => (usd < 0 ? -usdToMsat(-usd, btcUsd) : usdToMsat(usd, btcUsd));
  return {
    net_msat: m(o.netUsd),
    mining_msat: m(o.miningUsd),
    ai_msat: m(o.aiUsd),
    demand_response_msat: m(o.demandResponseUsd),
    energy_cost_msat: m(o.energyUsd),
    peak_charges_msat: m(o.peakUsd),
    startup_msat: m(o.startupUsd),
    mining_mwh: r4(o.miningMwh),
    ai_mwh: r4(o.aiMwh),
    curtailed_mwh: r4(o.curtailedMwh),
  };
}

const r4 = (v: number) => Math.round(v * 1e4) / 1e4 + 0;
