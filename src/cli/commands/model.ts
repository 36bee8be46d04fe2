/** `lightproof model hash|stamp|verify`: manifests of model and dataset directories, stamped in Bitcoin. */
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import { serializeOts } from '../../ots/index.js';
import { stamp } from '../../ots/stamp.js';
import {
  defaultManifestPath,
  type HashModelOptions,
  hashModel,
  type Manifest,
  manifestExists,
  normalizeIgnorePath,
  readManifestFile,
  serializeManifest,
  verifyModel,
  writeManifestFile,
} from '../../provenance/index.js';
import { formatBytes, progressBar } from '../progress.js';
import { registerModelVerify } from './model-verify.js';
import { asUsage, calendarFlags, collect, outputExists, usage, warn, writeNewFiles } from './ots-shared.js';

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
  registerModelVerify(model);
}

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
      const out = flags.out ?? defaultManifestPath(dir);
      if (out === '-' && flags.json)
        usage(cmd, 'LP_CLI_USAGE', '--json cannot share stdout with the manifest.');
      const plan = hashPlan(cmd, flags, out);
      if (out !== '-' && existsSync(out) && !flags.force) throw manifestExists(out);
      const { manifest, bytes, seconds } = await hashWithBar(dir, plan, flags.quiet);
      const body = serializeManifest(manifest);
      if (out === '-') process.stdout.write(body);
      else await writeManifestFile(out, body, flags.force ?? false);
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
  if (workers !== undefined && workers > 1024) usage(cmd, 'LP_CLI_USAGE', '--workers must be at most 1024.');
  const ignore = asUsage(cmd, () => (flags.ignore ?? []).map(normalizeIgnorePath));
  if (flags.files && shardSize !== undefined)
    usage(cmd, 'LP_CLI_USAGE', 'Give --files or --shard-size, not both.');
  return {
    method: flags.files ? 'files' : 'shards',
    ...(shardSize !== undefined ? { shardSize } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ignore,
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

async function checkMatches(dir: string, manifest: Manifest, path: string, quiet: boolean | undefined) {
  const bar = progressBar({ label: 'checking', unit: 'bytes', quiet });
  const r = await verifyModel(dir, manifest, {
    manifestPath: path,
    onProgress: (p) => bar.update(p.done, p.total),
  }).finally(() => bar.finish());
  if (!r.ok) {
    const named = [...r.changed, ...r.missing, ...r.extra].slice(0, 5).join(', ');
    throw new LightproofError(
      'LP_MANIFEST_MISMATCH',
      `${dir} no longer matches ${path} (${named}${r.changed.length + r.missing.length + r.extra.length > 5 ? ', ...' : ''}); write a new one with \`lightproof model hash --force\` and stamp that.`,
    );
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
      const path = isDir ? (flags.manifest ?? defaultManifestPath(target)) : target;
      const { calendars, m, timeoutMs } = calendarFlags(cmd, flags);
      if (existsSync(`${path}.ots`)) throw outputExists(`${path}.ots`);
      let wrote = false;
      if (isDir && !existsSync(path)) {
        const {
          manifest,
          bytes,
          seconds: secs,
        } = await hashWithBar(target, hashPlan(cmd, flags, path), flags.quiet);
        await writeManifestFile(path, serializeManifest(manifest), false);
        report(manifest, path, bytes, secs, { quiet: flags.quiet || flags.json });
        wrote = true;
      }
      const { manifest } = readManifestFile(path);
      // An existing manifest may be stale; stamping it would prove files the directory no longer holds.
      if (isDir && !wrote) await checkMatches(target, manifest, path, flags.quiet || flags.json);
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
