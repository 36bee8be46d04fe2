/**
 * The gateway's configuration: a YAML file (or the one-line quick start) checked in full at start.
 * Every error names the file, the field and what is allowed, so a typo never becomes a free API.
 */
import { z } from 'zod';
import { describeIssues, readConfigFile } from '../core/config-file.js';
import { LightproofError } from '../core/errors.js';
import { type Msat, msat } from '../core/money.js';
import type { LightningSpec } from '../lightning/index.js';
import type { RateRule } from './ratelimit.js';

export interface HostPort {
  host: string;
  port: number;
}

export type PriceConfig =
  | { kind: 'static'; msat: Msat }
  /** The price comes from an HTTP hook (e.g. `lightproof energy signal`), cached for a while. */
  | { kind: 'hook'; url: URL; timeoutMs: number; cacheSeconds: number; fallbackMsat: Msat | null };

export interface UsagePricing {
  inputMsatPerMillion: bigint;
  outputMsatPerMillion: bigint;
  /** Drawn from the token's credit before proxying, settled to the real cost afterwards. */
  reserveMsat: Msat;
}

export interface ServiceConfig {
  name: string;
  host: RegExp | null;
  path: RegExp;
  upstream: URL;
  /** Set on every upstream request, replacing what the client sent. */
  headers: Record<string, string>;
  stripPrefix: string | null;
  price: PriceConfig;
  /** Prepaid credit each token carries, drawn down per request; null for pay-once tokens. */
  creditMsat: Msat | null;
  /** Drawn from a credit token per request (when no usage pricing). */
  perRequestMsat: Msat | null;
  usage: UsagePricing | null;
  tokenTimeoutSeconds: number | null;
  freePaths: RegExp[];
  freebies: number;
  capability: string | null;
  rateLimits: RateRule[];
  description: string | null;
}

export type LightningConfig = LightningSpec;

export type StateConfig = { kind: 'sqlite'; path: string | null } | { kind: 'postgres'; url: string };

export interface ReceiptLogConfig {
  /** Null: `receipt-log` in the gateway's data directory. */
  dir: string | null;
  /** Null: named after the receipt key, so each provider's log has its own origin. */
  origin: string | null;
  checkpointEverySeconds: number;
  /** Null: the public calendars; empty: checkpoints are signed but not stamped. */
  calendars: string[] | null;
}

export interface GatewayConfig {
  /** Where the config came from, for messages. */
  source: string;
  listen: HostPort;
  tls: { certPath: string; keyPath: string } | null;
  admin: { listen: HostPort; metricsPublic: boolean } | null;
  lightning: LightningConfig;
  state: StateConfig;
  receipts: { enabled: boolean; maxBufferBytes: number; log: ReceiptLogConfig | null };
  /** Per client IP, for requests that would mint a challenge (each one creates an invoice). */
  challengeLimits: RateRule[];
  trustProxy: boolean;
  upstreamTimeoutSeconds: number;
  invoiceExpirySeconds: number;
  logRequests: boolean;
  services: ServiceConfig[];
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const AMOUNT_HELP = 'an amount: a whole number of sats (10), or a string such as "10 sat" or "1500 msat"';
const DURATION_HELP = 'a duration: seconds (30) or a string such as "30s", "5m", "1h", "7d"';

const amount = z.union([z.number(), z.string()]).transform((v, ctx): Msat => {
  const m =
    typeof v === 'number'
      ? Number.isSafeInteger(v) && v >= 0
        ? [String(v), 'sat']
        : null
      : /^\s*(\d{1,18})\s*(sats?|msats?)\s*$/.exec(v)?.slice(1);
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `expected ${AMOUNT_HELP}, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  const [digits, unit] = m as [string, string];
  return msat(unit.startsWith('m') ? BigInt(digits) : BigInt(digits) * 1000n);
});

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const duration = z.union([z.number(), z.string()]).transform((v, ctx): number => {
  if (typeof v === 'number' && v > 0 && Number.isFinite(v)) return v;
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$/.exec(v) : null;
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `expected ${DURATION_HELP}, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return Number(m[1]) * UNIT_SECONDS[m[2]!]!;
});

const regex = z.string().transform((v, ctx): RegExp => {
  try {
    return new RegExp(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression (${(err as Error).message})` });
    return z.NEVER;
  }
});

const hostPort = z.string().transform((v, ctx): HostPort => {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : -1;
  if (!m || port > 65535) {
    ctx.addIssue({
      code: 'custom',
      message: `expected HOST:PORT such as 127.0.0.1:8402, got ${JSON.stringify(v)}`,
    });
    return z.NEVER;
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
});

const httpUrl = z.string().transform((v, ctx): URL => {
  let u: URL | null = null;
  try {
    u = new URL(v);
  } catch {}
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
    ctx.addIssue({
      code: 'custom',
      message: `expected an http:// or https:// URL, got ${JSON.stringify(v)}`,
    });
    return z.NEVER;
  }
  return u;
});

