/**
 * A timestamp: a message, the attestations made on it, and the ops that lead to further messages
 * (opentimestamps/core/timestamp.py). Writing follows python-opentimestamps' canonical order, so a
 * valid proof read and written again gives the same bytes.
 */
import {
  type Attestation,
  attestationKey,
  compareAttestations,
  readAttestation,
  writeAttestation,
} from './attestation.js';
import { NOT_A_PROOF, otsError } from './errors.js';
import { applyOp, compareOps, MAX_MSG_LENGTH, type Op, opKey, readOpAfterTag, writeOp } from './ops.js';
import { equalBytes, Reader, Writer } from './serialize.js';

/** Nested timestamps allowed by the reference; a deeper file is refused rather than overflow a stack. */
export const RECURSION_LIMIT = 256;

const FORK = 0xff;
const LEAF = 0x00;

export class Timestamp {
  readonly msg: Uint8Array;
  private readonly atts = new Map<string, Attestation>();
  private readonly children = new Map<string, readonly [Op, Timestamp]>();

  constructor(msg: Uint8Array) {
    if (msg.length > MAX_MSG_LENGTH) {
      throw otsError(
        'LP_OTS_OP_FAILED',
        `A timestamp message is ${msg.length} bytes; at most ${MAX_MSG_LENGTH} are allowed.`,
      );
    }
    this.msg = msg;
  }

  get attestations(): readonly Attestation[] {
    return [...this.atts.values()].sort(compareAttestations);
  }

  get ops(): readonly (readonly [Op, Timestamp])[] {
    return [...this.children.values()].sort((a, b) => compareOps(a[0], b[0]));
  }

  attest(att: Attestation): void {
    const key = attestationKey(att);
    if (!this.atts.has(key)) this.atts.set(key, att);
  }

  /** The child reached by op; an equal op already present keeps its subtree. */
  add(op: Op): Timestamp {
    const key = opKey(op);
    const existing = this.children.get(key);
    if (existing) return existing[1];
    const child = new Timestamp(applyOp(op, this.msg));
    this.children.set(key, [op, child]);
    return child;
  }

  /**
   * Makes an existing timestamp the child for op, so two paths to one message share one subtree
   * (as cat_sha256 does). Refused unless op really leads from this message to the child's.
   */
  link(op: Op, child: Timestamp): Timestamp {
    if (!equalBytes(applyOp(op, this.msg), child.msg)) {
      throw otsError('LP_OTS_MSG_MISMATCH', `The ${op.name} operation does not lead to the given timestamp.`);
    }
    this.children.set(opKey(op), [op, child]);
    return child;
  }

  merge(other: Timestamp): void {
    if (!equalBytes(this.msg, other.msg)) {
      throw otsError(
        'LP_OTS_MSG_MISMATCH',
        'Cannot merge two timestamps of different messages; the calendar answered for another digest.',
      );
    }
    for (const att of other.atts.values()) this.attest(att);
    for (const [op, sub] of other.children.values()) this.add(op).merge(sub);
  }

  allAttestations(): { msg: Uint8Array; attestation: Attestation }[] {
    const out: { msg: Uint8Array; attestation: Attestation }[] = [];
    const walk = (ts: Timestamp): void => {
      for (const attestation of ts.attestations) out.push({ msg: ts.msg, attestation });
      for (const [, child] of ts.ops) walk(child);
    };
    walk(this);
    return out;
  }

  isComplete(): boolean {
    return this.allAttestations().some((a) => a.attestation.kind === 'bitcoin');
  }

  isEmpty(): boolean {
    return this.atts.size === 0 && this.children.size === 0;
  }

  /** Reads a subtree whose root message is msg, computing every op's result as it goes. */
  static readFrom(r: Reader, msg: Uint8Array, limit = RECURSION_LIMIT): Timestamp {
    if (limit === 0) {
      throw otsError(
        'LP_OTS_RECURSION_LIMIT',
        `The proof nests deeper than ${RECURSION_LIMIT} levels at offset ${r.offset}; the reference refuses that too. ${NOT_A_PROOF}`,
        { offset: r.offset },
      );
    }
    const ts = new Timestamp(msg);
    const branch = (tag: number): void => {
      if (tag === LEAF) {
        ts.attest(readAttestation(r));
        return;
      }
      const at = r.offset - 1;
      const op = readOpAfterTag(r, tag);
      let result: Uint8Array;
      try {
        result = applyOp(op, msg);
      } catch (err) {
        throw otsError(
          'LP_OTS_OP_FAILED',
          `The ${op.name} operation at offset ${at} cannot be applied: ${(err as Error).message}`,
          { offset: at, op: op.name },
        );
      }
      const child = Timestamp.readFrom(r, result, limit - 1);
      // A repeated op replaces the earlier one, as python's dict assignment does.
      ts.children.set(opKey(op), [op, child]);
    };
    let tag = r.readByte();
    while (tag === FORK) {
      branch(r.readByte());
      tag = r.readByte();
    }
    branch(tag);
    return ts;
  }
}

/** Writes the subtree in python-opentimestamps' order (Timestamp.serialize). */
export function writeTimestampTo(w: Writer, ts: Timestamp): void {
  if (ts.isEmpty()) {
    throw otsError(
      'LP_OTS_EMPTY_TIMESTAMP',
      'A timestamp with neither attestations nor operations cannot be written; stamp it first.',
    );
  }
  const atts = ts.attestations;
  const ops = ts.ops;
  for (let i = 0; i < atts.length - 1; i++) {
    w.writeByte(FORK);
    w.writeByte(LEAF);
    writeAttestation(w, atts[i]!);
  }
  if (ops.length === 0) {
    w.writeByte(LEAF);
    writeAttestation(w, atts[atts.length - 1]!);
    return;
  }
  if (atts.length > 0) {
    w.writeByte(FORK);
    w.writeByte(LEAF);
    writeAttestation(w, atts[atts.length - 1]!);
  }
  ops.forEach(([op, child], i) => {
    if (i < ops.length - 1) w.writeByte(FORK);
    writeOp(w, op);
    writeTimestampTo(w, child);
  });
}

export function writeTimestamp(ts: Timestamp): Uint8Array {
  const w = new Writer();
  writeTimestampTo(w, ts);
  return w.bytes();
}

export function readTimestamp(bytes: Uint8Array, msg: Uint8Array): Timestamp {
  const r = new Reader(bytes);
  const ts = Timestamp.readFrom(r, msg);
  r.assertEnd('the timestamp');
  return ts;
}
