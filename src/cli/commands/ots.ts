import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { toJson } from '../../core/json.js';
import { serializeOts } from '../../ots/index.js';
import { formatInfo } from '../../ots/info.js';
import { type CalendarOutcome, type StampInput, stamp } from '../../ots/stamp.js';
import { progressBar } from '../progress.js';
import {
  calendarFlags,
  collect,
  digestArg,
  hashOp,
  outputExists,
  readProof,
  usage,
  warn,
  writeNewFiles,
} from './ots-shared.js';
import { registerUpgrade } from './ots-upgrade.js';
import { registerVerify } from './ots-verify.js';

export function registerOts(program: Command): void {
  const ots = program
    .command('ots')
    .description(
      'OpenTimestamps: prove that files existed, anchored in Bitcoin (stamp, upgrade, verify, info)',
    )
    // Subcommands inherit this, so their usage errors reach main and exit 2 rather than commander's 1.
    .exitOverride()
    .addHelpText(
      'after',
      `
Example:
  $ lightproof ots stamp report.pdf          # writes report.pdf.ots (pending)
  $ lightproof ots upgrade report.pdf.ots    # a few hours later: adds the Bitcoin attestation
  $ lightproof ots verify report.pdf.ots --esplora https://blockstream.info/api
  $ lightproof ots info report.pdf.ots`,
    );
  registerStamp(ots);
  registerUpgrade(ots);
  registerVerify(ots);
  registerInfo(ots);
}

interface StampOptions {
  digest?: string[];
  hash: string;
  calendar?: string[];
  m?: string;
  timeout?: string;
  outputDir?: string;
  quiet?: boolean;
  json?: boolean;
}

function registerStamp(ots: Command): void {
  ots
    .command('stamp')
    .description(
      'Stamp files (or raw digests) in one Merkle tree and submit it to calendars; writes FILE.ots',
    )
    .argument('[files...]', 'files to stamp; - reads stdin and writes its proof to stdout')
    .option('-d, --digest <hex>', 'stamp a digest instead of a file; writes <hex>.ots (repeatable)', collect)
    .option('--hash <op>', 'hash for files and --digest: sha256, sha1, ripemd160, keccak256', 'sha256')
    .option(
      '-c, --calendar <url>',
      'calendar to submit to (repeatable; default the four public ones)',
      collect,
    )
    .option('-m <n>', 'calendars that must answer (default min(2, number of calendars))')
    .option('--timeout <seconds>', 'per calendar (default 5)')
    .option('-o, --output-dir <dir>', 'write the .ots files here instead of beside each file')
    .option('-q, --quiet', 'no progress bar and no warnings')
    .option('--json', 'print what was written and what each calendar said as JSON')
    .addHelpText(
      'after',
      `
Each file gets its own random nonce, so a proof reveals nothing about the others stamped with it.
An existing .ots file is never overwritten (LP_OTS_OUTPUT_EXISTS). Fewer than -m answering
calendars fails with LP_OTS_TOO_FEW_CALENDARS and writes nothing.

Example:
  $ lightproof ots stamp report.pdf data.csv
  $ lightproof ots stamp -d 03ba204e50d126e4674c005e04d82e84c21366780af1f43bd54a37816b6ab340 -c http://127.0.0.1:14788 -m 1
  $ tar c dir | lightproof ots stamp - > dir.tar.ots`,
    )
    .action(async (files: string[], opts: StampOptions, cmd: Command) => {
      const plan = planStamp(cmd, files, opts);
      const hashing = progressBar({ label: 'hashing', unit: 'bytes', quiet: opts.quiet });
      const asking = progressBar({ label: 'calendars', unit: 'items', quiet: opts.quiet });
      const result = await stamp(
        plan.inputs.map((i) => i.input),
        {
          ...(plan.calendars ? { calendars: plan.calendars } : {}),
          ...(plan.m !== undefined ? { m: plan.m } : {}),
          timeoutMs: plan.timeoutMs,
          onProgress: (p) => {
            if (p.phase === 'hash') return hashing.update(p.done, p.total);
            hashing.finish();
            asking.update(p.done, p.total);
          },
        },
      ).finally(() => {
        hashing.finish();
        asking.finish();
      });
      const toWrite: { path: string; bytes: Uint8Array }[] = [];
      const written = result.files.map((file, i) => {
        const { name, out } = plan.inputs[i]!;
        const bytes = serializeOts(file);
        if (out === null) process.stdout.write(bytes);
        else toWrite.push({ path: out, bytes });
        return { input: name, output: out, digest: Buffer.from(file.digest).toString('hex') };
      });
      await writeNewFiles(toWrite);
      reportStamp(written, result.calendars, opts);
    });
}