const rateRule = z
  .strictObject({
    path: regex.optional(),
    requests: z.number().int().positive(),
    per: duration,
    burst: z.number().int().positive().optional(),
  })
  .transform(
    (r): RateRule => ({
      ...(r.path ? { path: r.path } : {}),
      requests: r.requests,
      perSeconds: r.per,
      burst: r.burst ?? r.requests,
    }),
  );

const priceHook = z.strictObject({
  url: httpUrl,
  timeout: duration.default(2),
  cache: duration.default(10),
  fallback: amount.optional(),
});

const service = z
  .strictObject({
    name: z
      .string()
      .regex(NAME, 'expected lower-case letters, digits, "-" or "_" (it is written into tokens)'),
    host: regex.optional(),
    path: regex.default(/^\//),
    upstream: httpUrl,
    headers: z.record(z.string(), z.string()).default({}),
    stripPrefix: z.string().startsWith('/').optional(),
    price: z.union([amount, z.strictObject({ hook: priceHook })]),
    credit: amount.optional(),
    perRequest: amount.optional(),
    usage: z.strictObject({ inputPerMillion: amount, outputPerMillion: amount, reserve: amount }).optional(),
    tokenTimeout: duration.optional(),
    freePaths: z.array(regex).default([]),
    freebies: z.number().int().nonnegative().default(0),
    capability: z
      .string()
      .regex(/^[a-z0-9_-]+$/)
      .optional(),
    rateLimits: z.array(rateRule).default([]),
    description: z.string().max(500).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.usage && s.credit === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['usage'],
        message:
          'usage pricing needs "credit": tokens are prepaid bundles drawn down by the tokens each response used',
      });
    if (s.perRequest !== undefined && s.credit === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['perRequest'],
        message: '"perRequest" draws from prepaid credit; set "credit" too',
      });
    if (s.credit !== undefined && !s.usage && s.perRequest === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['credit'],
        message: 'a credit token needs "perRequest" or "usage" to say what each request draws',
      });
    if (s.usage && s.perRequest !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['perRequest'],
        message: 'choose one of "perRequest" and "usage" for a credit token',
      });
  });

const lightning = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('embedded'), account: z.string().regex(NAME).default('gateway') }),
  z.strictObject({
    kind: z.literal('lnd'),
    restUrl: httpUrl.transform((u) => u.origin),
    macaroonPath: z.string(),
    tlsCertPath: z.string().optional(),
  }),
]);

const state = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('sqlite'), path: z.string().optional() }),
  z.strictObject({
    kind: z.literal('postgres'),
    url: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL'),
  }),
]);

/** Where signed receipts are logged, how often the log signs a checkpoint, and where it is stamped. */
const receiptLog = z.strictObject({
  dir: z.string().optional(),
  origin: z.string().optional(),
  checkpointEvery: duration.default(600),
  calendars: z.array(z.string().url('expected a calendar URL')).optional(),
});

const file = z
  .strictObject({
    listen: hostPort.default({ host: '127.0.0.1', port: 8402 }),
    tls: z.strictObject({ cert: z.string(), key: z.string() }).optional(),
    admin: z.strictObject({ listen: hostPort, metricsPublic: z.boolean().default(false) }).optional(),
    lightning: lightning.default({ kind: 'embedded', account: 'gateway' }),
    state: state.default({ kind: 'sqlite' }),
    receipts: z
      .strictObject({
        enabled: z.boolean().default(true),
        maxBuffer: z
          .number()
          .int()
          .positive()
          .default(8 * 1024 * 1024),
        log: z.union([z.literal(false), receiptLog]).prefault({}),
      })
      .prefault({}),
    challengeLimits: z.array(rateRule).optional(),
    trustProxy: z.boolean().default(false),
    upstreamTimeout: duration.default(60),
    invoiceExpiry: duration.default(600),
    logRequests: z.boolean().default(true),
    services: z.array(service).min(1, 'list at least one service'),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.services.forEach((s, i) => {
      if (seen.has(s.name))
        ctx.addIssue({
          code: 'custom',
          path: ['services', i, 'name'],
          message: `"${s.name}" is used by an earlier service; names must be unique`,
        });
      seen.add(s.name);
    });
  });

