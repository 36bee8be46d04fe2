/** Small helpers the kinds share. */
import type { z } from 'zod';
import { LightproofError } from '../../core/errors.js';
import { type NoteVerifier, noteVerifier } from '../note.js';
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

/** Verifiers for KEYS, each spelled exactly as its canonical form, so one key has one spelling. */
export function canonicalVerifiers(keys: readonly string[]): NoteVerifier[] {
  return keys.map((k) => {
    const v = noteVerifier(k);
    if (v.verifierKey !== k) {
      throw new LightproofError(
        'LP_NOTE_BAD_KEY',
        `the verifier key '${k.slice(0, 120)}' is not written in its canonical form (${v.verifierKey}); it was altered.`,
      );
    }
    return v;
  });
}
