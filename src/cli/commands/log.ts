import { readFileSync, statSync } from 'node:fs';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Command } from 'commander';
import { isLightproofError, LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import { listCheckpoints, loadOrCreateLogKey } from '../../provenance/checkpoint-store.js';
import { MAX_ENTRY_BYTES, type MerkleLog, openLog } from '../../provenance/log/index.js';
import { auditLog } from '../../provenance/log-audit.js';
import { isValidKeyName } from '../../provenance/note.js';
import { parseCount } from '../args.js';
import { print } from '../context.js';
import { progressBar } from '../progress.js';
import { registerLogCheckpoint, registerLogProve, withLog } from './log-prove.js';
import { asUsage, usage } from './ots-shared.js';

export function registerLog(program: Command): void {
  const log = program
    .command('log')
    .description(
      'Tamper-evident Merkle logs: append entries, sign checkpoints, stamp them in Bitcoin, prove entries',
    )
    // Subcommands inherit this, so their usage errors reach main and exit 2 rather than commander's 1.
    .exitOverride()
    .addHelpText(
      'after',
      `
Example:
  $ lightproof log init ./agent-log --origin example.com/agent-log
  $ lightproof log append ./agent-log '{"decision":"buy","sats":21}'
  $ lightproof log checkpoint ./agent-log --stamp
  $ lightproof log prove ./agent-log 0 --out entry0.proof.json
  $ lightproof verify entry0.proof.json
  $ lightproof log verify ./agent-log`,
    );
  registerInit(log);
  registerAppend(log);
  registerShow(log);
  registerLogProve(log);
  registerLogCheckpoint(log);
  registerVerify(log);
}

function registerInit(log: Command): void {
  log
    .command('init')
    .description('Create a log in DIR, with its signing key (log.key, 0600) and public key (log.pub)')
    .argument('<dir>', 'directory for the log (created if missing)')
    .requiredOption(
      '--origin <origin>',
      "the log's name, first line of its checkpoints, e.g. example.com/agent-log",
    )
    .option('--json', 'print the origin and public key as JSON')
    .addHelpText(
      'after',
      `
The origin also names the signing key, so it must have no spaces and no '+'. Running init again
on the same log with the same origin changes nothing.

Example:
  $ lightproof log init ./agent-log --origin example.com/agent-log`,
    )
    .action(async (dir: string, opts: { origin: string; json?: boolean }, cmd: Command) => {
      if (!isValidKeyName(opts.origin) || opts.origin.length > 255 || !/^[\x21-\x7e]+$/.test(opts.origin)) {
        usage(
          cmd,
          'LP_NOTE_BAD_NAME',
          `--origin '${opts.origin.slice(0, 80)}' must be 1..255 printable ASCII characters without spaces or '+', e.g. example.com/agent-log.`,
        );
      }
      const l = await openLog(dir, { create: true, origin: opts.origin });
      try {
        const key = loadOrCreateLogKey(dir, l.origin);
        if (opts.json) print(toJson({ dir, origin: l.origin, size: l.size(), verifierKey: key.verifierKey }));
        else
          print(`Log ${l.origin} in ${dir} (${l.size()} entries).\nPublic key (log.pub): ${key.verifierKey}`);
      } finally {
        await l.close();
      }
    });
}

function registerAppend(log: Command): void {
  log
    .command('append')
    .description('Append one entry (text, a file, or stdin) and print its index once it is durable')
    .argument('<dir>', 'the log directory')
    .argument('[text]', 'the entry as UTF-8 text; - reads the entry from stdin')
    .option('-f, --file <file>', 'append the bytes of this file')
    .option('--json', 'print the index and leaf hash as JSON')
    .addHelpText(
      'after',
      `
The command returns once the entry is on disk (fsync). Entries are at most ${MAX_ENTRY_BYTES} bytes.

Example:
  $ lightproof log append ./agent-log '{"decision":"buy","sats":21}'
  $ lightproof log append ./agent-log --file receipt.json
  $ echo hello | lightproof log append ./agent-log -`,
    )
    .action(
      async (
        dir: string,
        text: string | undefined,
        opts: { file?: string; json?: boolean },
        cmd: Command,
      ) => {
        if ((text === undefined) === (opts.file === undefined)) {
          usage(cmd, 'LP_CLI_USAGE', 'Give the entry as TEXT, - for stdin, or --file FILE (exactly one).');
        }
        const entry =
          opts.file !== undefined
            ? readEntryFile(opts.file)
            : text === '-'
              ? readStdin()
              : Buffer.from(text!);
        const { index, leafHash } = await withLog(dir, (l) => l.append(entry));
        if (opts.json) print(toJson({ index, leafHash: bytesToHex(leafHash) }));
        else print(String(index));
      },
    );
}

function readEntryFile(path: string): Uint8Array {
  try {
    if (statSync(path).size > MAX_ENTRY_BYTES) {
      throw new LightproofError(
        'LP_LOG_ENTRY_TOO_LARGE',
        `${path} is larger than an entry may be (${MAX_ENTRY_BYTES} bytes); append its digest or a manifest instead.`,
      );
    }
    return readFileSync(path);
  } catch (err) {
    if (isLightproofError(err)) throw err;
    throw new LightproofError(
      'LP_CLI_FILE_UNREADABLE',
      `Cannot read ${path}: ${(err as Error).message}; check the path.`,
    );
  }
}

function readStdin(): Uint8Array {
  const bytes = readFileSync(0);
  if (bytes.length > MAX_ENTRY_BYTES) {
    throw new LightproofError(
      'LP_LOG_ENTRY_TOO_LARGE',
      `stdin held ${bytes.length} bytes, more than an entry may be (${MAX_ENTRY_BYTES}); append its digest instead.`,
    );
  }
  return bytes;
}

interface ShowOptions {
  from?: string;
  to?: string;
  json?: boolean;
}

function registerShow(log: Command): void {
  log
    .command('show')
    .description('Print the log: origin, size, root, latest checkpoint, and entries FROM..TO')
    .argument('<dir>', 'the log directory')
    .option('--from <index>', 'first entry to print (default 0)')
    .option('--to <index>', 'print entries before this index (default: the size)')
    .option('--json', 'print the summary and entries as JSON')
    .addHelpText(
      'after',
      `
Each entry prints as: index, leaf hash, then the entry as a JSON string if it is text, or base64.
It reads without the log's lock, so it works while a gateway or wallet writes the log.

Example:
  $ lightproof log show ./agent-log
  $ lightproof log show ./agent-log --from 100 --to 110 --json`,
    )
    .action(async (dir: string, opts: ShowOptions, cmd: Command) => {
      const from =
        opts.from === undefined
          ? 0
          : asUsage(cmd, () => parseCount(opts.from!, '--from', Number.MAX_SAFE_INTEGER));
      const to =
        opts.to === undefined
          ? undefined
          : asUsage(cmd, () => parseCount(opts.to!, '--to', Number.MAX_SAFE_INTEGER));
      await withLog(dir, (l) => show(l, from, to ?? l.size(), opts), { readOnly: true });
    });
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function show(l: MerkleLog, from: number, to: number, opts: ShowOptions): void {
  const size = l.size();
  if (from > to || to > size) {
    throw new LightproofError(
      'LP_LOG_INDEX_OUT_OF_RANGE',
      `--from ${from} --to ${to} is not a range within the log's ${size} entries; choose 0 <= from <= to <= ${size}.`,
    );
  }
  const sizes = listCheckpoints(l.dir);
  const summary = {
    origin: l.origin,
    size,
    root: bytesToHex(l.root()),
    checkpoints: sizes.length,
    latestCheckpoint: sizes.at(-1) ?? null,
  };
  const entries = [];
  for (let i = from; i < to; i++) {
    const bytes = l.entry(i);
    let text: string | undefined;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      text = undefined;
    }
    entries.push({ index: i, leafHash: bytesToHex(l.leafHashAt(i)), bytes, text });
  }
  if (opts.json) {
    const out = entries.map((e) => ({
      index: e.index,
      leafHash: e.leafHash,
      entry: Buffer.from(e.bytes).toString('base64'),
      ...(e.text !== undefined ? { text: e.text } : {}),
    }));
    print(toJson({ ...summary, entries: out }));
    return;
  }
  const latest = summary.latestCheckpoint === null ? 'none' : String(summary.latestCheckpoint);
  print(`# ${l.origin}: ${size} entries, root ${summary.root}, latest checkpoint ${latest}`);
  for (const e of entries) {
    const shown =
      e.text !== undefined ? JSON.stringify(e.text) : `base64:${Buffer.from(e.bytes).toString('base64')}`;
    print(`${e.index} ${e.leafHash} ${shown}`);
  }
}

function registerVerify(log: Command): void {
  log
    .command('verify')
    .description(
      'Replay the whole log: re-hash every entry, check every checkpoint signature, root and consistency',
    )
    .argument('<dir>', 'the log directory')
    .option('--json', 'print the report as JSON')
    .option('-q, --quiet', 'no progress bar')
    .addHelpText(
      'after',
      `
Exits 0 when every entry and checkpoint checks out, 1 naming the first bad entry or checkpoint.
Proofs (.ots) are counted, not checked against Bitcoin; use \`lightproof verify\` on a checkpoint for that.
It reads a snapshot without the log's lock, so it runs while a gateway or wallet writes the log;
a checkpoint signed after the snapshot was taken is left for the next run.

Example:
  $ lightproof log verify ./agent-log`,
    )
    .action(async (dir: string, opts: { json?: boolean; quiet?: boolean }) => {
      // Listed before the snapshot is read, so a checkpoint a running writer signs meanwhile is not
      // mistaken for one of entries the log lost. If listing fails, the audit lists and reports it.
      let checkpoints: number[] | undefined;
      try {
        checkpoints = listCheckpoints(dir);
      } catch {
        checkpoints = undefined;
      }
      const bar = progressBar({ label: 'replaying', unit: 'items', quiet: opts.quiet });
      const report = await withLog(
        dir,
        (l) => auditLog(l, (done, total) => bar.update(done, total), checkpoints ? { checkpoints } : {}),
        { readOnly: true },
      ).finally(() => bar.finish());
      if (opts.json)
        print(
          toJson({
            ...report,
            latest: report.latest
              ? { size: report.latest.size, root: bytesToHex(report.latest.root) }
              : undefined,
          }),
        );
      else if (report.ok) {
        print(
          `OK: ${report.size} entries re-hashed; ${report.checkpoints} checkpoint${report.checkpoints === 1 ? '' : 's'} signed by the log's key and consistent (${report.stamped} stamped, ${report.anchored} anchored in Bitcoin).`,
        );
      }
      if (!report.ok) {
        const p = report.problem!;
        throw new LightproofError(
          p.code,
          `${p.kind === 'entry' ? `entry ${p.at}` : `checkpoint ${p.at}`}: ${p.message}`,
          {
            details: { kind: p.kind, at: p.at },
          },
        );
      }
    });
}
