/**
 * C2SP tlog-checkpoints (c2sp.org/tlog-checkpoint): the signed-note text that commits a log to its
 * size and root. Line 1 the origin, line 2 the size in decimal, line 3 the base64 root, then opaque
 * extension lines. Parsing is strict, because a verifier that accepts two spellings of one size or
 * root could be shown two different "identical" checkpoints.
 */
import { LightproofError } from '../core/errors.js';
import { fromBase64, type NoteVerifier, openNote, toBase64 } from './note.js';

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  readonly extensions: string[];
}

/** A checkpoint is three short lines; anything near this is not one. */
export const MAX_CHECKPOINT_BYTES = 64 * 1024;

function malformed(why: string, details?: Record<string, unknown>): LightproofError {
  return new LightproofError(
    'LP_NOTE_BAD_CHECKPOINT',
    `The checkpoint ${why}; a checkpoint is an origin line, a decimal tree size and a base64 SHA-256 root, each ending in a newline.`,
    details ? { details } : {},
  );
}

export function formatCheckpoint(cp: Checkpoint): string {
  const text = `${[cp.origin, String(cp.size), toBase64(cp.root), ...cp.extensions].join('\n')}\n`;
  // Round-trip through the parser so nothing this writes could be refused by a reader.
  parseCheckpoint(text);
  return text;
}

export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string') throw malformed('is not text');
  if (text.length > MAX_CHECKPOINT_BYTES) throw malformed(`is ${text.length} bytes, too long`);
  if (!text.endsWith('\n')) throw malformed('does not end with a newline (it may be truncated)');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3)
    throw malformed(`has ${lines.length} line${lines.length === 1 ? '' : 's'}, not 3 or more`);
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  const empty = lines.findIndex((l) => l.length === 0);
  if (empty >= 0) throw malformed(`has an empty line ${empty + 1}`, { line: empty + 1 });
  const control = lines.findIndex((l) => /\p{Cc}/u.test(l));
  if (control >= 0) throw malformed(`has a control character on line ${control + 1}`, { line: control + 1 });
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText) || Number(sizeText) > Number.MAX_SAFE_INTEGER) {
    throw malformed(
      `size '${sizeText.slice(0, 40)}' is not a decimal number without leading zeros below 2^53`,
      { line: 2 },
    );
  }
  const root = fromBase64(rootText);
  if (root?.length !== 32) {
    throw malformed(`root '${rootText.slice(0, 60)}' is not 32 bytes of standard base64`, { line: 3 });
  }
  return { origin, size: Number(sizeText), root, extensions };
}

/**
 * Opens a signed checkpoint with the given keys and parses its text. With `origin`, a checkpoint
 * for another log is refused even when a trusted key signed it.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
  origin?: string,
): { checkpoint: Checkpoint; text: string; verifiedBy: string[] } {
  const opened = openNote(note, verifiers);
  const checkpoint = parseCheckpoint(opened.text);
  if (origin !== undefined && checkpoint.origin !== origin) {
    throw new LightproofError(
      'LP_NOTE_WRONG_ORIGIN',
      `The checkpoint is for log '${checkpoint.origin.slice(0, 200)}', not '${origin}'; check you passed this log's checkpoint.`,
      { details: { origin: checkpoint.origin, expected: origin } },
    );
  }
  return { checkpoint, text: opened.text, verifiedBy: opened.verifiedBy };
}

export function sameRoot(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
