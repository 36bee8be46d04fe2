/**
 * The agent wallet's vocabulary: what a payment goes through, what the journal keeps, and the
 * amounts an operator writes budgets in. Money is millisatoshis (bigint); USD amounts are kept in
 * micro-dollars so that a budget of "$0.002 per request" is still an integer.
 */
import type { Msat } from '../core/money.js';

/**
 * quoted → reserved → paying → paid | failed; a quote above the approval threshold waits in
 * awaiting-approval until a person approves (→ reserved) or rejects it (→ rejected). A quote the
 * policy refuses goes straight to rejected, so refusals are journaled too.
 */
export type PaymentState =
  | 'quoted'
  | 'awaiting-approval'
  | 'rejected'
  | 'reserved'
  | 'paying'
  | 'paid'
  | 'failed';

export const PAYMENT_STATES: readonly PaymentState[] = [
  'quoted',
  'awaiting-approval',
  'rejected',
  'reserved',
  'paying',
  'paid',
  'failed',
];

/** States whose amount counts against budgets: held (reserved, paying) or spent (paid). */
export const COUNTED_STATES: readonly PaymentState[] = ['reserved', 'paying', 'paid'];

/** An amount as an operator writes it: exact millisatoshis, or US dollars converted at quote time. */
export type Amount = { unit: 'msat'; msat: Msat } | { unit: 'usd'; micros: bigint };

export type Period = 'hour' | 'day' | 'month' | 'total';
export const PERIODS: readonly Period[] = ['hour', 'day', 'month', 'total'];

/** Caps that apply to every payment (the wallet's) or to payments to one domain (an allowance). */
export interface Limits {
  /** The most one payment may cost. */
  perRequest?: Amount;
  hour?: Amount;
  day?: Amount;
  month?: Amount;
  total?: Amount;
}

export type RateSpec =
  | { kind: 'fixed'; usdPerBtc: string }
  /** GET url, read a decimal at the dotted `field` path (e.g. "data.amount"), cache it maxAgeSeconds. */
  | { kind: 'http'; url: string; field: string; maxAgeSeconds: number };

export interface Policy {
  limits: Limits;
  /** Routing fees allowed per payment; reserved with the amount, so budgets include fees. */
  maxFee: Amount;
  /** Payments above this wait for a person; absent means never. */
  approvalAbove?: Amount;
  /** Host patterns ("api.example.com", "*.example.com"); empty means every host not denied. */
  allow: string[];
  deny: string[];
  /** Per-domain allowances, keyed by host pattern; they apply on top of `limits`. */
  domains: Record<string, Limits>;
  rate: RateSpec;
}

/** Unix seconds when each budget window began (calendar-aligned, UTC). */
export interface WindowStarts {
  hour: number;
  day: number;
  month: number;
}

/** Millisatoshis counted in each window: held (reserved, paying) plus spent (paid), fees included. */
export type Spent = Record<Period, Msat>;

export interface SpendSnapshot {
  wallet: Spent;
  /** Counted under the payment's allowance pattern; null when no allowance applies. */
  allowance: Spent | null;
  frozen: boolean;
}

export type Decision =
  | { action: 'reserve' }
  | { action: 'approval'; reason: string }
  | { action: 'reject'; code: string; message: string; details?: Record<string, unknown> };

export type PaymentSource = 'l402' | 'invoice';

export interface NewPayment {
  paymentHash: string;
  paymentRequest: string;
  source: PaymentSource;
  /** The URL that asked for payment (L402), else null. */
  url: string | null;
  /** The host that asked for payment (L402), else null. */
  domain: string | null;
  /**
   * The pattern of the per-domain allowance that applies (a key of Policy.domains), else null.
   * Allowance spending is counted per pattern, so "*.example.com" covers all its hosts together.
   */
  allowanceKey: string | null;
  amountMsat: Msat;
  /** The routing fee reserved with the amount (the most the node may spend on fees). */
  feeReserveMsat: Msat;
  /** L402: the macaroon (base64) the payment unlocks, and the service it names. */
  token: string | null;
  service: string | null;
  /** Unix seconds the token's caveats say it expires, if any. */
  tokenValidUntil: number | null;
  /** Unix seconds the invoice expires. */
  invoiceExpiresAt: number;
  /** USD per BTC used to convert USD limits for this decision, as a decimal string; null if none. */
  usdPerBtc: string | null;
  /** Free text the agent gave (e.g. why it wants to pay), shown to the approver. */
  memo: string | null;
}

