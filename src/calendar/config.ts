/**
 * The calendar's configuration: a YAML file (`--config`), command-line flags laid over it, checked
 * in full at start. An error names the source, the field and what is allowed.
 */
import { z } from 'zod';
import type { ChainNetwork } from '../bitcoin/index.js';
import { describeIssues, readConfigFile } from '../core/config-file.js';
import { LightproofError } from '../core/errors.js';
import { checkPendingUri } from '../ots/index.js';
import { type CalendarStoreSpec, parseStoreSpec } from './store/index.js';

export interface CalendarBitcoinConfig {
  /** http(s)://[user:pass@]host:port of bitcoind or btcd. */
  rpcUrl: string;
  rpcUser: string | null;
  rpcPass: string | null;
  /** PEM file of the node's TLS certificate (btcd's rpc.cert). */
  rpcCertPath: string | null;
  /** bitcoind's .cookie file. */
  cookieFile: string | null;
  /** sat/vB of a new anchor. */
  feeRate: number;
  maxFeeSats: bigint;
  anchorIntervalMs: number;
  pollMs: number;
  /** Where a new wallet starts following the chain; the node's tip when null. */
  startHeight: number | null;
}

export interface CalendarConfig {
  source: string;
  listen: { host: string; port: number };
  /** Written into every pending attestation; http://<listen> when null. */
  publicUrl: string | null;
  intervalMs: number;
  maxPending: number;
  /** sqlite:<data dir>/calendar.db when null. */
  store: CalendarStoreSpec | null;
  network: ChainNetwork;
  minConfirmations: number;
  /** No anchoring when null: rounds are kept and wait for a node. */
  bitcoin: CalendarBitcoinConfig | null;
}

const hostPort = z.string().transform((v, ctx) => {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : -1;
  if (!m || port > 65535) {
    ctx.addIssue({
      code: 'custom',
      message: `expected HOST:PORT such as 127.0.0.1:14788, got ${JSON.stringify(v)}`,
    });
    return z.NEVER;
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
});

const publicUrl = z.string().refine(
  (v) => {
    try {
      checkPendingUri(v);
      return /^https?:\/\/[^/]+/.test(v) && !v.endsWith('/');
    } catch {
      return false;
    }
  },
  { message: 'expected http(s)://host[:port][/path] with only A-Z a-z 0-9 - . _ / : and no trailing slash' },
);

const storeSpec = z.string().transform((v, ctx) => {
  try {
    return parseStoreSpec(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const positiveInt = (max: number) => z.number().int().min(1).max(max);

const bitcoin = z.strictObject({
  rpc: z.string().regex(/^https?:\/\//, 'expected an http:// or https:// URL'),
  rpcUser: z.string().optional(),
  rpcPass: z.string().optional(),
  rpcCert: z.string().optional(),
  cookieFile: z.string().optional(),
  feeRate: z.number().min(1).max(10_000).default(2),
  maxFeeSats: z.number().int().min(1).max(100_000_000).default(100_000),
  anchorIntervalMs: positiveInt(7 * 86_400_000).default(600_000),
  pollMs: z.number().int().min(10).max(600_000).default(2_000),
  startHeight: z.number().int().min(0).optional(),
});

const file = z.strictObject({
  listen: hostPort.default({ host: '127.0.0.1', port: 14788 }),
  publicUrl: publicUrl.optional(),
  intervalMs: z.number().int().min(10).max(3_600_000).default(1_000),
  maxPending: positiveInt(10_000_000).default(1_000_000),
  store: storeSpec.optional(),
  network: z.enum(['mainnet', 'testnet', 'signet', 'regtest']).default('mainnet'),
  minConfirmations: positiveInt(1000).default(6),
  bitcoin: bitcoin.optional(),
});

/** Parses a config object (read from YAML, with flags laid over it); SOURCE names it in errors. */
export function parseCalendarConfig(raw: unknown, source: string): CalendarConfig {
  const parsed = file.safeParse(raw ?? {});
  if (!parsed.success) {
    const lines = describeIssues(parsed.error.issues);
    throw new LightproofError(
      'LP_CAL_CONFIG',
      `${source} is not a valid calendar config: ${lines.join('; ')}.`,
      {
        details: { issues: lines },
      },
    );
  }
  const c = parsed.data;
  const b = c.bitcoin;
  return {
    source,
    listen: c.listen,
    publicUrl: c.publicUrl ?? null,
    intervalMs: c.intervalMs,
    maxPending: c.maxPending,
    store: c.store ?? null,
    network: c.network,
    minConfirmations: c.minConfirmations,
    bitcoin: b
      ? {
          rpcUrl: b.rpc,
          rpcUser: b.rpcUser ?? null,
          rpcPass: b.rpcPass ?? null,
          rpcCertPath: b.rpcCert ?? null,
          cookieFile: b.cookieFile ?? null,
          feeRate: b.feeRate,
          maxFeeSats: BigInt(b.maxFeeSats),
          anchorIntervalMs: b.anchorIntervalMs,
          pollMs: b.pollMs,
          startHeight: b.startHeight ?? null,
        }
      : null,
  };
}

/** The YAML file as plain data, for flags to be laid over before parseCalendarConfig. */
export function readCalendarConfigFile(path: string): Record<string, unknown> {
  const raw = readConfigFile(path, 'LP_CAL_CONFIG', 'calendar config');
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new LightproofError(
      'LP_CAL_CONFIG',
      `${path} is not a valid calendar config: expected a mapping of fields.`,
    );
  }
  return (raw ?? {}) as Record<string, unknown>;
}
