import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { isLightproofError } from '../core/errors.js';
import { toLpText } from './lp-text.js';
import { threshold } from './outcome.js';
import { type Planned, planSite } from './plan.js';
import { parsePrices } from './prices.js';
import { rng, samplePricesCsv, sampleSiteYaml } from './sample.js';
import { parseSite } from './site.js';
import { loadHighs } from './solve.js';

/**
 * A site whose numbers make hand-solving easy: J/TH = 1000/24 makes mining earn exactly the
 * hashprice per MWh (r_mine = HP), 1,000 ASICs of 240 TH/s are 10 MW, 5,000 GPUs of 1 kW are 5 MW,
 * $0.2 per GPU-hour is $200/MWh, and at $100,000/BTC one dollar is 1,000,000 msat.
 */
function site(
  over: Record<string, unknown> = {},
  asics: Record<string, unknown> = {},
  ai: Record<string, unknown> = {},
) {
  return parseSite(
    {
      name: 'hand',
      gridCapMw: 12,
      btcUsd: 100_000,
      asics: { count: 1000, thPerSecond: 240, joulesPerTh: 1000 / 24, ...asics },
      gpus: { count: 5000, watts: 1000, tokensPerSecond: 1000 },
      ai: { price: { usdPerGpuHour: 0.2 }, demand: { gpus: 5000 }, ...ai },
      hashprice: { usdPerPhDay: 50 },
      ...over,
    },
    'test site',
  );
}

function hourly(prices: number[], extra: Record<string, number[]> = {}) {
  const names = Object.keys(extra);
  const lines = [['timestamp', 'price', ...names].join(',')];
  prices.forEach((p, t) => {
    lines.push(
      [new Date(Date.UTC(2026, 0, 1, t)).toISOString(), p, ...names.map((n) => extra[n]![t])].join(','),
    );
  });
  return parsePrices(lines.join('\n'), 'test prices', { columns: names });
}

const at = (h: number) => new Date(Date.UTC(2026, 0, 1, h)).toISOString();
function near(a: ArrayLike<number>, b: number[], what: string): void {
  b.forEach((v, i) => {
    assert.ok(Math.abs(a[i]! - v) < 1e-6, `${what}[${i}] = ${a[i]}, expected ${v}`);
  });
}
const net = (p: Planned) => Number(p.plan.outcomes.plan.net_msat) / 1e6;

