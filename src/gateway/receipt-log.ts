/**
 * The provider's receipt log: every signed receipt is appended (group-committed) to a Merkle log,
 * checkpoints are signed every `checkpointEvery` seconds, stamped with OpenTimestamps and upgraded in
 * the background. The order is: sign the receipt, append it durably, then answer; a log that fails
 * is reported and the response still goes out, because the client has paid and holds the receipt.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CalendarWhitelist, DEFAULT_WHITELIST } from '../ots/index.js';
import {
  CheckpointUpgrader,
  type LogProofBundle,
  loadOrCreateLogKey,
  type MerkleLog,
  makeLogProof,
  openLog,
  receiptEntry,
  stampCheckpoint,
  writeCheckpoint,
} from '../provenance/index.js';
import type { ReceiptLogConfig } from './config.js';

export interface ReceiptLog {
  readonly origin: string;
  readonly verifierKey: string;
  size(): number;
  /** Appends one receipt header; resolves once it is durable. Never rejects: failures are logged. */
  record(header: string): Promise<void>;
  /** Signs the current tree if it grew since the last checkpoint, then stamps it. */
  checkpoint(): Promise<void>;
  prove(index: number): Promise<LogProofBundle>;
  close(): Promise<void>;
}

export interface OpenReceiptLogOptions {
  config: ReceiptLogConfig;
  dataDir: string;
  receiptKey: string;
  log: Logger;
  /** Upgrade passes this often; 10 minutes by default. */
  upgradeIntervalMs?: number;
}

export async function openReceiptLog(o: OpenReceiptLogOptions): Promise<ReceiptLog> {
  const dir = o.config.dir ?? join(o.dataDir, 'receipt-log');
  // The default origin names a new log only: an existing log keeps its own, even after the receipt key
  // changes (a configured origin must still match, so a misconfigured path is caught).
  const origin =
    o.config.origin ??
    (existsSync(join(dir, 'log.json'))
      ? undefined
      : `lightproof.local/receipts-${o.receiptKey.slice(0, 16)}`);
  const log: MerkleLog = await openLog(dir, { create: true, ...(origin === undefined ? {} : { origin }) });
  for (const w of log.warnings) o.log.warn({ dir }, `receipt log repaired on open: ${w}`);
  const key = loadOrCreateLogKey(dir, log.origin);
  const calendars = o.config.calendars;
  const upgrader =
    calendars?.length === 0
      ? null
      : new CheckpointUpgrader({
          dir,
          intervalMs: o.upgradeIntervalMs ?? 600_000,
          upgrade: {
            whitelist: new CalendarWhitelist([...DEFAULT_WHITELIST, ...(calendars ?? [])]),
          },
          onPass: (r) => {
            for (const e of r.errors) o.log.warn({ path: e.path, code: e.error.code }, e.error.message);
          },
        });
  upgrader?.start();

  let signedSize = -1;
  let checkpointing: Promise<void> = Promise.resolve();
  const checkpoint = () => {
    checkpointing = checkpointing.then(async () => {
      const size = log.size();
      if (size === signedSize || size === 0) return;
      const cp = await writeCheckpoint(log, { signer: key.signer, size });
      signedSize = size;
      if (calendars?.length === 0) return;
      const stamped = await stampCheckpoint(cp.path, calendars ? { calendars } : {});
      for (const c of stamped.calendars) {
        if (!c.ok)
          o.log.warn({ calendar: c.calendar, code: c.error?.code }, 'a calendar refused a checkpoint');
      }
    });
    const done = checkpointing;
    checkpointing = checkpointing.catch((err: unknown) =>
      o.log.warn({ err: String(err), dir }, 'could not sign or stamp a receipt-log checkpoint'),
    );
    return done;
  };
  const timer = setInterval(() => {
    checkpoint().catch(() => undefined);
  }, o.config.checkpointEverySeconds * 1000);
  timer.unref();

  let failures = 0;
  return {
    origin: log.origin,
    verifierKey: key.verifierKey,
    size: () => log.size(),
    async record(header) {
      try {
        await log.append(receiptEntry(header));
      } catch (err) {
        // Logged once per burst, not per receipt, so a full disk does not flood the gateway log.
        if (failures++ % 1000 === 0) {
          o.log.error({ err: String(err), dir, failures }, 'could not append a receipt to the receipt log');
        }
      }
    },
    checkpoint,
    prove: (index) => makeLogProof(log, index),
    async close() {
      clearInterval(timer);
      await upgrader?.stop();
      // A last checkpoint, signed but not stamped, so receipts since the previous one can be proved.
      await checkpointing;
      if (log.size() > 0 && log.size() !== signedSize) {
        await writeCheckpoint(log, { signer: key.signer }).catch((err: unknown) =>
          o.log.warn({ err: String(err), dir }, 'could not sign the final receipt-log checkpoint'),
        );
      }
      await log.close();
    },
  };
}
