/** Row shapes, checks and decision handling shared by the SQLite and PostgreSQL wallet journals. */
import { LightproofError } from '../../core/errors.js';
import { type Msat, msat } from '../../core/money.js';
import {
  COUNTED_STATES,
  type Decision,
  type ListQuery,
  type NewPayment,
  PAYMENT_STATES,
  type PaymentRecord,
  type PaymentSource,
  type PaymentState,
  type Spent,
  type TransitionPatch,
  type WalletEvent,
  type WalletSettings,
  type WindowStarts,
} from '../types.js';

/** The states as an SQL list, for CHECK constraints and filters (fixed words, never user input). */
export const sqlList = (states: readonly string[]): string => states.map((s) => `'${s}'`).join(', ');

/**
 * What one payment costs a budget: the amount plus the fee actually paid once paid, else the fee
 * reserve still held. A paid row without a recorded fee keeps counting the whole reserve.
 */
export const COST_SQL = `amount_msat + CASE WHEN state = 'paid' THEN COALESCE(fee_msat, fee_reserve_msat) ELSE fee_reserve_msat END`;
export const COUNTED_SQL = `state IN (${sqlList(COUNTED_STATES)})`;

/** Integers come back as bigint from both drivers; numbers and strings are accepted too (COUNT, SUM). */
type Int = bigint | number | string;
const int = (v: Int): number => Number(v);
const intOrNull = (v: Int | null): number | null => (v === null ? null : Number(v));

export interface PaymentRow {
  id: Int;
  payment_hash: string;
  payment_request: string;
  source: string;
  url: string | null;
  domain: string | null;
  allowance_key: string | null;
  amount_msat: Int;
  fee_reserve_msat: Int;
  token: string | null;
  service: string | null;
  token_valid_until: Int | null;
  invoice_expires_at: Int;
  usd_per_btc: string | null;
  memo: string | null;
  state: string;
  fee_msat: Int | null;
  preimage: string | null;
  reason_code: string | null;
  reason_text: string | null;
  decided_by: string | null;
  created_at: Int;
  reserved_at: Int | null;
  updated_at: Int;
}

export function paymentFromRow(row: PaymentRow): PaymentRecord {
  return {
    id: int(row.id),
    paymentHash: row.payment_hash,
    paymentRequest: row.payment_request,
    source: row.source as PaymentSource,
    url: row.url,
    domain: row.domain,
    allowanceKey: row.allowance_key,
    amountMsat: msat(BigInt(row.amount_msat)),
    feeReserveMsat: msat(BigInt(row.fee_reserve_msat)),
    token: row.token,
    service: row.service,
    tokenValidUntil: intOrNull(row.token_valid_until),
    invoiceExpiresAt: int(row.invoice_expires_at),
    usdPerBtc: row.usd_per_btc,
    memo: row.memo,
    state: row.state as PaymentState,
    feeMsat: row.fee_msat === null ? null : msat(BigInt(row.fee_msat)),
    preimage: row.preimage,
    reasonCode: row.reason_code,
    reasonText: row.reason_text,
    decidedBy: row.decided_by,
    createdAt: int(row.created_at),
    reservedAt: intOrNull(row.reserved_at),
    updatedAt: int(row.updated_at),
  };
}

/** Column order of INSERT_COLUMNS, ending with created_at and updated_at (= at). */
export const INSERT_COLUMNS = `payment_hash, payment_request, source, url, domain, allowance_key, amount_msat,
  fee_reserve_msat, token, service, token_valid_until, invoice_expires_at, usd_per_btc, memo, state,
  created_at, updated_at`;

export function insertParams(p: NewPayment, at: number): unknown[] {
  const t = unix(at, 'at');
  return [
    p.paymentHash,
    p.paymentRequest,
    p.source,
    p.url,
    p.domain,
    p.allowanceKey,
    msat(p.amountMsat),
    msat(p.feeReserveMsat),
    p.token,
    p.service,
    p.tokenValidUntil === null ? null : unix(p.tokenValidUntil, 'tokenValidUntil'),
    unix(p.invoiceExpiresAt, 'invoiceExpiresAt'),
    p.usdPerBtc,
    p.memo,
    'quoted',
    t,
    t,
  ];
}

export interface EventRow {
  seq: Int;
  payment_id: Int;
  payment_hash: string;
  from_state: string | null;
  to_state: string;
  at: Int;
  detail: string | null;
}

export function eventFromRow(row: EventRow): WalletEvent {
  return {
    seq: int(row.seq),
    paymentId: int(row.payment_id),
    paymentHash: row.payment_hash,
    from: row.from_state as PaymentState | null,
    to: row.to_state as PaymentState,
    at: int(row.at),
    detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>),
  };
}

