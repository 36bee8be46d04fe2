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
import {
  applyOp,
  compareOps,
  equalOps,
  MAX_MSG_LENGTH,
  type Op,
  opKey,
  readOpAfterTag,
  writeOp,
} from './ops.js';
import { equalBytes, Reader, Writer } from './serialize.js';

/** Nested timestamps allowed by the reference; a deeper file is refused rather than overflow a stack. */
export const RECURSION_LIMIT = 256;

const FORK = 0xff;
const LEAF = 0x00;

/**
 * A node's attestations or ops, unique by equality. Most nodes hold one or two, so a plain array with
 * linear search is the fast path (verification parses many small proofs); a hostile node with many
 * forks gets a key index, so parsing never turns quadratic.
 */
class UniqueList<T> {
  readonly items: T[] = [];
  private index: Map<string, number> | undefined;

  constructor(
    private readonly equal: (a: T, b: T) => boolean,
    private readonly key: (item: T) => string,
  ) {}

  find(item: T): number {
    if (this.index) return this.index.get(this.key(item)) ?? -1;
    for (let i = 0; i < this.items.length; i++) if (this.equal(this.items[i]!, item)) return i;
    return -1;
  }

  /** Adds item, or replaces the equal one already present when `replace` is set. */
  put(item: T, replace: boolean): T {
    const at = this.find(item);
    if (at >= 0) {
      if (replace) this.items[at] = item;
      return this.items[at]!;
    }
    this.items.push(item);
    if (this.index) this.index.set(this.key(item), this.items.length - 1);
    else if (this.items.length > 8) this.index = new Map(this.items.map((x, i) => [this.key(x), i]));
    return item;
  }
}

type Child = readonly [Op, Timestamp];
const sameAttestation = (a: Attestation, b: Attestation): boolean => compareAttestations(a, b) === 0;
const sameOp = (a: Child, b: Child): boolean => equalOps(a[0], b[0]);
const childKey = (c: Child): string => opKey(c[0]);

export class Timestamp {
  readonly msg: Uint8Array;
  private readonly atts = new UniqueList<Attestation>(sameAttestation, attestationKey);
  private readonly children = new UniqueList<Child>(sameOp, childKey);

  constructor(msg: Uint8Array) {
    if (msg.length > MAX_MSG_LENGTH) {
      throw otsError(
        'LP_OTS_OP_FAILED',
        `A timestamp message is ${msg.length} bytes; at most ${MAX_MSG_LENGTH} are allowed.`,
      );
    }
    this.msg = msg;
  }

  /** In the reference's canonical order. */
  get attestations(): readonly Attestation[] {
    const items = this.atts.items;
    return items.length < 2 ? items : [...items].sort(compareAttestations);
  }

  /** In the reference's canonical order. */
  get ops(): readonly Child[] {
    const items = this.children.items;
    return items.length < 2 ? items : [...items].sort((a, b) => compareOps(a[0], b[0]));
  }

  attest(att: Attestation): void {
    this.atts.put(att, false);
  }

  /** The child reached by op; an equal op already present keeps its subtree. */
  add(op: Op): Timestamp {
    const at = this.children.find([op, this]);
    if (at >= 0) return this.children.items[at]![1];
    const child = new Timestamp(applyOp(op, this.msg));
    this.children.put([op, child], false);
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
    this.children.put([op, child], true);
    return child;
  }

  merge(other: Timestamp): void {
    if (!equalBytes(this.msg, other.msg)) {
      throw otsError(
        'LP_OTS_MSG_MISMATCH',
        'Cannot merge two timestamps of different messages; the calendar answered for another digest.',
      );
    }
    for (const att of other.atts.items) this.attest(att);
    for (const [op, sub] of other.children.items) this.add(op).merge(sub);
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
    return this.atts.items.length === 0 && this.children.items.length === 0;
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
    let tag = r.readByte();
    while (tag === FORK) {
      Timestamp.readBranch(r, ts, r.readByte(), limit);
      tag = r.readByte();
    }
    Timestamp.readBranch(r, ts, tag, limit);
    return ts;
  }

  private static readBranch(r: Reader, ts: Timestamp, tag: number, limit: number): void {
    if (tag === LEAF) {
      ts.attest(readAttestation(r));
      return;
    }
    const at = r.offset - 1;
    const op = readOpAfterTag(r, tag);
    let result: Uint8Array;
    try {
      result = applyOp(op, ts.msg);
    } catch (err) {
      throw otsError(
        'LP_OTS_OP_FAILED',
        `The ${op.name} operation at offset ${at} cannot be applied: ${(err as Error).message}`,
        { offset: at, op: op.name },
      );
    }
    const child = Timestamp.readFrom(r, result, limit - 1);
    // A repeated op replaces the earlier one, as python's dict assignment does.
    ts.children.put([op, child], true);
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
