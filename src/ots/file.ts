/**
 * The .ots file ("DetachedTimestampFile"): magic, major version, the op that hashed the file, the
 * file's digest, then the timestamp tree rooted at that digest.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import { NOT_A_PROOF, otsError } from './errors.js';
import { DIGEST_LENGTHS, OP_TAGS } from './ops.js';
import { equalBytes, Reader, Writer } from './serialize.js';
import { Timestamp, writeTimestampTo } from './timestamp.js';

export const HEADER_MAGIC = hexToBytes('004f70656e54696d657374616d7073000050726f6f6600bf89e2e884e89294');
export const MAJOR_VERSION = 1;

export type FileHashOp = keyof typeof DIGEST_LENGTHS;

const FILE_HASH_BY_TAG = new Map<number, FileHashOp>(
  (Object.keys(DIGEST_LENGTHS) as FileHashOp[]).map((name) => [OP_TAGS[name], name]),
);

export class DetachedTimestampFile {
  constructor(
    readonly hashOp: FileHashOp,
    readonly timestamp: Timestamp,
  ) {
    if (timestamp.msg.length !== DIGEST_LENGTHS[hashOp]) {
      throw otsError(
        'LP_OTS_BAD_FILE_HASH_OP',
        `A ${hashOp} digest is ${DIGEST_LENGTHS[hashOp]} bytes, but the timestamp starts from ${timestamp.msg.length} bytes.`,
      );
    }
  }

  get digest(): Uint8Array {
    return this.timestamp.msg;
  }
}

export function parseOts(bytes: Uint8Array): DetachedTimestampFile {
  const r = new Reader(bytes);
  const magic = bytes.subarray(0, HEADER_MAGIC.length);
  if (!equalBytes(magic, HEADER_MAGIC)) {
    throw otsError(
      'LP_OTS_BAD_MAGIC',
      bytes.length < HEADER_MAGIC.length && equalBytes(magic, HEADER_MAGIC.subarray(0, bytes.length))
        ? `The file is only ${bytes.length} bytes, shorter than the OpenTimestamps header. ${NOT_A_PROOF}`
        : `The file does not start with the OpenTimestamps header; it is not an .ots proof. Pass the .ots file, not the stamped file.`,
    );
  }
  r.readBytes(HEADER_MAGIC.length);
  const major = r.readVaruint();
  if (major !== MAJOR_VERSION) {
    throw otsError(
      'LP_OTS_UNSUPPORTED_VERSION',
      `The proof has major version ${major}; only version ${MAJOR_VERSION} exists. A newer tool may read it.`,
      { version: major },
    );
  }
  const tagAt = r.offset;
  const tag = r.readByte();
  const hashOp = FILE_HASH_BY_TAG.get(tag);
  if (hashOp === undefined) {
    throw otsError(
      'LP_OTS_BAD_FILE_HASH_OP',
      `The file digest is said to be made with op 0x${tag.toString(16).padStart(2, '0')} at offset ${tagAt}; only sha1, ripemd160, sha256 and keccak256 hash files. ${NOT_A_PROOF}`,
      { offset: tagAt, tag },
    );
  }
  const digest = r.readBytes(DIGEST_LENGTHS[hashOp]).slice();
  const timestamp = Timestamp.readFrom(r, digest);
  r.assertEnd('the proof');
  return new DetachedTimestampFile(hashOp, timestamp);
}

export function serializeOts(file: DetachedTimestampFile): Uint8Array {
  const w = new Writer();
  w.writeBytes(HEADER_MAGIC);
  w.writeVaruint(MAJOR_VERSION);
  w.writeByte(OP_TAGS[file.hashOp]);
  w.writeBytes(file.digest);
  writeTimestampTo(w, file.timestamp);
  return w.bytes();
}
