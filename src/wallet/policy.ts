/**
 * What the spending policy says about one payment: which hosts may be paid, which allowance applies,
 * the calendar windows budgets count in, and the decision itself (reserve, wait for a person, or
 * refuse with a code and a sentence saying what to do). Everything here is pure; the journal calls
 * `decide` under its budget lock with the amounts counted so far.
 */
import { LightproofError } from '../core/errors.js';
import type { Msat } from '../core/money.js';
import { formatAmount, toMsat } from './amount.js';
import type {
  Amount,
  Decision,
  Limits,
  Period,
  Policy,
  SpendSnapshot,
  Spent,
  WindowStarts,
} from './types.js';
import { PERIODS } from './types.js';

export {
  DEFAULT_POLICY,
  hostPatternProblem,
  type LimitsDocument,
  loadPolicyFile,
  mergePolicy,
  type PolicyChanges,
  type PolicyDocument,
  parsePolicy,
  policyFromJson,
  policyToDocument,
  policyToJson,
  type RateDocument,
  usdFields,
} from './policy-schema.js';

/** Lower case, without the trailing dot a URL may carry ("example.com." is "example.com"). */
function normalizeHost(host: string): string {
  const h = host.toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** "api.example.com" matches only itself; "*.example.com" matches its subdomains, not example.com. */
export function matchHost(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = normalizeHost(host);
  if (h === '') return false;
  if (!p.startsWith('*.')) return h === p;
  const base = p.slice(1); // ".example.com"
  return h.length > base.length && h.endsWith(base);
}

export type HostVerdict = { ok: true } | { ok: false; code: 'LP_WALLET_DOMAIN_DENIED'; message: string };

/** Deny wins; a non-empty allow list admits only the hosts it matches. */
export function hostAllowed(policy: Policy, host: string): HostVerdict {
  const denied = policy.deny.find((p) => matchHost(p, host));
  if (denied !== undefined) {
    return {
      ok: false,
      code: 'LP_WALLET_DOMAIN_DENIED',
      message: `Payments to ${host} are refused: it matches "${denied}" in the wallet policy's deny list. Nothing was paid; remove that pattern from the deny list to pay this host.`,
    };
  }
  if (policy.allow.length > 0 && !policy.allow.some((p) => matchHost(p, host))) {
    const listed = policy.allow.slice(0, 5).map((p) => `"${p}"`);
    if (policy.allow.length > 5) listed.push('…');
    return {
      ok: false,
      code: 'LP_WALLET_DOMAIN_DENIED',
      message: `Payments to ${host} are refused: it matches nothing in the wallet policy's allow list (${listed.join(', ')}). Nothing was paid; add the host to the allow list to pay it.`,
    };
  }
  return { ok: true };
}

/** The key of policy.domains that applies to HOST: an exact host beats a wildcard, a longer wildcard a shorter. */
export function allowanceFor(policy: Policy, host: string): string | null {
  let best: string | null = null;
  let bestScore = -1;
  for (const key of Object.keys(policy.domains)) {
    if (!matchHost(key, host)) continue;
    const score = key.startsWith('*.') ? key.length : Number.MAX_SAFE_INTEGER;
    if (score > bestScore) {
      best = key;
      bestScore = score;
    }
  }
  return best;
}

function monthStart(at: number, add: number): number {
  const d = new Date(at * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + add, 1) / 1000;
}

/** When the windows containing AT (unix seconds) began: the UTC hour, day and calendar month. */
export function windowStarts(at: number): WindowStarts {
  const t = Math.floor(at);
  return {
    hour: t - (((t % 3600) + 3600) % 3600),
    day: t - (((t % 86400) + 86400) % 86400),
    month: monthStart(t, 0),
  };
}

/** When the PERIOD window containing AT ends and its budget starts afresh; null for total (never). */
export function renewsAt(period: Period, at: number): number | null {
  const w = windowStarts(at);
  if (period === 'hour') return w.hour + 3600;
  if (period === 'day') return w.day + 86400;
  if (period === 'month') return monthStart(at, 1);
  return null;
}

export interface DecideInput {
  amountMsat: Msat;
  /** Routing fees reserved with the amount; budgets count them. */
  feeReserveMsat: Msat;
  /** The host that asked for payment, or null (a bare invoice). */
  host: string | null;
  /** The key of policy.domains that applies, or null. */
  allowanceKey: string | null;
  usdPerBtc: string | null;
}

export interface DecideOptions {
  /** A person approved this payment, so the approval threshold no longer holds it back. */
  approved: boolean;
  /** Unix seconds, for when a budget renews (in refusals); by default now. */
  at?: number;
}

const ZERO_SPENT: Spent = { hour: 0n as Msat, day: 0n as Msat, month: 0n as Msat, total: 0n as Msat };

const sats = (m: bigint): string => formatAmount({ unit: 'msat', msat: m as Msat });

/** How a limit reads in a message: "2 usd (2000 sat at 100000 USD/BTC)" or "5000 sat". */
function limitText(a: Amount, limitMsat: Msat, usdPerBtc: string | null): string {
  return a.unit === 'usd'
    ? `${formatAmount(a)} (${sats(limitMsat)} at ${usdPerBtc} USD/BTC)`
    : sats(limitMsat);
}

/** The policy's verdict on one payment, given what its windows have counted so far. Pure. */
export function decide(
  policy: Policy,
  input: DecideInput,
  snapshot: SpendSnapshot,
  opts: DecideOptions,
): Decision {
  try {
    return decideOrThrow(policy, input, snapshot, opts);
  } catch (err) {
    if (!(err instanceof LightproofError)) throw err;
    return { action: 'reject', code: err.code, message: `${err.message} Nothing was paid.` };
  }
}

function decideOrThrow(
  policy: Policy,
  input: DecideInput,
  snapshot: SpendSnapshot,
  opts: DecideOptions,
): Decision {
  const at = opts.at ?? Math.floor(Date.now() / 1000);
  const { amountMsat: amount, feeReserveMsat: fee, usdPerBtc } = input;
  if (snapshot.frozen) {
    return {
      action: 'reject',
      code: 'LP_WALLET_FROZEN',
      message:
        'The wallet is frozen, so nothing is paid; a person can resume payments with `lightproof wallet unfreeze`.',
    };
  }
  if (input.host !== null) {
    const verdict = hostAllowed(policy, input.host);
    if (!verdict.ok)
      return {
        action: 'reject',
        code: verdict.code,
        message: verdict.message,
        details: { host: input.host },
      };
  }
  const key = input.allowanceKey;
  const allowance = key !== null && Object.hasOwn(policy.domains, key) ? policy.domains[key]! : null;
  const scopes: { scope: 'wallet' | 'allowance'; limits: Limits; spent: Spent; name: string }[] = [
    { scope: 'wallet', limits: policy.limits, spent: snapshot.wallet, name: "the wallet's" },
  ];
  if (allowance && key !== null)
    scopes.push({
      scope: 'allowance',
      limits: allowance,
      spent: snapshot.allowance ?? ZERO_SPENT,
      name: `the "${key}"`,
    });

  for (const s of scopes) {
    if (!s.limits.perRequest) continue;
    const cap = toMsat(s.limits.perRequest, usdPerBtc);
    if (amount > cap) {
      const how =
        s.scope === 'wallet'
          ? 'raise it with `lightproof wallet budget --per-request …`'
          : `raise domains["${key}"].perRequest in the wallet policy`;
      return {
        action: 'reject',
        code: 'LP_WALLET_OVER_REQUEST_CAP',
        message: `A payment of ${sats(amount)} is above ${s.name} per-request cap of ${limitText(s.limits.perRequest, cap, usdPerBtc)}. Nothing was paid; ${how}.`,
        details: {
          scope: s.scope,
          ...(s.scope === 'allowance' ? { allowance: key } : {}),
          limitMsat: cap,
          requestMsat: amount,
        },
      };
    }
  }

  for (const s of scopes) {
    for (const period of PERIODS) {
      const limit = s.limits[period];
      if (!limit) continue;
      const limitMsat = toMsat(limit, usdPerBtc);
      const spentMsat = s.spent[period];
      if (spentMsat + amount + fee <= limitMsat) continue;
      const renews = renewsAt(period, at);
      const raise =
        s.scope === 'wallet'
          ? `raise the ${period} budget with \`lightproof wallet budget --${period} …\``
          : `raise domains["${key}"].${period} in the wallet policy`;
      const wait = renews === null ? '' : ` or wait until ${new Date(renews * 1000).toISOString()}`;
      return {
        action: 'reject',
        code: 'LP_WALLET_BUDGET_EXCEEDED',
        message:
          `A payment of ${sats(amount)} (plus up to ${sats(fee)} in routing fees) would pass ${s.name} ${period} budget of ` +
          `${limitText(limit, limitMsat, usdPerBtc)}, of which ${sats(spentMsat)} is already spent or held. Nothing was paid; ${raise}${wait}.`,
        details: {
          scope: s.scope,
          ...(s.scope === 'allowance' ? { allowance: key } : {}),
          period,
          limitMsat,
          spentMsat,
          requestMsat: amount,
          feeReserveMsat: fee,
          renewsAt: renews,
        },
      };
    }
  }

  if (policy.approvalAbove && !opts.approved) {
    const threshold = toMsat(policy.approvalAbove, usdPerBtc);
    if (amount > threshold) {
      return {
        action: 'approval',
        reason: `A payment of ${sats(amount)} is above the approval threshold of ${limitText(policy.approvalAbove, threshold, usdPerBtc)}; a person must approve or reject it.`,
      };
    }
  }
  return { action: 'reserve' };
}

export interface BudgetLine {
  /** The limit as the operator wrote it ("2 usd"), or null if none. */
  limit: string | null;
  /** Null when there is no limit, or it is in USD and no rate is known. */
  limitMsat: Msat | null;
  spentMsat: Msat;
  /** What is left (never below zero); null when there is no limit. */
  remainingMsat: Msat | null;
  /** Unix seconds the window starts afresh; null for total. */
  renewsAt: number | null;
}

export interface ScopeStatus {
  perRequest: string | null;
  perRequestMsat: Msat | null;
  periods: Record<Period, BudgetLine>;
}

export interface BudgetStatus {
  frozen: boolean;
  wallet: ScopeStatus;
  /** The allowance SNAPSHOT.allowance was counted for, when ALLOWANCEKEY names one. */
  allowance: (ScopeStatus & { key: string }) | null;
}

/**
 * Limits, spending and what is left in each window, for `wallet status`. Pass ALLOWANCEKEY (the key
 * SNAPSHOT was counted for) to get that allowance's lines too.
 */
export function budgetStatus(
  policy: Policy,
  snapshot: SpendSnapshot,
  usdPerBtc: string | null,
  at: number,
  allowanceKey: string | null = null,
): BudgetStatus {
  // Without a rate a USD limit still shows as written, but its msat figures are null: status is for
  // reading, and `decide` refuses such payments anyway.
  const convert = (a: Amount | undefined): Msat | null =>
    !a || (a.unit === 'usd' && usdPerBtc === null) ? null : toMsat(a, usdPerBtc);
  const scope = (limits: Limits, spent: Spent): ScopeStatus => {
    const periods = {} as Record<Period, BudgetLine>;
    for (const period of PERIODS) {
      const limit = limits[period];
      const limitMsat = convert(limit);
      const spentMsat = spent[period];
      periods[period] = {
        limit: limit ? formatAmount(limit) : null,
        limitMsat,
        spentMsat,
        remainingMsat:
          limitMsat === null ? null : ((limitMsat > spentMsat ? limitMsat - spentMsat : 0n) as Msat),
        renewsAt: renewsAt(period, at),
      };
    }
    return {
      perRequest: limits.perRequest ? formatAmount(limits.perRequest) : null,
      perRequestMsat: convert(limits.perRequest),
      periods,
    };
  };
  const allowance =
    allowanceKey !== null && Object.hasOwn(policy.domains, allowanceKey)
      ? { key: allowanceKey, ...scope(policy.domains[allowanceKey]!, snapshot.allowance ?? ZERO_SPENT) }
      : null;
  return { frozen: snapshot.frozen, wallet: scope(policy.limits, snapshot.wallet), allowance };
}
