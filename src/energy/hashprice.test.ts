import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { floorFor, mwhPer1kTokens, usdToMsat } from './floor.js';
import { hashpriceFromChain, hashrateFromDifficulty, miningUsdPerMwh } from './hashprice.js';

describe('energy hashprice and floor arithmetic', () => {
  it('derives hashprice from the chain as the reference checks it against Luxor', () => {
    // D = 152 T, BTC = $91k, 3.125 + 0.02 BTC per block: $37.9/PH/day (Luxor reported $38.2).
    const hp = hashpriceFromChain({
      btcUsd: 91_000,
      networkHashesPerSecond: hashrateFromDifficulty(152e12),
      subsidyBtc: 3.125,
      feesBtcPerBlock: 0.02,
    });
    assert.equal(Math.round(hp * 10) / 10, 37.9);
    // The same from the hashrate: 1 EH/s finds 144·1e15/1e18 blocks' worth per PH per day.
    assert.ok(
      Math.abs(
        hashpriceFromChain({ btcUsd: 1, networkHashesPerSecond: 1e18, subsidyBtc: 1, feesBtcPerBlock: 0 }) -
          0.144,
      ) < 1e-12,
    );
  });

  it('gives the break-even power prices of the reference table', () => {
    const table: [number, number, number][] = [
      [28, 13.5, 86],
      [38.2, 17.5, 91],
      [50, 17.5, 119],
      [60, 29.5, 85],
    ];
    for (const [hp, j, want] of table)
      assert.equal(Math.round(miningUsdPerMwh(hp, j)), want, `${hp} at ${j} J/TH`);
    assert.equal(miningUsdPerMwh(50, 1000 / 24, 0.02), 49);
  });

  it('converts dollars to msat and prices tokens by their energy, rounding the floor up', () => {
    assert.equal(usdToMsat(91, 91_000), 100_000_000n);
    const site = {
      btcUsd: 100_000,
      gpus: { watts: 1275, tokensPerSecond: 2209 },
      ai: { tokensPerRequest: 500 },
    };
    // 0.58 J per token: 0.16 kWh per million tokens.
    assert.ok(Math.abs(mwhPer1kTokens(site) * 1e3 - 0.16e-3) < 0.005e-3);
    const f = floorFor(5000, site);
    assert.equal(f.per1kTokensMsat, Math.ceil(5000 * mwhPer1kTokens(site) * 1e6));
    assert.equal(f.perRequestMsat, Math.ceil((5000 * mwhPer1kTokens(site) * 1e6) / 2));
    assert.deepEqual(floorFor(-40, site), { per1kTokensMsat: 0, perRequestMsat: 0 });
  });
});
