/**
 * The site description (site.yaml): the grid connection, the ASIC and GPU fleets, what AI earns and
 * who wants it, how mining is paid, peak windows and demand-response events. Checked in full before
 * any planning, so every error names the file, the field and what is allowed.
 */
import { z } from 'zod';
import { describeIssues, readConfigFile } from '../core/config-file.js';
import { LightproofError } from '../core/errors.js';
import { parseIsoInstant } from './iso-time.js';

/** An instant written with its offset (2026-06-01T00:00:00Z); local times are ambiguous around DST. */
const instant = z.string().transform((s, ctx) => {
  const t = parseIsoInstant(s, false);
  if (Number.isNaN(t)) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected a real ISO 8601 time with Z or an offset, such as 2026-06-01T15:00:00Z',
    });
    return z.NEVER;
  }
  return t;
});

const positive = z.number().positive().finite();
const nonNegative = z.number().nonnegative().finite();
const fraction = z.number().min(0).max(1);
/** Column names the price CSV may carry besides time and price. */
const column = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a lower-case CSV column name');

const window = z
  .strictObject({ from: instant, to: instant })
  .refine((w) => w.to > w.from, { message: '"to" must be after "from"', path: ['to'] });

const asics = z
  .strictObject({
    count: z.number().int().min(0).max(10_000_000),
    thPerSecond: positive.max(100_000),
    joulesPerTh: positive.max(1000),
    /** Once on, the fleet stays on this long: needs on/off binaries, so the plan becomes a MILP. */
    minUpHours: positive.max(168).optional(),
    /** How fast the fleet's draw may change, either way; linear, so it keeps the plan an LP. */
    rampMwPerHour: positive.optional(),
    /** While on, the fleet draws at least this share of its MW (only with minUpHours; default 1). */
    minLoadFraction: z.number().gt(0).max(1).optional(),
    /** Cost of each start (only with minUpHours). */
    startupUsd: nonNegative.optional(),
  })
  .refine(
    (a) => (a.startupUsd === undefined && a.minLoadFraction === undefined) || a.minUpHours !== undefined,
    {
      message: 'startupUsd and minLoadFraction need minUpHours (only then is the fleet switched on and off)',
      path: ['minUpHours'],
    },
  );

const gpus = z.strictObject({
  count: z.number().int().min(0).max(10_000_000),
  /** Per GPU at the wall, with its share of host and cooling. */
  watts: positive.max(100_000),
  tokensPerSecond: positive.max(1_000_000),
});

const aiPrice = z.union([
  z.strictObject({ usdPerMillionTokens: positive.max(10_000) }),
  z.strictObject({ usdPerGpuHour: positive.max(10_000) }),
]);

const demand = z.union([
  z.strictObject({ gpus: z.number().int().min(0), sla: fraction.default(0) }),
  z.strictObject({ column, sla: fraction.default(0) }),
]);

const job = z
  .strictObject({
    name: z.string().min(1).max(64),
    gpuHours: positive,
    from: instant,
    deadline: instant,
  })
  .refine((j) => j.deadline > j.from, { message: 'deadline must be after from', path: ['deadline'] });

const hashprice = z.union([
  z.strictObject({ usdPerPhDay: positive.max(100_000) }),
  z.strictObject({ column }),
  z
    .strictObject({
      difficulty: positive.optional(),
      networkHashrateEhs: positive.optional(),
      subsidyBtc: nonNegative.max(50).default(3.125),
      feesBtcPerBlock: nonNegative.max(1000).default(0),
    })
    .refine((c) => (c.difficulty === undefined) !== (c.networkHashrateEhs === undefined), {
      message: 'give exactly one of difficulty or networkHashrateEhs',
    }),
]);

const schema = z.strictObject({
  name: z.string().min(1).max(100).default('site'),
  gridCapMw: positive.max(100_000),
  btcUsd: positive.max(100_000_000),
  asics,
  gpus,
  ai: z.strictObject({
    price: aiPrice,
    demand: demand.optional(),
    backlog: z.array(job).max(1000).default([]),
    tokensPerRequest: z.number().int().positive().max(10_000_000).default(1000),
  }),
  hashprice,
  poolFee: fraction.default(0),
  peaks: z
    .array(window.and(z.strictObject({ name: z.string().max(64).optional(), usdPerKw: positive })))
    .max(1000)
    .default([]),
  demandResponse: z
    .array(
      window
        .and(z.strictObject({ maxMw: nonNegative.optional(), creditUsdPerMwh: nonNegative.optional() }))
        .refine((e) => e.maxMw !== undefined || e.creditUsdPerMwh !== undefined, {
          message: 'a demand-response event needs maxMw, creditUsdPerMwh or both',
        }),
    )
    .max(10_000)
    .default([]),
});

