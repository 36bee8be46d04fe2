/**
 * Raw blocks as bitcoind and btcd serve them (`getblock <hash> 0`): the header, each transaction with
 * its txid, and the block merkle path from one transaction up to the header's merkle root, which is
 * the last stretch of an OpenTimestamps proof.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { LightproofError } from '../core/errors.js';
import { sha256d } from './header.js';

export interface TxInput {
  /** The spent transaction's id, display order (as RPC and explorers show it). */
  readonly txid: string;
  readonly vout: number;
}

export interface TxOutput {
  readonly sats: bigint;
  readonly script: Uint8Array;
}

export interface ParsedTx {
  /** Internal byte order: sha256d of `stripped`. */
  readonly txid: Uint8Array;
  /** The serialization without witness data: what the txid commits to. */
  readonly stripped: Uint8Array;
  readonly hasWitness: boolean;
  readonly inputs: readonly TxInput[];
  readonly outputs: readonly TxOutput[];
}

export interface ParsedBlock {
  readonly header: Uint8Array;
  /** Display order. */
  readonly hash: string;
  readonly prevHash: string;
  /** Internal byte order, header bytes 36..68: what a proof's last sha256 must produce. */
  readonly merkleRoot: Uint8Array;
  readonly time: number;
  readonly txs: readonly ParsedTx[];
}

/** A sibling on the way up: `append` when it sits to the right of the running hash, `prepend` when left. */
export interface MerkleStep {
  readonly side: 'append' | 'prepend';
  readonly hash: Uint8Array;
}

/** Internal byte order to the display hex that RPC and explorers use. */
export function displayHex(hash: Uint8Array): string {
  return bytesToHex(hash.slice().reverse());
}

function badBlock(what: string, offset: number): LightproofError {
  return new LightproofError(
    'LP_BTC_BAD_BLOCK',
    `The block is malformed: ${what} at byte ${offset}. Check that the node serves raw blocks (getblock <hash> 0) from the right network.`,
    { status: 502, details: { offset } },
  );
}

