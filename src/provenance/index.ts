export {
  type Checkpoint,
  formatCheckpoint,
  MAX_CHECKPOINT_BYTES,
  openCheckpoint,
  parseCheckpoint,
} from './checkpoint.js';
export {
  CheckpointUpgrader,
  type CheckpointUpgraderOptions,
  type StampCheckpointResult,
  stampCheckpoint,
  type UpgradePassResult,
  upgradeOne,
} from './checkpoint-stamp.js';
export {
  CHECKPOINT_DIR,
  type CheckpointSource,
  checkpointPath,
  LOG_KEY_FILE,
  LOG_PUB_FILE,
  type LogKey,
  listCheckpoints,
  loadOrCreateLogKey,
  readCheckpoint,
  readLogVerifier,
  type StoredCheckpoint,
  type WriteCheckpointOptions,
  writeCheckpoint,
} from './checkpoint-store.js';
export { MAX_ENTRY_BYTES, type MerkleLog, type OpenLogOptions, openLog } from './log/index.js';
export { type AuditProblem, type AuditReport, auditLog } from './log-audit.js';
export { type LogProofBundle, type MakeLogProofOptions, makeLogProof } from './log-proof.js';
export * from './manifest/index.js';
export {
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  leafHash,
  nodeHash,
  rootFromInclusion,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
export {
  generateNoteKey,
  isValidKeyName,
  MAX_NOTE_BYTES,
  MAX_NOTE_SIGNATURES,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  noteKeyId,
  noteSigner,
  noteVerifier,
  noteVerifierKey,
  type OpenedNote,
  openNote,
  signNote,
} from './note.js';
export {
  BodyHasher,
  MAX_RECEIPT_HEADER_BYTES,
  RECEIPT_HEADER,
  RECEIPT_REQUEST_TAG,
  RECEIPT_RESPONSE_TAG,
  RECEIPT_SIGNATURE_TAG,
  type Receipt,
  type ReceiptFields,
  type ReceiptRequest,
  type ReceiptResponse,
  ReceiptSigner,
  requestDigest,
  responseDigest,
  type SignedReceipt,
  type VerifyReceiptOptions,
  verifyReceipt,
} from './receipt.js';
export * from './verify/index.js';