type Raw = z.output<typeof schema>;

export type HashpriceSpec =
  | { kind: 'constant'; usdPerPhDay: number }
  | { kind: 'column'; column: string }
  | {
      kind: 'chain';
      /** Network hashrate in H/s (from difficulty when that was given). */
      networkHashesPerSecond: number;
      subsidyBtc: number;
      feesBtcPerBlock: number;
    };

export interface Site {
  source: string;
  name: string;
  gridCapMw: number;
  btcUsd: number;
  asics: {
    count: number;
    thPerSecond: number;
    joulesPerTh: number;
    /** count × TH/s × J/TH, in MW. */
    fleetMw: number;
    minUpHours: number | null;
    rampMwPerHour: number | null;
    minLoadFraction: number;
    startupUsd: number;
  };
  gpus: { count: number; watts: number; tokensPerSecond: number; fleetMw: number };
  ai: {
    /** What one MWh of GPU energy earns, from the price per token or per GPU-hour. */
    usdPerMwh: number;
    demand:
      | { kind: 'gpus'; gpus: number; sla: number }
      | { kind: 'column'; column: string; sla: number }
      | null;
    backlog: { name: string; gpuHours: number; from: number; deadline: number }[];
    tokensPerRequest: number;
  };
  hashprice: HashpriceSpec;
  poolFee: number;
  peaks: { name: string; from: number; to: number; usdPerKw: number }[];
  demandResponse: { from: number; to: number; maxMw: number | null; creditUsdPerMwh: number }[];
}

export function loadSite(path: string): Site {
  return parseSite(readConfigFile(path, 'LP_ENERGY_SITE', 'site description'), path);
}

export function parseSite(raw: unknown, source: string): Site {
  const parsed = schema.safeParse(raw ?? {});
  if (!parsed.success) {
    const lines = describeIssues(parsed.error.issues);
    throw new LightproofError('LP_ENERGY_SITE', `${source} is not a valid site: ${lines.join('; ')}.`, {
      details: { issues: lines },
    });
  }
  return fromRaw(parsed.data, source);
}

function fromRaw(c: Raw, source: string): Site {
  const g = c.gpus;
  const tokensPerMwh = (g.tokensPerSecond * 3600 * 1e6) / g.watts;
  const usdPerMwh =
    'usdPerMillionTokens' in c.ai.price
      ? (tokensPerMwh / 1e6) * c.ai.price.usdPerMillionTokens
      : (c.ai.price.usdPerGpuHour * 1e6) / g.watts;
  const d = c.ai.demand;
  return {
    source,
    name: c.name,
    gridCapMw: c.gridCapMw,
    btcUsd: c.btcUsd,
    asics: {
      count: c.asics.count,
      thPerSecond: c.asics.thPerSecond,
      joulesPerTh: c.asics.joulesPerTh,
      fleetMw: (c.asics.count * c.asics.thPerSecond * c.asics.joulesPerTh) / 1e6,
      minUpHours: c.asics.minUpHours ?? null,
      rampMwPerHour: c.asics.rampMwPerHour ?? null,
      minLoadFraction: c.asics.minLoadFraction ?? 1,
      startupUsd: c.asics.startupUsd ?? 0,
    },
    gpus: { ...g, fleetMw: (g.count * g.watts) / 1e6 },
    ai: {
      usdPerMwh,
      demand: d === undefined ? null : 'gpus' in d ? { kind: 'gpus', ...d } : { kind: 'column', ...d },
      backlog: c.ai.backlog,
      tokensPerRequest: c.ai.tokensPerRequest,
    },
    hashprice: hashpriceSpec(c.hashprice),
    poolFee: c.poolFee,
    peaks: c.peaks.map((p, i) => ({
      name: p.name ?? `peak-${i + 1}`,
      from: p.from,
      to: p.to,
      usdPerKw: p.usdPerKw,
    })),
    demandResponse: c.demandResponse.map((e) => ({
      from: e.from,
      to: e.to,
      maxMw: e.maxMw ?? null,
      creditUsdPerMwh: e.creditUsdPerMwh ?? 0,
    })),
  };
}

function hashpriceSpec(h: Raw['hashprice']): HashpriceSpec {
  if ('usdPerPhDay' in h) return { kind: 'constant', usdPerPhDay: h.usdPerPhDay };
  if ('column' in h) return { kind: 'column', column: h.column };
  // Difficulty D means D·2^32 hashes per block on average, one block per 600 s.
  const hps = h.difficulty !== undefined ? (h.difficulty * 2 ** 32) / 600 : h.networkHashrateEhs! * 1e18;
  return {
    kind: 'chain',
    networkHashesPerSecond: hps,
    subsidyBtc: h.subsidyBtc,
    feesBtcPerBlock: h.feesBtcPerBlock,
  };
}