class Cursor {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly fail: (what: string, offset: number) => LightproofError,
  ) {}

  take(n: number): Uint8Array {
    if (n > this.buf.length - this.pos) throw this.fail(`${n} bytes expected, the data ends`, this.pos);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u32(): number {
    const b = this.take(4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }

  u64(): bigint {
    const b = this.take(8);
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }

  /** Bitcoin's CompactSize; a count can never exceed the bytes left, which also bounds every loop. */
  compact(): number {
    const at = this.pos;
    const first = this.take(1)[0]!;
    let n: number;
    if (first < 0xfd) n = first;
    else if (first === 0xfd) n = this.take(1)[0]! | (this.take(1)[0]! << 8);
    else if (first === 0xfe) n = this.u32();
    else {
      const big = this.u64();
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail('a length larger than the data', at);
      n = Number(big);
    }
    if (n > this.buf.length - this.pos) throw this.fail(`a count of ${n} larger than the data left`, at);
    return n;
  }
}

function readTx(c: Cursor): ParsedTx {
  const start = c.pos;
  c.take(4);
  // BIP144: a zero input count followed by flag 1 marks the segwit serialization.
  const segwit = c.buf[c.pos] === 0 && c.buf[c.pos + 1] === 1;
  if (segwit) c.take(2);
  const bodyStart = c.pos;
  const inputs: TxInput[] = [];
  const nIn = c.compact();
  for (let i = 0; i < nIn; i++) {
    const txid = displayHex(c.take(32));
    const vout = c.u32();
    c.take(c.compact());
    c.take(4);
    inputs.push({ txid, vout });
  }
  const outputs: TxOutput[] = [];
  const nOut = c.compact();
  for (let i = 0; i < nOut; i++) {
    const sats = c.u64();
    outputs.push({ sats, script: c.take(c.compact()).slice() });
  }
  const bodyEnd = c.pos;
  if (segwit) {
    for (let i = 0; i < nIn; i++) {
      const items = c.compact();
      for (let j = 0; j < items; j++) c.take(c.compact());
    }
  }
  const lockTime = c.take(4);
  const stripped = segwit
    ? concat(c.buf.subarray(start, start + 4), c.buf.subarray(bodyStart, bodyEnd), lockTime)
    : c.buf.slice(start, c.pos);
  return { txid: sha256d(stripped), stripped, hasWitness: segwit, inputs, outputs };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One serialized transaction (with or without witness); every byte must belong to it. */
export function parseTx(raw: Uint8Array): ParsedTx {
  const c = new Cursor(
    raw,
    (what, offset) =>
      new LightproofError(
        'LP_BTC_BAD_TX',
        `The transaction is malformed: ${what} at byte ${offset}. Pass a whole serialized transaction as hex.`,
        { details: { offset } },
      ),
  );
  const tx = readTx(c);
  if (c.pos !== raw.length) throw c.fail(`${raw.length - c.pos} bytes follow the transaction`, c.pos);
  return tx;
}

/**
 * Parses a block and checks that its transactions hash to the header's merkle root, so a proof built
 * from it cannot end in a root the header does not hold.
 */
export function parseBlock(raw: Uint8Array): ParsedBlock {
  const c = new Cursor(raw, badBlock);
  const header = c.take(80).slice();
  const count = c.compact();
  if (count === 0) throw badBlock('a block without transactions', 80);
  const txs: ParsedTx[] = [];
  for (let i = 0; i < count; i++) txs.push(readTx(c));
  if (c.pos !== raw.length) throw badBlock(`${raw.length - c.pos} bytes follow the last transaction`, c.pos);
  const merkleRoot = header.slice(36, 68);
  const computed = computeMerkleRoot(txs.map((t) => t.txid));
  if (bytesToHex(computed) !== bytesToHex(merkleRoot)) {
    throw new LightproofError(
      'LP_BTC_BAD_BLOCK',
      `The block's transactions hash to ${displayHex(computed)}, but its header says ${displayHex(merkleRoot)}. The node sent a corrupt block; check the node.`,
      { status: 502 },
    );
  }
  const time = new DataView(header.buffer, header.byteOffset).getUint32(68, true);
  return {
    header,
    hash: displayHex(sha256d(header)),
    prevHash: displayHex(header.subarray(4, 36)),
    merkleRoot,
    time,
    txs,
  };
}

/** The next level up; an odd level pairs its last hash with itself (Bitcoin's original rule). */
function level(hashes: readonly Uint8Array[]): Uint8Array[] {
  const next: Uint8Array[] = [];
  for (let i = 0; i < hashes.length; i += 2) {
    const left = hashes[i]!;
    next.push(sha256d(concat(left, hashes[i + 1] ?? left)));
  }
  return next;
}

/** The merkle root over txids in internal byte order. */
export function computeMerkleRoot(txids: readonly Uint8Array[]): Uint8Array {
  if (txids.length === 0) throw new RangeError('a merkle root needs at least one txid');
  let hashes = [...txids];
  while (hashes.length > 1) hashes = level(hashes);
  return hashes[0]!;
}

/**
 * The siblings from txids[index] up to the root: at each level, append or prepend the sibling, then
 * sha256 twice. A lone last hash is its own sibling, as in the root computation.
 */
export function merklePath(txids: readonly Uint8Array[], index: number): MerkleStep[] {
  if (!Number.isInteger(index) || index < 0 || index >= txids.length) {
    throw new RangeError(`transaction index ${index} is outside 0..${txids.length - 1}`);
  }
  const steps: MerkleStep[] = [];
  let hashes = [...txids];
  let i = index;
  while (hashes.length > 1) {
    if (i % 2 === 0) steps.push({ side: 'append', hash: hashes[i + 1] ?? hashes[i]! });
    else steps.push({ side: 'prepend', hash: hashes[i - 1]! });
    hashes = level(hashes);
    i >>= 1;
  }
  return steps;
}
