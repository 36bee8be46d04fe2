/**
 * Manifest hashing throughput, each figure against a peer measured in the same run:
 * - one large file: `lightproof` (shards on every core) against coreutils `sha256sum`;
 * - a model directory (the large file plus small files): against model_signing 1.1.1's Python API,
 *   with its default per-file method and with its 10^9-byte shards, timed inside Python.
 * The directory is generated once into ~/.cache/lightproof/bench/ (never the repo) and read once
 * before timing, so every run hashes from the page cache. Rounds are interleaved so a noisy
 * neighbour slows all contenders alike. LIGHTPROOF_BENCH_MANIFEST_GB (default 2) sets the large
 * file's size; LIGHTPROOF_BENCH_ROUNDS (3) the rounds. Figures are printed, never asserted.
 */
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import {
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { availableParallelism, cpus, homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hashModel } from '../src/provenance/index.js';

const run = promisify(execFile);
const GB = Number(process.env.LIGHTPROOF_BENCH_MANIFEST_GB ?? 2);
const ROUNDS = Number(process.env.LIGHTPROOF_BENCH_ROUNDS ?? 3);
const SMALL_FILES = 100;
const SMALL_SIZE = 1_000_000;
const PEER_VERSION = '1.1.1';

const PEER_SCRIPT = `
import sys, time
from model_signing import hashing
path, method = sys.argv[1], sys.argv[2]
cfg = hashing.Config()
cfg = cfg.use_file_serialization() if method == 'files' else cfg.use_shard_serialization()
t0 = time.perf_counter()
m = cfg.hash(path)
print(time.perf_counter() - t0)
`;

export async function benchManifest(): Promise<void> {
  const { large, model, largeBytes, modelBytes } = generate();
  const peerPython = join(
    process.env.LIGHTPROOF_PEER_CACHE ?? join(homedir(), '.cache', 'lightproof', 'peers'),
    `model-signing-${PEER_VERSION}`,
    'bin',
    'python',
  );
  if (!existsSync(peerPython))
    throw new Error(
      `model_signing ${PEER_VERSION} is not installed; run test/peers/install-model-signing.sh`,
    );
  await hashModel(model); // warms the page cache and the code paths

  const times: Record<string, number[]> = {
    oursLarge: [],
    sha256sum: [],
    oursModel: [],
    peerFiles: [],
    peerShards: [],
  };
  for (let r = 0; r < ROUNDS; r++) {
    times.oursLarge!.push(await timed(() => hashModel(large)));
    times.sha256sum!.push(await timed(() => run('sha256sum', [join(large, 'weights.bin')])));
    times.oursModel!.push(await timed(() => hashModel(model)));
    for (const method of ['files', 'shards'] as const) {
      const { stdout } = await run(peerPython, ['-c', PEER_SCRIPT, model, method], { maxBuffer: 1 << 20 });
      times[method === 'files' ? 'peerFiles' : 'peerShards']!.push(Number(stdout.trim()));
    }
  }
  const best = (k: string) => Math.min(...times[k]!);
  const rate = (bytes: number, s: number) => bytes / s / 1e9;
  const line = (name: string, bytes: number, k: string) =>
    console.log(
      `  ${name.padEnd(44)} ${rate(bytes, best(k)).toFixed(2).padStart(6)} GB/s  (best of ${ROUNDS}: ${best(k).toFixed(2)} s)`,
    );

  console.log(`\nManifest hashing, from the page cache, ${ROUNDS} interleaved rounds`);
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}`,
  );
  console.log(`one large file, ${(largeBytes / 1e9).toFixed(2)} GB`);
  line('lightproof (64 MiB shards, every core)', largeBytes, 'oursLarge');
  line('sha256sum', largeBytes, 'sha256sum');
  console.log(
    `  ratio                                        ${(best('sha256sum') / best('oursLarge')).toFixed(2).padStart(6)} x   (goal: at least 1.5 x)`,
  );
  console.log(
    `model directory, ${(modelBytes / 1e9).toFixed(2)} GB (the large file and ${SMALL_FILES} files of 1 MB)`,
  );
  line('lightproof (64 MiB shards, every core)', modelBytes, 'oursModel');
  line(`model_signing ${PEER_VERSION}, files (its default)`, modelBytes, 'peerFiles');
  line(`model_signing ${PEER_VERSION}, 10^9-byte shards`, modelBytes, 'peerShards');
  const peer = Math.min(best('peerFiles'), best('peerShards'));
  console.log(
    `  ratio against its faster method              ${(peer / best('oursModel')).toFixed(2).padStart(6)} x   (goal: above 1 x)`,
  );
  console.log(`  (workers: ${availableParallelism()})`);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

/** Builds large/weights.bin and model/ (a hard link to it plus small files) once; a marker says it is whole. */
function generate(): { large: string; model: string; largeBytes: number; modelBytes: number } {
  const largeBytes = Math.round(GB * 1e9);
  const root = join(homedir(), '.cache', 'lightproof', 'bench', `manifest-${largeBytes}`);
  const large = join(root, 'large');
  const model = join(root, 'model');
  const modelBytes = largeBytes + SMALL_FILES * SMALL_SIZE;
  const marker = join(root, '.done');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === 'ok')
    return { large, model, largeBytes, modelBytes };
  rmSync(root, { recursive: true, force: true });
  mkdirSync(large, { recursive: true });
  mkdirSync(join(model, 'shards'), { recursive: true });
  const chunk = Buffer.allocUnsafe(16 << 20);
  const fd = openSync(join(large, 'weights.bin'), 'w');
  try {
    for (let left = largeBytes; left > 0; left -= chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, Math.min(chunk.length, left));
    }
  } finally {
    closeSync(fd);
  }
  linkSync(join(large, 'weights.bin'), join(model, 'weights.bin'));
  for (let i = 0; i < SMALL_FILES; i++)
    writeFileSync(
      join(model, 'shards', `part-${String(i).padStart(3, '0')}.bin`),
      randomFillSync(Buffer.allocUnsafe(SMALL_SIZE)),
    );
  writeFileSync(marker, 'ok');
  return { large, model, largeBytes, modelBytes };
}
