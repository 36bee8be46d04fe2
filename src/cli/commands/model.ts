/** `lightproof model hash|stamp|verify`: manifests of model and dataset directories, stamped in Bitcoin. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  type BitcoinNetwork,
  bitcoinRpc,
  esploraHeaderSource,
  fileHeaderSource,
  type HeaderSource,
  isBitcoinNetwork,
  rpcHeaderSource,
} from '../../bitcoin/index.js';
import { isLightproofError, LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import { CalendarWhitelist, checkCalendarUrl, DEFAULT_WHITELIST } from '../../ots/calendar-client.js';
import { serializeOts } from '../../ots/index.js';
import { stamp } from '../../ots/stamp.js';
import { upgradeTimestamp } from '../../ots/upgrade.js';
import { type VerifyReport, verifyFile } from '../../ots/verify.js';
import {
  type HashModelOptions,
  hashModel,
  MAX_MANIFEST_BYTES,
  type Manifest,
  parseManifest,
  serializeManifest,
  verifyModel,
} from '../../provenance/index.js';
import { formatBytes, progressBar } from '../progress.js';
import {
  asUsage,
  collect,
  outputExists,
  readProof,
  seconds,
  usage,
  warn,
  writeNewFiles,
} from './ots-shared.js';

interface HashFlags {
  out?: string;
  shardSize?: string;
  files?: boolean;
  workers?: string;
  ignore?: string[];
  allowSymlinks?: boolean;
  ignoreGitPaths: boolean;
  force?: boolean;
  quiet?: boolean;
  json?: boolean;
}

export function registerModel(program: Command): void {
  const model = program
    .command('model')
    .description(
      'Model and dataset manifests: hash every file on every core, stamp, verify (OMS v1.0 format)',
    )
    .exitOverride()
    .addHelpText(
      'after',
      `
Example:
  $ lightproof model hash ./llama-3-8b          # writes llama-3-8b.manifest.json beside the directory
  $ lightproof model stamp ./llama-3-8b         # writes llama-3-8b.manifest.json.ots
  $ lightproof model verify ./llama-3-8b --esplora https://blockstream.info/api`,
    );
  registerHash(model);
  registerStamp(model);
  registerVerify(model);
}

/** `<dir>.manifest.json` beside the directory, so the manifest is not inside what it describes. */
const defaultManifest = (dir: string) => `${resolve(dir)}.manifest.json`;

function hashOptions(cmd: Command): Command {
  return cmd
    .option('--shard-size <bytes>', 'split files into shards of this many bytes (default 67108864)')
    .option('--files', "one digest per file instead of shards (model_signing's default method)")
    .option('--workers <n>', 'hashing threads (default: every core)')
    .option(
      '--ignore <path>',
      'leave out this path relative to DIR; a directory covers its contents (repeatable)',
      collect,
    )
    .option('--allow-symlinks', 'follow symlinks whose targets stay inside DIR')
    .option('--no-ignore-git-paths', 'include .git, .gitattributes, .github and .gitignore')
    .option('-q, --quiet', 'no progress bar');
}

function registerHash(model: Command): void {
  hashOptions(
    model
      .command('hash')
      .description('Hash a model directory into a manifest (an in-toto statement listing every file)')
      .argument('<dir>', 'the model or dataset directory')
      .option('-o, --out <file>', 'where to write the manifest, - for stdout (default DIR.manifest.json)'),
  )
    .option('--force', 'replace an existing manifest (its .ots then no longer matches)')
    .option('--json', 'print a summary as JSON')
    .addHelpText(
      'after',
      `
Paths are relative to DIR and '/'-separated; symlinks are refused unless --allow-symlinks. The
manifest lists the same resources, in the same order and under the same root digest, as
model_signing with the same method and shard size. An existing manifest is never replaced
without --force (LP_MANIFEST_OUTPUT_EXISTS).

Example:
  $ lightproof model hash ./llama-3-8b
  $ lightproof model hash ./dataset --files --ignore cache/ -o dataset.manifest.json`,
    )
    .action(async (dir: string, flags: HashFlags, cmd: Command) => {
      const out = flags.out ?? defaultManifest(dir);
      if (out === '-' && flags.json)
        usage(cmd, 'LP_CLI_USAGE', '--json cannot share stdout with the manifest.');
      if (out !== '-' && existsSync(out) && !flags.force) throw manifestExists(out);
      const { manifest, bytes, seconds } = await hashWithBar(dir, hashPlan(cmd, flags, out), flags.quiet);
      const body = serializeManifest(manifest);
      if (out === '-') process.stdout.write(body);
      else await writeManifest(out, body, flags.force ?? false);
      report(manifest, out, bytes, seconds, flags);
    });
}

