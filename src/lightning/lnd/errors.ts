import { LightproofError } from '../../core/errors.js';
import type { Msat } from '../../core/money.js';

export type LndErrorKind = 'auth' | 'not-found' | 'already-paid' | 'in-flight' | 'other';
export interface LndError {
  kind: LndErrorKind;
  error: LightproofError;
}

/**
 * Turns an LND REST error body ({code, message}) into a typed error. A `lightproof_code` field,
 * sent by `lightproof node`, carries our own code across the wire unchanged.
 */
export function lndError(status: number, body: unknown): LndError {
  const b = (body ?? {}) as { message?: unknown; error?: unknown; lightproof_code?: unknown };
  const message =
    typeof b.message === 'string' ? b.message : typeof b.error === 'string' ? b.error : `HTTP ${status}`;
  const kind: LndErrorKind =
    status === 401 || status === 403 || /macaroon|verification failed|permission denied/i.test(message)
      ? 'auth'
      : /already paid|already succeeded/i.test(message)
        ? 'already-paid'
        : /in transition|in flight|already in progress|payment already exists/i.test(message)
          ? 'in-flight'
          : /unable to locate invoice|no such invoice|not found|isn't initiated|not initiated/i.test(message)
            ? 'not-found'
            : 'other';
  if (typeof b.lightproof_code === 'string' && b.lightproof_code.startsWith('LP_')) {
    return { kind, error: new LightproofError(b.lightproof_code, message, { status }) };
  }
  const error =
    kind === 'auth'
      ? new LightproofError(
          'LP_LN_AUTH_FAILED',
          `The node refused the macaroon (${message}). Use this node's admin.macaroon, or invoice.macaroon for invoices only.`,
          { status: 401 },
        )
      : kind === 'not-found'
        ? new LightproofError(
            'LP_LN_INVOICE_NOT_FOUND',
            `The node has no such invoice (${message}); check the payment hash.`,
            {
              status: 404,
            },
          )
        : new LightproofError('LP_LN_NODE_ERROR', `The Lightning node refused the request: ${message}.`, {
            status: 502,
          });
  return { kind, error };
}

const FAILURES: Record<string, [code: string, text: string]> = {
  FAILURE_REASON_NO_ROUTE: [
    'LP_LN_NO_ROUTE',
    'No route to the payee was found with enough capacity; try a smaller amount or later.',
  ],
  FAILURE_REASON_INSUFFICIENT_BALANCE: [
    'LP_LN_INSUFFICIENT_BALANCE',
    'The node does not have enough outbound balance for this payment and its fees; add funds or pay less.',
  ],
  FAILURE_REASON_INCORRECT_PAYMENT_DETAILS: [
    'LP_LN_PAYMENT_REJECTED',
    'The payee rejected the payment (unknown or already-paid invoice, or wrong amount); ask for a new invoice.',
  ],
  FAILURE_REASON_TIMEOUT: [
    'LP_LN_PAYMENT_TIMEOUT',
    'No route succeeded before the timeout; try again later or raise the fee limit.',
  ],
  FAILURE_REASON_CANCELED: ['LP_LN_PAYMENT_FAILED', 'The payment was canceled by the node.'],
};

/** The typed error for a payment LND reports as FAILED. */
export function paymentFailure(reason: string | null, amountMsat: Msat): LightproofError {
  const [code, text] = FAILURES[reason ?? ''] ?? [
    'LP_LN_PAYMENT_FAILED',
    `The payment failed (${reason ?? 'no reason given'}).`,
  ];
  return new LightproofError(code, text, {
    status: 402,
    details: { reason, amountMsat: amountMsat.toString() },
  });
}
