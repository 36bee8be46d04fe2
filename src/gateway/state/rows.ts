/** Row shapes and checks shared by the SQLite and PostgreSQL gateway states. */
import { LightproofError } from '../../core/errors.js';
import { msat } from '../../core/money.js';
import type { MintRecord, TokenRecord } from './types.js';

export interface TokenRow {
  token_id: string;
  payment_hash: string;
  service: string;
  price_msat: bigint;
  credit_msat: bigint | null;
  created_at: bigint;
  paid_at: bigint | null;
  revoked_at: bigint | null;
  remaining_msat: bigint | null;
  requests: bigint;
}

export const TOKEN_SELECT = `
  SELECT t.token_id, t.payment_hash, t.service, t.price_msat, t.credit_msat, t.created_at, t.paid_at,
         r.revoked_at, c.remaining_msat, t.requests
  FROM gateway_tokens t
  LEFT JOIN gateway_revocations r ON r.token_id = t.token_id
  LEFT JOIN gateway_credit c ON c.token_id = t.token_id`;

export function tokenFromRow(row: TokenRow): TokenRecord {
  const orNull = (v: bigint | null) => (v === null ? null : Number(v));
  return {
    tokenId: row.token_id,
    paymentHash: row.payment_hash,
    service: row.service,
    priceMsat: msat(row.price_msat),
    creditMsat: row.credit_msat === null ? null : msat(row.credit_msat),
    createdAt: Number(row.created_at),
    paidAt: orNull(row.paid_at),
    revokedAt: orNull(row.revoked_at),
    remainingMsat: row.remaining_msat === null ? null : msat(row.remaining_msat),
    requests: Number(row.requests),
  };
}

export function mintParams(r: MintRecord): unknown[] {
  const credit = r.creditMsat === null ? null : msat(r.creditMsat);
  return [r.tokenId, r.paymentHash, r.service, msat(r.priceMsat), credit, BigInt(r.createdAt)];
}

/** Request counts worth writing; a negative or fractional count is a bug in the caller. */
export function checkCounts(counts: ReadonlyMap<string, number>): [string, number][] {
  const batch: [string, number][] = [];
  for (const [tokenId, n] of counts) {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new LightproofError(
        'LP_STATE_BAD_COUNT',
        `The request count for token ${tokenId} is ${n}; counts must be whole numbers ≥ 0.`,
        { status: 500 },
      );
    }
    if (n > 0) batch.push([tokenId, n]);
  }
  return batch;
}
