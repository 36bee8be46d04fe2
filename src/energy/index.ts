/** lightproof/energy: plan a mullet site's power between mining, AI and curtailment, and price AI above it. */
export { scheduleSvg } from './chart.js';
export { floorFor, mwhPer1kTokens, usdToMsat } from './floor.js';
export { hashpriceFromChain, hashrateFromDifficulty, miningUsdPerMwh } from './hashprice.js';
export { columnsFor, type Market, problemFrom } from './inputs.js';
export { toLpText } from './lp-text.js';
export { buildModel, type Model, type Problem } from './model.js';
export { aiOnly, evaluate, mineOnly, type Outcome, type Schedule, threshold } from './outcome.js';
export { type Plan, type PlanInterval, type Planned, planSite } from './plan.js';
export { loadPrices, type PriceLayout, type PriceOptions, type PriceSeries, parsePrices } from './prices.js';
export { rng, samplePrices, samplePricesCsv, sampleSiteYaml } from './sample.js';
export {
  type FloorUnit,
  loadSignalPlan,
  parseSignalPlan,
  type RunningSignal,
  type SignalPlan,
  startSignal,
} from './signal.js';
export { loadSite, parseSite, type Site } from './site.js';
export { loadHighs, type SolveOptions, solveModel } from './solve.js';
