/**
 * A log directory's signing state: `log.key` (the signed-note signer key, 0600), `log.pub` (its
 * verifier key) and `checkpoints/<size>.txt` (one signed checkpoint per size). A checkpoint is
 * written only after the log's tree at that size is shown consistent with the nearest checkpoints
 * signed before it, and never replaces one: signing two roots for one size would be a split view.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isLightproofError, LightproofError } from '../core/errors.js';
import {
  type Checkpoint,
  formatCheckpoint,
  MAX_CHECKPOINT_BYTES,
  openCheckpoint,
  sameRoot,
} from './checkpoint.js';
import { verifyConsistency } from './merkle.js';
import {
  generateNoteKey,
  isValidKeyName,
  type NoteSigner,
  type NoteVerifier,
  noteSigner,
  noteVerifier,
  signNote,
} from './note.js';

export const LOG_KEY_FILE = 'log.key';
export const LOG_PUB_FILE = 'log.pub';
export const CHECKPOINT_DIR = 'checkpoints';

/** What signing a checkpoint needs from a log; `MerkleLog` has it. */
export interface CheckpointSource {
  readonly dir: string;
  readonly origin: string;
  size(): number;
  root(size?: number): Uint8Array;
  consistencyProof(m: number, n?: number): Uint8Array[];
}

export interface LogKey {
  readonly signer: NoteSigner;
  readonly verifier: NoteVerifier;
  readonly verifierKey: string;
}

export interface StoredCheckpoint {
  readonly path: string;
  readonly note: string;
  readonly checkpoint: Checkpoint;
}

export function checkpointPath(logDir: string, size: number): string {
  return join(logDir, CHECKPOINT_DIR, `${size}.txt`);
}

/**
 * The log's signing key, made on first use. The key's name is the log's origin, as
 * c2sp.org/tlog-checkpoint recommends, so a checkpoint names its log twice.
 */
export function loadOrCreateLogKey(logDir: string, origin: string): LogKey {
  if (!isValidKeyName(origin)) {
    throw new LightproofError(
      'LP_NOTE_BAD_NAME',
      `The log origin '${origin.slice(0, 100)}' cannot name a signing key; use a name without spaces or '+', such as example.com/agent-log.`,
    );
  }
  const keyPath = join(logDir, LOG_KEY_FILE);
  const pubPath = join(logDir, LOG_PUB_FILE);
  let signerKey = readSmall(keyPath, 4096);
  if (signerKey === undefined && readSmall(pubPath, 4096) !== undefined) {
    // A new key would not match the published one; this is a verifier's copy of the log.
    throw new LightproofError(
      'LP_NOTE_NO_KEY',
      `${logDir} has ${LOG_PUB_FILE} but no ${LOG_KEY_FILE}, so it can be verified but not signed; restore the log's ${LOG_KEY_FILE} to sign.`,
      { details: { dir: logDir } },
    );
  }
  if (signerKey === undefined) {
    const fresh = generateNoteKey(origin);
    // Exclusive: if another process made a key meanwhile, theirs is kept and used.
    writeNewFile(keyPath, `${fresh.signerKey}\n`, 0o600);
    signerKey = readSmall(keyPath, 4096)!;
  }
  const mode = statSync(keyPath).mode & 0o777;
  if (mode & 0o077) {
    throw new LightproofError(
      'LP_NOTE_KEY_EXPOSED',
      `${keyPath} can be read by other users (mode ${mode.toString(8)}); run chmod 600 on it, and make a new log key if others may have read it.`,
      { details: { path: keyPath } },
    );
  }
  const signer = noteSigner(signerKey.trim());
  if (signer.name !== origin) {
    throw new LightproofError(
      'LP_NOTE_BAD_KEY',
      `${keyPath} signs as '${signer.name}' but this log's origin is '${origin}'; the key belongs to another log. Put this log's own key back.`,
    );
  }
  writeNewFile(pubPath, `${signer.verifierKey}\n`, 0o644);
  const pub = readSmall(pubPath, 4096)?.trim();
  if (pub !== signer.verifierKey) {
    throw new LightproofError(
      'LP_NOTE_BAD_KEY',
      `${pubPath} does not match ${keyPath}; restore the log's own log.pub (its public key is ${signer.verifierKey}).`,
    );
  }
  return { signer, verifier: noteVerifier(signer.verifierKey), verifierKey: signer.verifierKey };
}

