/** Every .ots problem is a LightproofError with an LP_OTS_… code; parse errors carry the byte offset. */
import { LightproofError } from '../core/errors.js';

export type OtsErrorCode =
  | 'LP_OTS_BAD_MAGIC'
  | 'LP_OTS_UNSUPPORTED_VERSION'
  | 'LP_OTS_BAD_FILE_HASH_OP'
  | 'LP_OTS_TRUNCATED'
  | 'LP_OTS_TRAILING_BYTES'
  | 'LP_OTS_UNKNOWN_OP'
  | 'LP_OTS_OP_FAILED'
  | 'LP_OTS_RECURSION_LIMIT'
  | 'LP_OTS_BAD_LENGTH'
  | 'LP_OTS_BAD_URI'
  | 'LP_OTS_BAD_ATTESTATION'
  | 'LP_OTS_VARUINT_RANGE'
  | 'LP_OTS_EMPTY_TIMESTAMP'
  | 'LP_OTS_MSG_MISMATCH'
  | 'LP_OTS_DIGEST_MISMATCH';

export function otsError(
  code: OtsErrorCode,
  message: string,
  details?: Record<string, unknown>,
): LightproofError {
  return new LightproofError(code, message, details ? { details } : {});
}

/** Appended to parse errors: the file is damaged or not an .ots proof; nothing can repair that here. */
export const NOT_A_PROOF =
  'The file is damaged or is not an OpenTimestamps proof; get the .ots file again from where it was made.';