interface StampPlan {
  inputs: { input: StampInput; name: string; out: string | null }[];
  calendars: string[] | undefined;
  m: number | undefined;
  timeoutMs: number;
}

/** Checks everything a stamp needs before any file is hashed or any calendar asked. */
function planStamp(cmd: Command, files: string[], opts: StampOptions): StampPlan {
  const op = hashOp(cmd, opts.hash);
  const where = (name: string) => `${opts.outputDir ? join(opts.outputDir, basename(name)) : name}.ots`;
  if (files.filter((f) => f === '-').length > 1)
    usage(cmd, 'LP_CLI_USAGE', 'stdin (-) can be stamped only once.');
  if (files.includes('-') && opts.json)
    usage(cmd, 'LP_CLI_USAGE', '--json cannot share stdout with a proof for -.');
  const inputs: StampPlan['inputs'] = files.map((f) =>
    f === '-'
      ? { input: { stream: process.stdin, hashOp: op }, name: '-', out: null }
      : { input: { path: f, hashOp: op }, name: f, out: where(f) },
  );
  for (const hex of opts.digest ?? []) {
    const digest = digestArg(cmd, hex, op, '--digest');
    inputs.push({ input: { digest, hashOp: op }, name: hex.toLowerCase(), out: where(hex.toLowerCase()) });
  }
  if (inputs.length === 0) {
    usage(cmd, 'LP_OTS_NOTHING_TO_STAMP', 'Give at least one FILE, - for stdin, or --digest HEX.');
  }
  const { calendars, m, timeoutMs } = calendarFlags(cmd, opts);
  const seen = new Set<string>();
  for (const { out } of inputs) {
    if (out === null) continue;
    if (existsSync(out) || seen.has(out)) throw outputExists(out);
    seen.add(out);
  }
  return { inputs, calendars, m, timeoutMs };
}

function reportStamp(
  written: { input: string; output: string | null; digest: string }[],
  calendars: readonly CalendarOutcome[],
  opts: StampOptions,
): void {
  if (opts.json) {
    const answers = calendars.map((c) => ({
      calendar: c.calendar,
      ok: c.ok,
      ...(c.error ? { error: c.error.toJSON() } : {}),
    }));
    process.stdout.write(`${toJson({ files: written, calendars: answers })}\n`);
    return;
  }
  if (opts.quiet) return;
  for (const c of calendars) if (c.error) warn(`warning: ${c.calendar}: ${c.error.code} ${c.error.message}`);
  const ok = calendars.filter((c) => c.ok).length;
  warn(
    `Stamped ${written.length} input${written.length === 1 ? '' : 's'} with ${ok} of ${calendars.length} calendars; run \`lightproof ots upgrade\` in a few hours to anchor in Bitcoin.`,
  );
}

function registerInfo(ots: Command): void {
  ots
    .command('info')
    .description('Print the proof tree, as the ots client does')
    .argument('<proof>', 'the .ots file, or - for stdin')
    .option('-v, --verbose', "show each operation's result")
    .addHelpText(
      'after',
      '\nExample:\n  $ lightproof ots info hello-world.txt.ots\n  $ lightproof ots info -v hello-world.txt.ots',
    )
    .action((proof: string, opts: { verbose?: boolean }) => {
      process.stdout.write(formatInfo(readProof(proof), { verbose: opts.verbose ?? false }));
    });
}