/** Ten challenges per second per IP, bursts of twenty: generous for clients, a cap on invoice spam. */
const DEFAULT_CHALLENGE_LIMITS: RateRule[] = [{ requests: 10, perSeconds: 1, burst: 20 }];

/** Parses a config object (already read from YAML or built from flags); SOURCE names it in errors. */
export function parseGatewayConfig(
  raw: unknown,
  source: string,
  env: NodeJS.ProcessEnv = process.env,
): GatewayConfig {
  const parsed = file.safeParse(raw);
  if (!parsed.success) throw configError(source, parsed.error.issues);
  const c = parsed.data;
  return {
    source,
    listen: c.listen,
    tls: c.tls ? { certPath: c.tls.cert, keyPath: c.tls.key } : null,
    admin: c.admin ?? null,
    lightning:
      c.lightning.kind === 'lnd'
        ? { ...c.lightning, tlsCertPath: c.lightning.tlsCertPath ?? null }
        : c.lightning,
    state: c.state.kind === 'sqlite' ? { kind: 'sqlite', path: c.state.path ?? null } : c.state,
    receipts: {
      enabled: c.receipts.enabled,
      maxBufferBytes: c.receipts.maxBuffer,
      log:
        c.receipts.enabled && c.receipts.log !== false
          ? {
              dir: c.receipts.log.dir ?? null,
              origin: c.receipts.log.origin ?? null,
              checkpointEverySeconds: c.receipts.log.checkpointEvery,
              calendars: c.receipts.log.calendars ?? null,
            }
          : null,
    },
    challengeLimits: c.challengeLimits ?? DEFAULT_CHALLENGE_LIMITS,
    trustProxy: c.trustProxy,
    upstreamTimeoutSeconds: c.upstreamTimeout,
    invoiceExpirySeconds: c.invoiceExpiry,
    logRequests: c.logRequests,
    services: c.services.map((s, i) => ({
      name: s.name,
      host: s.host ?? null,
      path: s.path,
      upstream: s.upstream,
      headers: expandHeaders(s.headers, env, source, i),
      stripPrefix: s.stripPrefix ?? null,
      price:
        typeof s.price !== 'bigint'
          ? {
              kind: 'hook',
              url: s.price.hook.url,
              timeoutMs: s.price.hook.timeout * 1000,
              cacheSeconds: s.price.hook.cache,
              fallbackMsat: s.price.hook.fallback ?? null,
            }
          : { kind: 'static', msat: s.price },
      creditMsat: s.credit ?? null,
      perRequestMsat: s.perRequest ?? null,
      usage: s.usage
        ? {
            inputMsatPerMillion: s.usage.inputPerMillion,
            outputMsatPerMillion: s.usage.outputPerMillion,
            reserveMsat: s.usage.reserve,
          }
        : null,
      tokenTimeoutSeconds: s.tokenTimeout ?? null,
      freePaths: s.freePaths,
      freebies: s.freebies,
      capability: s.capability ?? null,
      rateLimits: s.rateLimits,
      description: s.description ?? null,
    })),
  };
}

/** Reads and checks a YAML config file. */
export function loadGatewayConfig(path: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return parseGatewayConfig(readConfigFile(path, 'LP_GATEWAY_CONFIG', 'gateway config'), path, env);
}

function expandHeaders(
  headers: Record<string, string>,
  env: NodeJS.ProcessEnv,
  source: string,
  index: number,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
      throw fieldError(source, `services[${index}].headers`, `"${name}" is not a valid HTTP header name`);
    out[name.toLowerCase()] = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, v: string) => {
      const found = env[v];
      if (found === undefined)
        throw fieldError(
          source,
          `services[${index}].headers.${name}`,
          `the environment variable ${v} is not set`,
        );
      return found;
    });
    if (/[\r\n\0]/.test(out[name.toLowerCase()]!))
      throw fieldError(source, `services[${index}].headers.${name}`, 'the value contains a line break');
  }
  return out;
}

function fieldError(source: string, field: string, why: string): LightproofError {
  return new LightproofError('LP_GATEWAY_CONFIG', `${source}: ${field}: ${why}.`);
}

function configError(source: string, issues: readonly z.core.$ZodIssue[]): LightproofError {
  const lines = describeIssues(issues);
  return new LightproofError(
    'LP_GATEWAY_CONFIG',
    `${source} is not a valid gateway config: ${lines.join('; ')}.`,
    { details: { issues: lines } },
  );
}
