import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLightproofError } from '../core/errors.js';
import type { Msat } from '../core/money.js';
import { formatAmount, MAX_AMOUNT_MSAT, normalizeUsdPerBtc, parseAmount, toMsat } from './amount.js';
import type { Amount } from './types.js';

const sat = (n: bigint): Amount => ({ unit: 'msat', msat: (n * 1000n) as Msat });
const usd = (micros: bigint): Amount => ({ unit: 'usd', micros });

function throwsCode(fn: () => unknown, code: string, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isLightproofError(err), String(err));
    assert.equal(err.code, code);
    for (const f of fragments) assert.ok(err.message.includes(f), `"${f}" missing from: ${err.message}`);
    return true;
  });
}

describe('parseAmount', () => {
  it('reads sat, msat and btc exactly as millisatoshis', () => {
    const cases: [string, bigint][] = [
      ['1000 sat', 1_000_000n],
      ['1000sat', 1_000_000n],
      ['1000 sats', 1_000_000n],
      ['  1000   SATS ', 1_000_000n],
      ['2500 msat', 2500n],
      ['2500msats', 2500n],
      ['1.5 sat', 1500n],
      ['1.001 sat', 1001n],
      ['1.0 msat', 1n],
      ['0.00001 btc', 1_000_000n],
      ['0.00000000001 BTC', 1n],
      ['21000000 btc', MAX_AMOUNT_MSAT],
      ['0 sat', 0n],
    ];
    for (const [text, msat] of cases) assert.deepEqual(parseAmount(text), { unit: 'msat', msat }, text);
  });

  it('reads dollars as micro-dollars', () => {
    const cases: [string, bigint][] = [
      ['0.50 usd', 500_000n],
      ['$0.50', 500_000n],
      ['$ 0.50', 500_000n],
      ['0.002 USD', 2000n],
      ['2usd', 2_000_000n],
      ['0.000001 usd', 1n],
      ['1000000000000 usd', 1_000_000_000_000_000_000n],
    ];
    for (const [text, micros] of cases) assert.deepEqual(parseAmount(text), { unit: 'usd', micros }, text);
  });

  it('refuses amounts finer than 1 msat or one micro-dollar', () => {
    for (const text of ['0.5 msat', '1.0001 sat', '0.000000000001 btc', '0.0000001 usd', '$0.0000005']) {
      throwsCode(() => parseAmount(text), 'LP_WALLET_BAD_AMOUNT', 'finer than');
    }
  });

  it('refuses negative, empty, non-numeric, exponent and absurd amounts, naming the accepted forms', () => {
    const bad = [
      '',
      '   ',
      '-1 sat',
      '-$1',
      '$-1',
      'NaN sat',
      'Infinity sat',
      '1e3 sat',
      '1E-3 btc',
      '0x10 sat',
      '1,000 sat',
      '1_000 sat',
      '.5 sat',
      '5. sat',
      '1000',
      'sat',
      '10 eur',
      '10 sat sat',
      '+5 sat',
      '21000000.00000000001 btc',
      '2100000000000001 sat',
      '1000000000000.000001 usd',
      '١٠ sat',
      '9'.repeat(200),
      '10 sat\n; rm -rf /',
    ];
    for (const text of bad)
      throwsCode(() => parseAmount(text), 'LP_WALLET_BAD_AMOUNT', '"1000 sat"', '$0.50');
    throwsCode(() => parseAmount(12 as unknown as string), 'LP_WALLET_BAD_AMOUNT', 'expected a string');
  });

  it('keeps hostile input short in the message', () => {
    try {
      parseAmount(`${'x'.repeat(10_000)} sat`);
      assert.fail('should throw');
    } catch (err) {
      assert.ok(isLightproofError(err));
      assert.ok(err.message.length < 400, err.message);
    }
  });
});

