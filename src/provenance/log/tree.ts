/**
 * Subtree hashes on disk: `tree-KK.dat` holds, at 32·j, the hash of leaves [j·2^K, (j+1)·2^K)
 * (level 0 is the leaf hashes). Any range the RFC 9162 recursion asks for splits into at most
 * log2(n) such blocks, so roots and proofs are O(log n) positioned reads whatever the log's size.
 * The frontier (the last unpaired block of each level) lets appends add nodes in O(1) amortised.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { EMPTY_ROOT, HASH_BYTES, nodeHash } from '../merkle.js';
import { CacheFile } from './cache-file.js';

const levelName = (k: number) => `tree-${String(k).padStart(2, '0')}.dat`;
/** 2^53 leaves at most: Number stays exact. */
const MAX_LEVELS = 54;
/**
 * Nodes at this level and above are few (one per 64 leaves) and in almost every proof, so reads
 * keep them in memory, up to CACHED_NODES. Only complete nodes of durable leaves are ever read,
 * and those never change.
 */
const CACHE_FROM_LEVEL = 6;
const CACHED_NODES = 1 << 16;

export interface TreeState {
  size: number;
  frontier: (Uint8Array | undefined)[];
}

/**
 * Hash of leaves [lo, hi), where lo is aligned to the largest power of two not above hi - lo,
 * from the aligned blocks `node(k, j)` (leaves [j·2^K, (j+1)·2^K)) it splits into.
 */
export function subtreeOf(
  node: (level: number, index: number) => Uint8Array,
  lo: number,
  hi: number,
): Uint8Array {
  if (hi === lo) return EMPTY_ROOT;
  const blocks: Uint8Array[] = [];
  let pos = lo;
  for (let k = Math.floor(Math.log2(hi - lo)); pos < hi; k--) {
    const width = 2 ** k;
    if (hi - pos < width) continue;
    blocks.push(node(k, pos / width));
    pos += width;
  }
  let acc = blocks.pop()!;
  while (blocks.length) acc = nodeHash(blocks.pop()!, acc);
  return acc;
}

export class TreeFiles {
  private readonly files: CacheFile[] = [];
  private readonly pending: Uint8Array[][] = [];
  private state: TreeState = { size: 0, frontier: [] };
  private readonly cache = new Map<number, Uint8Array>();

  constructor(private readonly dir: string) {}

  get size(): number {
    return this.state.size;
  }

  snapshot(): TreeState {
    return { size: this.state.size, frontier: [...this.state.frontier] };
  }

  restore(s: TreeState): void {
    this.state = { size: s.size, frontier: [...s.frontier] };
    for (const p of this.pending) p.length = 0;
  }

  /** Adds the next leaf hash; the nodes it completes wait in memory until flush(). */
  add(leaf: Uint8Array): void {
    const { frontier } = this.state;
    let node = leaf;
    let j = this.state.size;
    for (let k = 0; ; k++) {
      const level = this.pending[k] ?? [];
      this.pending[k] = level;
      level.push(node);
      if (j % 2 === 0) {
        frontier[k] = node;
        break;
      }
      node = nodeHash(frontier[k]!, node);
      frontier[k] = undefined;
      j = (j - 1) / 2;
    }
    this.state.size++;
  }

  /** Writes the pending nodes; in check mode only where the files differ. Returns the levels that differed. */
  flush(check: boolean): number[] {
    const differed: number[] = [];
    this.pending.forEach((nodes, k) => {
      if (nodes.length === 0) return;
      const start = Math.floor(this.state.size / 2 ** k) - nodes.length;
      if (this.file(k).put(start * HASH_BYTES, Buffer.concat(nodes), check)) differed.push(k);
      nodes.length = 0;
    });
    return differed;
  }

  /** Cuts every level to the current size and removes levels above it; returns the levels that were longer. */
  trim(): number[] {
    const longer: number[] = [];
    for (let k = 0; k < MAX_LEVELS; k++) {
      const blocks = Math.floor(this.state.size / 2 ** k);
      if (blocks > 0) {
        if (this.file(k).truncate(blocks * HASH_BYTES)) longer.push(k);
        continue;
      }
      this.files[k]?.close();
      delete this.files[k];
      const path = join(this.dir, levelName(k));
      if (existsSync(path)) {
        unlinkSync(path);
        longer.push(k);
      }
    }
    return longer;
  }

  subtree(lo: number, hi: number): Uint8Array {
    return subtreeOf((k, j) => this.node(k, j), lo, hi);
  }

  /** Root of the first `size` leaves; from the frontier when that is the current size. */
  root(size: number): Uint8Array {
    if (size !== this.state.size) return this.subtree(0, size);
    if (size === 0) return EMPTY_ROOT;
    let acc: Uint8Array | undefined;
    this.state.frontier.forEach((node, k) => {
      if (node === undefined || Math.floor(size / 2 ** k) % 2 === 0) return;
      acc = acc === undefined ? node : nodeHash(node, acc);
    });
    return acc!;
  }

  node(level: number, index: number): Uint8Array {
    if (level < CACHE_FROM_LEVEL)
      return new Uint8Array(this.file(level).read(index * HASH_BYTES, HASH_BYTES));
    // Level k's blocks number at most 2^(53-k), so index·64 + level is exact and unique.
    const key = index * 64 + level;
    let node = this.cache.get(key);
    if (!node) {
      node = new Uint8Array(this.file(level).read(index * HASH_BYTES, HASH_BYTES));
      if (this.cache.size >= CACHED_NODES) this.cache.clear();
      this.cache.set(key, node);
    }
    // A copy: callers own what they get and may change it.
    return node.slice();
  }

  close(): void {
    for (const f of this.files) f?.close();
    this.files.length = 0;
  }

  private file(k: number): CacheFile {
    let f = this.files[k];
    if (!f) {
      f = new CacheFile(join(this.dir, levelName(k)), levelName(k));
      this.files[k] = f;
    }
    return f;
  }
}
