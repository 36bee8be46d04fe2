/** Small helpers the kinds share. */
import type { z } from 'zod';
import { RECEIPT_KEY } from './receipt.js';

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** The --key values that are signed-note verifier keys rather than receipt keys. */
export function noteKeys(keys: readonly string[]): string[] {
  return keys.filter((k) => !RECEIPT_KEY.test(k));
}
