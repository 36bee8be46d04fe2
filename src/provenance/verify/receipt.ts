/** A receipt: the `Lightproof-Receipt` header value alone, or JSON holding it as `header` (and maybe `key`). */
import { base64urlnopad } from '@scure/base';
import { LightproofError } from '../../core/errors.js';
import { type Receipt, verifyReceipt } from '../receipt.js';
import { iso, type ReportBuilder } from './report.js';

export const RECEIPT_KEY = /^[0-9a-f]{64}$/;

/** The key a header names, without trusting it, so a receipt can be checked against its own key. */
function namedKey(header: string): string {
  try {
    const json: unknown = JSON.parse(new TextDecoder().decode(base64urlnopad.decode(header.split('.')[0]!)));
    const key = (json as { key?: unknown }).key;
    if (typeof key === 'string' && RECEIPT_KEY.test(key)) return key;
  } catch {
    // verifyReceipt says what is wrong with it.
  }
  return '0'.repeat(64);
}

/**
 * Checks HEADER against the trusted receipt keys, or, with none, against the key it names (then the
 * report says the key's owner is not proved). Returns the receipt when the signature holds.
 */
export async function checkReceipt(
  b: ReportBuilder,
  header: string,
  trusted: readonly string[],
  where: string,
): Promise<Receipt | undefined> {
  const keys = trusted.length > 0 ? trusted : [namedKey(header)];
  let receipt: Receipt | undefined;
  let lastError: LightproofError | undefined;
  for (const key of keys) {
    try {
      receipt = verifyReceipt(header, key);
      break;
    } catch (err) {
      if (!(err instanceof LightproofError)) throw err;
      lastError = err;
    }
  }
  if (!receipt) {
    b.fail(lastError!.code, `${where}: ${lastError!.message}`);
    return undefined;
  }
  const r = receipt;
  b.proved.push(
    `${where} was signed by receipt key ${r.key}${trusted.length > 0 ? ' (a key you gave with --key)' : ''}, which states it was made at ${iso(r.time)}`,
    `it covers request digest ${r.requestDigest} and response digest ${r.responseDigest}, for service ${r.service}, price ${r.priceMsat} msat, payment hash ${r.paymentHash}, token ${r.tokenId}`,
  );
  if (trusted.length === 0) {
    b.notProved.push(
      `that key ${r.key} is the provider's: no --key was given, so compare it with receipts.public_key in the provider's /.well-known/lightproof.json`,
    );
  }
  b.notProved.push(
    'that the response is true or correct: a receipt proves what was answered, not that the answer is right',
    'that the time is real: the signer states it; a Bitcoin-stamped log checkpoint that includes the receipt bounds it',
  );
  b.facts.receiptKey = r.key;
  b.facts.receiptTime = r.time;
  return r;
}
