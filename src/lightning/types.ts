import type { Msat } from '../core/money.js';
import type { Network } from './bolt11.js';

export interface NodeInfo {
  pubkey: string;
  alias: string;
  network: Network;
  /** Chain height the node has synced to; null for the embedded node, which has no chain. */
  blockHeight: number | null;
  synced: boolean;
  implementation: 'lnd' | 'embedded';
  version: string;
}

export interface CreateInvoiceRequest {
  /** null asks for an amountless invoice, which the payer fills in. */
  amountMsat: Msat | null;
  description?: string;
  /** 32-byte SHA-256 of a long description, instead of `description`. */
  descriptionHash?: Uint8Array;
  /** Seconds until the invoice expires; 3600 by default. */
  expirySeconds?: number;
}

export interface CreatedInvoice {
  paymentRequest: string;
  paymentHash: string;
  /** Seconds since 1970. */
  expiresAt: number;
}

export type InvoiceState = 'open' | 'accepted' | 'settled' | 'canceled';

export interface InvoiceStatus {
  paymentHash: string;
  paymentRequest: string;
  state: InvoiceState;
  amountMsat: Msat | null;
  amountPaidMsat: Msat;
  /** The preimage, once settled (the payee always knows it; it is only proof of payment once paid). */
  preimage: string | null;
  description: string | null;
  createdAt: number;
  settledAt: number | null;
}

export interface PayOptions {
  /** Required for an amountless invoice; must not be below an invoice's own amount. */
  amountMsat?: Msat;
  /** The most the payer will pay in routing fees; 1% + 10 sat by default. */
  maxFeeMsat?: Msat;
  /** How long the node may keep trying routes. */
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

export type PaymentState = 'in-flight' | 'succeeded' | 'failed';

export interface PaymentStatus {
  paymentHash: string;
  state: PaymentState;
  /** Hex preimage: the proof of payment, present when succeeded. */
  preimage: string | null;
  amountMsat: Msat;
  feeMsat: Msat;
  failureReason: string | null;
}

export interface PaymentResult extends PaymentStatus {
  state: 'succeeded';
  preimage: string;
}

export interface Balance {
  /** What the node can send now over Lightning. */
  spendableMsat: Msat;
  /** What it can still receive (inbound liquidity); null when unbounded (embedded). */
  receivableMsat: Msat | null;
}

/**
 * A Lightning node as Lightproof uses it. `payInvoice` is idempotent by payment hash: calling it again
 * for an invoice already paid (or in flight) returns that payment's outcome and never sends twice.
 */
export interface LightningNode {
  getInfo(): Promise<NodeInfo>;
  createInvoice(req: CreateInvoiceRequest): Promise<CreatedInvoice>;
  lookupInvoice(paymentHash: string): Promise<InvoiceStatus>;
  payInvoice(paymentRequest: string, opts?: PayOptions): Promise<PaymentResult>;
  /** The node's record of an outgoing payment, or null if it never sent one for this hash. */
  lookupPayment(paymentHash: string): Promise<PaymentStatus | null>;
  balance(): Promise<Balance>;
  /** Invoice updates (creation and settlement) until the signal aborts. */
  subscribeInvoices(opts: { signal: AbortSignal }): AsyncIterable<InvoiceStatus>;
  close(): Promise<void>;
}
