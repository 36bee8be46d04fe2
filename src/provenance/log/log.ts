/**
 * A persistent append-only RFC 9162 Merkle log in a directory.
 *
 * Durability by group commit: appends that arrive while a write + fdatasync is in flight wait in a
 * queue and go out together as the next batch (one write, one fdatasync of the entries file), and
 * each append resolves only once its batch is on disk. The entries file is the only truth; the
 * leaf-offset index and the subtree-hash files are caches written without fsync, checked against
 * the entries (and rewritten where they differ) every time the log is opened.
 *
 * Files it owns: log.json, log.lock, entries.dat, index.dat, tree-KK.dat. Anything else in the
 * directory (signing keys, checkpoints) belongs to other code and is left alone.
 */
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LightproofError } from '../../core/errors.js';
import { leafHash } from '../merkle.js';
import { CacheFile } from './cache-file.js';
import { corrupt, FRAME_OVERHEAD, MAX_ENTRY_BYTES, parseFrame, scanEntries, writeFrame } from './frames.js';
import { acquireLock } from './lock.js';
import { checkOrigin, ENTRIES, ensureDir, INDEX, LOCK, loadOrCreateMeta } from './meta.js';
import { consistencyPath, inclusionPath } from './proofs.js';
import { checkIndex, checkSize, outOfRange } from './ranges.js';
import { openReadOnly } from './snapshot.js';
import { TreeFiles } from './tree.js';

export interface OpenLogOptions {
  /** Create the log when the directory holds none (and the directory itself if missing). */
  create?: boolean;
  /** The checkpoint origin line, e.g. "lightproof.local/agent-log"; must match an existing log's. */
  origin?: string;
  /**
   * Read a snapshot without the writer's lock, beside a running writer: no file is created, written
   * or cut, and appends fail with LP_LOG_READ_ONLY. The snapshot is the complete records at open.
   */
  readOnly?: boolean;
}

export interface MerkleLog {
  readonly dir: string;
  readonly origin: string;
  /** What opening had to repair: a torn tail cut away, caches rebuilt. Empty after a clean close. */
  readonly warnings: readonly string[];
  /** Opened with `readOnly`: a snapshot that cannot be appended to. */
  readonly readOnly: boolean;
  size(): number;
  append(entry: Uint8Array): Promise<{ index: number; leafHash: Uint8Array }>;
  appendMany(entries: readonly Uint8Array[]): Promise<{ first: number; count: number }>;
  entry(index: number): Uint8Array;
  leafHashAt(index: number): Uint8Array;
  root(size?: number): Uint8Array;
  inclusionProof(index: number, size?: number): Uint8Array[];
  consistencyProof(m: number, n?: number): Uint8Array[];
  close(): Promise<void>;
}

const fdatasyncAsync = promisify(fdatasync);
/** Bytes per batch at most, so one burst cannot hold an unbounded buffer. */
const MAX_BATCH_BYTES = 64 << 20;
/**
 * The entries file grows in zero-filled steps ahead of the data, so that a batch's fdatasync has
 * only data to flush and no file-size change to journal (3-4 times faster here). Recovery already
 * reads a zero tail as unwritten, and close() cuts it off.
 */
const PREALLOC_BYTES = 16 << 20;
const ZEROS = Buffer.alloc(1 << 20);
/** Leaves between cache checks while opening, bounding the memory the check holds. */
const CHECK_EVERY = 1 << 16;

interface Pending {
  entries: readonly Uint8Array[];
  hashes: Uint8Array[];
  bytes: number;
  resolve: (first: number) => void;
  reject: (err: unknown) => void;
}

export async function openLog(dir: string, opts: OpenLogOptions = {}): Promise<MerkleLog> {
  if (opts.origin !== undefined) checkOrigin(opts.origin);
  if (opts.readOnly) return openReadOnly(dir, opts);
  ensureDir(dir, opts.create === true);
  const release = acquireLock(join(dir, LOCK));
  const opened: { close(): void }[] = [];
  try {
    const { origin, created } = loadOrCreateMeta(dir, opts);
    const fd = openEntries(dir);
    opened.push({ close: () => closeSync(fd) });
    const tree = new TreeFiles(dir);
    opened.push(tree);
    const index = new CacheFile(join(dir, INDEX), INDEX);
    opened.push(index);
    const warnings = recover(fd, tree, index, created);
    return new FileLog(dir, origin, warnings, fd, fstatSync(fd).size, tree, index, release);
  } catch (err) {
    for (const f of opened.reverse()) f.close();
    release();
    if (err instanceof LightproofError) throw err;
    throw new LightproofError('LP_LOG_IO', `cannot open the log in ${dir}: ${String(err)}`, {
      status: 500,
      details: { dir, code: (err as NodeJS.ErrnoException).code },
      cause: err,
    });
  }
}

