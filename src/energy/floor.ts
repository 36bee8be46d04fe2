/**
 * The price floor: what one MWh is worth at the site in an interval (the power price plus the dual
 * of the grid-cap row and of any peak rows it sits in; with mining on the margin that is
 * max(mining revenue/MWh, power price)) turned into millisatoshis per request and per 1,000 tokens.
 * AI sold below it earns less than the power would in its next-best use.
 */
/** What a GPU draws (W, at the wall) and serves (tokens/s). */
export interface GpuRate {
  watts: number;
  tokensPerSecond: number;
}

/** 1 BTC = 1e11 msat. */
const MSAT_PER_BTC = 100_000_000_000;

/** USD as whole msat at BTC_USD, rounded to the nearest msat. */
export function usdToMsat(usd: number, btcUsd: number): bigint {
  const v = Math.round((usd / btcUsd) * MSAT_PER_BTC);
  if (!Number.isSafeInteger(v)) throw new RangeError(`${usd} USD does not fit a safe msat integer`);
  return BigInt(v);
}

/** MWh a GPU of SITE spends on 1,000 output tokens. */
export function mwhPer1kTokens(site: { gpus: GpuRate }): number {
  return (1000 * site.gpus.watts) / (site.gpus.tokensPerSecond * 3.6e9);
}

export interface Floor {
  perRequestMsat: number;
  per1kTokensMsat: number;
}

/** Rounded up, so a floor never under-charges; a negative value of power (negative prices) floors at 0. */
export function floorFor(
  usdPerMwh: number,
  site: { btcUsd: number; gpus: GpuRate; ai: { tokensPerRequest: number } },
): Floor {
  const per1k = Math.max(0, usdPerMwh) * mwhPer1kTokens(site);
  const msat = (usd: number) => Math.ceil((usd / site.btcUsd) * MSAT_PER_BTC - 1e-9);
  return {
    per1kTokensMsat: Math.max(0, msat(per1k)),
    perRequestMsat: Math.max(0, msat((per1k * site.ai.tokensPerRequest) / 1000)),
  };
}
