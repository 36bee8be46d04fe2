/**
 * Merkle log benchmarks, each peer measured in the same run on the same disk:
 * - durable appends per second with group commit (LIGHTPROOF_BENCH_LOG_APPENDS entries of 200 bytes,
 *   LIGHTPROOF_BENCH_LOG_IN_FLIGHT in flight), against the same log awaited one append at a time
 *   (one fdatasync per append, the naive peer) and against SQLite (better-sqlite3, WAL,
 *   synchronous=FULL, one row per transaction);
 * - inclusion proofs per second, generated from disk and verified, on a log of
 *   LIGHTPROOF_BENCH_LOG_LEAVES leaves, against the in-memory reference generator on the same
 *   tree at a 4096-leaf size (its cost grows with the tree; the log's with log2 of it).
 * LIGHTPROOF_BENCH_SECONDS (5) bounds the timed loops; LIGHTPROOF_BENCH_DIR picks the disk (os.tmpdir()).
 * Figures are printed, never asserted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { inclusionProof, leafHash, openLog, rootOf, verifyInclusion } from '../src/provenance/index.js';

const env = process.env;
const APPENDS = Number(env.LIGHTPROOF_BENCH_LOG_APPENDS ?? 200_000);
const IN_FLIGHT = Number(env.LIGHTPROOF_BENCH_LOG_IN_FLIGHT ?? 1024);
const LEAVES = Number(env.LIGHTPROOF_BENCH_LOG_LEAVES ?? 1_000_000);
const SECONDS = Number(env.LIGHTPROOF_BENCH_SECONDS ?? 5);
/** The one-fsync-per-append peers are two orders slower; they get fewer operations. */
const SLOW_OPS = Math.max(200, Math.floor(APPENDS / 100));
const ENTRY_BYTES = 200;

const entry = (i: number): Uint8Array => {
  const b = Buffer.alloc(ENTRY_BYTES, i & 0xff);
  b.writeUInt32LE(i, 0);
  return b;
};

async function groupCommit(dir: string): Promise<number> {
  const log = await openLog(join(dir, 'group'), { create: true });
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < APPENDS) await log.append(entry(next++));
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, APPENDS) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  if (log.size() !== APPENDS) throw new Error(`log holds ${log.size()} of ${APPENDS} appends`);
  await log.close();
  return APPENDS / seconds;
}

async function oneByOne(dir: string): Promise<number> {
  const log = await openLog(join(dir, 'naive'), { create: true });
  const t0 = performance.now();
  for (let i = 0; i < SLOW_OPS; i++) await log.append(entry(i));
  const seconds = (performance.now() - t0) / 1000;
  await log.close();
  return SLOW_OPS / seconds;
}

function sqlite(dir: string): number {
  const db = new Database(join(dir, 'peer.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE entries (id INTEGER PRIMARY KEY, data BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO entries (data) VALUES (?)');
  const t0 = performance.now();
  for (let i = 0; i < SLOW_OPS; i++) insert.run(entry(i));
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  return SLOW_OPS / seconds;
}

async function proofs(
  dir: string,
): Promise<{ leaves: number; build: number; ours: number; reference: number }> {
  const log = await openLog(join(dir, 'proofs'), { create: true });
  const t0 = performance.now();
  for (let first = 0; first < LEAVES; first += 10_000) {
    await log.appendMany(
      Array.from({ length: Math.min(10_000, LEAVES - first) }, (_, i) => entry(first + i)),
    );
  }
  const build = LEAVES / ((performance.now() - t0) / 1000);
  const size = log.size();
  const root = log.root();
  const timed = (fn: (i: number) => void): number => {
    let done = 0;
    let x = 12345;
    const start = performance.now();
    while (performance.now() - start < SECONDS * 1000) {
      for (let k = 0; k < 100; k++) {
        x = (x * 1103515245 + 12345) % 2 ** 31;
        fn(x);
      }
      done += 100;
    }
    return done / ((performance.now() - start) / 1000);
  };
  const ours = timed((x) => {
    const i = x % size;
    verifyInclusion(log.leafHashAt(i), i, size, log.inclusionProof(i), root);
  });
  await log.close();
  const small = Array.from({ length: 4096 }, (_, i) => leafHash(entry(i)));
  const smallRoot = rootOf(small);
  const reference = timed((x) => {
    const i = x % small.length;
    verifyInclusion(small[i]!, i, small.length, inclusionProof(small, i, small.length), smallRoot);
  });
  return { leaves: size, build, ours, reference };
}

export async function benchLog(): Promise<void> {
  const dir = mkdtempSync(join(env.LIGHTPROOF_BENCH_DIR ?? tmpdir(), 'lp-bench-log-'));
  try {
    console.log('\nMerkle log: durable appends and inclusion proofs');
    console.log(
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}`,
    );
    console.log(`disk: ${dir}`);
    const group = await groupCommit(dir);
    const naive = await oneByOne(dir);
    const lite = sqlite(dir);
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US').padStart(10);
    console.log(`durable appends/s, ${ENTRY_BYTES}-byte entries:`);
    console.log(`  group commit, ${IN_FLIGHT} in flight (${APPENDS} appends)   ${fmt(group)}`);
    console.log(
      `  one fdatasync per append (${SLOW_OPS} appends)        ${fmt(naive)}   group/naive ${(group / naive).toFixed(1)}x`,
    );
    console.log(
      `  SQLite WAL, synchronous=FULL, 1 row/txn (${SLOW_OPS}) ${fmt(lite)}   group/sqlite ${(group / lite).toFixed(1)}x`,
    );
    const p = await proofs(dir);
    console.log(
      `inclusion proofs/s (generate from disk + verify), ${p.leaves}-leaf log (built at ${fmt(p.build)} leaves/s):`,
    );
    console.log(`  log on disk                                     ${fmt(p.ours)}`);
    console.log(
      `  in-memory reference, 4096 leaves               ${fmt(p.reference)}   log/reference ${(p.ours / p.reference).toFixed(1)}x`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
