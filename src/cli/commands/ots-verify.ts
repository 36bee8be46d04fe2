/** `lightproof ots verify`: check a proof against Bitcoin block headers from a node, an Esplora API or a file. */
import { hexToBytes } from '@noble/hashes/utils.js';
import type { Command } from 'commander';
import { isLightproofError, LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import { CalendarWhitelist, DEFAULT_WHITELIST } from '../../ots/calendar-client.js';
import { hashFile } from '../../ots/hash-file.js';
import { describeAttestation } from '../../ots/index.js';
import { upgradeTimestamp } from '../../ots/upgrade.js';
import { type VerifyReport, verifyFile } from '../../ots/verify.js';
import { checkHeaderFlags, type HeaderFlags, headerOptions, headerSourceFromFlags } from './header-flags.js';
import { asUsage, collect, readProof, seconds, usage, warn } from './ots-shared.js';

interface VerifyCliOptions extends HeaderFlags {
  file?: string;
  digest?: string;
  upgrade: boolean;
  whitelist?: string[];
  timeout?: string;
  json?: boolean;
}

export function registerVerify(ots: Command): void {
  const verify = ots
    .command('verify')
    .description('Check a proof against Bitcoin block headers; exit 0 only when an attestation verified')
    .argument('<proof>', 'the .ots file')
    .option('-f, --file <target>', 'the stamped file (default: the proof name without .ots)')
    .option('-d, --digest <hex>', 'the stamped digest, instead of a file');
  headerOptions(verify)
    .option('--no-upgrade', "do not ask calendars for a pending proof's Bitcoin attestation first")
    .option('--whitelist <pattern>', 'also trust calendars matching this URL pattern (repeatable)', collect)
    .option('--timeout <seconds>', 'per calendar or header request (default 10)')
    .option('--json', 'print the full report as JSON')
    .addHelpText(
      'after',
      `
Every header is checked for proof of work before its merkle root is compared. A pending proof is
first upgraded in memory from whitelisted calendars (the file is not rewritten; --no-upgrade skips it).
Exit status 0 when a Bitcoin attestation verified; 1 otherwise (LP_OTS_INCOMPLETE, LP_OTS_NOT_VERIFIED,
LP_OTS_DIGEST_MISMATCH, ...); 2 for a usage error.

Example:
  $ lightproof ots verify hello-world.txt.ots --headers mainnet-headers.txt
  $ lightproof ots verify report.pdf.ots --bitcoin-node http://127.0.0.1:8332 --rpc-cookie ~/.bitcoin/.cookie
  $ lightproof ots verify -d 03ba204e...b340 hello-world.txt.ots --esplora https://blockstream.info/api`,
    )
    .action(async (proof: string, opts: VerifyCliOptions, cmd: Command) => {
      if (opts.file !== undefined && opts.digest !== undefined)
        usage(cmd, 'LP_CLI_USAGE', 'Give -f FILE or -d HEX, not both.');
      checkHeaderFlags(cmd, opts, true);
      const target = opts.file ?? (opts.digest === undefined ? proof.replace(/\.ots$/, '') : undefined);
      if (target === proof)
        usage(
          cmd,
          'LP_CLI_USAGE',
          `${proof} does not end in .ots; name the stamped file with -f or its digest with -d.`,
        );
      if (opts.digest !== undefined && !/^([0-9a-fA-F]{2})+$/.test(opts.digest))
        usage(cmd, 'LP_OTS_BAD_DIGEST', '-d takes the digest in hex.');
      const whitelist = asUsage(
        cmd,
        () => new CalendarWhitelist([...DEFAULT_WHITELIST, ...(opts.whitelist ?? [])]),
      );
      const timeoutMs = seconds(cmd, '--timeout', opts.timeout, 10) * 1000;

      const file = readProof(proof);
      const digest =
        target === undefined ? hexToBytes(opts.digest!.toLowerCase()) : await hashFile(target, file.hashOp);
      if (opts.upgrade && !file.timestamp.isComplete()) {
        await upgradeTimestamp(file.timestamp, { whitelist, timeoutMs }).catch((err: unknown) => {
          if (!isLightproofError(err)) throw err;
        });
      }
      const source = await headerSourceFromFlags(opts, timeoutMs);
      let report: VerifyReport;
      try {
        report = await verifyFile(file, { digest }, source);
      } finally {
        source.close?.();
      }
      printVerify(report, opts.json ?? false);
    });
}

const iso = (unix: number) => new Date(unix * 1000).toISOString().replace('.000Z', 'Z');

function printVerify(report: VerifyReport, json: boolean): void {
  if (json) {
    process.stdout.write(
      `${toJson({
        verified: report.verified,
        ...(report.earliest ? { earliest: { ...report.earliest, iso: iso(report.earliest.time) } } : {}),
        bitcoin: report.bitcoin.map((c) => ({ ...c, msg: Buffer.from(c.msg).toString('hex') })),
        others: report.others.map((o) => ({
          attestation: describeAttestation(o.attestation),
          reason: o.reason,
        })),
        source: report.source,
      })}\n`,
    );
  }
  const first = report.earliest;
  if (first) {
    if (!json) {
      process.stdout.write(
        `Success! Bitcoin block ${first.height} attests existence as of ${iso(first.time)}\n`,
      );
      process.stdout.write(
        `block ${first.height}, hash ${first.blockHash}, time ${first.time} (${iso(first.time)}), headers from ${report.source}\n`,
      );
      if (!first.heightChecked)
        warn('note: the header source holds no heights; the block was found by its merkle root.');
    }
    return;
  }
  for (const c of report.bitcoin)
    if (c.error) warn(`Bitcoin block ${c.height}: ${c.error.code} ${c.error.message}`);
  for (const o of report.others) warn(o.reason);
  if (report.bitcoin.length === 0) {
    throw new LightproofError(
      'LP_OTS_INCOMPLETE',
      'The proof has no Bitcoin attestation yet; calendars anchor every few hours, so run `lightproof ots upgrade` later.',
    );
  }
  const worst = report.bitcoin.find((c) => c.result === 'mismatch') ?? report.bitcoin[0]!;
  throw new LightproofError(
    'LP_OTS_NOT_VERIFIED',
    `No Bitcoin attestation verified against ${report.source}: ${worst.error?.code ?? worst.result} at block ${worst.height}.`,
    {
      details: {
        checks: report.bitcoin.map((c) => ({ height: c.height, result: c.result, code: c.error?.code })),
      },
    },
  );
}