describe('energy plan: small cases solved by hand', () => {
  it('fills the cap with AI first, then mines while power costs less than mining earns', async () => {
    const p = await planSite(site(), hourly([30, 80, -20]));
    assert.equal(p.plan.solver.kind, 'lp');
    near(p.schedule.ai, [5, 5, 5], 'ai');
    near(p.schedule.mine, [7, 0, 7], 'mine');
    // 5·170 + 7·20, 5·120, 5·220 + 7·70
    assert.ok(Math.abs(net(p) - 3180) < 1e-3, `net ${net(p)}`);
    // Cap binding with mining on the margin: power is worth what mining earns; else its price.
    near(
      p.plan.intervals.map((i) => i.value_usd_per_mwh),
      [50, 80, 50],
      'value',
    );
    assert.equal(p.plan.outcomes.mine_only.mining_mwh, 30);
    assert.equal(p.plan.outcomes.ai_only.ai_mwh, 15);
  });

  it('turns the value of power into msat per 1,000 tokens and per request, rounded up', async () => {
    const p = await planSite(site({}, {}, { tokensPerRequest: 3000 }), hourly([30, 80, -20]));
    // 1,000 tokens at 1,000 tok/s on a 1 kW GPU take 1 kWh/3600; at $80/MWh that is $2.2e-5 = 22.2 msat.
    assert.equal(p.plan.intervals[1]!.floor_msat_per_1k_tokens, 23);
    assert.equal(p.plan.intervals[1]!.floor_msat_per_request, 67);
    assert.equal(p.plan.intervals[0]!.floor_msat_per_1k_tokens, 14);
  });

  it('drops mining in a peak window when the peak charge outweighs its margin', async () => {
    const peaks = [{ from: at(0), to: at(1), usdPerKw: 0.1 }];
    const p = await planSite(site({ peaks }), hourly([30, 80, -20]));
    near(p.schedule.mine, [0, 0, 7], 'mine');
    near(p.schedule.ai, [5, 5, 5], 'ai');
    assert.ok(Math.abs(net(p) - 2540) < 1e-3, `net ${net(p)}`);
    assert.equal(p.plan.outcomes.plan.peak_charges_msat, 500_000_000n);
    assert.ok(
      Math.abs(p.plan.intervals[0]!.value_usd_per_mwh - 130) < 1e-6,
      'price plus the peak charge per MW',
    );
  });

  it('runs a backlog job in the cheapest intervals before its deadline', async () => {
    const backlog = [{ name: 'batch', gpuHours: 7000, from: at(0), deadline: at(3) }];
    const p = await planSite(
      site({ gridCapMw: 15 }, {}, { demand: undefined, backlog }),
      hourly([30, 80, -20, -50]),
    );
    near(p.schedule.ai, [2, 0, 5, 0], 'ai');
    near(p.schedule.mine, [10, 0, 10, 10], 'mine');
  });

  it('keeps a ramp limit as an LP', async () => {
    const p = await planSite(
      site({ gridCapMw: 15 }, { rampMwPerHour: 4 }, { demand: undefined }),
      hourly([30, 80, -20]),
    );
    assert.equal(p.plan.solver.kind, 'lp');
    near(p.schedule.mine, [10, 6, 10], 'mine');
    assert.ok(Math.abs(net(p) - 720) < 1e-3);
  });

  it('with a minimum up time, switches the fleet with binaries and keeps it on at a loss', async () => {
    const prices = [30, 80, 30, 60, 40, 80];
    const free = await planSite(site({ gridCapMw: 15 }, {}, { demand: undefined }), hourly(prices));
    near(free.schedule.mine, [10, 0, 10, 0, 10, 0], 'mine without limits');
    const p = await planSite(
      site({ gridCapMw: 15 }, { minUpHours: 3, startupUsd: 50 }, { demand: undefined }),
      hourly(prices),
    );
    assert.equal(p.plan.solver.kind, 'milp');
    assert.equal(p.plan.solver.integers, 6);
    near(p.schedule.mine, [10, 0, 10, 10, 10, 0], 'mine');
    assert.ok(Math.abs(net(p) - 350) < 1e-3, `net ${net(p)}`);
    assert.equal(p.plan.outcomes.plan.startup_msat, 50_000_000n);
  });

  it('honours demand-response caps and credits', async () => {
    const events = [{ from: at(0), to: at(1), maxMw: 6, creditUsdPerMwh: 10 }];
    const p = await planSite(site({ demandResponse: events }), hourly([30, 80]));
    near(p.schedule.ai, [5, 5], 'ai');
    near(p.schedule.mine, [1, 0], 'mine');
    // Credit 10·(12 − 6) for the hour of the event.
    assert.equal(p.plan.outcomes.plan.demand_response_msat, 60_000_000n);
  });

  it('solves the same models from their LP text to the same objective', async () => {
    const highs = await loadHighs();
    const lp = await planSite(
      site({ peaks: [{ from: at(0), to: at(2), usdPerKw: 0.01 }] }, { rampMwPerHour: 3 }),
      hourly([30, 80, -20, 10]),
    );
    const milp = await planSite(
      site({ gridCapMw: 15 }, { minUpHours: 3, startupUsd: 50 }, { demand: undefined }),
      hourly([30, 80, 30, 60, 40, 80]),
    );
    for (const p of [lp, milp]) {
      const r = highs.solve(toLpText(p.model));
      assert.equal(r.Status, 'Optimal');
      assert.ok(Math.abs(r.ObjectiveValue - p.objectiveUsd) < 1e-6);
    }
  });
});

