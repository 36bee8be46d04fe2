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
export {
  type CalendarErrorCode,
  type CalendarRequestOptions,
  CalendarWhitelist,
  checkCalendarUrl,
  DEFAULT_CALENDAR_TIMEOUT_MS,
  DEFAULT_CALENDARS,
  DEFAULT_WHITELIST,
  getTimestamp,
  MAX_DIGEST_LENGTH,
  MAX_REPLY_BYTES,
  sanitiseMessage,
  submitDigest,
} from './calendar-client.js';
export type { OtsErrorCode } from './errors.js';
export {
  DetachedTimestampFile,
  type FileHashOp,
  HEADER_MAGIC,
  MAJOR_VERSION,
  parseOts,
  serializeOts,
} from './file.js';
export { fileSize, hashFile, hashStream } from './hash-file.js';
export { formatInfo, type InfoOptions, isTransaction, strTree } from './info.js';
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
export {
  type CalendarOutcome,
  type StampInput,
  type StampOptions,
  type StampProgress,
  type StampResult,
  stamp,
} from './stamp.js';
export { RECURSION_LIMIT, readTimestamp, Timestamp, writeTimestamp } from './timestamp.js';
export {
  DEFAULT_UPGRADE_TIMEOUT_MS,
  type UpgradeOptions,
  type UpgradeResult,
  upgradeTimestamp,
} from './upgrade.js';
export {
  type BitcoinCheck,
  type UncheckedAttestation,
  type VerifyOptions,
  type VerifyReport,
  type VerifyTarget,
  verifyFile,
  verifyTimestamp,
} from './verify.js';
