/**
 * Hashprice: what 1 PH/s of hashrate earns in a day, and what that makes one MWh of mining worth.
 * HP_$/PH/day = 86400 · 1e15 / (D · 2^32) · (subsidy + fees per block) · BTC_USD, which is the
 * same as 144 · (subsidy + fees) · BTC_USD · 1e15 / network H/s.
 */
import type { HashpriceSpec } from './site.js';

export function hashpriceFromChain(o: {
  btcUsd: number;
  networkHashesPerSecond: number;
  subsidyBtc: number;
  feesBtcPerBlock: number;
}): number {
  const blocksPerDayPerPh = (144 * 1e15) / o.networkHashesPerSecond;
  return blocksPerDayPerPh * (o.subsidyBtc + o.feesBtcPerBlock) * o.btcUsd;
}

/** The network hashrate (H/s) that difficulty D implies: D·2^32 hashes per block, a block per 600 s. */
export function hashrateFromDifficulty(difficulty: number): number {
  return (difficulty * 2 ** 32) / 600;
}

/**
 * Gross mining revenue per MWh at full uptime: P = HP · 1000 / (24 · J/TH), less the pool's fee.
 * It is also the break-even power price: mining pays while power costs less than this.
 */
export function miningUsdPerMwh(hashpriceUsdPerPhDay: number, joulesPerTh: number, poolFee = 0): number {
  return (hashpriceUsdPerPhDay * (1 - poolFee) * 1000) / (24 * joulesPerTh);
}

/** The hashprice of every interval: a constant, a CSV column, or derived from the chain. */
export function hashpriceSeries(
  spec: HashpriceSpec,
  n: number,
  btcUsd: number,
  column: (name: string) => Float64Array,
): Float64Array {
  if (spec.kind === 'column') return column(spec.column);
  const v = spec.kind === 'constant' ? spec.usdPerPhDay : hashpriceFromChain({ btcUsd, ...spec });
  return new Float64Array(n).fill(v);
}
