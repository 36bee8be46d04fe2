export { MAX_ENTRY_BYTES, type MerkleLog, type OpenLogOptions, openLog } from './log/index.js';
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
