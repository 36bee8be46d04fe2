/** `lightproof log prove` and `lightproof log checkpoint`: the commands that sign, stamp and prove. */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Command } from 'commander';
import { isLightproofError, LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import { stampCheckpoint } from '../../provenance/checkpoint-stamp.js';
import { listCheckpoints, loadOrCreateLogKey, writeCheckpoint } from '../../provenance/checkpoint-store.js';
import { type MerkleLog, openLog } from '../../provenance/log/index.js';
import { type LogProofBundle, makeLogProof } from '../../provenance/log-proof.js';
import { parseCount } from '../args.js';
import { print } from '../context.js';
import { asUsage, calendarFlags, collect, usage, warn, writeNewFiles } from './ots-shared.js';

/**
 * Opens an existing log for one command and always closes it, so its lock never outlives the command.
 * Commands that only read open it `readOnly`: no lock, so they work while a gateway or wallet writes it.
 */
export async function withLog<T>(
  dir: string,
  fn: (log: MerkleLog) => Promise<T> | T,
  opts: { readOnly?: boolean } = {},
): Promise<T> {
  const log = await openLog(dir, opts).catch((err: unknown) => {
    if (!isLightproofError(err, 'LP_LOG_NOT_FOUND')) throw err;
    throw new LightproofError(
      err.code,
      `${dir} is not a log (it has no log.json); create one with \`lightproof log init ${dir} --origin NAME\`.`,
      { details: { dir } },
    );
  });
  try {
    return await fn(log);
  } finally {
    await log.close();
  }
}

export function registerLogProve(log: Command): void {
  log
    .command('prove')
    .description('Write the proof bundle for entry INDEX: entry, inclusion proof, signed checkpoint, .ots')
    .argument('<dir>', 'the log directory')
    .argument('<index>', 'the entry to prove')
    .option('--size <n>', 'prove against the checkpoint of this tree size (signed now if missing)')
    .option('-o, --out <file>', 'write the bundle here (never overwritten) instead of stdout')
    .addHelpText(
      'after',
      `
Without --size the bundle uses the largest checkpoint covering the entry that is anchored in
Bitcoin, else the largest stamped one, else the largest; if none covers it, the log's current tree
is signed now. Anyone can check the bundle with \`lightproof verify FILE\`. Proving reads without the
log's lock; only signing needs it, so while a gateway or wallet writes the log (LP_LOG_LOCKED) pass
--size of an existing checkpoint, or sign where the log is written.

Example:
  $ lightproof log prove ./agent-log 41 --out entry41.proof.json
  $ lightproof log prove ./agent-log 41 --size 1000 > entry41.proof.json`,
    )
    .action(async (dir: string, indexArg: string, opts: { size?: string; out?: string }, cmd: Command) => {
      const max = Number.MAX_SAFE_INTEGER;
      const index = asUsage(cmd, () => parseCount(indexArg, 'INDEX', max));
      const size =
        opts.size === undefined ? undefined : asUsage(cmd, () => parseCount(opts.size!, '--size', max));
      const bundle = await prove(dir, index, size);
      const json = `${toJson(bundle)}\n`;
      if (opts.out === undefined) process.stdout.write(json);
      else {
        await writeNewFiles([{ path: opts.out, bytes: Buffer.from(json) }]);
        warn(
          `Wrote ${opts.out}: entry ${index} in the tree of ${bundle.treeSize} entries${bundle.ots ? ', with its .ots' : ''}.`,
        );
      }
    });
}

/**
 * Proves from a read-only snapshot, so a running writer does not stand in the way; only when a
 * checkpoint must be signed is the log opened for writing, which needs its lock.
 */
async function prove(dir: string, index: number, size: number | undefined): Promise<LogProofBundle> {
  const opts = size === undefined ? {} : { size };
  try {
    return await withLog(dir, (l) => makeLogProof(l, index, opts), { readOnly: true });
  } catch (err) {
    if (!isLightproofError(err, 'LP_LOG_READ_ONLY')) throw err;
  }
  try {
    return await withLog(dir, (l) => makeLogProof(l, index, opts));
  } catch (err) {
    if (!isLightproofError(err, 'LP_LOG_LOCKED')) throw err;
    const sizes = listCheckpoints(dir).filter((s) => s > index);
    const what =
      size === undefined ? `No checkpoint covers entry ${index}` : `There is no checkpoint of size ${size}`;
    throw new LightproofError(
      'LP_LOG_LOCKED',
      `${what}, and signing one needs the log's lock, which ${holder(err.details?.pid)} holds to write the log. Sign a checkpoint where the log is written${sizes.length ? `, or pass --size with an existing checkpoint covering the entry: ${sizes.slice(-5).join(', ')}` : ''}.`,
      { details: { ...err.details, index, checkpoints: sizes } },
    );
  }
}

function holder(pid: unknown): string {
  return typeof pid === 'number' ? `process ${pid}` : 'another process';
}

interface CheckpointOptions {
  size?: string;
  stamp?: boolean;
  calendar?: string[];
  m?: string;
  timeout?: string;
  json?: boolean;
}

export function registerLogCheckpoint(log: Command): void {
  log
    .command('checkpoint')
    .description(
      "Sign the log's current tree (C2SP checkpoint) into checkpoints/<size>.txt; --stamp anchors it",
    )
    .argument('<dir>', 'the log directory')
    .option('--size <n>', 'sign the tree at this earlier size instead of the current one')
    .option('--stamp', 'also stamp the checkpoint with OpenTimestamps (writes <size>.txt.ots)')
    .option(
      '-c, --calendar <url>',
      'calendar to stamp with (repeatable; default the four public ones)',
      collect,
    )
    .option('-m <n>', 'calendars that must answer (default min(2, number of calendars))')
    .option('--timeout <seconds>', 'per calendar (default 5)')
    .option('--json', 'print the checkpoint and stamp as JSON')
    .addHelpText(
      'after',
      `
A checkpoint is signed only if the tree is consistent with every earlier checkpoint; a size is
never signed twice with different roots (LP_NOTE_SPLIT_VIEW). Signing an already signed size
prints the stored checkpoint. Upgrade the stamp later with \`lightproof ots upgrade\`.

Example:
  $ lightproof log checkpoint ./agent-log
  $ lightproof log checkpoint ./agent-log --stamp -c http://127.0.0.1:14788 -m 1
  $ lightproof ots upgrade ./agent-log/checkpoints/42.txt.ots`,
    )
    .action(async (dir: string, opts: CheckpointOptions, cmd: Command) => {
      const plan = planCheckpoint(cmd, opts);
      const { cp, stamped } = await withLog(dir, async (l) => {
        const { signer } = loadOrCreateLogKey(dir, l.origin);
        const cp = await writeCheckpoint(l, {
          signer,
          ...(plan.size !== undefined ? { size: plan.size } : {}),
        });
        if (!opts.stamp) return { cp, stamped: undefined };
        const stamped = await stampCheckpoint(cp.path, {
          ...(plan.calendars ? { calendars: plan.calendars } : {}),
          ...(plan.m !== undefined ? { m: plan.m } : {}),
          timeoutMs: plan.timeoutMs,
        });
        return { cp, stamped };
      });
      if (opts.json) {
        print(
          toJson({
            path: cp.path,
            created: cp.created,
            origin: cp.checkpoint.origin,
            size: cp.checkpoint.size,
            root: bytesToHex(cp.checkpoint.root),
            note: cp.note,
            ...(stamped
              ? {
                  ots: {
                    path: stamped.otsPath,
                    created: stamped.created,
                    calendars: stamped.calendars.map((c) => ({
                      calendar: c.calendar,
                      ok: c.ok,
                      ...(c.error ? { error: c.error.toJSON() } : {}),
                    })),
                  },
                }
              : {}),
          }),
        );
        return;
      }
      process.stdout.write(cp.note);
      warn(`${cp.created ? 'Signed' : 'Already signed'}: ${cp.path}`);
      if (stamped) {
        for (const c of stamped.calendars)
          if (c.error) warn(`warning: ${c.calendar}: ${c.error.code} ${c.error.message}`);
        warn(
          stamped.created
            ? `Stamped: ${stamped.otsPath} (pending; run \`lightproof ots upgrade ${stamped.otsPath}\` in a few hours).`
            : `Already stamped: ${stamped.otsPath}`,
        );
      }
    });
}

function planCheckpoint(
  cmd: Command,
  opts: CheckpointOptions,
): { size?: number; calendars?: string[]; m?: number; timeoutMs: number } {
  const size =
    opts.size === undefined
      ? undefined
      : asUsage(cmd, () => parseCount(opts.size!, '--size', Number.MAX_SAFE_INTEGER));
  if (!opts.stamp && (opts.calendar || opts.m !== undefined || opts.timeout !== undefined)) {
    usage(cmd, 'LP_CLI_USAGE', '-c, -m and --timeout only apply with --stamp; add --stamp.');
  }
  return { ...(size !== undefined ? { size } : {}), ...calendarFlags(cmd, opts) };
}
