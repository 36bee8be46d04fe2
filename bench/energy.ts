/**
 * Energy planner benchmarks on the synthetic sample site (AI demand with an SLA, a backlog job,
 * a peak window, a demand-response event):
 * - planning time (read the CSV, build the model, HiGHS, baselines, floor) for one year of hourly
 *   intervals (goal: under 2 s) and one month of 5-minute intervals;
 * - peers measured in the same run: the simple threshold rule over the same intervals (what a site
 *   runs without a planner), and HiGHS fed the same model as CPLEX LP text instead of arrays;
 * - the MILP: the same year with a 4-hour minimum up time (on/off binaries).
 * LIGHTPROOF_BENCH_RUNS (3) runs each; LIGHTPROOF_BENCH_ENERGY_SCALE (1) shrinks the horizons for a
 * quick check. Figures are printed, never asserted.
 */
import { cpus } from 'node:os';
import { parse } from 'yaml';
import {
  buildModel,
  evaluate,
  loadHighs,
  parsePrices,
  parseSite,
  planSite,
  problemFrom,
  samplePricesCsv,
  sampleSiteYaml,
  threshold,
  toLpText,
} from '../src/energy/index.js';
import { summarize } from './stats.js';

const RUNS = Number(process.env.LIGHTPROOF_BENCH_RUNS ?? 3);
const SCALE = Number(process.env.LIGHTPROOF_BENCH_ENERGY_SCALE ?? 1);

interface Case {
  name: string;
  intervals: number;
  stepMinutes: number;
  minUpHours?: number;
}

export async function benchEnergy(): Promise<void> {
  await loadHighs();
  console.log('\nEnergy planner (synthetic sample site, HiGHS 1.15 WASM)');
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}`,
  );
  const cases: Case[] = [
    { name: 'year, hourly', intervals: Math.round(8760 * SCALE), stepMinutes: 60 },
    { name: 'month, 5-minute', intervals: Math.round(8640 * SCALE), stepMinutes: 5 },
    {
      name: 'year, hourly, 4 h minimum up time (MILP)',
      intervals: Math.round(8760 * SCALE),
      stepMinutes: 60,
      minUpHours: 4,
    },
  ];
  for (const c of cases) await one(c);
}

async function one(c: Case): Promise<void> {
  const o = { seed: 7, start: Date.UTC(2026, 0, 1), intervals: c.intervals, stepMinutes: c.stepMinutes };
  const raw = parse(sampleSiteYaml(o)) as { asics: Record<string, unknown> };
  if (c.minUpHours) raw.asics.minUpHours = c.minUpHours;
  const site = parseSite(raw, 'sample site');
  const csv = samplePricesCsv(o);
  const plan: number[] = [];
  const solve: number[] = [];
  let last: Awaited<ReturnType<typeof planSite>> | undefined;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    last = await planSite(site, parsePrices(csv, 'prices.csv'), { timeLimitSeconds: 120 });
    plan.push(performance.now() - t0);
    solve.push(last.plan.solver.solve_ms);
  }
  const s = last!.plan.solver;
  const { problem, market } = problemFrom(site, parsePrices(csv, 'prices.csv'));
  const rule: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    evaluate(problem, market, threshold(problem));
    rule.push(performance.now() - t0);
  }
  const net = Number(last!.plan.outcomes.plan.net_msat);
  const ruleNet = Number(last!.plan.outcomes.threshold.net_msat);
  console.log(
    `\n${c.name}: ${c.intervals} intervals; ${s.columns} columns, ${s.rows} rows, ${s.integers} binaries`,
  );
  line('plan (CSV + build + HiGHS + baselines)', plan);
  line('  of which HiGHS (arrays in, solution out)', solve);
  line('simple threshold rule (peer)', rule);
  console.log(
    `  ratio: planning takes ${(med(plan) / med(rule)).toFixed(0)} x the rule's time and earns ${(((net - ruleNet) / Math.abs(ruleNet)) * 100).toFixed(2)} % more (net ${fmtBtc(net)} vs ${fmtBtc(ruleNet)} BTC)`,
  );
  if (s.kind === 'milp') {
    console.log(`  MILP status ${s.status}, relative gap ${s.mip_gap.toExponential(1)}`);
    return;
  }
  // The same model through CPLEX LP text: write it, then HiGHS parses and solves it.
  const model = buildModel(problem);
  const highs = await loadHighs();
  const write: number[] = [];
  const text: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const lp = toLpText(model);
    const t1 = performance.now();
    const m = highs.createModel();
    try {
      m.options.set({ output_flag: false, presolve: 'off' });
      m.readModel({ format: 'lp', data: lp });
      m.run();
    } finally {
      m.dispose();
    }
    write.push(t1 - t0);
    text.push(performance.now() - t1);
  }
  line('LP text: write it', write);
  line('LP text: HiGHS reads and solves it', text);
  console.log(`  ratio: text route ${((med(write) + med(text)) / med(solve)).toFixed(1)} x the arrays route`);
}

const med = (xs: number[]) => summarize(xs).medianMs;
const fmtBtc = (msat: number) => (msat / 1e11).toFixed(3);
function line(name: string, xs: number[]): void {
  console.log(`  ${name.padEnd(46)} median ${med(xs).toFixed(1).padStart(8)} ms  (n=${xs.length})`);
}
