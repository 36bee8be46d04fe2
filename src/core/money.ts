import { LightproofError } from './errors.js';

/** Millisatoshis: the only unit money is kept in. A bigint, so no amount is ever rounded. */
export type Msat = bigint & { readonly __unit: 'msat' };

/** Total bitcoin supply in msat; no valid amount is larger. */
const MAX_MSAT = 21_000_000n * 100_000_000n * 1000n;

export function msat(value: bigint | number | string): Msat {
  let v: bigint;
  try {
    v = BigInt(value);
  } catch {
    throw new LightproofError('LP_BAD_AMOUNT', `'${String(value)}' is not a whole number of millisatoshis.`);
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new LightproofError(
      'LP_BAD_AMOUNT',
      `${value} is not a safe integer; pass amounts as bigint or string.`,
    );
  }
  if (v < 0n || v > MAX_MSAT) {
    throw new LightproofError(
      'LP_BAD_AMOUNT',
      `${v} msat is outside 0..${MAX_MSAT}; amounts must be non-negative.`,
    );
  }
  return v as Msat;
}

export function satToMsat(sat: bigint | number): Msat {
  return msat(BigInt(sat) * 1000n);
}

/** Rounds up, so a price in sats never under-charges a fractional msat amount. */
export function msatToSatCeil(value: Msat): bigint {
  return (value + 999n) / 1000n;
}