function hashPlan(cmd: Command, flags: HashFlags, out: string): HashModelOptions {
  const whole = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^[1-9][0-9]{0,15}$/.test(v))
      usage(cmd, 'LP_CLI_USAGE', `${flag} '${v}' must be a whole number, at least 1.`);
    return Number(v);
  };
  const shardSize = whole('--shard-size', flags.shardSize);
  const workers = whole('--workers', flags.workers);
  if (flags.files && shardSize !== undefined)
    usage(cmd, 'LP_CLI_USAGE', 'Give --files or --shard-size, not both.');
  return {
    method: flags.files ? 'files' : 'shards',
    ...(shardSize !== undefined ? { shardSize } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ignore: flags.ignore ?? [],
    ignoreGitPaths: flags.ignoreGitPaths,
    allowSymlinks: flags.allowSymlinks ?? false,
    ...(out !== '-' ? { manifestPath: out } : {}),
  };
}

async function hashWithBar(dir: string, opts: HashModelOptions, quiet: boolean | undefined) {
  const bar = progressBar({ label: 'hashing', unit: 'bytes', quiet });
  let bytes = 0;
  const t0 = performance.now();
  try {
    const manifest = await hashModel(dir, {
      ...opts,
      onProgress: (p) => {
        bytes = p.total;
        bar.update(p.done, p.total);
      },
    });
    return { manifest, bytes, seconds: (performance.now() - t0) / 1000 };
  } finally {
    bar.finish();
  }
}

function report(
  m: Manifest,
  out: string,
  bytes: number,
  secs: number,
  flags: { json?: boolean; quiet?: boolean },
) {
  const s = m.predicate.serialization;
  const summary = {
    manifest: out === '-' ? null : out,
    root: m.subject[0].digest.sha256,
    method: s.method,
    ...(s.shard_size !== undefined ? { shardSize: s.shard_size } : {}),
    resources: m.predicate.resources.length,
    bytes,
    seconds: Number(secs.toFixed(3)),
  };
  if (flags.json) process.stdout.write(`${toJson(summary)}\n`);
  else if (!flags.quiet) {
    const rate = secs > 0 ? ` (${formatBytes(bytes / secs)}/s)` : '';
    warn(
      `${out === '-' ? 'Hashed' : `Wrote ${out}:`} ${summary.resources} ${s.method === 'files' ? 'files' : 'shards'}, ${formatBytes(bytes)} in ${secs.toFixed(2)} s${rate}; root sha256 ${summary.root}`,
    );
  }
}

function manifestExists(path: string): LightproofError {
  return new LightproofError(
    'LP_MANIFEST_OUTPUT_EXISTS',
    `${path} already exists; replace it with --force (a stamp of the old one then no longer matches) or write elsewhere with -o.`,
    { details: { path } },
  );
}

/** Written aside, synced, then moved into place: a crash leaves the old manifest or the whole new one. */
async function writeManifest(path: string, bytes: Uint8Array, replace: boolean): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (replace) await rename(tmp, path);
    else {
      try {
        await link(tmp, path);
      } finally {
        await unlink(tmp);
      }
    }
  } catch (err) {
    await unlink(tmp).catch(() => {});
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw manifestExists(path);
    throw new LightproofError(
      'LP_MANIFEST_WRITE_FAILED',
      `Cannot write ${path}: ${(err as Error).message}.`,
      {
        details: { path },
      },
    );
  }
}

