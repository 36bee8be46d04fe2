/** What the `lightproof ots` verbs share: usage errors (exit 2), reading proofs, writing files safely. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { hexToBytes } from '@noble/hashes/utils.js';
import type { Command } from 'commander';
import { writeFileDurably } from '../../core/durable-write.js';
import { isLightproofError, LightproofError } from '../../core/errors.js';
import {
  checkCalendarUrl,
  DEFAULT_CALENDARS,
  type DetachedTimestampFile,
  DIGEST_LENGTHS,
  type FileHashOp,
  parseOts,
} from '../../ots/index.js';

/** Proofs are small (the reference examples are under 4 KB); a huge file is not one, and is not read whole. */
const MAX_PROOF_BYTES = 16 * 1024 * 1024;

/** Repeatable flags; no default, so help does not print `(default: [])`. */
export const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  value,
];

/** A usage error: printed as `error CODE: message`, exit status 2. */
export function usage(cmd: Command, code: string, message: string): never {
  cmd.error(`error ${code}: ${message}`, { exitCode: 2, code });
}

/** Runs `fn`, turning the LightproofErrors it throws into usage errors (exit 2). */
export function asUsage<T>(cmd: Command, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isLightproofError(err)) usage(cmd, err.code, err.message);
    throw err;
  }
}

export function seconds(cmd: Command, flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n <= 0 || n > 86_400) {
    usage(cmd, 'LP_CLI_BAD_SECONDS', `${flag} '${value}' is not a number of seconds between 0 and 86400.`);
  }
  return n;
}

export function hashOp(cmd: Command, value: string): FileHashOp {
  if (!Object.hasOwn(DIGEST_LENGTHS, value)) {
    usage(
      cmd,
      'LP_OTS_BAD_HASH',
      `--hash '${value}' is not one of ${Object.keys(DIGEST_LENGTHS).join(', ')}.`,
    );
  }
  return value as FileHashOp;
}

export function digestArg(cmd: Command, hex: string, op: FileHashOp, flag: string): Uint8Array {
  const want = DIGEST_LENGTHS[op] * 2;
  if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length !== want) {
    usage(
      cmd,
      'LP_OTS_BAD_DIGEST',
      `${flag} '${hex.slice(0, 80)}' is not a ${op} digest: ${want} hex characters.`,
    );
  }
  return hexToBytes(hex.toLowerCase());
}

export function readProof(path: string): DetachedTimestampFile {
  let bytes: Buffer;
  try {
    if (path !== '-' && statSync(path).size > MAX_PROOF_BYTES) {
      throw new LightproofError(
        'LP_OTS_FILE_TOO_LARGE',
        `${path} is larger than 16 MB, so it is not an .ots proof.`,
      );
    }
    bytes = readFileSync(path === '-' ? 0 : path);
  } catch (err) {
    if (isLightproofError(err)) throw err;
    const why =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message;
    throw new LightproofError('LP_OTS_FILE_UNREADABLE', `Cannot read ${path}: ${why}.`, {
      details: { path },
    });
  }
  try {
    return parseOts(bytes);
  } catch (err) {
    if (isLightproofError(err)) {
      throw new LightproofError(err.code, `${path}: ${err.message}`, { details: { path, ...err.details } });
    }
    throw err;
  }
}

/**
 * Writes new files and never replaces one: each is written aside, synced, then linked into place,
 * so a crash leaves either the whole proof or none. Files are written CONCURRENCY at a time, which
 * lets the file system batch the syncs of a large stamp instead of waiting for each in turn.
 */
export async function writeNewFiles(files: readonly { path: string; bytes: Uint8Array }[]): Promise<void> {
  const CONCURRENCY = 32;
  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < files.length) {
      const { path, bytes } = files[next++]!;
      try {
        await writeNew(path, bytes);
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, files.length) }, worker));
  if (firstError !== undefined) throw firstError;
}

async function writeNew(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFileDurably(path, bytes, { replace: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && existsSync(path)) throw outputExists(path);
    throw new LightproofError(
      'LP_OTS_WRITE_FAILED',
      `Cannot write ${path}: ${(err as Error).message}. Check the directory's permissions and free space.`,
      { details: { path }, cause: err },
    );
  }
}

export function outputExists(path: string): LightproofError {
  return new LightproofError(
    'LP_OTS_OUTPUT_EXISTS',
    `${path} already exists and is never overwritten; move it away or write elsewhere with -o DIR.`,
    { details: { path } },
  );
}

export function warn(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** What `-c URL…`, `-m N` and `--timeout S` give a stamp: the calendars (default: the public ones), m of n, and the timeout. */
export interface CalendarChoice {
  calendars?: string[];
  m?: number;
  timeoutMs: number;
}

/** Checks -c, -m and --timeout as `ots stamp` does; shared by every command that stamps. */
export function calendarFlags(
  cmd: Command,
  opts: { calendar?: string[]; m?: string; timeout?: string },
): CalendarChoice {
  const calendars = opts.calendar?.length
    ? asUsage(cmd, () => (opts.calendar ?? []).map(checkCalendarUrl))
    : undefined;
  const n = calendars?.length ?? DEFAULT_CALENDARS.length;
  const m = opts.m === undefined ? undefined : Number(opts.m);
  if (m !== undefined && (!/^\d+$/.test(opts.m!) || m < 1 || m > n)) {
    usage(
      cmd,
      'LP_OTS_BAD_CALENDARS',
      `-m '${opts.m}' must be a whole number from 1 to ${n}, the number of calendars.`,
    );
  }
  const timeoutMs = seconds(cmd, '--timeout', opts.timeout, 5) * 1000;
  return { ...(calendars ? { calendars } : {}), ...(m !== undefined ? { m } : {}), timeoutMs };
}
