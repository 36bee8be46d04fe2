/**
 * A read-only snapshot of a log, opened beside the one writer (a gateway, a wallet) without its lock.
 *
 * It opens `entries.dat` read-only and writes nothing. The snapshot is the complete, valid records
 * at open: a record the writer is still copying in, or the preallocated zeros after the last one,
 * ends it. The cache files may be stale or short while a writer runs, so they are not read at all:
 * opening hashes every entry (O(n), like the writer's own open) and keeps in memory each record's
 * offset and crc32 and the subtree hashes from level 6 up (one per 64 leaves), about 13 bytes per
 * entry. A proof needs at most one block below level 6 per level, rebuilt from its (at most 63)
 * entries, so roots and proofs stay O(log n) reads.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { LightproofError } from '../../core/errors.js';
import { EMPTY_ROOT, HASH_BYTES, leafHash, nodeHash } from '../merkle.js';
import { corrupt, FRAME_OVERHEAD, parseFrame, scanEntries } from './frames.js';
import type { MerkleLog, OpenLogOptions } from './log.js';
import { ENTRIES, ensureDir, loadOrCreateMeta } from './meta.js';
import { consistencyPath, inclusionPath } from './proofs.js';
import { checkIndex, checkSize, outOfRange } from './ranges.js';
import { subtreeOf } from './tree.js';

/** Levels kept in memory; lower blocks are rebuilt from their entries when a proof needs them. */
const KEEP_FROM_LEVEL = 6;

export function readOnlyError(what: string): LightproofError {
  return new LightproofError(
    'LP_LOG_READ_ONLY',
    `${what}: this log was opened read-only; open it without readOnly in the one process that writes it`,
    { status: 409 },
  );
}