function readManifestFile(path: string): { manifest: Manifest; bytes: Uint8Array } {
  let bytes: Uint8Array;
  try {
    if (statSync(path).size > MAX_MANIFEST_BYTES)
      throw new LightproofError(
        'LP_MANIFEST_TOO_LARGE',
        `it is larger than ${MAX_MANIFEST_BYTES} bytes, so it is not a manifest.`,
      );
    bytes = readFileSync(path);
  } catch (err) {
    if (isLightproofError(err)) throw new LightproofError(err.code, `${path}: ${err.message}`);
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new LightproofError(
      'LP_MANIFEST_NOT_FOUND',
      missing
        ? `No manifest at ${path}; make one with \`lightproof model hash\` or name it with --manifest.`
        : `Cannot read ${path}: ${(err as Error).message}.`,
      { details: { path } },
    );
  }
  try {
    return { manifest: parseManifest(bytes), bytes };
  } catch (err) {
    if (isLightproofError(err))
      throw new LightproofError(err.code, `${path}: ${err.message}`, { details: { path, ...err.details } });
    throw err;
  }
}

interface StampFlags extends HashFlags {
  manifest?: string;
  calendar?: string[];
  m?: string;
  timeout?: string;
}

function registerStamp(model: Command): void {
  hashOptions(
    model
      .command('stamp')
      .description(
        "Stamp a model's manifest with OpenTimestamps (hashing the directory first if it has none)",
      )
      .argument('<target>', 'the model directory, or its manifest file')
      .option('--manifest <file>', 'the manifest to stamp or write (default DIR.manifest.json)')
      .option(
        '-c, --calendar <url>',
        'calendar to submit to (repeatable; default the four public ones)',
        collect,
      )
      .option('-m <n>', 'calendars that must answer (default min(2, number of calendars))')
      .option('--timeout <seconds>', 'per calendar (default 5)'),
  )
    .option('--json', 'print what was written as JSON')
    .addHelpText(
      'after',
      `
The stamp covers the manifest file's bytes, and so every digest in it. An existing .ots is never
overwritten (LP_OTS_OUTPUT_EXISTS). Run \`lightproof ots upgrade MANIFEST.ots\` a few hours later.

Example:
  $ lightproof model stamp ./llama-3-8b
  $ lightproof model stamp llama-3-8b.manifest.json -c https://a.pool.opentimestamps.org -m 1`,
    )
    .action(async (target: string, flags: StampFlags, cmd: Command) => {
      const isDir = existsSync(target) && statSync(target).isDirectory();
      const path = isDir ? (flags.manifest ?? defaultManifest(target)) : target;
      const calendars = flags.calendar?.length
        ? asUsage(cmd, () => flags.calendar!.map(checkCalendarUrl))
        : undefined;
      const n = calendars?.length ?? 4;
      const m = flags.m === undefined ? undefined : Number(flags.m);
      if (m !== undefined && (!/^\d+$/.test(flags.m!) || m < 1 || m > n))
        usage(cmd, 'LP_OTS_BAD_CALENDARS', `-m '${flags.m}' must be a whole number from 1 to ${n}.`);
      const timeoutMs = seconds(cmd, '--timeout', flags.timeout, 5) * 1000;
      if (existsSync(`${path}.ots`)) throw outputExists(`${path}.ots`);
      let wrote = false;
      if (isDir && !existsSync(path)) {
        const {
          manifest,
          bytes,
          seconds: secs,
        } = await hashWithBar(target, hashPlan(cmd, flags, path), flags.quiet);
        await writeManifest(path, serializeManifest(manifest), false);
        report(manifest, path, bytes, secs, { quiet: flags.quiet || flags.json });
        wrote = true;
      }
      const { manifest } = readManifestFile(path);
      const result = await stamp([{ path }], {
        ...(calendars ? { calendars } : {}),
        ...(m !== undefined ? { m } : {}),
        timeoutMs,
      });
      await writeNewFiles([{ path: `${path}.ots`, bytes: serializeOts(result.files[0]!) }]);
      const ok = result.calendars.filter((c) => c.ok).length;
      const root = manifest.subject[0].digest.sha256;
      if (flags.json) {
        const answers = result.calendars.map((c) => ({
          calendar: c.calendar,
          ok: c.ok,
          ...(c.error ? { error: c.error.toJSON() } : {}),
        }));
        process.stdout.write(
          `${toJson({ manifest: path, wroteManifest: wrote, proof: `${path}.ots`, root, calendars: answers })}\n`,
        );
      } else if (!flags.quiet) {
        for (const c of result.calendars)
          if (c.error) warn(`warning: ${c.calendar}: ${c.error.code} ${c.error.message}`);
        warn(
          `Stamped ${path} (root sha256 ${root}) with ${ok} of ${result.calendars.length} calendars into ${path}.ots; run \`lightproof ots upgrade ${path}.ots\` in a few hours to anchor it in Bitcoin.`,
        );
      }
    });
}

