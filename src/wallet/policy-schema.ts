/**
 * The spending policy as an operator writes it (YAML or JSON), checked in full: unknown keys, bad
 * amounts and bad host patterns are errors that name the source, the field and what is allowed, so a
 * typo never becomes an unlimited budget. The stored form is the same document, so it reads back
 * exactly.
 */
import { statSync } from 'node:fs';
import { z } from 'zod';
import { describeIssues, readConfigFile } from '../core/config-file.js';
import { LightproofError } from '../core/errors.js';
import type { Msat } from '../core/money.js';
import { AMOUNT_HELP, formatAmount, normalizeUsdPerBtc, parseAmount } from './amount.js';
import { type Amount, type Limits, PERIODS, type Policy, type RateSpec } from './types.js';

export interface LimitsDocument {
  perRequest?: string;
  hour?: string;
  day?: string;
  month?: string;
  total?: string;
}

export type RateDocument = { usdPerBtc: string } | { url: string; field: string; maxAgeSeconds?: number };

/** The operator's form of a Policy: what parsePolicy reads and policyToDocument writes. */
export interface PolicyDocument {
  perRequest?: string;
  budgets?: { hour?: string; day?: string; month?: string; total?: string };
  maxFee?: string;
  approvalAbove?: string;
  allow?: string[];
  deny?: string[];
  domains?: Record<string, LimitsDocument>;
  rate?: RateDocument;
}

/**
 * A change to a policy, as a CLI builds it from flags. Amounts may be "none" to remove that limit;
 * budgets and domain allowances merge field by field, and a domain set to "none" is removed; allow,
 * deny and rate replace what was there.
 */
export interface PolicyChanges {
  perRequest?: string;
  budgets?: { hour?: string; day?: string; month?: string; total?: string };
  maxFee?: string;
  approvalAbove?: string;
  allow?: string[];
  deny?: string[];
  domains?: Record<string, LimitsDocument | 'none'>;
  rate?: RateDocument;
}

const HOST_HELP = 'a lower-case host name such as "api.example.com", or "*.example.com" for its subdomains';
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why TEXT is not a host pattern, or null if it is one. */
export function hostPatternProblem(text: unknown): string | null {
  if (typeof text !== 'string') return `expected ${HOST_HELP}`;
  if (text === '') return `it is empty; expected ${HOST_HELP}`;
  if (/\s/.test(text)) return 'it contains whitespace';
  if (text.includes('/')) return `write a host name, not a URL; expected ${HOST_HELP}`;
  if (/^\[[0-9a-f:.]+\]$/.test(text)) return null;
  if (text.includes(':')) return 'a host pattern has no port (or scheme)';
  if (/[^\x20-\x7e]/.test(text)) return 'write international names in their ASCII form ("xn--…")';
  if (text !== text.toLowerCase()) return 'write host names in lower case';
  const host = text.startsWith('*.') ? text.slice(2) : text;
  if (host.includes('*')) return 'a wildcard may only come first, as "*."';
  if (host.length > 253) return 'a host name is at most 253 characters';
  const labels = host.split('.');
  if (labels.some((l) => l === ''))
    return `it has an empty label (a leading, trailing or doubled "."); expected ${HOST_HELP}`;
  if (!labels.every((l) => LABEL.test(l)))
    return `labels are letters, digits and inner "-" (1-63 characters); expected ${HOST_HELP}`;
  return null;
}

