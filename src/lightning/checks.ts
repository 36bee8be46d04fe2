import { LightproofError } from '../core/errors.js';
import type { Msat } from '../core/money.js';
import { type DecodedInvoice, decodeInvoice, invoiceExpiresAt, type Network } from './bolt11.js';

const PAYMENT_HASH = /^[0-9a-f]{64}$/;

/** Checks a payment hash given by a caller: 64 hex characters, returned lower-case. */
export function parsePaymentHash(value: string): string {
  const hash = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (!PAYMENT_HASH.test(hash)) {
    throw new LightproofError(
      'LP_LN_BAD_PAYMENT_HASH',
      `'${String(value).slice(0, 80)}' is not a payment hash: expected 64 hex characters.`,
    );
  }
  return hash;
}

/**
 * Everything a payer must check before any money moves, the same for every node implementation:
 * the invoice decodes and verifies, is for our network, has not expired, needs no unknown feature,
 * and has an amount (its own or the caller's, never less than its own).
 */
export function checkPayable(
  paymentRequest: string,
  ctx: { network: Network; amountMsat?: Msat; nowSeconds?: number },
): { invoice: DecodedInvoice; amountMsat: Msat } {
  const invoice = decodeInvoice(paymentRequest);
  if (invoice.network !== ctx.network) {
    throw new LightproofError(
      'LP_LN_WRONG_NETWORK',
      `This invoice is for ${invoice.network} but the node runs on ${ctx.network}; ask for an invoice on ${ctx.network}.`,
    );
  }
  const now = ctx.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (now >= invoiceExpiresAt(invoice)) {
    throw new LightproofError(
      'LP_LN_INVOICE_EXPIRED',
      `This invoice expired at ${new Date(invoiceExpiresAt(invoice) * 1000).toISOString()}; ask the payee for a new one.`,
    );
  }
  if (invoice.features.unknownRequired.length > 0) {
    throw new LightproofError(
      'LP_LN_UNKNOWN_FEATURE',
      `This invoice requires feature bit(s) ${invoice.features.unknownRequired.join(', ')} that this node does not support; it cannot be paid.`,
    );
  }
  let amountMsat: Msat;
  if (invoice.amountMsat === null) {
    if (ctx.amountMsat === undefined || ctx.amountMsat <= 0n) {
      throw new LightproofError(
        'LP_LN_AMOUNT_REQUIRED',
        'This invoice has no amount; pass the amount to pay (for example --amount-msat 1000).',
      );
    }
    amountMsat = ctx.amountMsat;
  } else {
    if (ctx.amountMsat !== undefined && ctx.amountMsat < invoice.amountMsat) {
      throw new LightproofError(
        'LP_LN_AMOUNT_TOO_LOW',
        `The invoice asks for ${invoice.amountMsat} msat; an amount of ${ctx.amountMsat} msat would be refused by the payee.`,
      );
    }
    amountMsat = ctx.amountMsat ?? invoice.amountMsat;
  }
  return { invoice, amountMsat };
}

/** 1% + 10 sat: enough for regtest and small real routes, capped so a bug cannot burn the amount. */
export function defaultMaxFee(amountMsat: Msat): Msat {
  return (amountMsat / 100n + 10_000n) as Msat;
}