/** The log's verifier key from `log.pub`; reading a log needs no private key. */
export function readLogVerifier(logDir: string): NoteVerifier {
  const pub = readSmall(join(logDir, LOG_PUB_FILE), 4096);
  if (pub === undefined) {
    throw new LightproofError(
      'LP_NOTE_NO_KEY',
      `${logDir} has no ${LOG_PUB_FILE}, so no checkpoint was ever signed for it; run \`lightproof log checkpoint ${logDir}\` first.`,
      { details: { dir: logDir } },
    );
  }
  return noteVerifier(pub.trim());
}

/** Sizes of the stored checkpoints, ascending. Other files in the directory are not checkpoints. */
export function listCheckpoints(logDir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(join(logDir, CHECKPOINT_DIR));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map((n) => /^(0|[1-9][0-9]{0,15})\.txt$/.exec(n)?.[1])
    .filter((s): s is string => s !== undefined && Number(s) <= Number.MAX_SAFE_INTEGER)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Reads and verifies `checkpoints/<size>.txt`: this log's key, this origin, and the size its name says. */
export function readCheckpoint(
  logDir: string,
  size: number,
  verifier: NoteVerifier,
  origin: string,
): StoredCheckpoint {
  const path = checkpointPath(logDir, size);
  const note = readSmall(path, MAX_CHECKPOINT_BYTES);
  if (note === undefined) {
    throw new LightproofError(
      'LP_NOTE_NO_CHECKPOINT',
      `There is no checkpoint of size ${size} in ${logDir}; sign one with \`lightproof log checkpoint\`.`,
      {
        details: { size },
      },
    );
  }
  let checkpoint: Checkpoint;
  try {
    checkpoint = openCheckpoint(note, [verifier], origin).checkpoint;
  } catch (err) {
    if (!isLightproofError(err)) throw err;
    throw new LightproofError(err.code, `${path}: ${err.message}`, { details: { path, ...err.details } });
  }
  if (checkpoint.size !== size) {
    throw new LightproofError(
      'LP_NOTE_BAD_CHECKPOINT',
      `${path} holds a checkpoint of size ${checkpoint.size}, not ${size}; the file was renamed or replaced. Remove it.`,
      { details: { path } },
    );
  }
  return { path, note, checkpoint };
}

export interface WriteCheckpointOptions {
  signer: NoteSigner;
  /** Default: the log's current size. */
  size?: number;
  extensions?: readonly string[];
}

/**
 * Signs the log's tree at `size` and stores it as `checkpoints/<size>.txt`. If that size is already
 * signed with the same root, the stored note is returned (created: false); with another root the
 * log was rewritten, and LP_NOTE_SPLIT_VIEW refuses. The tree must also be consistent with the
 * nearest stored checkpoints below and above it.
 */
export async function writeCheckpoint(
  log: CheckpointSource,
  opts: WriteCheckpointOptions,
): Promise<StoredCheckpoint & { created: boolean }> {
  const current = log.size();
  const size = opts.size ?? current;
  if (!Number.isSafeInteger(size) || size < 0 || size > current) {
    throw new LightproofError(
      'LP_NOTE_BAD_SIZE',
      `Cannot sign a checkpoint of size ${size}: the log holds ${current} entries; choose a size from 0 to ${current}.`,
      { details: { size, logSize: current } },
    );
  }
  if (opts.signer.name !== log.origin) {
    throw new LightproofError(
      'LP_NOTE_BAD_KEY',
      `The key '${opts.signer.name}' is not this log's key (origin '${log.origin}'); sign with the log's own log.key.`,
    );
  }
  const pub = readSmall(join(log.dir, LOG_PUB_FILE), 4096)?.trim();
  if (pub !== undefined && pub !== opts.signer.verifierKey) {
    throw new LightproofError(
      'LP_NOTE_BAD_KEY',
      `The signing key is not the one in ${join(log.dir, LOG_PUB_FILE)}; sign with the log's own log.key.`,
    );
  }
  const verifier = noteVerifier(opts.signer.verifierKey);
  const root = log.root(size);
  const existing = sameSizeOrNeighbours(log, size, root, verifier);
  if (existing) return { ...existing, created: false };

  const checkpoint: Checkpoint = { origin: log.origin, size, root, extensions: [...(opts.extensions ?? [])] };
  const note = signNote(formatCheckpoint(checkpoint), opts.signer);
  const path = checkpointPath(log.dir, size);
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (!writeNewFile(path, note, 0o644)) {
    // Another writer stored this size first; theirs stands if it has our root.
    const raced = readCheckpoint(log.dir, size, verifier, log.origin);
    if (!sameRoot(raced.checkpoint.root, root)) throw splitView(size, raced.path);
    return { ...raced, created: false };
  }
  return { path, note, checkpoint, created: true };
}

function sameSizeOrNeighbours(
  log: CheckpointSource,
  size: number,
  root: Uint8Array,
  verifier: NoteVerifier,
): StoredCheckpoint | undefined {
  const sizes = listCheckpoints(log.dir);
  if (sizes.includes(size)) {
    const had = readCheckpoint(log.dir, size, verifier, log.origin);
    if (!sameRoot(had.checkpoint.root, root)) throw splitView(size, had.path);
    return had;
  }
  const below = sizes.filter((s) => s < size).at(-1);
  const above = sizes.find((s) => s > size);
  if (below !== undefined) {
    const old = readCheckpoint(log.dir, below, verifier, log.origin);
    checkConsistent(log, old, below, size, old.checkpoint.root, root);
  }
  if (above !== undefined) {
    const newer = readCheckpoint(log.dir, above, verifier, log.origin);
    checkConsistent(log, newer, size, above, root, newer.checkpoint.root);
  }
  return undefined;
}

function checkConsistent(
  log: CheckpointSource,
  stored: StoredCheckpoint,
  m: number,
  n: number,
  rootM: Uint8Array,
  rootN: Uint8Array,
): void {
  try {
    verifyConsistency(m, n, m === 0 ? [] : log.consistencyProof(m, n), rootM, rootN);
  } catch (err) {
    if (!isLightproofError(err)) throw err;
    throw new LightproofError(
      'LP_NOTE_SPLIT_VIEW',
      `The log's tree is not consistent with the checkpoint it signed in ${stored.path} (sizes ${m} and ${n}: ${err.message}). The log was rewritten; refusing to sign. Run \`lightproof log verify\` to find where.`,
      { details: { path: stored.path, m, n } },
    );
  }
}

function splitView(size: number, path: string): LightproofError {
  return new LightproofError(
    'LP_NOTE_SPLIT_VIEW',
    `${path} already signs a different root for size ${size}; signing another would show two views of the log. The log was rewritten; run \`lightproof log verify\` to find where.`,
    { details: { size, path } },
  );
}

/** A small file's text, or undefined if it does not exist; larger than `max` is refused, not read. */
export function readSmall(path: string, max: number): string | undefined {
  return readSmallBytes(path, max)?.toString('utf8');
}

export function readSmallBytes(path: string, max: number): Buffer | undefined {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > max) {
      throw new LightproofError(
        'LP_NOTE_BAD_FILE',
        `${path} is not a file of at most ${max} bytes, so it is not what the log keeps there; move it away.`,
        { details: { path } },
      );
    }
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Writes a file that must not exist yet: aside, synced, then linked into place (link refuses to
 * replace, where rename would overwrite a concurrent writer), then the directory synced. A crash
 * leaves the whole file or none. Returns false if the file already existed.
 */
export function writeNewFile(path: string, data: string | Uint8Array, mode: number): boolean {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  syncDir(dir);
  return true;
}

export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
