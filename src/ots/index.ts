/**
 * OpenTimestamps, byte-compatible with python-opentimestamps: the .ots format, its ops and
 * attestations, and the Merkle joins used to stamp many things at once.
 */
export {
  ATTESTATION_TAGS,
  type Attestation,
  checkPendingUri,
  compareAttestations,
  describeAttestation,
  MAX_PAYLOAD_SIZE,
  MAX_URI_LENGTH,
} from './attestation.js';
export type { OtsErrorCode } from './errors.js';
export {
  DetachedTimestampFile,
  type FileHashOp,
  HEADER_MAGIC,
  MAJOR_VERSION,
  parseOts,
  serializeOts,
} from './file.js';
export { catSha256, makeMerkleTree, nonceTimestamp } from './merkle.js';
export {
  append,
  applyOp,
  compareOps,
  DIGEST_LENGTHS,
  formatOp,
  HEXLIFY,
  hashWith,
  KECCAK256,
  MAX_MSG_LENGTH,
  MAX_RESULT_LENGTH,
  OP_TAGS,
  type Op,
  type OpName,
  prepend,
  REVERSE,
  RIPEMD160,
  SHA1,
  SHA256,
} from './ops.js';
export { RECURSION_LIMIT, readTimestamp, Timestamp, writeTimestamp } from './timestamp.js';
export {
  type BitcoinCheck,
  type UncheckedAttestation,
  type VerifyOptions,
  type VerifyReport,
  type VerifyTarget,
  verifyFile,
  verifyTimestamp,
} from './verify.js';
