import { existsSync, mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import {
  columnsFor,
  hashpriceFromChain,
  hashrateFromDifficulty,
  loadPrices,
  loadSignalPlan,
  loadSite,
  miningUsdPerMwh,
  type Plan,
  planSite,
  samplePricesCsv,
  sampleSiteYaml,
  scheduleSvg,
  startSignal,
  toLpText,
} from '../../energy/index.js';
import { print } from '../context.js';
import { usage } from './ots-shared.js';

export function registerEnergy(program: Command): void {
  const energy = program
    .command('energy')
    .description("Plan a site's power between Bitcoin mining, AI and curtailment; serve AI's price floor")
    .exitOverride()
    .addHelpText(
      'after',
      `
Example:
  $ lightproof energy sample --out-dir site/            # synthetic site.yaml and prices.csv
  $ lightproof energy plan --site site/site.yaml --prices site/prices.csv --out plan.json --svg plan.svg
  $ lightproof energy signal --plan plan.json --port 8091   # the gateway's price hook`,
    );
  registerPlan(energy);
  registerSignal(energy);
  registerSample(energy);
  registerHashprice(energy);
}

interface PlanFlags {
  site: string;
  prices: string;
  node?: string;
  sort?: boolean;
  out?: string;
  svg?: string;
  lpOut?: string;
  timeLimit?: string;
  json?: boolean;
}

function registerPlan(energy: Command): void {
  energy
    .command('plan')
    .description('Schedule mining, AI and curtailment per interval with HiGHS; compare with the baselines')
    .requiredOption(
      '--site <file>',
      'site.yaml: grid cap, fleets, AI price and demand, hashprice, peaks, events',
    )
    .requiredOption(
      '--prices <file>',
      'power prices CSV: ERCOT, CAISO OASIS, PJM Data Miner or timestamp,price',
    )
    .option('--node <name>', 'settlement point / node to plan for when the CSV holds several')
    .option('--sort', 'sort the CSV rows by time instead of refusing out-of-order rows')
    .option('--out <file>', 'write the plan (JSON, read by energy signal)')
    .option('--svg <file>', 'write a chart of the schedule')
    .option('--lp-out <file>', 'write the model as CPLEX LP text')
    .option('--time-limit <seconds>', 'stop HiGHS after this long (default 60)')
    .option('--json', 'print the whole plan as JSON')
    .addHelpText(
      'after',
      `
Money is in millisatoshis at the site's btcUsd. Without minUpHours the model is a pure LP; with it,
the ASIC fleet gets on/off binaries (a MILP). A site whose loads can never fit fails with
LP_ENERGY_INFEASIBLE and names the interval or job; see docs/energy.md for the formats.

Example:
  $ lightproof energy plan --site site.yaml --prices prices.csv
  $ lightproof energy plan --site site.yaml --prices rtm_spp.csv --node HB_WEST --out plan.json --svg plan.svg`,
    )
    .action(async (flags: PlanFlags, cmd: Command) => {
      const timeLimit = flags.timeLimit === undefined ? 60 : Number(flags.timeLimit);
      if (!(timeLimit > 0 && timeLimit <= 86_400)) {
        usage(
          cmd,
          'LP_CLI_BAD_SECONDS',
          `--time-limit '${flags.timeLimit}' is not a number of seconds between 0 and 86400.`,
        );
      }
      const site = loadSite(flags.site);
      const prices = loadPrices(flags.prices, {
        columns: columnsFor(site),
        ...(flags.node !== undefined ? { node: flags.node } : {}),
        sort: flags.sort ?? false,
      });
      const planned = await planSite(site, prices, { timeLimitSeconds: timeLimit });
      const files: { path: string; text: string }[] = [];
      if (flags.out) files.push({ path: flags.out, text: toJson(planned.plan) });
      if (flags.svg) files.push({ path: flags.svg, text: scheduleSvg(planned.plan, site.gridCapMw) });
      if (flags.lpOut) files.push({ path: flags.lpOut, text: toLpText(planned.model) });
      for (const f of files) writeWhole(f.path, f.text);
      if (flags.json) return print(toJson(planned.plan));
      print(
        summary(
          planned.plan,
          files.map((f) => f.path),
        ),
      );
    });
}

function summary(plan: Plan, written: string[]): string {
  const o = plan.outcomes;
  const sat = (v: bigint) => (v / 1000n).toLocaleString('en-US');
  const row = (name: string, x: Plan['outcomes']['plan']) =>
    `${name.padEnd(12)}${sat(x.net_msat).padStart(18)}${sat(x.mining_msat).padStart(16)}${sat(x.ai_msat).padStart(18)}${sat(x.energy_cost_msat + x.peak_charges_msat - x.demand_response_msat).padStart(16)}${x.mining_mwh.toFixed(0).padStart(11)}${x.ai_mwh.toFixed(0).padStart(10)}`;
  const s = plan.solver;
  const floors = plan.intervals.map((i) => i.floor_msat_per_request);
  return [
    `${plan.site}: ${plan.intervals.length} intervals of ${plan.step_minutes} min from ${plan.intervals[0]?.start}`,
    `solver: HiGHS ${s.kind.toUpperCase()} ${s.status}, ${s.columns} columns, ${s.rows} rows, ${s.integers} binaries; built in ${s.build_ms} ms, solved in ${s.solve_ms} ms`,
    '',
    `${'sats'.padEnd(12)}${'net'.padStart(18)}${'mining'.padStart(16)}${'AI'.padStart(18)}${'power cost'.padStart(16)}${'mine MWh'.padStart(11)}${'AI MWh'.padStart(10)}`,
    row('plan', o.plan),
    row('threshold', o.threshold),
    row('mine-only', o.mine_only),
    row('ai-only', o.ai_only),
    '',
    `AI price floor: ${Math.min(...floors)}..${Math.max(...floors)} msat per request of ${plan.tokens_per_request} tokens (AI earns ${plan.ai_usd_per_mwh} $/MWh)`,
    ...written.map((p) => `wrote ${p}`),
  ].join('\n');
}

/** Written aside and renamed into place: a crash leaves the old file or the new one, never half. */
function writeWhole(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (cause) {
    try {
      unlinkSync(tmp);
    } catch {}
    throw new LightproofError('LP_ENERGY_WRITE', `Cannot write ${path}: ${(cause as Error).message}.`, {
      cause,
    });
  }
}

function registerSignal(energy: Command): void {
  energy
    .command('signal')
    .description("Serve the plan's price floor for the current interval as the gateway's price hook")
    .requiredOption('--plan <file>', 'a plan written by energy plan --out')
    .option('--port <port>', 'port to listen on (default 8091; 0 picks one)', '8091')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--unit <unit>', 'what price_msat prices: request or 1k-tokens', 'request')
    .addHelpText(
      'after',
      `
GET /price?service=NAME answers {"price_msat": N, ...}: the floor of the interval holding now.
Outside the plan it answers 503 (the gateway then uses its fallback price, or refuses to sell).
In gateway.yaml: price: { hook: { url: http://127.0.0.1:8091/price, cache: 60s } }

Example:
  $ lightproof energy signal --plan plan.json --port 8091`,
    )
    .action(async (flags: { plan: string; port: string; host: string; unit: string }, cmd: Command) => {
      const port = Number(flags.port);
      if (!/^\d{1,5}$/.test(flags.port) || port > 65535)
        usage(cmd, 'LP_CLI_BAD_PORT', `--port '${flags.port}' is not a port number (0..65535).`);
      if (flags.unit !== 'request' && flags.unit !== '1k-tokens')
        usage(cmd, 'LP_CLI_USAGE', `--unit '${flags.unit}' is not request or 1k-tokens.`);
      const plan = loadSignalPlan(flags.plan);
      const signal = await startSignal({ plan, host: flags.host, port, unit: flags.unit });
      print(
        toJson({
          url: `${signal.url}/price`,
          site: plan.site,
          unit: flags.unit,
          from: new Date(plan.start).toISOString(),
          intervals: plan.value.length,
        }),
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await signal.close();
    });
}

interface SampleFlags {
  outDir: string;
  seed: string;
  days: string;
  stepMinutes: string;
  start: string;
}

function registerSample(energy: Command): void {
  energy
    .command('sample')
    .description('Write a SYNTHETIC site.yaml and prices.csv made from a seed (not market data)')
    .option('--out-dir <dir>', 'where to write them', '.')
    .option('--seed <n>', 'the same seed gives the same files', '7')
    .option('--days <n>', 'length of the price series', '14')
    .option('--step-minutes <n>', 'interval length', '60')
    .option('--start <date>', 'first interval (UTC)', '2026-06-01T00:00:00Z')
    .addHelpText(
      'after',
      '\nExample:\n  $ lightproof energy sample --out-dir site --days 30 --step-minutes 15',
    )
    .action((flags: SampleFlags, cmd: Command) => {
      const int = (flag: string, v: string, max: number) => {
        if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max)
          usage(cmd, 'LP_CLI_USAGE', `${flag} '${v}' is not a whole number from 1 to ${max}.`);
        return Number(v);
      };
      const seed = /^\d{1,10}$/.test(flags.seed)
        ? Number(flags.seed)
        : usage(cmd, 'LP_CLI_USAGE', `--seed '${flags.seed}' is not a whole number.`);
      const step = int('--step-minutes', flags.stepMinutes, 1440);
      const days = int('--days', flags.days, 366);
      const start = Date.parse(flags.start);
      if (Number.isNaN(start) || start % 60_000 !== 0)
        usage(cmd, 'LP_CLI_USAGE', `--start '${flags.start}' is not a whole-minute ISO 8601 time.`);
      const o = { seed, start, intervals: Math.floor((days * 1440) / step), stepMinutes: step };
      if (o.intervals < 2)
        usage(
          cmd,
          'LP_CLI_USAGE',
          'The sample needs at least two intervals; add days or shorten --step-minutes.',
        );
      const site = join(flags.outDir, 'site.yaml');
      const prices = join(flags.outDir, 'prices.csv');
      for (const p of [site, prices]) {
        if (existsSync(p))
          throw new LightproofError(
            'LP_ENERGY_OUTPUT_EXISTS',
            `${p} already exists; move it away or choose another --out-dir.`,
          );
      }
      mkdirSync(flags.outDir, { recursive: true });
      writeWhole(site, sampleSiteYaml(o));
      writeWhole(prices, samplePricesCsv(o));
      print(toJson({ site, prices, intervals: o.intervals, step_minutes: step, seed, synthetic: true }));
    });
}

interface HashpriceFlags {
  btcUsd: string;
  difficulty?: string;
  hashrateEhs?: string;
  subsidy: string;
  fees: string;
  joulesPerTh: string;
  poolFee: string;
}

function registerHashprice(energy: Command): void {
  energy
    .command('hashprice')
    .description(
      'Hashprice ($/PH/day) from BTC price, difficulty or hashrate, subsidy and fees; and break-even $/MWh',
    )
    .requiredOption('--btc-usd <usd>', 'bitcoin price in USD')
    .option('--difficulty <d>', 'network difficulty')
    .option('--hashrate-ehs <eh>', 'network hashrate in EH/s (instead of --difficulty)')
    .option('--subsidy <btc>', 'block subsidy', '3.125')
    .option('--fees <btc>', 'fees per block', '0')
    .option('--joules-per-th <j>', 'ASIC efficiency, for the break-even power price', '17.5')
    .option('--pool-fee <fraction>', 'pool fee, 0..1', '0')
    .addHelpText(
      'after',
      '\nExample:\n  $ lightproof energy hashprice --btc-usd 91000 --difficulty 152e12 --fees 0.02',
    )
    .action((f: HashpriceFlags, cmd: Command) => {
      const num = (flag: string, v: string, min: number, max: number) => {
        const n = Number(v);
        if (v.trim() === '' || !(n >= min && n <= max))
          usage(cmd, 'LP_CLI_USAGE', `${flag} '${v}' is not a number from ${min} to ${max}.`);
        return n;
      };
      if ((f.difficulty === undefined) === (f.hashrateEhs === undefined))
        usage(cmd, 'LP_CLI_USAGE', 'Give exactly one of --difficulty or --hashrate-ehs.');
      const hps =
        f.difficulty !== undefined
          ? hashrateFromDifficulty(num('--difficulty', f.difficulty, 1, 1e30))
          : num('--hashrate-ehs', f.hashrateEhs!, 1e-9, 1e9) * 1e18;
      const hp = hashpriceFromChain({
        btcUsd: num('--btc-usd', f.btcUsd, 0.01, 1e9),
        networkHashesPerSecond: hps,
        subsidyBtc: num('--subsidy', f.subsidy, 0, 50),
        feesBtcPerBlock: num('--fees', f.fees, 0, 1000),
      });
      const j = num('--joules-per-th', f.joulesPerTh, 0.01, 1000);
      const breakEven = miningUsdPerMwh(hp, j, num('--pool-fee', f.poolFee, 0, 1));
      print(
        toJson({
          hashprice_usd_per_ph_day: round(hp),
          network_eh_s: round(hps / 1e18),
          break_even_usd_per_mwh: round(breakEven),
          joules_per_th: j,
        }),
      );
    });
}

const round = (v: number) => Math.round(v * 100) / 100;