const hostPattern = z.string().superRefine((v, ctx) => {
  const why = hostPatternProblem(v);
  if (why) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v).slice(0, 80)}: ${why}` });
});

const amount = z.unknown().transform((v, ctx): Amount => {
  if (typeof v === 'string') {
    try {
      return parseAmount(v);
    } catch {}
  }
  const shown = (typeof v === 'string' ? JSON.stringify(v) : String(v)).slice(0, 60);
  const hint = typeof v === 'number' ? ` (write the unit too, e.g. "${shown} sat")` : '';
  ctx.addIssue({ code: 'custom', message: `expected ${AMOUNT_HELP}, got ${shown}${hint}` });
  return z.NEVER;
});

const periodFields = {
  hour: amount.optional(),
  day: amount.optional(),
  month: amount.optional(),
  total: amount.optional(),
};
const limitsSchema = z.strictObject({ perRequest: amount.optional(), ...periodFields });

const rateSchema = z.unknown().transform((v, ctx): RateSpec => {
  const form = v !== null && typeof v === 'object' && 'url' in v ? httpRate : fixedRate;
  const r = form.safeParse(v);
  if (r.success) return r.data;
  for (const i of r.error.issues) ctx.addIssue({ ...i, path: i.path } as z.core.$ZodRawIssue);
  return z.NEVER;
});

const fixedRate = z
  .strictObject(
    { usdPerBtc: z.union([z.string(), z.number()]) },
    {
      error:
        'expected { usdPerBtc: "97123.45" } or { url: "https://…", field: "data.amount", maxAgeSeconds: 60 }',
    },
  )
  .transform((r, ctx): RateSpec => {
    try {
      return { kind: 'fixed', usdPerBtc: normalizeUsdPerBtc(r.usdPerBtc) };
    } catch {
      ctx.addIssue({
        code: 'custom',
        path: ['usdPerBtc'],
        message: 'expected a positive decimal such as "97123.45"',
      });
      return z.NEVER;
    }
  });

const httpRate = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).max(2000),
    field: z
      .string()
      .regex(
        /^[A-Za-z0-9_$-]{1,64}(\.[A-Za-z0-9_$-]{1,64}){0,15}$/,
        'expected a dotted path such as "data.amount"',
      ),
    maxAgeSeconds: z.number().int().min(1).max(86_400).default(60),
  })
  .transform((r): RateSpec => ({ kind: 'http', url: r.url, field: r.field, maxAgeSeconds: r.maxAgeSeconds }));

/** Object keys checked before zod sees them (zod drops "__proto__" silently). */
const domainsSchema = z.preprocess(
  (v, ctx) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const keys = Object.keys(v);
    if (keys.length > 1000)
      ctx.addIssue({ code: 'custom', message: 'at most 1000 domain allowances', input: v });
    for (const k of keys) {
      const why = hostPatternProblem(k);
      if (why) ctx.addIssue({ code: 'custom', path: [k], message: `not a host pattern: ${why}`, input: v });
    }
    return v;
  },
  z.record(z.string(), limitsSchema),
);

const documentSchema = z.strictObject({
  perRequest: amount.optional(),
  budgets: z.strictObject(periodFields).optional(),
  maxFee: amount.optional(),
  approvalAbove: amount.optional(),
  allow: z.array(hostPattern).max(1000).default([]),
  deny: z.array(hostPattern).max(1000).default([]),
  domains: domainsSchema.default({}),
  rate: rateSchema.optional(),
});

const DEFAULT_RATE: RateSpec = { kind: 'fixed', usdPerBtc: '100000' };
const DEFAULT_MAX_FEE: Amount = { unit: 'msat', msat: 10_000n as Msat };

function policyError(source: string, lines: string[]): LightproofError {
  return new LightproofError(
    'LP_WALLET_POLICY',
    `${source} is not a valid wallet policy: ${lines.join('; ')}.`,
    {
      details: { issues: lines },
    },
  );
}

function parse(input: unknown, source: string, operator: boolean): Policy {
  if (input === null || input === undefined)
    throw policyError(source, [
      '(top level): it is empty; write at least a limit such as "budgets: { day: 10000 sat }"',
    ]);
  const parsed = documentSchema.safeParse(input);
  if (!parsed.success) throw policyError(source, describeIssues(parsed.error.issues));
  const d = parsed.data;
  const limits = compact<Limits>({ perRequest: d.perRequest, ...d.budgets });
  const domains: Record<string, Limits> = {};
  for (const [k, v] of Object.entries(d.domains)) domains[k] = compact<Limits>(v);
  const policy: Policy = compact<Policy>({
    limits,
    maxFee: d.maxFee ?? DEFAULT_MAX_FEE,
    approvalAbove: d.approvalAbove,
    allow: d.allow,
    deny: d.deny,
    domains,
    rate: d.rate ?? DEFAULT_RATE,
  });
  const problems: string[] = [];
  if (operator && !d.rate && usdFields(policy).length > 0)
    problems.push(
      `rate: ${usdFields(policy)[0]} is in USD, so say where the USD/BTC price comes from: rate: { usdPerBtc: "97123.45" } or { url: "https://…", field: "data.amount" }`,
    );
  if (operator && Object.keys(limits).length === 0 && !policy.approvalAbove)
    problems.push(
      '(top level): with no perRequest, budgets or approvalAbove an agent could spend everything; set at least one, e.g. budgets: { day: 10000 sat }',
    );
  if (problems.length > 0) throw policyError(source, problems);
  return policy;
}

/** Checks a policy document (from YAML, JSON or flags); SOURCE names it in errors. */
export function parsePolicy(input: unknown, source: string): Policy {
  return parse(input, source, true);
}

/** Reads and checks a policy file (YAML, or JSON); at most 1 MiB. */
export function loadPolicyFile(path: string): Policy {
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {} // readConfigFile reports the unreadable file
  if (size > 1024 * 1024)
    throw new LightproofError(
      'LP_WALLET_POLICY',
      `${path} is larger than 1 MiB; a wallet policy is a few dozen lines.`,
    );
  let raw: unknown;
  try {
    raw = readConfigFile(path, 'LP_WALLET_POLICY', 'wallet policy');
  } catch (err) {
    if (err instanceof LightproofError) throw err;
    // e.g. the yaml library's "excessive alias count" for an alias bomb
    throw new LightproofError(
      'LP_WALLET_POLICY',
      `${path} cannot be read as a wallet policy: ${(err as Error).message}.`,
      {
        cause: err,
      },
    );
  }
  return parsePolicy(raw, path);
}

/** Every USD amount's field, e.g. "budgets.day" or "domains.api.example.com.perRequest". */
export function usdFields(p: Policy): string[] {
  const out: string[] = [];
  const scan = (l: Limits, prefix: string, budgets: string) => {
    if (l.perRequest?.unit === 'usd') out.push(`${prefix}perRequest`);
    for (const k of PERIODS) if (l[k]?.unit === 'usd') out.push(`${budgets}${k}`);
  };
  scan(p.limits, '', 'budgets.');
  if (p.maxFee.unit === 'usd') out.push('maxFee');
  if (p.approvalAbove?.unit === 'usd') out.push('approvalAbove');
  for (const [k, l] of Object.entries(p.domains)) scan(l, `domains.${k}.`, `domains.${k}.`);
  return out;
}

/** Safe defaults: 1000 sat per payment, 10000 sat a day, 10 sat of fees; every host allowed. */
export const DEFAULT_POLICY: Policy = deepFreeze(
  parse({ perRequest: '1000 sat', budgets: { day: '10000 sat' }, maxFee: '10 sat' }, '(defaults)', false),
);

/** The operator's form of a policy (what parsePolicy reads), for printing and storing. */
export function policyToDocument(p: Policy): PolicyDocument {
  const doc = (l: Limits): LimitsDocument => {
    const out: LimitsDocument = {};
    for (const k of ['perRequest', ...PERIODS] as const) if (l[k]) out[k] = formatAmount(l[k]);
    return out;
  };
  const { perRequest, ...budgets } = doc(p.limits);
  const domains: Record<string, LimitsDocument> = {};
  for (const [k, l] of Object.entries(p.domains)) domains[k] = doc(l);
  return compact<PolicyDocument>({
    perRequest,
    budgets: Object.keys(budgets).length > 0 ? budgets : undefined,
    maxFee: formatAmount(p.maxFee),
    approvalAbove: p.approvalAbove ? formatAmount(p.approvalAbove) : undefined,
    allow: [...p.allow],
    deny: [...p.deny],
    domains,
    rate:
      p.rate.kind === 'fixed'
        ? { usdPerBtc: p.rate.usdPerBtc }
        : { url: p.rate.url, field: p.rate.field, maxAgeSeconds: p.rate.maxAgeSeconds },
  });
}

const STORED_VERSION = 1;

/** The stored form: the operator's document as JSON (amounts as exact strings), checked first. */
export function policyToJson(p: Policy): string {
  const doc = policyToDocument(p);
  parse(doc, 'the policy to store', false);
  return JSON.stringify({ version: STORED_VERSION, ...doc });
}

export function policyFromJson(s: string): Policy {
  let raw: unknown;
  try {
    raw = JSON.parse(s);
  } catch (cause) {
    throw new LightproofError(
      'LP_WALLET_POLICY',
      'The stored wallet policy is not valid JSON; set the policy again (e.g. with `lightproof wallet budget`).',
      { cause },
    );
  }
  if (raw === null || typeof raw !== 'object' || (raw as { version?: unknown }).version !== STORED_VERSION)
    throw new LightproofError(
      'LP_WALLET_POLICY',
      `The stored wallet policy is not format version ${STORED_VERSION}; this Lightproof cannot read it. Upgrade Lightproof or set the policy again.`,
    );
  const { version: _, ...doc } = raw as Record<string, unknown>;
  return parse(doc, 'the stored wallet policy', false);
}

const none = (v: unknown): boolean => typeof v === 'string' && v.trim().toLowerCase() === 'none';
const changeAmount = z.string().max(100).optional();
const changeLimits = z.strictObject({
  perRequest: changeAmount,
  hour: changeAmount,
  day: changeAmount,
  month: changeAmount,
  total: changeAmount,
});
const changesSchema = z.strictObject({
  perRequest: changeAmount,
  budgets: changeLimits.omit({ perRequest: true }).optional(),
  maxFee: changeAmount,
  approvalAbove: changeAmount,
  allow: z.array(z.string()).optional(),
  deny: z.array(z.string()).optional(),
  domains: z.record(z.string(), z.union([z.literal('none'), changeLimits])).optional(),
  rate: z.unknown().optional(),
});

/** Applies CHANGES (see PolicyChanges; "none" removes a limit) and checks the result like a policy file. */
export function mergePolicy(p: Policy, changes: PolicyChanges): Policy {
  const checked = changesSchema.safeParse(changes);
  if (!checked.success) throw policyError('the policy change', describeIssues(checked.error.issues));
  const c = checked.data;
  if (none(c.maxFee))
    throw policyError('the policy change', [
      'maxFee: the fee cap cannot be removed; set "0 sat" to allow no fees',
    ]);
  const doc = policyToDocument(p);
  const apply = (target: Record<string, string | undefined>, from: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(from)) {
      if (v === undefined) continue;
      if (none(v)) delete target[k];
      else target[k] = v;
    }
  };
  const top: Record<string, string | undefined> = {
    perRequest: doc.perRequest,
    approvalAbove: doc.approvalAbove,
  };
  apply(top, { perRequest: c.perRequest, approvalAbove: c.approvalAbove });
  const budgets: Record<string, string | undefined> = { ...doc.budgets };
  apply(budgets, c.budgets ?? {});
  const domains: Record<string, LimitsDocument> = { ...doc.domains };
  for (const [k, v] of Object.entries(c.domains ?? {})) {
    if (v === 'none') {
      delete domains[k];
      continue;
    }
    const merged: Record<string, string | undefined> = { ...(Object.hasOwn(domains, k) ? domains[k] : {}) };
    apply(merged, v);
    domains[k] = merged;
  }
  const next = compact<PolicyDocument>({
    ...doc,
    perRequest: top.perRequest,
    approvalAbove: top.approvalAbove,
    budgets,
    maxFee: c.maxFee ?? doc.maxFee,
    allow: c.allow ?? doc.allow,
    deny: c.deny ?? doc.deny,
    domains,
    rate: (c.rate as RateDocument | undefined) ?? doc.rate,
  });
  return parsePolicy(next, 'the policy change');
}

/** T without the keys whose value is undefined (so policies compare and serialize cleanly). */
function compact<T>(o: { [K in keyof T]?: T[K] | undefined }): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
