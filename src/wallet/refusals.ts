/** The errors a wallet payment ends with, built from its journal record. */
import { LightproofError } from '../core/errors.js';
import type { PaymentRecord } from './types.js';

/** Errors after which the node certainly sent nothing: it refused the invoice or found no route. */
export function definiteFailure(err: unknown): boolean {
  return [
    'LP_LN_NO_ROUTE',
    'LP_LN_INSUFFICIENT_BALANCE',
    'LP_LN_PAYMENT_FAILED',
    'LP_LN_PAYMENT_REJECTED',
    'LP_LN_INVOICE_EXPIRED',
    'LP_LN_INVOICE_NOT_FOUND',
    'LP_LN_SELF_PAYMENT',
    'LP_LN_WRONG_NETWORK',
    'LP_LN_AMOUNT_REQUIRED',
    'LP_LN_UNKNOWN_FEATURE',
  ].includes(errorCode(err) ?? '');
}

export function errorCode(err: unknown): string | undefined {
  return err instanceof LightproofError ? err.code : undefined;
}

export function refusal(
  record: PaymentRecord,
  cause?: unknown,
  extra?: Record<string, unknown>,
): LightproofError {
  return new LightproofError(
    record.reasonCode ?? 'LP_WALLET_PAYMENT_FAILED',
    record.reasonText ?? `Payment ${record.id} ended ${record.state}.`,
    {
      status: record.state === 'rejected' ? 403 : 502,
      details: { ...extra, paymentId: record.id, paymentHash: record.paymentHash, state: record.state },
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

export function pending(record: PaymentRecord): LightproofError {
  return new LightproofError(
    'LP_WALLET_APPROVAL_PENDING',
    `Payment ${record.id} of ${record.amountMsat} msat${record.domain ? ` to ${record.domain}` : ''} is above the approval threshold and waits for a person: \`lightproof wallet approve ${record.id}\` (or reject). Nothing was paid; repeat the request after it is approved.`,
    {
      status: 402,
      details: {
        paymentId: record.id,
        amountMsat: String(record.amountMsat),
        expiresAt: record.invoiceExpiresAt,
      },
    },
  );
}

export function notFound(id: number): LightproofError {
  return new LightproofError(
    'LP_WALLET_NOT_FOUND',
    `No payment ${id} in the journal; list them with \`lightproof wallet history\`.`,
    {
      status: 404,
    },
  );
}

export function notAwaiting(id: number, state: string | undefined): LightproofError {
  return new LightproofError(
    'LP_WALLET_NOT_AWAITING',
    `Payment ${id} is ${state ?? 'gone'}, not awaiting approval; only payments waiting above the threshold can be approved or rejected.`,
    { status: 409 },
  );
}
