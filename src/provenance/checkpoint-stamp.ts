/**
 * Anchoring checkpoints in Bitcoin: `checkpoints/<size>.txt.ots` is a detached OpenTimestamps proof
 * over the signed note's bytes, so it proves the log's key had signed that tree by a given block.
 * Calendars answer with a pending proof at once; `CheckpointUpgrader` comes back on a timer until
 * each proof holds a Bitcoin attestation, rewriting a proof only when the calendars added to it.
 */
import { randomBytes } from 'node:crypto';
import { renameSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { isLightproofError, LightproofError } from '../core/errors.js';
import {
  type CalendarOutcome,
  type DetachedTimestampFile,
  parseOts,
  type StampOptions,
  serializeOts,
  stamp,
  type UpgradeOptions,
  upgradeTimestamp,
} from '../ots/index.js';
import { MAX_CHECKPOINT_BYTES } from './checkpoint.js';
import {
  checkpointPath,
  listCheckpoints,
  readSmallBytes,
  syncDir,
  writeNewFile,
} from './checkpoint-store.js';

/** Proofs of one small note stay small; far larger is not a proof this code wrote. */
const MAX_PROOF_BYTES = 1024 * 1024;

export interface StampCheckpointResult {
  readonly otsPath: string;
  /** False when the checkpoint already had a proof; calendars were not asked again. */
  readonly created: boolean;
  readonly calendars: readonly CalendarOutcome[];
}

/**
 * Stamps the note file at `path` and writes `<path>.ots` beside it. The digest is taken from the
 * bytes read here, once, so the proof covers exactly the note that was checked and signed.
 */
export async function stampCheckpoint(
  path: string,
  opts: Omit<StampOptions, 'onProgress' | 'hashConcurrency'> = {},
): Promise<StampCheckpointResult> {
  const otsPath = `${path}.ots`;
  const note = readSmallBytes(path, MAX_CHECKPOINT_BYTES);
  if (note === undefined) {
    throw new LightproofError(
      'LP_NOTE_NO_CHECKPOINT',
      `${path} does not exist; sign a checkpoint before stamping it.`,
      {
        details: { path },
      },
    );
  }
  const existing = readSmallBytes(otsPath, MAX_PROOF_BYTES);
  if (existing !== undefined) {
    checkProofOf(otsPath, existing, note);
    return { otsPath, created: false, calendars: [] };
  }
  const result = await stamp([{ digest: sha256(note) }], opts);
  if (!writeNewFile(otsPath, serializeOts(result.files[0]!), 0o644)) {
    // Another stamper won the race; its proof covers the same bytes and is kept.
    return { otsPath, created: false, calendars: result.calendars };
  }
  return { otsPath, created: true, calendars: result.calendars };
}

export interface UpgradePassResult {
  /** Proofs that gained attestations and were rewritten. */
  readonly upgraded: string[];
  /** Proofs now holding a Bitcoin attestation (including ones complete before). */
  readonly complete: string[];
  /** Proofs the calendars have not anchored yet. */
  readonly pending: string[];
  readonly errors: { path: string; error: LightproofError }[];
}

export interface CheckpointUpgraderOptions {
  /** The log directory (its checkpoints/ are upgraded). */
  dir: string;
  /** Between the end of one pass and the start of the next; default 10 minutes. */
  intervalMs?: number;
  /** Passed to upgradeTimestamp: calendars to ask instead of the named ones, a whitelist, timeouts. */
  upgrade?: Omit<UpgradeOptions, 'signal'>;
  onPass?: (result: UpgradePassResult) => void;
}

/**
 * Upgrades pending checkpoint proofs in the background. Passes never overlap: the next is scheduled
 * when one ends. `stop()` cancels calendar calls in flight and resolves once the pass has ended;
 * an interrupted proof is simply not written, so the file on disk is the old proof or the new one.
 */
export class CheckpointUpgrader {
  readonly #opts: CheckpointUpgraderOptions;
  readonly #done = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<UpgradePassResult> | undefined;
  #abort: AbortController | undefined;
  #stopped = true;

  constructor(opts: CheckpointUpgraderOptions) {
    const interval = opts.intervalMs ?? 600_000;
    if (!Number.isFinite(interval) || interval < 10) {
      throw new LightproofError(
        'LP_NOTE_BAD_INTERVAL',
        `The upgrade interval ${interval} ms is too short; use at least 10 ms (minutes in production).`,
      );
    }
    this.#opts = { ...opts, intervalMs: interval };
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort?.abort();
    await this.#running?.catch(() => undefined);
  }

  /** One pass now (also usable without start()); concurrent callers share the pass in flight. */
  runOnce(): Promise<UpgradePassResult> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #schedule(delay: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.runOnce()
        // A pass cut short by stop() has nothing meaningful to report.
        .then((r) => {
          if (!this.#stopped) this.#opts.onPass?.(r);
        })
        .catch(() => undefined)
        .finally(() => {
          if (!this.#stopped) this.#schedule(this.#opts.intervalMs!);
        });
    }, delay);
    // A background task must not keep the process alive on its own.
    this.#timer.unref();
  }

  async #pass(): Promise<UpgradePassResult> {
    const abort = new AbortController();
    this.#abort = abort;
    const result: UpgradePassResult = { upgraded: [], complete: [], pending: [], errors: [] };
    for (const size of listCheckpoints(this.#opts.dir)) {
      if (abort.signal.aborted) break;
      const otsPath = `${checkpointPath(this.#opts.dir, size)}.ots`;
      if (this.#done.has(otsPath)) {
        result.complete.push(otsPath);
        continue;
      }
      try {
        const state = await upgradeOne(otsPath, { ...this.#opts.upgrade, signal: abort.signal });
        if (state === 'missing') continue;
        if (state.changed) result.upgraded.push(otsPath);
        if (state.complete) {
          this.#done.add(otsPath);
          result.complete.push(otsPath);
        } else result.pending.push(otsPath);
      } catch (err) {
        if (!isLightproofError(err)) throw err;
        if (!abort.signal.aborted) result.errors.push({ path: otsPath, error: err });
      }
    }
    return result;
  }
}

/** Upgrades one checkpoint proof in place; 'missing' when the checkpoint was never stamped. */
export async function upgradeOne(
  otsPath: string,
  opts: UpgradeOptions = {},
): Promise<'missing' | { changed: boolean; complete: boolean }> {
  const bytes = readSmallBytes(otsPath, MAX_PROOF_BYTES);
  if (bytes === undefined) return 'missing';
  const note = readSmallBytes(otsPath.slice(0, -'.ots'.length), MAX_CHECKPOINT_BYTES);
  const proof = checkProofOf(otsPath, bytes, note);
  if (proof.timestamp.isComplete()) return { changed: false, complete: true };
  const up = await upgradeTimestamp(proof.timestamp, opts);
  if (opts.signal?.aborted) return { changed: false, complete: false };
  if (up.changed) replaceFile(otsPath, serializeOts(proof));
  return { changed: up.changed, complete: up.complete };
}

/** Upgrades only add to a proof, so replacing it whole (aside, synced, renamed) is safe to repeat. */
function replaceFile(path: string, bytes: Uint8Array): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  writeNewFile(tmp, bytes, 0o644);
  renameSync(tmp, path);
  syncDir(dir);
}

/** Parses a checkpoint's proof and checks it is over the note's bytes. */
function checkProofOf(
  otsPath: string,
  bytes: Uint8Array,
  note: Uint8Array | undefined,
): DetachedTimestampFile {
  const proof = parseOts(bytes);
  if (note === undefined || !sameBytes(sha256(note), proof.digest)) {
    throw new LightproofError(
      'LP_NOTE_PROOF_MISMATCH',
      `${otsPath} is not a proof of the checkpoint beside it (the digests differ); remove it and stamp the checkpoint again.`,
      { details: { path: otsPath } },
    );
  }
  return proof;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