interface VerifyFlags {
  manifest?: string;
  workers?: string;
  bitcoinNode?: string;
  rpcCert?: string;
  rpcCookie?: string;
  esplora?: string;
  headers?: string;
  network: string;
  upgrade: boolean;
  whitelist?: string[];
  timeout?: string;
  quiet?: boolean;
  json?: boolean;
}

function registerVerify(model: Command): void {
  model
    .command('verify')
    .description(
      "Check a directory against its manifest, then the manifest's timestamp; exit 0 only if every file matches",
    )
    .argument('<dir>', 'the model directory')
    .option('--manifest <file>', 'the manifest (default DIR.manifest.json)')
    .option('--workers <n>', 'hashing threads (default: every core)')
    .option('--bitcoin-node <url>', 'check the .ots against headers from bitcoind or btcd JSON-RPC')
    .option('--rpc-cert <pem>', "the node's TLS certificate for an https node")
    .option('--rpc-cookie <file>', "bitcoind's .cookie file")
    .option('--esplora <url>', 'check the .ots against headers from an Esplora API')
    .option('--headers <file>', 'check the .ots against a file of 80-byte headers in hex, one per line')
    .option('--network <name>', 'mainnet, testnet, testnet4, signet or regtest', 'mainnet')
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
      const sources = [flags.bitcoinNode, flags.esplora, flags.headers].filter((s) => s !== undefined);
      if (sources.length > 1)
        usage(
          cmd,
          'LP_OTS_NO_HEADER_SOURCE',
          'Give at most one header source: --bitcoin-node, --esplora or --headers.',
        );
      if (!isBitcoinNetwork(flags.network))
        usage(cmd, 'LP_BTC_BAD_NETWORK', `--network '${flags.network}' is not a Bitcoin network.`);
      const workers = flags.workers === undefined ? undefined : Number(flags.workers);
      if (workers !== undefined && !/^[1-9][0-9]{0,3}$/.test(flags.workers!))
        usage(cmd, 'LP_CLI_USAGE', `--workers '${flags.workers}' must be a whole number from 1 to 9999.`);
      const timeoutMs = seconds(cmd, '--timeout', flags.timeout, 10) * 1000;
      const whitelist = asUsage(
        cmd,
        () => new CalendarWhitelist([...DEFAULT_WHITELIST, ...(flags.whitelist ?? [])]),
      );
      const path = flags.manifest ?? defaultManifest(dir);
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
      else if (sources.length === 0)
        stampNote = `${proofPath} was not checked; give --headers, --esplora or --bitcoin-node to check it against Bitcoin.`;
      else {
        const proof = readProof(proofPath);
        if (flags.upgrade && !proof.timestamp.isComplete())
          await upgradeTimestamp(proof.timestamp, { whitelist, timeoutMs }).catch((err: unknown) => {
            if (!isLightproofError(err)) throw err;
          });
        const source = await headerSource(flags, timeoutMs);
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

async function headerSource(flags: VerifyFlags, timeoutMs: number): Promise<HeaderSource> {
  const network = flags.network as BitcoinNetwork;
  if (flags.headers !== undefined) return fileHeaderSource(flags.headers, { network });
  if (flags.esplora !== undefined) return esploraHeaderSource(flags.esplora, { network, timeoutMs });
  const rpc = bitcoinRpc({
    url: flags.bitcoinNode!,
    timeoutMs,
    ...(flags.rpcCert ? { tlsCert: readFileSync(flags.rpcCert) } : {}),
    ...(flags.rpcCookie ? { cookieFile: flags.rpcCookie } : {}),
  });
  return rpcHeaderSource(rpc, { network });
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
  files: Awaited<ReturnType<typeof verifyModel>>,
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
      `${toJson({ manifest: path, ...files, files: count, stamp: { ...stampJson, note: stampNote } })}\n`,
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
      `${n} file${n === 1 ? '' : 's'} differ from the manifest (${files.changed.length} changed, ${files.missing.length} missing, ${files.extra.length} extra).`,
    );
  }
  if (stampFailed) throw new LightproofError('LP_OTS_NOT_VERIFIED', stampNote);
}
