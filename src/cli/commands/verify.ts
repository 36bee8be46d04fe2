/**
 * `lightproof verify FILE`: a receipt, a log-entry proof bundle, a checkpoint note, a model manifest or
 * an .ots proof, checked as far down as it goes (Bitcoin block headers), and said in plain words.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import {
  detectKind,
  formatReport,
  MAX_VERIFY_BYTES,
  type VerifyAnyOptions,
  verifyAny,
} from '../../provenance/verify/index.js';
import { checkHeaderFlags, type HeaderFlags, headerOptions, headerSourceFromFlags } from './header-flags.js';
import { collect, seconds, usage } from './ots-shared.js';

interface VerifyCliOptions extends HeaderFlags {
  timeout?: string;
  key?: string[];
  dir?: string;
  json?: boolean;
}

export function registerVerify(program: Command): void {
  const verify = program
    .command('verify')
    .description(
      'Check a receipt, a log proof, a checkpoint, a manifest or an .ots file down to Bitcoin block headers',
    )
    .argument('<file>', 'what to verify; its kind is read from its contents');
  headerOptions(verify)
    .option('--timeout <seconds>', 'per header request (default 10)')
    .option(
      '--key <key>',
      'a key you trust, or a file holding one: a receipt key (64 hex) or a log verifier key (name+hash+base64); repeatable',
      collect,
    )
    .option('--dir <dir>', 'for a manifest: the model directory to compare with it')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
A checkpoint note or a manifest is checked with the .ots beside it (FILE.ots); an .ots file with the
file it stamps (FILE without .ots). Without a header source, what a proof says about time is listed
as not proved. Exit status 0 only when everything checked verified; 1 when anything failed; 2 for a
usage error.

Example:
  $ lightproof verify receipt.txt --key 5f0c...e1a2
  $ lightproof verify entry-42.proof.json --key agent-log.pub --bitcoin-node http://user:pass@127.0.0.1:8332
  $ lightproof verify agent-log/checkpoints/8.txt --key agent-log/log.pub --headers headers.txt
  $ lightproof verify llama.manifest.json --dir ./llama --esplora https://blockstream.info/api
  $ lightproof verify report.pdf.ots --headers mainnet-headers.txt
In order: a receipt (the Lightproof-Receipt header value, or JSON {"header": ..., "key": ...});
a log entry with its proof (from \`lightproof log prove\`); a checkpoint note (with checkpoints/8.txt.ots
beside it); a model manifest (with llama.manifest.json.ots beside it) and the model directory; an .ots
proof (beside the file it stamps).`,
    )
    .action(async (file: string, opts: VerifyCliOptions, cmd: Command) => {
      const hasSource = checkHeaderFlags(cmd, opts, false);
      const timeoutMs = seconds(cmd, '--timeout', opts.timeout, 10) * 1000;
      const keys = (opts.key ?? []).map((k) => readKey(cmd, k));
      const bytes = readInput(file);
      const { kind } = detectKind(bytes);
      const input: VerifyAnyOptions = { keys, ...(opts.dir !== undefined ? { dir: opts.dir } : {}) };
      if (kind === 'checkpoint' || kind === 'manifest') {
        const ots = readIfPresent(`${file}.ots`);
        if (ots) Object.assign(input, { ots, otsName: `${file}.ots` });
      }
      if (kind === 'checkpoint') {
        const nearby = [join(dirname(file), '..', 'log.pub'), join(dirname(file), 'log.pub')]
          .map(readIfPresent)
          .find((b) => b !== undefined);
        if (nearby) input.nearbyKey = new TextDecoder().decode(nearby).trim();
      }
      if (kind === 'ots' && file.endsWith('.ots')) {
        const targetName = file.slice(0, -'.ots'.length);
        const target = readIfPresent(targetName);
        if (target) Object.assign(input, { target, targetName });
      }
      if (hasSource) input.headers = await headerSourceFromFlags(opts, timeoutMs);
      let report: Awaited<ReturnType<typeof verifyAny>>;
      try {
        report = await verifyAny(bytes, input);
      } finally {
        input.headers?.close?.();
      }
      process.stdout.write(opts.json ? `${toJson(report)}\n` : formatReport(report));
      if (!report.ok) {
        const first = report.failures[0]!;
        throw new LightproofError(first.code, `${file} did not verify: ${first.message}`);
      }
    });
}

/** A --key value is the key itself, or a file holding it (log.pub). */
function readKey(cmd: Command, value: string): string {
  const bad = () =>
    usage(
      cmd,
      'LP_VERIFY_BAD_KEY',
      `--key '${value.slice(0, 80)}' is not a key (64 hex, or name+hash+base64) nor a small file holding one.`,
    );
  const asKey = (text: string) =>
    /^[0-9a-fA-F]{64}$/.test(text)
      ? text.toLowerCase()
      : /^[^\s+]+\+[0-9a-f]{8}\+\S+$/.test(text)
        ? text
        : undefined;
  if (!existsSync(value)) return asKey(value) ?? bad();
  const bytes = readIfPresent(value);
  if (bytes === undefined || bytes.length > 4096) return bad();
  return asKey(new TextDecoder().decode(bytes).trim()) ?? bad();
}

function readIfPresent(path: string): Uint8Array | undefined {
  try {
    if (!statSync(path).isFile() || statSync(path).size > MAX_VERIFY_BYTES) return undefined;
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

function readInput(path: string): Uint8Array {
  try {
    const size = statSync(path).size;
    if (size > MAX_VERIFY_BYTES) {
      throw new LightproofError(
        'LP_VERIFY_TOO_LARGE',
        `${path} is ${size} bytes; nothing lightproof verifies is that large.`,
      );
    }
    return readFileSync(path);
  } catch (err) {
    if (err instanceof LightproofError) throw err;
    const why =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message;
    throw new LightproofError('LP_VERIFY_UNREADABLE', `Cannot read ${path}: ${why}.`);
  }
}