export async function openReadOnly(dir: string, opts: OpenLogOptions): Promise<MerkleLog> {
  if (opts.create) throw readOnlyError('cannot create a log');
  ensureDir(dir, false);
  const { origin } = loadOrCreateMeta(dir, opts.origin === undefined ? {} : { origin: opts.origin });
  let fd: number | undefined;
  try {
    // Non-blocking, so a FIFO put in the file's place cannot hang the open; it is then refused.
    fd = openSync(join(dir, ENTRIES), constants.O_RDONLY | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) throw corrupt(ENTRIES, 0, 'it is not a regular file');
    const offsets = new Grow(Float64Array);
    const crcs = new Grow(Uint32Array);
    const tree = new MemoryTree();
    const scan = scanEntries(
      fd,
      fstatSync(fd).size,
      ENTRIES,
      (_i, offset, payload, crc) => {
        offsets.push(offset);
        crcs.push(crc);
        tree.add(leafHash(payload));
      },
      { writerMayRun: true },
    );
    offsets.push(scan.end);
    return new ReadOnlyLog(dir, origin, fd, offsets.done(), crcs.done(), tree);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    if (err instanceof LightproofError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw corrupt(ENTRIES, 0, 'the file is missing');
    throw new LightproofError('LP_LOG_IO', `cannot read the log in ${dir}: ${String(err)}`, {
      status: 500,
      details: { dir, code: (err as NodeJS.ErrnoException).code },
      cause: err,
    });
  }
}

/** A typed array that doubles as it grows. */
class Grow<T extends Float64Array | Uint32Array> {
  private a: T;
  private n = 0;

  constructor(private readonly make: new (length: number) => T) {
    this.a = new make(1024);
  }

  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new this.make(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }

  done(): T {
    return this.a.subarray(0, this.n) as T;
  }
}

/** Subtree hashes from KEEP_FROM_LEVEL up, built as leaves stream past, plus the frontier for the root. */
class MemoryTree {
  size = 0;
  private readonly frontier: (Uint8Array | undefined)[] = [];
  private readonly levels: { buf: Buffer; n: number }[] = [];

  add(leaf: Uint8Array): void {
    let node = leaf;
    let j = this.size;
    for (let k = 0; ; k++) {
      if (k >= KEEP_FROM_LEVEL) this.keep(k, node);
      if (j % 2 === 0) {
        this.frontier[k] = node;
        break;
      }
      node = nodeHash(this.frontier[k]!, node);
      this.frontier[k] = undefined;
      j = (j - 1) / 2;
    }
    this.size++;
  }

  node(level: number, index: number): Uint8Array {
    const at = index * HASH_BYTES;
    return new Uint8Array(this.levels[level]!.buf.subarray(at, at + HASH_BYTES));
  }

  root(): Uint8Array {
    let acc: Uint8Array | undefined;
    this.frontier.forEach((node, k) => {
      if (node === undefined || Math.floor(this.size / 2 ** k) % 2 === 0) return;
      acc = acc === undefined ? node : nodeHash(node, acc);
    });
    return acc ?? EMPTY_ROOT;
  }

  private keep(k: number, node: Uint8Array): void {
    let level = this.levels[k];
    if (!level) {
      level = { buf: Buffer.alloc(64 * HASH_BYTES), n: 0 };
      this.levels[k] = level;
    }
    if ((level.n + 1) * HASH_BYTES > level.buf.length) {
      const bigger = Buffer.alloc(level.buf.length * 2);
      level.buf.copy(bigger);
      level.buf = bigger;
    }
    level.buf.set(node, level.n * HASH_BYTES);
    level.n++;
  }
}

class ReadOnlyLog implements MerkleLog {
  readonly readOnly = true;
  readonly warnings: readonly string[] = [];
  private readonly count: number;
  private closed = false;

  constructor(
    readonly dir: string,
    readonly origin: string,
    private readonly fd: number,
    /** Byte offset of each record, then the snapshot's end. */
    private readonly offsets: Float64Array,
    private readonly crcs: Uint32Array,
    private readonly tree: MemoryTree,
  ) {
    this.count = tree.size;
  }

  size(): number {
    return this.count;
  }

  append(): Promise<{ index: number; leafHash: Uint8Array }> {
    return Promise.reject(readOnlyError('cannot append'));
  }

  appendMany(): Promise<{ first: number; count: number }> {
    return Promise.reject(readOnlyError('cannot append'));
  }

  entry(index: number): Uint8Array {
    checkIndex(index, this.count);
    return new Uint8Array(this.payloads(index, 1)[0]!);
  }

  leafHashAt(index: number): Uint8Array {
    checkIndex(index, this.count);
    return leafHash(this.payloads(index, 1)[0]!);
  }

  root(size: number = this.count): Uint8Array {
    checkSize('size', size, this.count);
    return size === this.count ? this.tree.root() : this.subtree(0, size);
  }

  inclusionProof(index: number, size: number = this.count): Uint8Array[] {
    checkSize('size', size, this.count);
    checkIndex(index, size);
    return inclusionPath((lo, hi) => this.subtree(lo, hi), index, size);
  }

  consistencyProof(m: number, n: number = this.count): Uint8Array[] {
    checkSize('n', n, this.count);
    checkSize('m', m, this.count);
    if (m > n) throw outOfRange(`older size ${m} is more than newer size ${n}`, { m, n });
    return consistencyPath((lo, hi) => this.subtree(lo, hi), m, n);
  }

  /** Releases no lock (it holds none); only closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private subtree(lo: number, hi: number): Uint8Array {
    return subtreeOf((k, j) => this.node(k, j), lo, hi);
  }

  private node(level: number, index: number): Uint8Array {
    if (level >= KEEP_FROM_LEVEL) return this.tree.node(level, index);
    const hashes = this.payloads(index * 2 ** level, 2 ** level).map(leafHash);
    while (hashes.length > 1) {
      for (let i = 0; i < hashes.length / 2; i++) hashes[i] = nodeHash(hashes[2 * i]!, hashes[2 * i + 1]!);
      hashes.length /= 2;
    }
    return hashes[0]!;
  }

  /**
   * The payloads of records [first, first + n), read in one go. Each must still be the record the
   * snapshot hashed (same crc32): the writer only ever cuts bytes it never acknowledged, but a
   * failed write it undid may have been read here before it did.
   */
  private payloads(first: number, n: number): Buffer[] {
    if (this.closed) throw new LightproofError('LP_LOG_CLOSED', 'the log is closed; open it again');
    const start = this.offsets[first]!;
    const bytes = Buffer.alloc(this.offsets[first + n]! - start);
    for (let got = 0; got < bytes.length; ) {
      const r = readSync(this.fd, bytes, got, bytes.length - got, start + got);
      if (r === 0) throw changed(start + got);
      got += r;
    }
    const out: Buffer[] = [];
    for (let i = first; i < first + n; i++) {
      const at = this.offsets[i]! - start;
      const frame = bytes.subarray(at, this.offsets[i + 1]! - start);
      if (frame.length < FRAME_OVERHEAD || frame.readUInt32LE(frame.length - 4) !== this.crcs[i]) {
        throw changed(this.offsets[i]!);
      }
      out.push(parseFrame(frame, i, ENTRIES, this.offsets[i]!));
    }
    return out;
  }
}

function changed(offset: number): LightproofError {
  return new LightproofError(
    'LP_LOG_CORRUPT',
    `${ENTRIES} changed at byte ${offset} after this read-only snapshot was taken (the writer cut records it never acknowledged); open the log again`,
    { status: 500, details: { file: ENTRIES, offset, reason: 'changed under a read-only snapshot' } },
  );
}
