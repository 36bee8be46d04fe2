export {
  type DecodedInvoice,
  decodeInvoice,
  encodeInvoice,
  type InvoiceFields,
  invoiceExpiresAt,
  MAX_INVOICE_LENGTH,
  type Network,
  type RouteHop,
} from './bolt11.js';
export { checkPayable, parsePaymentHash } from './checks.js';
export { EmbeddedLightning, EmbeddedNode, type EmbeddedOptions } from './embedded/index.js';
export { EmbeddedRestServer } from './embedded/rest.js';
export { LndNode, type LndOptions } from './lnd/index.js';
export { type LightningSpec, type OpenedNode, openLightning } from './open.js';
export * from './types.js';