/** Event detail as JSON; bigint amounts are written as decimal strings so no digit is lost. */
export function detailJson(detail: Record<string, unknown> | null | undefined): string | null {
  if (!detail) return null;
  return JSON.stringify(detail, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

export interface SettingsRow {
  policy_json: string | null;
  frozen: boolean | Int;
  frozen_at: Int | null;
  frozen_reason: string | null;
}

export function settingsFromRow(row: SettingsRow): WalletSettings {
  return {
    policyJson: row.policy_json,
    // SQLite keeps a boolean as 0/1, PostgreSQL as a boolean.
    frozen: row.frozen === true || (typeof row.frozen !== 'boolean' && Number(row.frozen) === 1),
    frozenAt: intOrNull(row.frozen_at),
    frozenReason: row.frozen_reason,
  };
}

export interface SpentRow {
  hour: Int;
  day: Int;
  month: Int;
  total: Int;
}

// A sum is not bounded by the bitcoin supply the way one amount is, so it skips msat()'s check.
export const spentFromRow = (row: SpentRow): Spent => ({
  hour: BigInt(row.hour) as Msat,
  day: BigInt(row.day) as Msat,
  month: BigInt(row.month) as Msat,
  total: BigInt(row.total) as Msat,
});

/** What a decision does to a quoted (begin) or awaiting-approval (approve) payment. */
export interface Outcome {
  to: 'reserved' | 'awaiting-approval' | 'rejected';
  reservedAt: number | null;
  reasonCode: string | null;
  reasonText: string | null;
  decidedBy: string | null;
  detail: string | null;
}

/**
 * `decidedBy` is null for begin (the policy decides; a refusal is booked to "policy") and the person
 * for approve, whose decide must not ask for approval again.
 */
export function outcomeOf(decision: Decision, at: number, decidedBy: string | null): Outcome {
  const detail = detailJson(decidedBy === null ? { decision } : { decision, decidedBy });
  switch (decision?.action) {
    case 'reserve':
      return { to: 'reserved', reservedAt: at, reasonCode: null, reasonText: null, decidedBy, detail };
    case 'reject':
      return {
        to: 'rejected',
        reservedAt: null,
        reasonCode: decision.code,
        reasonText: decision.message,
        decidedBy: decidedBy ?? 'policy',
        detail,
      };
    case 'approval':
      if (decidedBy === null) {
        return {
          to: 'awaiting-approval',
          reservedAt: null,
          reasonCode: null,
          reasonText: decision.reason,
          decidedBy: null,
          detail,
        };
      }
      throw badDecision('approve() got an "approval" decision; its decide must reserve or reject.');
    default:
      throw badDecision(`decide returned ${JSON.stringify(decision)}; expected reserve, approval or reject.`);
  }
}

function badDecision(message: string): LightproofError {
  return new LightproofError('LP_WALLET_BAD_DECISION', `${message} Nothing was changed.`, { status: 500 });
}

/** One column a transition writes; `keep` writes it only where it is still NULL. */
export interface SetColumn {
  column: string;
  value: unknown;
  keep?: boolean;
}

/** The columns a transition writes, in a fixed order; undefined patch fields are left as they are. */
export function transitionSets(to: PaymentState, at: number, patch: TransitionPatch): SetColumn[] {
  checkState(to);
  const t = unix(at, 'at');
  const sets: SetColumn[] = [
    { column: 'state', value: to },
    { column: 'updated_at', value: t },
  ];
  // A payment counts from the moment it enters a counted state, however it got there.
  if (COUNTED_STATES.includes(to)) sets.push({ column: 'reserved_at', value: t, keep: true });
  if (patch.feeMsat !== undefined) sets.push({ column: 'fee_msat', value: msat(patch.feeMsat) });
  if (patch.preimage !== undefined) sets.push({ column: 'preimage', value: patch.preimage });
  if (patch.reasonCode !== undefined) sets.push({ column: 'reason_code', value: patch.reasonCode });
  if (patch.reasonText !== undefined) sets.push({ column: 'reason_text', value: patch.reasonText });
  if (patch.decidedBy !== undefined) sets.push({ column: 'decided_by', value: patch.decidedBy });
  return sets;
}

export function checkStates(states: readonly PaymentState[], what: string): PaymentState[] {
  if (states.length === 0) throw badQuery(`${what} must name at least one state.`);
  return states.map(checkState);
}

export function checkWindows(w: WindowStarts): [bigint, bigint, bigint] {
  return [unix(w.hour, 'windows.hour'), unix(w.day, 'windows.day'), unix(w.month, 'windows.month')];
}

function checkState(state: PaymentState): PaymentState {
  if (!PAYMENT_STATES.includes(state)) {
    throw badQuery(`'${String(state)}' is not a payment state; use one of ${PAYMENT_STATES.join(', ')}.`);
  }
  return state;
}

export const MAX_LIMIT = 1000;

export function checkList(query: ListQuery): {
  states: PaymentState[] | null;
  limit: number;
  beforeId: number | null;
} {
  return {
    states: query.states === undefined ? null : checkStates(query.states, 'states'),
    limit: checkLimit(query.limit, 50),
    beforeId: query.beforeId === undefined ? null : checkWhole(query.beforeId, 'beforeId'),
  };
}

export function checkEvents(query: { paymentId?: number; afterSeq?: number; limit?: number }): {
  paymentId: number | null;
  afterSeq: number;
  limit: number;
} {
  return {
    paymentId: query.paymentId === undefined ? null : checkWhole(query.paymentId, 'paymentId'),
    afterSeq: query.afterSeq === undefined ? 0 : checkWhole(query.afterSeq, 'afterSeq'),
    limit: checkLimit(query.limit, MAX_LIMIT),
  };
}

function checkLimit(limit: number | undefined, fallback: number): number {
  if (limit === undefined) return fallback;
  const n = checkWhole(limit, 'limit');
  if (n > MAX_LIMIT) throw badQuery(`limit is ${n}; ask for at most ${MAX_LIMIT} and page with beforeId.`);
  return n;
}

function checkWhole(v: number, name: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw badQuery(`${name} must be a whole number ≥ 0, got ${v}.`);
  return v;
}

/** Unix seconds, checked, so a millisecond or fractional time is a typed error, not a stored mistake. */
export function unix(v: number, name: string): bigint {
  if (!Number.isSafeInteger(v)) {
    throw new LightproofError('LP_WALLET_BAD_TIME', `${name} must be whole unix seconds, got ${v}.`, {
      status: 500,
    });
  }
  return BigInt(v);
}

function badQuery(message: string): LightproofError {
  return new LightproofError('LP_WALLET_BAD_QUERY', message);
}
