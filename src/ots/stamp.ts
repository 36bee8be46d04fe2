/**
 * Stamping many things at once, as `ots stamp` does: each input's digest gets its own random nonce
 * (so a proof reveals nothing about its neighbours), all of them go into one Merkle tree, and its tip
 * is sent to every calendar in parallel. Stamping succeeds when at least m calendars answered.
 */
import { isLightproofError, LightproofError } from '../core/errors.js';
import {
  type CalendarRequestOptions,
  checkCalendarUrl,
  DEFAULT_CALENDAR_TIMEOUT_MS,
  DEFAULT_CALENDARS,
  submitDigest,
} from './calendar-client.js';
import { DetachedTimestampFile, type FileHashOp } from './file.js';
import { fileSize, hashFile, hashStream } from './hash-file.js';
import { makeMerkleTree, nonceTimestamp } from './merkle.js';
import { DIGEST_LENGTHS } from './ops.js';
import { Timestamp } from './timestamp.js';

export type StampInput =
  | { readonly path: string; readonly hashOp?: FileHashOp }
  | { readonly stream: AsyncIterable<Uint8Array>; readonly hashOp?: FileHashOp }
  | { readonly digest: Uint8Array; readonly hashOp?: FileHashOp };

export interface StampProgress {
  readonly phase: 'hash' | 'submit';
  /** Bytes hashed so far (hash) or calendars answered so far (submit). */
  readonly done: number;
  /** Bytes to hash (streams count as they arrive) or calendars asked. */
  readonly total: number;
}

export interface StampOptions extends Pick<CalendarRequestOptions, 'signal'> {
  /** Calendar URLs; default the four public aggregators. */
  calendars?: readonly string[];
  /** Replies needed; default min(2, number of calendars). */
  m?: number;
  /** Per calendar call; default 5 s. */
  timeoutMs?: number;
  onProgress?: (p: StampProgress) => void;
  /** Files hashed at once: reading one while hashing another keeps the disk and a core busy. */
  hashConcurrency?: number;
}

export interface CalendarOutcome {
  readonly calendar: string;
  readonly ok: boolean;
  readonly error?: LightproofError;
}

export interface StampResult {
  /** One proof per input, in input order. */
  readonly files: DetachedTimestampFile[];
  readonly calendars: CalendarOutcome[];
  /** The Merkle tip sent to the calendars. */
  readonly tip: Uint8Array;
}

export async function stamp(inputs: readonly StampInput[], opts: StampOptions = {}): Promise<StampResult> {
  if (inputs.length === 0) {
    throw new LightproofError(
      'LP_OTS_NOTHING_TO_STAMP',
      'Nothing to stamp; give at least one file or digest.',
    );
  }
  const calendars = [...new Set((opts.calendars ?? DEFAULT_CALENDARS).map(checkCalendarUrl))];
  const m = checkM(opts.m ?? Math.min(2, calendars.length), calendars.length);
  for (const input of inputs) if ('digest' in input) checkDigest(input.digest, input.hashOp ?? 'sha256');

  const files = await digestAll(inputs, opts);
  const tip = makeMerkleTree(files.map((f) => nonceTimestamp(f.timestamp)));

  let answered = 0;
  const report = () => opts.onProgress?.({ phase: 'submit', done: answered, total: calendars.length });
  report();
  const outcomes = await Promise.all(
    calendars.map(async (calendar): Promise<CalendarOutcome & { reply?: Timestamp }> => {
      try {
        const reply = await submitDigest(calendar, tip.msg, {
          timeoutMs: opts.timeoutMs ?? DEFAULT_CALENDAR_TIMEOUT_MS,
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
        return { calendar, ok: true, reply };
      } catch (err) {
        if (!isLightproofError(err)) throw err;
        return { calendar, ok: false, error: err };
      } finally {
        answered++;
        report();
      }
    }),
  );
  if (opts.signal?.aborted) {
    throw new LightproofError('LP_OTS_CALENDAR_CANCELLED', 'Stamping was cancelled; nothing was written.');
  }
  const replies = outcomes.filter((o) => o.reply);
  if (replies.length < m) {
    const why = outcomes
      .filter((o) => o.error)
      .map((o) => `${o.calendar}: ${o.error!.code} ${o.error!.message}`)
      .join('; ');
    throw new LightproofError(
      'LP_OTS_TOO_FEW_CALENDARS',
      `Only ${replies.length} of ${calendars.length} calendars answered; ${m} are needed (-m). ${why}`,
      {
        status: 502,
        details: { m, answered: replies.length, errors: outcomes.filter((o) => o.error).map(describe) },
      },
    );
  }
  for (const o of replies) tip.merge(o.reply!);
  return {
    files,
    tip: tip.msg,
    calendars: outcomes.map(({ calendar, ok, error }) =>
      error ? { calendar, ok, error } : { calendar, ok },
    ),
  };
}

function describe(o: CalendarOutcome): Record<string, string> {
  return { calendar: o.calendar, code: o.error!.code, message: o.error!.message };
}

function checkM(m: number, n: number): number {
  if (n === 0) {
    throw new LightproofError(
      'LP_OTS_BAD_CALENDARS',
      'No calendar to stamp with; give at least one with -c URL.',
    );
  }
  if (!Number.isInteger(m) || m < 1 || m > n) {
    throw new LightproofError(
      'LP_OTS_BAD_CALENDARS',
      `-m ${m} cannot be met with ${n} calendar${n === 1 ? '' : 's'}; choose 1..${n}, or add calendars with -c.`,
    );
  }
  return m;
}

function checkDigest(digest: Uint8Array, op: FileHashOp): void {
  const want = DIGEST_LENGTHS[op];
  if (!(op in DIGEST_LENGTHS) || digest.length !== want) {
    throw new LightproofError(
      'LP_OTS_BAD_DIGEST',
      `A ${op} digest is ${want} bytes (${want * 2} hex characters), not ${digest.length}; check the digest and --hash.`,
      { details: { op, length: digest.length } },
    );
  }
}

async function digestAll(
  inputs: readonly StampInput[],
  opts: StampOptions,
): Promise<DetachedTimestampFile[]> {
  const sizes = await Promise.all(inputs.map((i) => ('path' in i ? fileSize(i.path) : 0)));
  let total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const onBytes = (n: number) => {
    done += n;
    if (done > total) total = done;
    opts.onProgress?.({ phase: 'hash', done, total });
  };
  const out: DetachedTimestampFile[] = new Array(inputs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < inputs.length) {
      const i = next++;
      const input = inputs[i]!;
      const op = input.hashOp ?? 'sha256';
      const digest =
        'digest' in input
          ? input.digest.slice()
          : 'path' in input
            ? await hashFile(input.path, op, onBytes)
            : await hashStream(input.stream, op, onBytes);
      out[i] = new DetachedTimestampFile(op, new Timestamp(digest));
    }
  };
  const workers = Math.max(1, Math.min(opts.hashConcurrency ?? 4, inputs.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return out;
}
