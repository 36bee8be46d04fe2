/**
 * The wallet journal's copy into the agent's Merkle log against a real PostgreSQL cluster: two store
 * handles writing at once, a transaction that takes its seq first but commits last, and one that rolls
 * back and burns its seq. The log ends with every committed event exactly once, in seq order.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { msat } from '../../src/core/money.js';
import { openLog, readEntry } from '../../src/provenance/index.js';
import { openJournalLog } from '../../src/wallet/journal-log.js';
import { PostgresWalletStore } from '../../src/wallet/store/index.js';
import type { NewPayment, WalletStore } from '../../src/wallet/types.js';
import { sharedCluster } from '../support/postgres.js';

const pgTest = sharedCluster();
after(() => pgTest.stop());

const T = 1_700_000_000;
const WINDOWS = { hour: 0, day: 0, month: 0 };
const GRACE = 60_000;

function payment(): NewPayment {
  const hash = randomBytes(32).toString('hex');
  return {
    ...{ paymentHash: hash, paymentRequest: `lnbcrt1${hash}`, source: 'invoice', url: null, domain: null },
    ...{ allowanceKey: null, amountMsat: msat(1000n), feeReserveMsat: msat(10n), token: null, service: null },
    ...{ tokenValidUntil: null, invoiceExpiresAt: T + 3600, usdPerBtc: null, memo: null },
  };
}

/** quoted -> reserved -> paying -> failed: four events, each in its own transaction. */
async function payOnce(store: WalletStore): Promise<number> {
  const { record } = await store.begin(payment(), WINDOWS, T, () => ({ action: 'reserve' }));
  await store.transition(record.id, ['reserved'], 'paying', T);
  await store.transition(record.id, ['paying'], 'failed', T);
  return record.id;
}

/** The seqs of the wallet events in the log at DIR, in log order. */
async function loggedSeqs(dir: string): Promise<number[]> {
  const log = await openLog(dir);
  try {
    return Array.from({ length: log.size() }, (_, i) => readEntry(log.entry(i))).map((e) =>
      e.type === 'wallet-event' ? e.seq : -1,
    );
  } finally {
    await log.close();
  }
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lp-pg-journal-log-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the wallet journal in its log, on PostgreSQL', () => {
  it('copies every committed event once, in seq order, with out-of-order commits, a burned seq and a restart', async () => {
    const url = await pgTest.freshDatabase('wallet_log');
    const [one, two] = [await PostgresWalletStore.open(url), await PostgresWalletStore.open(url)];
    // Another writer that holds a transaction open across the test's steps, as a slow process would.
    const slow = new pg.Client({ connectionString: url });
    await slow.connect();
    const logDir = join(dir, 'log');
    let now = T * 1000;
    const errors: unknown[] = [];
    const open = async () =>
      (await openJournalLog(logDir, one, (e) => errors.push(e), { graceMs: GRACE, now: () => now }))!;
    try {
      let journal = await open();
      const syncAfter = async (id: Promise<number>) => {
        await id;
        await journal.sync();
      };
      // Two handles, each with its own pool, writing and copying at the same time.
      await Promise.all([0, 1, 2, 3].map((i) => syncAfter(payOnce(i % 2 ? two : one))));
      const id = await payOnce(one);

      // This event takes its seq now and commits only after later seqs have.
      await slow.query('BEGIN');
      const insert = `INSERT INTO wallet_events (payment_id, payment_hash, from_state, to_state, at, detail)
        SELECT id, payment_hash, 'failed', 'failed', $2, NULL FROM wallet_payments WHERE id = $1 RETURNING seq`;
      const late = Number((await slow.query<{ seq: string }>(insert, [id, T])).rows[0]!.seq);
      await payOnce(two);
      await journal.sync();
      const committed = (await one.events({ limit: 1000 })).map((e) => e.seq);
      assert.ok(
        committed.some((s) => s > late),
        'a later seq is visible before the slow one',
      );
      await journal.close();
      assert.deepEqual(
        await loggedSeqs(logDir),
        committed.filter((s) => s < late),
        'the later ones wait',
      );

      journal = await open(); // a restart while the slow transaction is still open
      await slow.query('COMMIT');
      // And one that rolls back: its seq never commits.
      await slow.query('BEGIN');
      const burned = Number((await slow.query<{ seq: string }>(insert, [id, T])).rows[0]!.seq);
      await slow.query('ROLLBACK');
      await payOnce(two);
      await journal.sync();
      await journal.close();
      assert.equal((await loggedSeqs(logDir)).at(-1), burned - 1, 'within the grace, the copy waits');
      journal = await open();
      now += GRACE;
      await journal.sync();
      await journal.close();
      const all = (await one.events({ limit: 1000 })).map((e) => e.seq);
      assert.equal(all.length, 7 * 4 + 1);
      assert.deepEqual(await loggedSeqs(logDir), all);
      assert.deepEqual(errors, []);
    } finally {
      await slow.end();
      await one.close();
      await two.close();
    }
  });
});
