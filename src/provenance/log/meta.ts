/**
 * The log's identity: `log.json` holds its format and origin (the first line of its checkpoints).
 * A new log's entries file is made durable before `log.json` names it, so a log.json never points
 * at a missing entries file unless someone removed it.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { LightproofError } from '../../core/errors.js';
import { corrupt, ENTRIES_MAGIC } from './frames.js';

export const META = 'log.json';
export const ENTRIES = 'entries.dat';
export const INDEX = 'index.dat';
export const LOCK = 'log.lock';
const FORMAT = 'lightproof.log/v1';
const MAX_META_BYTES = 4096;

/**
 * A checkpoint's origin line, which is also the name of the log's signing key: printable ASCII with no
 * space or '+' (signed-note key names allow neither), at most 255 bytes.
 */
export function checkOrigin(origin: unknown): string {
  if (typeof origin !== 'string' || origin.length > 255 || !/^[\x21-\x2a\x2c-\x7e]+$/.test(origin)) {
    throw new LightproofError(
      'LP_LOG_BAD_ORIGIN',
      'A log origin is 1..255 printable ASCII characters with no space or "+" (it also names the log\'s signing key); pass one such as "lightproof.local/agent-log".',
      { details: { origin: typeof origin === 'string' ? origin.slice(0, 300) : typeof origin } },
    );
  }
  return origin;
}

/** Makes sure `dir` exists (creating it when allowed) before the lock is taken inside it. */
export function ensureDir(dir: string, create: boolean): void {
  if (!create && !existsSync(join(dir, META))) throw notFound(dir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new LightproofError('LP_LOG_IO', `cannot create the log directory ${dir}: ${String(err)}`, {
      status: 500,
      details: { dir, code: (err as NodeJS.ErrnoException).code },
      cause: err,
    });
  }
}

function notFound(dir: string): LightproofError {
  return new LightproofError('LP_LOG_NOT_FOUND', `no log in ${dir} (no ${META}); pass create to start one`, {
    status: 404,
    details: { dir },
  });
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads log.json, or (when `create` and there is none) writes a new log; returns its origin. */
export function loadOrCreateMeta(
  dir: string,
  opts: { create?: boolean; origin?: string },
): { origin: string; created: boolean } {
  const path = join(dir, META);
  if (!existsSync(path)) {
    if (!opts.create) throw notFound(dir);
    // A directory name may hold characters an origin cannot; they become '-'.
    const fallback = `lightproof.local/${basename(resolve(dir)).replace(/[^\x21-\x2a\x2c-\x7e]/g, '-')}`;
    const origin = checkOrigin(opts.origin ?? fallback.slice(0, 255));
    const entries = join(dir, ENTRIES);
    if (existsSync(entries) && statSync(entries).size > ENTRIES_MAGIC.length) {
      throw corrupt(
        ENTRIES,
        0,
        `it holds entries but ${META} is missing; restore ${META} or move the file aside`,
      );
    }
    const fd = openSync(entries, 'w', 0o644);
    try {
      writeSync(fd, ENTRIES_MAGIC);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ format: FORMAT, origin })}\n`, { mode: 0o644 });
    const tfd = openSync(tmp, 'r');
    fsyncSync(tfd);
    closeSync(tfd);
    renameSync(tmp, path);
    fsyncDir(dir);
    return { origin, created: true };
  }
  let meta: unknown;
  try {
    if (statSync(path).size > MAX_META_BYTES) throw new Error('too large');
    meta = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw corrupt(META, 0, 'it is not the JSON a Lightproof log writes');
  }
  const m = meta as { format?: unknown; origin?: unknown };
  if (typeof meta !== 'object' || meta === null || m.format !== FORMAT) {
    throw corrupt(META, 0, `its format is not ${FORMAT}`);
  }
  const origin = checkOrigin(m.origin);
  if (opts.origin !== undefined && opts.origin !== origin) {
    throw new LightproofError(
      'LP_LOG_BAD_ORIGIN',
      `the log in ${dir} has origin "${origin}", not "${opts.origin}"; a log keeps the origin it was created with`,
      { status: 409, details: { origin, asked: opts.origin } },
    );
  }
  return { origin, created: false };
}