describe('energy plan: the simple-rule oracle', () => {
  it('equals the threshold rule on random series when nothing couples the intervals', async () => {
    for (const seed of [1, 2, 3]) {
      const r = rng(seed);
      const n = 150;
      const prices = Array.from({ length: n }, () => Math.round((r() * 260 - 60) * 100) / 100);
      const hashprice = Array.from({ length: n }, () => Math.round((20 + r() * 80) * 100) / 100);
      const gpus = Array.from({ length: n }, () => Math.floor(r() * 5000));
      const s = site(
        { gridCapMw: 4 + r() * 12, hashprice: { column: 'hashprice' } },
        {},
        {
          demand: { column: 'ai_gpus', sla: Math.round(r() * 50) / 100 },
          price: { usdPerGpuHour: 0.02 + r() * 0.2 },
        },
      );
      const p = await planSite(s, hourly(prices, { hashprice, ai_gpus: gpus }));
      const rule = threshold(p.problem);
      near(p.schedule.mine, Array.from(rule.mine), `seed ${seed} mine`);
      near(p.schedule.ai, Array.from(rule.ai), `seed ${seed} ai`);
      const gap = p.plan.outcomes.plan.net_msat - p.plan.outcomes.threshold.net_msat;
      assert.ok(gap < 1000n && gap > -1000n, `plan and rule differ by ${gap} msat`);
      // Where the cap binds and one use is on the margin, power is worth that use's revenue.
      for (let t = 0; t < n; t++) {
        const { mine, ai } = { mine: p.schedule.mine[t]!, ai: p.schedule.ai[t]! };
        const pr = p.problem;
        const slack = pr.cap[t]! - mine - ai;
        const v = p.plan.intervals[t]!.value_usd_per_mwh;
        const within = (x: number, lo: number, hi: number) => x > lo + 1e-6 && x < hi - 1e-6;
        if (slack > 1e-6) assert.ok(Math.abs(v - pr.price[t]!) < 1e-3, `t=${t}: ${v} vs price`);
        else if (within(mine, 0, pr.mineMw) && !within(ai, pr.aiMin[t]!, pr.aiMax[t]!))
          assert.ok(Math.abs(v - pr.mineUsdPerMwh[t]!) < 1e-3, `t=${t}: ${v} vs mining`);
      }
      // The solver's objective is the plan's net less the constant demand-response term (none here).
      assert.ok(Math.abs(p.objectiveUsd - Number(p.plan.outcomes.plan.net_msat) / 1e6) < 1e-2);
    }
  });
});

describe('energy plan: sites that can never fit', () => {
  const fails = async (fn: () => Promise<unknown>, pattern: RegExp) =>
    assert.rejects(
      fn,
      (e: unknown) => isLightproofError(e, 'LP_ENERGY_INFEASIBLE') && pattern.test(e.message),
    );

  it('names the interval where the SLA floor exceeds a demand-response cap', async () => {
    const events = [{ from: at(1), to: at(2), maxMw: 2 }];
    await fails(
      () =>
        planSite(
          site({ demandResponse: events }, {}, { demand: { gpus: 5000, sla: 0.8 } }),
          hourly([30, 80, 10]),
        ),
      /2026-01-01T01:00:00.000Z.*4 MW.*2 MW/,
    );
  });

  it('names a backlog job too large for its window', async () => {
    const backlog = [{ name: 'huge', gpuHours: 11_000, from: at(0), deadline: at(2) }];
    await fails(() => planSite(site({}, {}, { backlog }), hourly([30, 80, 10])), /"huge".*11 MWh.*10 MWh/);
  });

  it('reports jobs that fit alone but not together', async () => {
    const backlog = [
      { name: 'a', gpuHours: 4000, from: at(0), deadline: at(1) },
      { name: 'b', gpuHours: 4000, from: at(0), deadline: at(1) },
    ];
    await fails(
      () => planSite(site({}, {}, { demand: undefined, backlog }), hourly([30, 80])),
      /cannot all be met/,
    );
  });
});

describe('energy plan: the shipped example', () => {
  it('is the seed-7 synthetic sample, and the plan beats every baseline on it', async () => {
    const o = { seed: 7, start: Date.UTC(2026, 5, 1), intervals: 14 * 24, stepMinutes: 60 };
    const dir = new URL('../../examples/energy/', import.meta.url);
    const csv = readFileSync(new URL('prices.csv', dir), 'utf8');
    const yaml = readFileSync(new URL('site.yaml', dir), 'utf8');
    assert.equal(csv, samplePricesCsv(o));
    assert.equal(yaml, sampleSiteYaml(o));
    const p = await planSite(parseSite(parse(yaml), 'site.yaml'), parsePrices(csv, 'prices.csv'));
    const out = p.plan.outcomes;
    for (const b of [out.mine_only, out.ai_only, out.threshold]) assert.ok(out.plan.net_msat >= b.net_msat);
    assert.ok(
      p.plan.intervals.some((i) => i.price_usd_per_mwh < 0),
      'the sample has negative prices',
    );
  });
});
