/**
 * The log entries Lightproof writes, as canonical JSON (keys sorted, no whitespace), so one entry has
 * one byte encoding and a verifier can say what a proven entry is.
 */
import { z } from 'zod';
import { LightproofError } from '../../core/errors.js';

export const RECEIPT_ENTRY_TYPE = 'lightproof.receipt/v1';
export const WALLET_EVENT_ENTRY_TYPE = 'lightproof.wallet-event/v1';

/** JSON with object keys sorted at every depth and no whitespace (RFC 8785's shape for these values). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw notJson('a non-finite number');
    if (typeof value === 'bigint') return value.toString();
    const text = JSON.stringify(value);
    if (text === undefined) throw notJson(`a ${typeof value}`);
    return text;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  const obj = value as Record<string, unknown>;
  return `{${keys
    .filter((k) => obj[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
    .join(',')}}`;
}

function notJson(what: string): LightproofError {
  return new LightproofError('LP_VERIFY_BAD_ENTRY', `A log entry cannot hold ${what}; fix the caller.`);
}

const encoder = new TextEncoder();

/** The entry the gateway appends for each signed receipt: the header value, which carries its key. */
export function receiptEntry(header: string): Uint8Array {
  return encoder.encode(canonicalJson({ type: RECEIPT_ENTRY_TYPE, header }));
}

export interface WalletEventFields {
  seq: number;
  paymentId: number;
  paymentHash: string;
  from: string | null;
  to: string;
  at: number;
  detail: Record<string, unknown> | null;
}

/** The entry the wallet appends for each journal event, in the journal's order. */
export function walletEventEntry(e: WalletEventFields): Uint8Array {
  return encoder.encode(
    canonicalJson({
      type: WALLET_EVENT_ENTRY_TYPE,
      seq: e.seq,
      paymentId: e.paymentId,
      paymentHash: e.paymentHash,
      from: e.from,
      to: e.to,
      at: e.at,
      detail: e.detail,
    }),
  );
}

const receiptEntrySchema = z.strictObject({ type: z.literal(RECEIPT_ENTRY_TYPE), header: z.string() });
const walletEventSchema = z.strictObject({
  type: z.literal(WALLET_EVENT_ENTRY_TYPE),
  seq: z.number().int().nonnegative(),
  paymentId: z.number().int().nonnegative(),
  paymentHash: z.string(),
  from: z.string().nullable(),
  to: z.string(),
  at: z.number().int().nonnegative(),
  detail: z.record(z.string(), z.unknown()).nullable(),
});

export type KnownEntry =
  | { type: 'receipt'; header: string }
  | ({ type: 'wallet-event' } & WalletEventFields)
  | { type: 'other' };

/** Reads an entry as one of the kinds above; anything else (or a non-canonical spelling) is `other`. */
export function readEntry(bytes: Uint8Array): KnownEntry {
  let json: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    json = JSON.parse(text);
  } catch {
    return { type: 'other' };
  }
  if (canonicalJson(json) !== text) return { type: 'other' };
  const receipt = receiptEntrySchema.safeParse(json);
  if (receipt.success) return { type: 'receipt', header: receipt.data.header };
  const event = walletEventSchema.safeParse(json);
  if (event.success) {
    const { type: _, ...fields } = event.data;
    return { type: 'wallet-event', ...fields };
  }
  return { type: 'other' };
}