describe('formatAmount', () => {
  it('writes the operator form', () => {
    assert.equal(formatAmount(sat(1000n)), '1000 sat');
    assert.equal(formatAmount({ unit: 'msat', msat: 2500n as Msat }), '2500 msat');
    assert.equal(formatAmount({ unit: 'msat', msat: 0n as Msat }), '0 sat');
    assert.equal(formatAmount(usd(500_000n)), '0.5 usd');
    assert.equal(formatAmount(usd(2000n)), '0.002 usd');
    assert.equal(formatAmount(usd(3_000_000n)), '3 usd');
    assert.equal(formatAmount(usd(1n)), '0.000001 usd');
  });

  it('round-trips through parseAmount for many values', () => {
    let x = 1n;
    for (let i = 0; i < 200; i++) {
      x = (x * 6364136223846793005n + 1442695040888963407n) % 2n ** 61n;
      const m: Amount = { unit: 'msat', msat: (x % MAX_AMOUNT_MSAT) as Msat };
      const u: Amount = { unit: 'usd', micros: x % 10n ** 18n };
      assert.deepEqual(parseAmount(formatAmount(m)), m);
      assert.deepEqual(parseAmount(formatAmount(u)), u);
    }
  });
});

describe('toMsat', () => {
  it('passes millisatoshis through', () => {
    assert.equal(toMsat(sat(7n), null), 7000n);
  });

  it('converts dollars exactly at the rate', () => {
    assert.equal(toMsat(usd(2_000_000n), '100000'), 2_000_000n); // $2 at $100k = 2000 sat
    assert.equal(toMsat(usd(1_000_000n), '50000.00'), 2_000_000n);
    assert.equal(toMsat(usd(97_123_450_000n), '97123.45'), 100_000_000_000n); // exactly 1 BTC
  });

  it('rounds down, so a limit never grows', () => {
    // $1 at $3/BTC = 33333333333.33… msat
    assert.equal(toMsat(usd(1_000_000n), '3'), 33_333_333_333n);
    // $0.000001 at $97123.45 = 1.0296… msat → 1; at $200000 = 0.5 msat → 0
    assert.equal(toMsat(usd(1n), '97123.45'), 1n);
    assert.equal(toMsat(usd(1n), '200000'), 0n);
    // with many decimals in the rate: still exact, still floored
    assert.equal(toMsat(usd(1_000_000n), '0.000000000000000003'), MAX_AMOUNT_MSAT);
    assert.equal(toMsat(usd(1_000_000n), '99999.999999999999999999'), 1_000_000n);
  });

  it('caps at all the bitcoin there is', () => {
    assert.equal(toMsat(usd(10n ** 18n), '1'), MAX_AMOUNT_MSAT);
  });

  it('needs a rate for dollars', () => {
    throwsCode(() => toMsat(usd(1n), null), 'LP_WALLET_NO_RATE', 'rate');
  });

  it('refuses a malformed rate', () => {
    for (const r of ['', '0', '0.000', '-5', '1e5', 'abc', '1,000', 'Infinity', ' ', '1.', '.5']) {
      throwsCode(() => toMsat(usd(1n), r), 'LP_WALLET_BAD_RATE', 'positive decimal');
    }
  });
});

describe('normalizeUsdPerBtc', () => {
  it('accepts decimal strings and plain numbers', () => {
    assert.equal(normalizeUsdPerBtc('97123.45'), '97123.45');
    assert.equal(normalizeUsdPerBtc('97123.4500'), '97123.45');
    assert.equal(normalizeUsdPerBtc(97123.45), '97123.45');
    assert.equal(normalizeUsdPerBtc(100000), '100000');
  });

  it('refuses zero, negatives, exponents and non-finite numbers', () => {
    for (const v of [0, -1, 1e21, 1e-7, Number.NaN, Number.POSITIVE_INFINITY, '0', '-1', '1e3']) {
      throwsCode(() => normalizeUsdPerBtc(v), 'LP_WALLET_BAD_RATE');
    }
  });
});
