/**
 * `/.well-known/lightproof.json`: what this provider sells, at what price, and the key its receipts
 * are signed with. With a receipt, this document is all a verifier needs. Amounts in msat are
 * decimal strings so no JSON reader rounds them.
 */
import type { NodeInfo } from '../lightning/index.js';
import type { GatewayConfig, ServiceConfig } from './config.js';
import type { PriceBook } from './pricing.js';

export const WELL_KNOWN_PATH = '/.well-known/lightproof.json';

export interface WellKnownSources {
  config: GatewayConfig;
  prices: PriceBook;
  receiptKey: string | null;
  /** The log every receipt is appended to, and the key its checkpoints are signed with. */
  receiptLog: { origin: string; verifierKey: string; size: () => number } | null;
  nodeInfo: () => Promise<NodeInfo | null>;
}

export async function wellKnownDocument(s: WellKnownSources): Promise<Record<string, unknown>> {
  const info = await s.nodeInfo();
  return {
    lightproof: 1,
    l402: { schemes: ['L402', 'LSAT'], token_location: 'lsat' },
    node: info ? { pubkey: info.pubkey, network: info.network } : null,
    receipts: s.receiptKey
      ? { header: 'Lightproof-Receipt', algorithm: 'bip340-schnorr-sha256', public_key: s.receiptKey }
      : null,
    receipt_log: s.receiptLog
      ? { origin: s.receiptLog.origin, verifier_key: s.receiptLog.verifierKey, size: s.receiptLog.size() }
      : null,
    services: await Promise.all(s.config.services.map((svc) => describe(svc, s.prices))),
  };
}

async function describe(svc: ServiceConfig, prices: PriceBook): Promise<Record<string, unknown>> {
  let current: string | null = null;
  try {
    current = String(await prices.price(svc));
  } catch {
    // The hook is down; the document still describes the service.
  }
  return {
    name: svc.name,
    ...(svc.description ? { description: svc.description } : {}),
    ...(svc.host ? { host: svc.host.source } : {}),
    path: svc.path.source,
    pricing: svc.price.kind === 'static' ? 'static' : 'dynamic',
    price_msat: current,
    ...(svc.creditMsat !== null ? { credit_msat: String(svc.creditMsat) } : {}),
    ...(svc.perRequestMsat !== null ? { per_request_msat: String(svc.perRequestMsat) } : {}),
    ...(svc.usage
      ? {
          usage: {
            input_msat_per_million_tokens: String(svc.usage.inputMsatPerMillion),
            output_msat_per_million_tokens: String(svc.usage.outputMsatPerMillion),
            reserve_msat: String(svc.usage.reserveMsat),
          },
        }
      : {}),
    ...(svc.tokenTimeoutSeconds ? { token_timeout_seconds: svc.tokenTimeoutSeconds } : {}),
    free_paths: svc.freePaths.map((r) => r.source),
    freebies: svc.freebies,
  };
}
