/**
 * An Aperture-class L402 reverse proxy: services matched by host and path, static, per-token and
 * hooked prices, free paths, freebies, prepaid credit, rate limits, revocation, signed receipts, an
 * admin API and Prometheus metrics; state in SQLite, or PostgreSQL shared by several processes.
 */
export { AdminServer, adminCredential } from './admin.js';
export {
  type GatewayConfig,
  loadGatewayConfig,
  type PriceConfig,
  parseGatewayConfig,
  type ServiceConfig,
  type UsagePricing,
} from './config.js';
export { GatewayHandler } from './handler.js';
export { GatewayMetrics } from './metrics.js';
export { PriceBook, parseHookBody } from './pricing.js';
export { RateLimiter, type RateRule } from './ratelimit.js';
export type { ReceiptIssuer } from './respond.js';
export { type RunningGateway, type StartGatewayOptions, startGateway } from './server.js';
export * from './state/index.js';
export { WELL_KNOWN_PATH, wellKnownDocument } from './wellknown.js';