export interface PaymentRecord extends NewPayment {
  id: number;
  state: PaymentState;
  /** The routing fee actually paid, once paid. */
  feeMsat: Msat | null;
  preimage: string | null;
  /** Why it was rejected or failed: an LP_… code, and a sentence. */
  reasonCode: string | null;
  reasonText: string | null;
  /** Who approved or rejected it ("cli", "mcp", a name), when a person did. */
  decidedBy: string | null;
  createdAt: number;
  /** When it entered reserved (counts from then on), null before. */
  reservedAt: number | null;
  updatedAt: number;
}

export interface WalletEvent {
  seq: number;
  paymentId: number;
  paymentHash: string;
  from: PaymentState | null;
  to: PaymentState;
  at: number;
  detail: Record<string, unknown> | null;
}

/** What may change with a transition; everything else in the record stays. */
export interface TransitionPatch {
  feeMsat?: Msat;
  preimage?: string;
  reasonCode?: string | null;
  reasonText?: string | null;
  decidedBy?: string | null;
}

export interface WalletSettings {
  /** The policy as stored (JSON produced by policyToJson), or null before one is set. */
  policyJson: string | null;
  frozen: boolean;
  frozenAt: number | null;
  frozenReason: string | null;
}

export interface StoredToken {
  key: string;
  origin: string;
  /** The client's CachedToken, as JSON. */
  json: string;
}

export interface ListQuery {
  states?: PaymentState[];
  limit?: number;
  /** Only ids below this (paging newest first). */
  beforeId?: number;
}

/**
 * The journal. Every method that changes a payment appends a WalletEvent in the same transaction, and
 * every decision that reads budgets runs under one lock (BEGIN IMMEDIATE in SQLite, an advisory lock
 * in PostgreSQL), so concurrent payers — threads or processes — cannot overspend.
 */
export interface WalletStore {
  /**
   * Journals a payment exactly once per payment hash. If the hash is new, `decide` is called under the
   * lock with the budgets counted so far and the freeze flag, and the payment is inserted as quoted and
   * moved at once to reserved, awaiting-approval or rejected. If the hash is already journaled, nothing
   * changes and the existing record comes back with created: false.
   */
  begin(
    payment: NewPayment,
    windows: WindowStarts,
    at: number,
    decide: (snapshot: SpendSnapshot) => Decision,
  ): Promise<{ record: PaymentRecord; created: boolean }>;
  /**
   * Re-decides an awaiting-approval payment under the lock (a person approved it): reserve it, or
   * reject it when `decide` says so. Returns null if it is no longer awaiting approval.
   */
  approve(
    id: number,
    windows: WindowStarts,
    at: number,
    decidedBy: string,
    decide: (snapshot: SpendSnapshot) => Decision,
  ): Promise<PaymentRecord | null>;
  /**
   * Moves a payment from one of `from` to `to`. Returns null (and changes nothing) if it is in another
   * state — or, with `unlessFrozen`, if the wallet is frozen.
   */
  transition(
    id: number,
    from: readonly PaymentState[],
    to: PaymentState,
    at: number,
    patch?: TransitionPatch,
    options?: { unlessFrozen?: boolean; detail?: Record<string, unknown> },
  ): Promise<PaymentRecord | null>;
  get(id: number): Promise<PaymentRecord | null>;
  getByHash(paymentHash: string): Promise<PaymentRecord | null>;
  /** Newest first. */
  list(query?: ListQuery): Promise<PaymentRecord[]>;
  /** Oldest first, after `afterSeq`. */
  events(query?: { paymentId?: number; afterSeq?: number; limit?: number }): Promise<WalletEvent[]>;
  /** Budgets counted so far, as `begin` would show them to `decide`. */
  spent(windows: WindowStarts, allowanceKey: string | null): Promise<SpendSnapshot>;
  settings(): Promise<WalletSettings>;
  setPolicy(policyJson: string, at: number): Promise<void>;
  setFrozen(frozen: boolean, at: number, reason: string | null): Promise<void>;
  listTokens(origin: string): Promise<StoredToken[]>;
  putToken(token: StoredToken): Promise<void>;
  deleteToken(key: string): Promise<void>;
  close(): Promise<void>;
}
