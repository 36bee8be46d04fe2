/**
 * How the MCP tools answer: JSON text plus the same object as structuredContent, with amounts as plain
 * integers (millisatoshis and sats), errors as {code, message} without stacks, and never a bearer
 * credential (an L402 token or a payment preimage).
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { LightproofError } from '../core/errors.js';
import type { PaymentRecord } from '../wallet/types.js';

/** Keys never copied into a tool result: together they are money the agent already spent. */
const SECRET_KEYS = new Set(['token', 'preimage', 'macaroon', 'authorization', 'credential']);

/**
 * bigints become numbers (exact below 2^53 msat, about 90,000 BTC), camelCase keys stay as written by
 * the caller, and secret-named keys are dropped at any depth.
 */
export function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (SECRET_KEYS.has(k.toLowerCase())) continue;
      if (v !== undefined) out[k] = plain(v);
    }
    return out;
  }
  return value;
}

export function ok(data: Record<string, unknown>): CallToolResult {
  const structured = plain(data) as Record<string, unknown>;
  return { content: [{ type: 'text', text: JSON.stringify(structured) }], structuredContent: structured };
}

/** Refusals that a person set up: the model must not try to get around them. */
const POLICY_GUIDANCE =
  'This limit was set by a person. Do not work around it (no retries with a higher max_sats, no other URL for the same thing): tell the user what was refused and why.';

const GUIDANCE: Record<string, string> = {
  LP_L402_PRICE_TOO_HIGH:
    'Nothing was paid. max_sats is your own limit for this request: do not raise it unless the user agrees to the price.',
  LP_WALLET_OVER_MAX:
    'Nothing was paid. max_sats is your own limit for this payment: do not raise it unless the user agrees to the amount.',
  LP_WALLET_FROZEN:
    'Nothing was paid. A person froze the wallet; only they can unfreeze it. Stop paying and tell the user.',
  LP_WALLET_BUDGET_EXCEEDED: POLICY_GUIDANCE,
  LP_WALLET_OVER_REQUEST_CAP: POLICY_GUIDANCE,
  LP_WALLET_DOMAIN_DENIED: POLICY_GUIDANCE,
  LP_WALLET_REJECTED:
    'A person rejected this payment. Do not ask again for the same thing unless the user says so.',
  LP_WALLET_PAYMENT_UNKNOWN:
    'The payment may still complete; it will never be sent twice. Do not retry now: check history later.',
};

/** A failed tool call: {code, message, details?, what_to_do?}; a bare Error becomes LP_MCP_FAILED. */
export function fail(err: unknown, fallbackCode = 'LP_MCP_FAILED'): CallToolResult {
  const body: Record<string, unknown> =
    err instanceof LightproofError
      ? { code: err.code, message: err.message, ...(err.details ? { details: snakeKeys(err.details) } : {}) }
      : { code: fallbackCode, message: describe(err) };
  const guidance = GUIDANCE[body.code as string];
  if (guidance) body.what_to_do = guidance;
  const structured = plain(body) as Record<string, unknown>;
  return {
    content: [{ type: 'text', text: JSON.stringify(structured) }],
    structuredContent: structured,
    isError: true,
  };
}

/** The message of an error and its causes, one line, no stack. */
function describe(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let i = 0; i < 3 && current !== undefined && current !== null; i++) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.filter(Boolean).join(': ').slice(0, 1000) || 'unknown error';
}

function snakeKeys(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details)) out[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = v;
  return out;
}

export const satsFloor = (m: bigint): number => Number(m / 1000n);
export const satsCeil = (m: bigint): number => Number((m + 999n) / 1000n);

/** A journal record as the model may see it: no token, no preimage, no invoice. */
export function publicPayment(r: PaymentRecord): Record<string, unknown> {
  return {
    payment_id: r.id,
    state: r.state,
    source: r.source,
    url: r.url,
    domain: r.domain,
    service: r.service,
    amount_msat: r.amountMsat,
    amount_sats: satsCeil(r.amountMsat),
    fee_msat: r.feeMsat,
    payment_hash: r.paymentHash,
    memo: r.memo,
    reason_code: r.reasonCode,
    reason: r.reasonText,
    decided_by: r.decidedBy,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    invoice_expires_at: r.invoiceExpiresAt,
  };
}
