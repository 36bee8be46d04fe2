/** `lightproof model verify`: a directory against its manifest, then the manifest's stamp against Bitcoin. */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { isLightproofError, LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import { CalendarWhitelist, DEFAULT_WHITELIST } from '../../ots/calendar-client.js';
import { upgradeTimestamp } from '../../ots/upgrade.js';
import { type VerifyReport, verifyFile } from '../../ots/verify.js';
import {
  defaultManifestPath,
  readManifestFile,
  type VerifyModelResult,
  verifyModel,
} from '../../provenance/index.js';
import { progressBar } from '../progress.js';
import { checkHeaderFlags, type HeaderFlags, headerOptions, headerSourceFromFlags } from './header-flags.js';
import { asUsage, collect, readProof, seconds, usage } from './ots-shared.js';

interface VerifyFlags extends HeaderFlags {
  manifest?: string;
  workers?: string;
  upgrade: boolean;
  whitelist?: string[];
  timeout?: string;
  quiet?: boolean;
  json?: boolean;
}

export function registerModelVerify(model: Command): void {
  const verify = model
    .command('verify')
    .description(
      "Check a directory against its manifest, then the manifest's timestamp; exit 0 only if every file matches",
    )
    .argument('<dir>', 'the model directory')
    .option('--manifest <file>', 'the manifest (default DIR.manifest.json)')
    .option('--workers <n>', 'hashing threads (default: every core)');
  headerOptions(verify)
    .option('--no-upgrade', "do not ask calendars for a pending proof's Bitcoin attestation first")
    .option('--whitelist <pattern>', 'also trust calendars matching this URL pattern (repeatable)', collect)
    .option('--timeout <seconds>', 'per calendar or header request (default 10)')
    .option('-q, --quiet', 'no progress bar')
    .option('--json', 'print the full report as JSON')
    .addHelpText(
      'after',
      `
Files are checked first: every changed, missing and extra file is named (paths the manifest
ignores stay ignored). Then, if MANIFEST.ots exists and a header source is given, the stamp is
checked against Bitcoin headers. Exit 0 when every file matches and the stamp, if checked, did not
fail; 1 otherwise (LP_MANIFEST_MISMATCH, LP_OTS_NOT_VERIFIED, ...); 2 for a usage error.

Example:
  $ lightproof model verify ./llama-3-8b
  $ lightproof model verify ./llama-3-8b --manifest llama.manifest.json --headers headers.txt`,
    )
    .action(async (dir: string, flags: VerifyFlags, cmd: Command) => {
      const hasSource = checkHeaderFlags(cmd, flags, false);
      const workers = flags.workers === undefined ? undefined : Number(flags.workers);
      if (workers !== undefined && !/^[1-9][0-9]{0,3}$/.test(flags.workers!))
        usage(cmd, 'LP_CLI_USAGE', `--workers '${flags.workers}' must be a whole number from 1 to 9999.`);
      const timeoutMs = seconds(cmd, '--timeout', flags.timeout, 10) * 1000;
      const whitelist = asUsage(
        cmd,
        () => new CalendarWhitelist([...DEFAULT_WHITELIST, ...(flags.whitelist ?? [])]),
      );
      const path = flags.manifest ?? defaultManifestPath(dir);
      const { manifest, bytes } = readManifestFile(path);

      const bar = progressBar({ label: 'verifying', unit: 'bytes', quiet: flags.quiet || flags.json });
      const files = await verifyModel(dir, manifest, {
        manifestPath: path,
        ...(workers !== undefined ? { workers } : {}),
        onProgress: (p) => bar.update(p.done, p.total),
      }).finally(() => bar.finish());

      const proofPath = `${path}.ots`;
      let stampReport: VerifyReport | undefined;
      let stampNote: string;
      if (!existsSync(proofPath))
        stampNote = `No timestamp: ${proofPath} does not exist (make one with \`lightproof model stamp\`).`;
      else if (!hasSource)
        stampNote = `${proofPath} was not checked; give --headers, --esplora or --bitcoin-node to check it against Bitcoin.`;
      else {
        const proof = readProof(proofPath);
        if (flags.upgrade && !proof.timestamp.isComplete())
          await upgradeTimestamp(proof.timestamp, { whitelist, timeoutMs }).catch((err: unknown) => {
            if (!isLightproofError(err)) throw err;
          });
        const source = await headerSourceFromFlags(flags, timeoutMs);
        try {
          stampReport = await verifyFile(
            proof,
            { digest: createHash('sha256').update(bytes).digest() },
            source,
          );
        } finally {
          source.close?.();
        }
        stampNote = describeStamp(stampReport, proofPath);
      }
      printVerify(dir, path, files, stampReport, stampNote, flags.json ?? false);
    });
}

const iso = (unix: number) => new Date(unix * 1000).toISOString().replace('.000Z', 'Z');

function describeStamp(r: VerifyReport, proofPath: string): string {
  if (r.earliest)
    return `The manifest existed no later than Bitcoin block ${r.earliest.height} (${iso(r.earliest.time)}), by ${proofPath} checked against ${r.source}.`;
  if (r.bitcoin.length === 0)
    return `${proofPath} is still pending: no Bitcoin attestation yet; run \`lightproof ots upgrade ${proofPath}\` later.`;
  const worst = r.bitcoin.find((c) => c.result === 'mismatch') ?? r.bitcoin[0]!;
  return `${proofPath} did NOT verify against ${r.source}: ${worst.error?.message ?? worst.result}`;
}

function printVerify(
  dir: string,
  path: string,
  files: VerifyModelResult,
  stampReport: VerifyReport | undefined,
  stampNote: string,
  json: boolean,
): void {
  const stampFailed = stampReport !== undefined && !stampReport.verified && stampReport.bitcoin.length > 0;
  const count = files.listed;
  if (json) {
    const stampJson = stampReport
      ? {
          checked: true,
          verified: stampReport.verified,
          ...(stampReport.earliest
            ? { earliest: { ...stampReport.earliest, iso: iso(stampReport.earliest.time) } }
            : {}),
          source: stampReport.source,
        }
      : { checked: false };
    process.stdout.write(
      `${toJson({ manifest: path, ...files, stamp: { ...stampJson, note: stampNote } })}\n`,
    );
  } else {
    const out: string[] = [];
    if (files.ok) out.push(`All ${count} files in ${dir} match ${path} (root sha256 ${files.root}).`);
    else {
      out.push(`${dir} does NOT match ${path}:`);
      for (const f of files.changed) out.push(`  changed: ${f}`);
      for (const f of files.missing) out.push(`  missing: ${f}`);
      for (const f of files.extra) out.push(`  extra:   ${f}`);
    }
    out.push(stampNote);
    if (files.ok)
      out.push(
        'This proves the files are the ones listed; it does not prove what they contain is true or safe.',
      );
    process.stdout.write(`${out.join('\n')}\n`);
  }
  if (!files.ok) {
    const n = files.changed.length + files.missing.length + files.extra.length;
    throw new LightproofError(
      'LP_MANIFEST_MISMATCH',
      `${n} file${n === 1 ? ' differs' : 's differ'} from the manifest (${files.changed.length} changed, ${files.missing.length} missing, ${files.extra.length} extra).`,
    );
  }
  if (stampFailed) throw new LightproofError('LP_OTS_NOT_VERIFIED', stampNote);
}
