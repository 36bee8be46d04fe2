/** `lightproof ots upgrade`: fetch completed calendar paths into pending proofs, keeping the old file as .bak. */
import { closeSync, constants, copyFileSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { isLightproofError, LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import { CalendarWhitelist, checkCalendarUrl, DEFAULT_WHITELIST } from '../../ots/calendar-client.js';
import { type DetachedTimestampFile, serializeOts } from '../../ots/index.js';
import { type UpgradeResult, upgradeTimestamp } from '../../ots/upgrade.js';
import { progressBar } from '../progress.js';
import { asUsage, collect, readProof, seconds, usage, warn } from './ots-shared.js';

interface UpgradeCliOptions {
  calendar?: string[];
  whitelist?: string[];
  dryRun?: boolean;
  wait?: boolean;
  waitInterval?: string;
  timeout?: string;
  quiet?: boolean;
  json?: boolean;
}

export function registerUpgrade(ots: Command): void {
  ots
    .command('upgrade')
    .description('Fetch the Bitcoin attestation for pending proofs from their calendars; keeps FILE.ots.bak')
    .argument('<files...>', '.ots proofs to upgrade')
    .option(
      '-c, --calendar <url>',
      'ask this calendar instead of the ones each proof names (repeatable)',
      collect,
    )
    .option(
      '--whitelist <pattern>',
      'also trust calendars matching this URL pattern, e.g. https://*.example.org (repeatable)',
      collect,
    )
    .option('-n, --dry-run', 'show what would change; write nothing')
    .option('--wait', 'keep trying until every proof is complete')
    .option('--wait-interval <seconds>', 'pause between tries with --wait (default 30)')
    .option('--timeout <seconds>', 'per calendar (default 10)')
    .option('-q, --quiet', 'no progress bar')
    .option('--json', "print each proof's result as JSON")
    .addHelpText(
      'after',
      `
Calendars anchor their rounds in Bitcoin every few hours and serve the path after some
confirmations. A changed proof is written atomically, and the previous one is kept as FILE.ots.bak.
Exit status 0 when every proof is complete, 1 when one is still pending (LP_OTS_INCOMPLETE) or failed.

Example:
  $ lightproof ots upgrade report.pdf.ots
  $ lightproof ots upgrade *.ots --wait --wait-interval 600`,
    )
    .action(async (files: string[], opts: UpgradeCliOptions, cmd: Command) => {
      if (files.includes('-'))
        usage(cmd, 'LP_CLI_USAGE', 'upgrade rewrites proofs in place; give their paths, not -.');
      const calendars = asUsage(cmd, () => (opts.calendar ?? []).map(checkCalendarUrl));
      const whitelist = asUsage(
        cmd,
        () => new CalendarWhitelist([...DEFAULT_WHITELIST, ...(opts.whitelist ?? [])]),
      );
      const interval = seconds(cmd, '--wait-interval', opts.waitInterval, 30);
      const timeoutMs = seconds(cmd, '--timeout', opts.timeout, 10) * 1000;
      const state = new Map<string, { result?: UpgradeResult; error?: LightproofError; changed: boolean }>();
      const bar = progressBar({ label: 'upgrading', unit: 'items', quiet: opts.quiet || files.length < 2 });
      let todo = [...new Set(files)];
      for (;;) {
        let done = 0;
        for (const path of todo) {
          const previous = state.get(path);
          try {
            const file = readProof(path);
            const result = await upgradeTimestamp(file.timestamp, { calendars, whitelist, timeoutMs });
            if (result.changed && !opts.dryRun) saveUpgrade(path, file);
            state.set(path, { result, changed: (previous?.changed ?? false) || result.changed });
          } catch (err) {
            if (!isLightproofError(err)) throw err;
            const error = err.message.includes(path)
              ? err
              : new LightproofError(err.code, `${path}: ${err.message}`, {
                  details: { path, ...err.details },
                });
            state.set(path, { error, changed: previous?.changed ?? false });
          }
          bar.update(++done, todo.length);
        }
        bar.finish();
        todo = todo.filter((p) => state.get(p)?.result?.complete === false);
        if (!opts.wait || todo.length === 0) break;
        if (!opts.quiet)
          warn(
            `${todo.length} proof${todo.length === 1 ? '' : 's'} still pending; trying again in ${interval} s`,
          );
        await sleep(interval * 1000);
      }
      reportUpgrades(state, opts);
    });
}

/** The old proof stays as .bak (never replaced, as the reference insists); the new one replaces it atomically. */
function saveUpgrade(path: string, file: DetachedTimestampFile): void {
  const bak = `${path}.bak`;
  try {
    copyFileSync(path, bak, constants.COPYFILE_EXCL);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    throw new LightproofError(
      'LP_OTS_BACKUP_EXISTS',
      `${bak} already exists, so the old proof cannot be kept; move it away and upgrade again.`,
      { details: { path: bak } },
    );
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, serializeOts(file));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function reportUpgrades(
  state: Map<string, { result?: UpgradeResult; error?: LightproofError; changed: boolean }>,
  opts: UpgradeCliOptions,
): void {
  const rows = [...state].map(([path, s]) => ({ path, ...s }));
  if (opts.json) {
    const out = rows.map(({ path, result, error, changed }) => ({
      file: path,
      changed,
      complete: result?.complete ?? false,
      ...(result
        ? {
            added: result.added.map((a) => ({ calendar: a.calendar, attestation: a.attestation })),
            pending: result.pending,
            errors: result.errors.map((e) => ({
              calendar: e.calendar,
              commitment: e.commitment,
              ...e.error.toJSON(),
            })),
            skipped: result.skipped,
          }
        : { error: error?.toJSON() }),
    }));
    process.stdout.write(`${toJson(out)}\n`);
  }
  for (const { path, result, error, changed } of rows) {
    if (error) {
      if (rows.length > 1) warn(`error ${error.code}: ${error.message}`);
      continue;
    }
    if (opts.json || !result) continue;
    const status = result.complete ? 'complete' : 'pending';
    warn(
      `${path}: ${status}${changed ? (opts.dryRun ? ' (changes not written: --dry-run)' : ', upgraded (old proof kept as .bak)') : ''}`,
    );
    for (const p of result.pending) warn(`  ${p.calendar}: ${p.message}`);
    for (const e of result.errors) warn(`  ${e.calendar}: ${e.error.code} ${e.error.message}`);
    for (const s of result.skipped) warn(`  ${s.uri}: not asked, ${s.reason}`);
  }
  const failed = rows.filter((r) => r.error);
  const pending = rows.filter((r) => r.result && !r.result.complete);
  if (failed.length === 1 && rows.length === 1) throw failed[0]!.error!;
  if (failed.length > 0 || pending.length > 0) {
    throw new LightproofError(
      failed.length > 0 ? 'LP_OTS_UPGRADE_FAILED' : 'LP_OTS_INCOMPLETE',
      `${failed.length} of ${rows.length} proofs failed and ${pending.length} are still pending; ${pending.length ? 'calendars anchor every few hours, so run upgrade again later (or use --wait).' : 'see the errors above.'}`,
      { details: { failed: failed.map((r) => r.path), pending: pending.map((r) => r.path) } },
    );
  }
}