function openEntries(dir: string): number {
  try {
    return openSync(join(dir, ENTRIES), 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw corrupt(ENTRIES, 0, `the file is missing`);
    throw err;
  }
}

/** Scans the entries, cuts a torn tail, and checks (rebuilding where needed) the index and tree caches. */
function recover(fd: number, tree: TreeFiles, index: CacheFile, created: boolean): string[] {
  const warnings: string[] = [];
  const rebuilt = new Set<string>();
  let offsets = Buffer.alloc(8 * CHECK_EVERY);
  let batchFirst = 0;
  let inBatch = 0;
  const checkCaches = () => {
    if (index.put(batchFirst * 8, offsets.subarray(0, inBatch * 8), true)) rebuilt.add(INDEX);
    for (const k of tree.flush(true)) rebuilt.add(`tree level ${k}`);
    batchFirst += inBatch;
    inBatch = 0;
    offsets = Buffer.alloc(8 * CHECK_EVERY);
  };
  const scan = scanEntries(fd, fstatSync(fd).size, ENTRIES, (_i, offset, payload) => {
    tree.add(leafHash(payload));
    offsets.writeUInt32LE(offset % 2 ** 32, inBatch * 8);
    offsets.writeUInt32LE(Math.floor(offset / 2 ** 32), inBatch * 8 + 4);
    if (++inBatch === CHECK_EVERY) checkCaches();
  });
  checkCaches();
  if (index.truncate(scan.count * 8)) rebuilt.add(INDEX);
  for (const k of tree.trim()) rebuilt.add(`tree level ${k}`);
  if (scan.torn) {
    ftruncateSync(fd, scan.end);
    fdatasyncSync(fd);
    warnings.push(
      `${ENTRIES}: cut a torn tail at byte ${scan.end} (${scan.torn}); it was never acknowledged, the log keeps ${scan.count} entries`,
    );
  }
  if (rebuilt.size && !created) warnings.push(`rebuilt caches from ${ENTRIES}: ${[...rebuilt].join(', ')}`);
  return warnings;
}

class FileLog implements MerkleLog {
  readonly readOnly = false;
  private count: number;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;
  private broken: LightproofError | undefined;
  private allocated: number;

  constructor(
    readonly dir: string,
    readonly origin: string,
    readonly warnings: readonly string[],
    private readonly fd: number,
    private end: number,
    private readonly tree: TreeFiles,
    private readonly index: CacheFile,
    private readonly release: () => void,
  ) {
    this.count = tree.size;
    this.allocated = end;
  }

  size(): number {
    return this.count;
  }

  append(entry: Uint8Array): Promise<{ index: number; leafHash: Uint8Array }> {
    return this.enqueue([entry], (first, hashes) => ({ index: first, leafHash: hashes[0]! }));
  }

  appendMany(entries: readonly Uint8Array[]): Promise<{ first: number; count: number }> {
    if (!Array.isArray(entries)) return Promise.reject(badEntry('appendMany takes an array of Uint8Array'));
    return this.enqueue(entries, (first) => ({ first, count: entries.length }));
  }

  entry(index: number): Uint8Array {
    checkIndex(index, this.count);
    const offsets = this.index.read(index * 8, 8);
    const start = offsets.readUInt32LE(0) + offsets.readUInt32LE(4) * 2 ** 32;
    const stop = index + 1 < this.count ? this.offsetOf(index + 1) : this.end;
    const length = stop - start;
    if (start < 8 || length < FRAME_OVERHEAD || length > MAX_ENTRY_BYTES + FRAME_OVERHEAD) {
      throw new LightproofError(
        'LP_LOG_CORRUPT',
        `${INDEX} holds a bad offset for leaf ${index}; reopen the log`,
        {
          status: 500,
          details: { file: INDEX, offset: index * 8 },
        },
      );
    }
    const frame = Buffer.alloc(length);
    for (let got = 0; got < length; ) {
      const n = readSync(this.fd, frame, got, length - got, start + got);
      if (n === 0) throw new LightproofError('LP_LOG_CORRUPT', `${ENTRIES} ends inside leaf ${index}`);
      got += n;
    }
    return new Uint8Array(parseFrame(frame, index, ENTRIES, start));
  }

  leafHashAt(index: number): Uint8Array {
    checkIndex(index, this.count);
    return this.tree.node(0, index);
  }

  root(size: number = this.count): Uint8Array {
    checkSize('size', size, this.count);
    return this.tree.root(size);
  }

  inclusionProof(index: number, size: number = this.count): Uint8Array[] {
    checkSize('size', size, this.count);
    checkIndex(index, size);
    return inclusionPath((lo, hi) => this.tree.subtree(lo, hi), index, size);
  }

  consistencyProof(m: number, n: number = this.count): Uint8Array[] {
    checkSize('n', n, this.count);
    checkSize('m', m, this.count);
    if (m > n) throw outOfRange(`older size ${m} is more than newer size ${n}`, { m, n });
    return consistencyPath((lo, hi) => this.tree.subtree(lo, hi), m, n);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing) await this.flushing;
    try {
      if (this.allocated > this.end && !this.broken) {
        ftruncateSync(this.fd, this.end);
        fdatasyncSync(this.fd);
      }
    } finally {
      this.tree.close();
      this.index.close();
      closeSync(this.fd);
      this.release();
    }
  }

  private preallocate(upTo: number): void {
    if (upTo <= this.allocated) return;
    const target = Math.ceil((upTo + PREALLOC_BYTES) / PREALLOC_BYTES) * PREALLOC_BYTES;
    for (let at = this.allocated; at < target; ) {
      at += writeSync(this.fd, ZEROS, 0, Math.min(ZEROS.length, target - at), at);
    }
    this.allocated = target;
  }

  private offsetOf(index: number): number {
    const b = this.index.read(index * 8, 8);
    return b.readUInt32LE(0) + b.readUInt32LE(4) * 2 ** 32;
  }

  /** Queues entries for the next batch; `done` shapes the result from the first index given. */
  private enqueue<T>(
    entries: readonly Uint8Array[],
    done: (first: number, hashes: Uint8Array[]) => T,
  ): Promise<T> {
    if (this.closed)
      return Promise.reject(new LightproofError('LP_LOG_CLOSED', 'the log is closed; open it again'));
    if (this.broken) return Promise.reject(this.broken);
    const hashes: Uint8Array[] = [];
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (!(e instanceof Uint8Array)) return Promise.reject(badEntry(`entry ${i} is not a Uint8Array`));
      if (e.length > MAX_ENTRY_BYTES) {
        return Promise.reject(
          new LightproofError(
            'LP_LOG_ENTRY_TOO_LARGE',
            `entry ${i} is ${e.length} bytes; a log entry is at most ${MAX_ENTRY_BYTES} bytes, so log a digest of large data instead`,
            { status: 413, details: { bytes: e.length, max: MAX_ENTRY_BYTES } },
          ),
        );
      }
      hashes.push(leafHash(e));
      bytes += e.length + FRAME_OVERHEAD;
    }
    if (entries.length === 0) return Promise.resolve(done(this.count, hashes));
    return new Promise((resolve, reject) => {
      this.queue.push({ entries, hashes, bytes, resolve: (first) => resolve(done(first, hashes)), reject });
      // Start a batch on the next turn, not now: every append made in this turn joins it.
      this.flushing ??= new Promise((started) => setImmediate(started)).then(() => this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      let bytes = 0;
      let take = 0;
      while (take < this.queue.length && (take === 0 || bytes + this.queue[take]!.bytes <= MAX_BATCH_BYTES)) {
        bytes += this.queue[take++]!.bytes;
      }
      await this.commit(this.queue.splice(0, take), bytes);
    }
    this.flushing = undefined;
  }

  /** One batch: frames into one buffer, caches written, then one write and one fdatasync. */
  private async commit(batch: Pending[], bytes: number): Promise<void> {
    if (this.broken) {
      for (const p of batch) p.reject(this.broken);
      return;
    }
    const first = this.count;
    const leaves = batch.reduce((n, p) => n + p.entries.length, 0);
    const buf = Buffer.allocUnsafe(bytes);
    const offsets = Buffer.allocUnsafe(8 * leaves);
    const before = this.tree.snapshot();
    let at = 0;
    let leaf = first;
    for (const p of batch) {
      p.entries.forEach((e, i) => {
        const offset = this.end + at;
        offsets.writeUInt32LE(offset % 2 ** 32, (leaf - first) * 8);
        offsets.writeUInt32LE(Math.floor(offset / 2 ** 32), (leaf - first) * 8 + 4);
        at = writeFrame(buf, at, leaf++, e);
        this.tree.add(p.hashes[i]!);
      });
    }
    let stage: 'write' | 'fdatasync' = 'write';
    try {
      this.tree.flush(false);
      this.index.put(first * 8, offsets, false);
      // Writes go to the page cache and return in microseconds; only the fdatasync waits on the disk.
      this.preallocate(this.end + bytes);
      for (let done = 0; done < bytes; ) {
        done += writeSync(this.fd, buf, done, bytes - done, this.end + done);
      }
      stage = 'fdatasync';
      await fdatasyncAsync(this.fd);
    } catch (err) {
      this.tree.restore(before);
      const failure = new LightproofError(
        'LP_LOG_IO',
        `could not write ${leaves} entries to ${join(this.dir, ENTRIES)}: ${String(err)}; none of them was acknowledged`,
        { status: 503, details: { first, count: leaves }, cause: err },
      );
      try {
        // After a failed fdatasync the kernel may have dropped the dirty pages: only a reopen can tell.
        if (stage === 'fdatasync') throw err;
        ftruncateSync(this.fd, this.end);
        this.allocated = this.end;
      } catch {
        this.broken = new LightproofError(
          'LP_LOG_IO',
          `a failed write could not be undone in ${join(this.dir, ENTRIES)}; reopen the log, which cuts the unacknowledged tail`,
          { status: 503 },
        );
      }
      for (const p of batch) p.reject(failure);
      return;
    }
    this.end += bytes;
    this.count = leaf;
    let next = first;
    for (const p of batch) {
      p.resolve(next);
      next += p.entries.length;
    }
  }
}

function badEntry(message: string): LightproofError {
  return new LightproofError('LP_LOG_BAD_ENTRY', `${message}; log entries are bytes (Uint8Array)`);
}
