/**
 * An OpenTimestamps calendar server with its own anchoring wallet: the public calendar API
 * (POST /digest, GET /timestamp/<hex>), one Merkle round per interval kept durably, and OP_RETURN
 * anchor transactions it builds, signs, chains and fee-bumps itself.
 */
export { Aggregator, type RoundSummary } from './aggregator.js';
export { Anchorer, type AnchorStatus } from './anchor/anchorer.js';
export { anchorTree, buildAnchorProofs } from './anchor/proof.js';
export { type RunningCalendar, type StartCalendarOptions, startCalendar } from './calendar.js';
export {
  type CalendarBitcoinConfig,
  type CalendarConfig,
  parseCalendarConfig,
  readCalendarConfigFile,
} from './config.js';
export { type CalendarKeys, openCalendarKeys } from './keys.js';
export { buildRound, commitmentHmac, decodeLeaves, MAX_DIGEST_BYTES } from './round.js';
export { type ChainView, createCalendarHandler } from './server.js';
export {
  type AnchorRecord,
  type CalendarStore,
  type CalendarStoreSpec,
  openCalendarStore,
  PostgresCalendarStore,
  parseStoreSpec,
  SqliteCalendarStore,
} from './store/index.js';
