import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isLightproofError } from '../core/errors.js';
import { toJson } from '../core/json.js';
import { problemOf, startKit } from '../gateway/gateway.testkit.js';
import { planSite } from './plan.js';
import { parsePrices } from './prices.js';
import { loadSignalPlan, parseSignalPlan, type SignalPlan, startSignal } from './signal.js';
import { parseSite } from './site.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

/** A real plan for three hours priced 30, 80 and 200 $/MWh: power is worth 50 (mining), 80 and 200. */
async function threeHourPlan(): Promise<SignalPlan> {
  const site = parseSite(
    {
      gridCapMw: 12,
      btcUsd: 100_000,
      asics: { count: 1000, thPerSecond: 240, joulesPerTh: 1000 / 24 },
      gpus: { count: 5000, watts: 1000, tokensPerSecond: 1000 },
      ai: { price: { usdPerGpuHour: 0.2 }, demand: { gpus: 5000 } },
      hashprice: { usdPerPhDay: 50 },
    },
    'site',
  );
  const csv = [
    'timestamp,price',
    ...[30, 80, 200].map((p, h) => `${new Date(T0 + h * HOUR).toISOString()},${p}`),
  ];
  const { plan } = await planSite(site, parsePrices(csv.join('\n'), 'prices'));
  return parseSignalPlan(JSON.parse(toJson(plan)), 'plan.json');
}

describe('energy signal', () => {
  it('answers the floor of the interval holding now, in the price hook form', async () => {
    let now = T0 + 10 * 60_000;
    const signal = await startSignal({ plan: await threeHourPlan(), now: () => now });
    try {
      const r = await fetch(`${signal.url}/price?service=chat`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('cache-control'), 'max-age=3000');
      const body = (await r.json()) as Record<string, unknown>;
      assert.deepEqual(
        { price_msat: body.price_msat, service: body.service, unit: body.unit, start: body.interval_start },
        { price_msat: 14, service: 'chat', unit: 'request', start: '2026-01-01T00:00:00.000Z' },
      );
      now = T0 + 2 * HOUR;
      assert.equal(
        (
          (await (await fetch(`${signal.url}/price`, { method: 'POST', body: '{}' })).json()) as {
            price_msat: number;
          }
        ).price_msat,
        56,
      );
      const at = (await (
        await fetch(`${signal.url}/price?at=2026-01-01T01:30:00Z&unit=1k-tokens`)
      ).json()) as { price_msat: number };
      assert.equal(at.price_msat, 23);
      now = T0 + 3 * HOUR;
      const out = await fetch(`${signal.url}/price`);
      assert.equal(out.status, 503);
      assert.equal(((await out.json()) as { code: string }).code, 'LP_ENERGY_SIGNAL_OUT_OF_PLAN');
      const codes = async (path: string, init?: RequestInit) => {
        const res = await fetch(`${signal.url}${path}`, init);
        return [res.status, ((await res.json()) as { code: string }).code];
      };
      assert.deepEqual(await codes('/nope'), [404, 'LP_ENERGY_SIGNAL_PATH']);
      assert.deepEqual(await codes('/price', { method: 'DELETE' }), [405, 'LP_ENERGY_SIGNAL_METHOD']);
      assert.deepEqual(await codes('/price?at=yesterday'), [400, 'LP_ENERGY_SIGNAL_QUERY']);
      assert.deepEqual(await codes('/price?unit=gpu'), [400, 'LP_ENERGY_SIGNAL_QUERY']);
      const big = await fetch(`${signal.url}/price`, { method: 'POST', body: 'x'.repeat(100_000) }).catch(
        () => null,
      );
      assert.equal(big?.status, 413);
    } finally {
      await signal.close();
    }
  });

  it('is the gateway price hook: the price of a token follows the plan interval by interval', async () => {
    let now = T0 + 5 * 60_000;
    const signal = await startSignal({ plan: await threeHourPlan(), now: () => now });
    const kit = await startKit({
      config: {
        services: [
          {
            name: 'chat',
            upstream: 'UPSTREAM',
            price: { hook: { url: `${signal.url}/price`, cache: '0.05s' } },
          },
        ],
      },
    });
    const challenge = async () => {
      await new Promise((r) => setTimeout(r, 80));
      const res = await fetch(kit.url('/v1/chat'));
      assert.equal(res.status, 402);
      return ((await res.json()) as { amount_msat: number }).amount_msat;
    };
    try {
      assert.equal(await challenge(), 14);
      now = T0 + HOUR + 1;
      assert.equal(await challenge(), 23);
      now = T0 + 2 * HOUR + 59 * 60_000;
      assert.equal(await challenge(), 56);
      now = T0 + 3 * HOUR;
      await new Promise((r) => setTimeout(r, 80));
      const res = await fetch(kit.url('/v1/chat'));
      assert.equal(res.status, 503);
      assert.equal((await problemOf(res)).code, 'LP_GATEWAY_PRICE_UNAVAILABLE');
    } finally {
      await kit.stop();
      await signal.close();
    }
  });

  it('refuses plan files that are not plans', () => {
    const bad = (raw: unknown, pattern: RegExp) =>
      assert.throws(
        () => parseSignalPlan(raw, 'plan.json'),
        (e: unknown) => isLightproofError(e, 'LP_ENERGY_PLAN_FILE') && pattern.test(e.message),
      );
    const row = (start: string, floor: unknown = 5) => ({
      start,
      value_usd_per_mwh: 1,
      floor_msat_per_request: floor,
      floor_msat_per_1k_tokens: 1,
    });
    const plan = (intervals: unknown[], step = 60) => ({
      version: 1,
      site: 's',
      step_minutes: step,
      intervals,
    });
    bad(null, /expected object/);
    bad({ version: 2 }, /version/);
    bad(plan([]), /intervals/);
    bad(plan([row('2026-01-01T00:00:00Z', -1)]), /intervals\[0\]\.floor_msat_per_request/);
    bad(plan([row('2026-01-01T00:00:00Z', 1.5)]), /floor_msat_per_request/);
    bad(plan([row('2026-01-01T00:00:00Z', 2 ** 60)]), /floor_msat_per_request/);
    bad(plan([row('yesterday')]), /intervals\[0\]\.start/);
    bad(
      plan([row('2026-01-01T00:00:00Z'), row('2026-01-01T02:00:00Z')]),
      /intervals\[1\]\.start.*60 minutes apart/,
    );
    assert.equal(
      parseSignalPlan(plan([row('2026-01-01T00:00:00Z'), row('2026-01-01T01:00:00Z')]), 'p').perRequest
        .length,
      2,
    );
    const dir = mkdtempSync(join(tmpdir(), 'lp-'));
    try {
      const file = (name: string, text: string) => {
        writeFileSync(join(dir, name), text);
        return join(dir, name);
      };
      const unreadable = (path: string, pattern: RegExp) =>
        assert.throws(
          () => loadSignalPlan(path),
          (e: unknown) => isLightproofError(e, 'LP_ENERGY_PLAN_FILE') && pattern.test(e.message),
        );
      unreadable(
        file('cut.json', '{"version":1,"site":"s","step_minutes":60,"intervals":[{"start":"2026'),
        /JSON/,
      );
      const huge = file('huge.json', '');
      truncateSync(huge, 257 * 1024 * 1024);
      unreadable(huge, /larger than 256 MiB/);
      unreadable(join(dir, 'none.json'), /none\.json/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
