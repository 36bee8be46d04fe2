/**
 * Amounts as an operator writes them ("1000 sat", "0.00001 btc", "$0.50"), kept exactly: bitcoin
 * amounts as millisatoshis, dollar amounts as micro-dollars. Nothing is ever a float, and a dollar
 * limit converted to millisatoshis is rounded down, so rounding never lets an agent spend more.
 */
import { LightproofError } from '../core/errors.js';
import type { Msat } from '../core/money.js';
import type { Amount } from './types.js';

/** All the bitcoin there will ever be, in millisatoshis. */
export const MAX_AMOUNT_MSAT = 21_000_000n * 100_000_000_000n;
/** A trillion dollars, in micro-dollars: no budget is larger. */
export const MAX_AMOUNT_MICROS = 1_000_000_000_000n * 1_000_000n;
const MSAT_PER_BTC = 100_000_000_000n;
const MICROS_PER_USD = 1_000_000n;

export const AMOUNT_HELP =
  'an amount such as "1000 sat", "2500 msat", "0.00001 btc", "0.50 usd" or "$0.50" ' +
  '(a non-negative decimal, no exponent; at most 1 msat or $0.000001 precision)';

/** Decimal places each unit carries below its smallest exact step (msat, or micro-dollars for usd). */
const UNIT_PLACES: Record<string, { unit: 'msat' | 'usd'; places: number }> = {
  msat: { unit: 'msat', places: 0 },
  msats: { unit: 'msat', places: 0 },
  sat: { unit: 'msat', places: 3 },
  sats: { unit: 'msat', places: 3 },
  btc: { unit: 'msat', places: 11 },
  usd: { unit: 'usd', places: 6 },
};

const NUMBER = '(\\d{1,30}(?:\\.\\d{1,30})?)';
const WITH_UNIT = new RegExp(`^${NUMBER}\\s*([a-z]+)$`);
const DOLLAR_SIGN = new RegExp(`^\\$\\s*${NUMBER}(?:\\s*usd)?$`);

/** Parses "1000 sat", "2500 msat", "0.00001 btc", "0.50 usd", "$0.50" (any case, optional spaces). */
export function parseAmount(text: string): Amount {
  const bad = (why: string) =>
    new LightproofError(
      'LP_WALLET_BAD_AMOUNT',
      `${quote(text)} is not a valid amount (${why}); write ${AMOUNT_HELP}.`,
      {
        details: { accepted: ['1000 sat', '2500 msat', '0.00001 btc', '0.50 usd', '$0.50'] },
      },
    );
  if (typeof text !== 'string') throw bad(`expected a string, got ${typeof text}`);
  const t = text.trim().toLowerCase();
  if (t === '') throw bad('it is empty');
  if (t.length > 80) throw bad('it is too long');
  if (t.startsWith('-')) throw bad('amounts cannot be negative');
  const dollars = DOLLAR_SIGN.exec(t);
  const m = dollars ? [t, dollars[1], 'usd'] : WITH_UNIT.exec(t);
  if (!m) throw bad('expected a number followed by a unit');
  const unit = UNIT_PLACES[m[2]!];
  if (!unit) throw bad(`unknown unit "${m[2]}"`);
  const value = scaleDecimal(m[1]!, unit.places);
  if (value === null) {
    throw bad(unit.unit === 'usd' ? 'finer than $0.000001' : 'finer than 1 msat');
  }
  if (unit.unit === 'usd') {
    if (value > MAX_AMOUNT_MICROS) throw bad('more than a trillion dollars');
    return { unit: 'usd', micros: value };
  }
  if (value > MAX_AMOUNT_MSAT) throw bad('more than 21 million bitcoin');
  return { unit: 'msat', msat: value as Msat };
}

/** The inverse of parseAmount: "1000 sat", "2500 msat", "0.5 usd". parseAmount(formatAmount(a)) equals a. */
export function formatAmount(a: Amount): string {
  if (a.unit === 'usd') return `${decimal(a.micros, 6)} usd`;
  return a.msat % 1000n === 0n ? `${a.msat / 1000n} sat` : `${a.msat} msat`;
}

/**
 * An amount in millisatoshis. Dollars are converted at `usdPerBtc` (a positive decimal string such as
 * "97123.45"), exactly and rounded down; an amount past all the bitcoin there is becomes that maximum.
 */
export function toMsat(a: Amount, usdPerBtc: string | null): Msat {
  if (a.unit === 'msat') return a.msat;
  if (usdPerBtc === null) {
    throw new LightproofError(
      'LP_WALLET_NO_RATE',
      `The amount ${formatAmount(a)} is in US dollars, but no USD/BTC rate is available to convert it; set the policy's rate (a fixed usdPerBtc or a price URL) or write the amount in sat.`,
    );
  }
  const rate = parseRate(usdPerBtc);
  // msat = micros / 1e6 USD * 1e11 msat/BTC / (digits / 10^scale USD/BTC)
  const out = (a.micros * (MSAT_PER_BTC / MICROS_PER_USD) * 10n ** BigInt(rate.scale)) / rate.digits;
  return (out > MAX_AMOUNT_MSAT ? MAX_AMOUNT_MSAT : out) as Msat;
}

/**
 * Checks a USD-per-BTC price (a positive decimal, as a string or a plain JSON number) and returns it
 * as a canonical decimal string. Throws LP_WALLET_BAD_RATE for anything else.
 */
export function normalizeUsdPerBtc(value: string | number): string {
  const text = typeof value === 'number' ? String(value) : value;
  const rate = parseRate(text);
  return decimal(rate.digits, rate.scale);
}

function parseRate(text: string): { digits: bigint; scale: number } {
  const m = typeof text === 'string' ? /^(\d{1,15})(?:\.(\d{1,18}))?$/.exec(text.trim()) : null;
  const digits = m ? BigInt(m[1]! + (m[2] ?? '')) : 0n;
  if (!m || digits === 0n) {
    throw new LightproofError(
      'LP_WALLET_BAD_RATE',
      `${quote(String(text))} is not a USD/BTC price; expected a positive decimal such as "97123.45" (no sign, no exponent).`,
    );
  }
  return { digits, scale: (m[2] ?? '').length };
}

/** "12.345" at 3 places → 12345n; null when digits beyond `places` are not all zero. */
function scaleDecimal(text: string, places: number): bigint | null {
  const [whole, frac = ''] = text.split('.') as [string, string?];
  const kept = frac.slice(0, places);
  if (/[1-9]/.test(frac.slice(places))) return null;
  return BigInt(whole) * 10n ** BigInt(places) + BigInt(kept.padEnd(places, '0') || '0');
}

/** 500000n at 6 places → "0.5"; trailing zeros dropped. */
function decimal(value: bigint, places: number): string {
  if (places === 0) return value.toString();
  const s = value.toString().padStart(places + 1, '0');
  const frac = s.slice(-places).replace(/0+$/, '');
  return frac ? `${s.slice(0, -places)}.${frac}` : s.slice(0, -places);
}

function quote(text: string): string {
  const s = JSON.stringify(text) ?? String(text);
  return s.length > 60 ? `${s.slice(0, 57)}…"` : s;
}
