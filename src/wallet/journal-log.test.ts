import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { msat } from '../core/money.js';
import { openLog, readEntry } from '../provenance/index.js';
import { JournalLog, type JournalSink, journaledStore, openJournalLog } from './journal-log.js';
import { openWallet } from './open.js';
import { SqliteWalletStore } from './store/index.js';
import type { NewPayment, WalletStore } from './types.js';

const hash = (i: number) => i.toString(16).padStart(64, '0');
const payment = (i: number): NewPayment => ({
  paymentHash: hash(i),
  paymentRequest: `lnbcrt-${i}`,
  source: 'invoice',
  url: null,
  domain: null,
  allowanceKey: null,
  amountMsat: msat(1000n),
  feeReserveMsat: msat(10n),
  token: null,
  service: null,
  tokenValidUntil: null,
  invoiceExpiresAt: 4_000_000_000,
  usdPerBtc: null,
  memo: null,
});
const WINDOWS = { hour: 0, day: 0, month: 0 };

/** quoted -> reserved -> paying -> paid: four journal events. */
async function payOnce(store: WalletStore, i: number): Promise<void> {
  const { record } = await store.begin(payment(i), WINDOWS, 1000 + i, () => ({ action: 'reserve' }));
  await store.transition(record.id, ['reserved'], 'paying', 1000 + i);
  await store.transition(record.id, ['paying'], 'paid', 1000 + i, {
    preimage: 'ab'.repeat(32),
    feeMsat: msat(1n),
  });
}

/** The wallet events in the log, as (seq, to) pairs. */
async function logged(dir: string): Promise<string[]> {
  const log = await openLog(dir);
  try {
    return Array.from({ length: log.size() }, (_, i) => readEntry(log.entry(i))).map((e) =>
      e.type === 'wallet-event' ? `${e.seq}:${e.to}` : e.type,
    );
  } finally {
    await log.close();
  }
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lp-journal-log-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the wallet journal in its Merkle log', () => {
  it('appends every state change in journal order, and catches up after a crash between store and log', async () => {
    const logDir = join(dir, 'a-log');
    const raw = SqliteWalletStore.open(join(dir, 'a.db'));
    const errors: unknown[] = [];
    const journal = (await openJournalLog(logDir, raw, (e) => errors.push(e)))!;
    const store = journaledStore(raw, journal);
    await payOnce(store, 1);
    // Changes the log never saw, as if the process died after the store committed them.
    await payOnce(raw, 2);
    await journal.close();
    assert.equal(errors.length, 0);

    const again = (await openJournalLog(logDir, raw, (e) => errors.push(e)))!;
    await payOnce(journaledStore(raw, again), 3);
    await again.close();
    await raw.close();
    const events = await logged(logDir);
    assert.deepEqual(
      events,
      Array.from({ length: 12 }, (_, i) => `${i + 1}:${['quoted', 'reserved', 'paying', 'paid'][i % 4]}`),
    );
  });

  it('keeps money state whole when the log fails, and copies it once the log works again', async () => {
    const raw = SqliteWalletStore.open(join(dir, 'b.db'));
    const appended: Uint8Array[] = [];
    let broken = true;
    const sink: JournalSink = {
      size: () => appended.length,
      entry: (i) => appended[i]!,
      appendMany: async (entries) => {
        if (broken) throw new Error('disk full');
        appended.push(...entries);
        return { first: appended.length - entries.length, count: entries.length };
      },
      close: async () => {},
    };
    const errors: unknown[] = [];
    const journal = new JournalLog(raw, sink, (e) => errors.push(e));
    const store = journaledStore(raw, journal);
    await payOnce(store, 1);
    assert.ok(errors.length > 0);
    assert.equal(
      (await raw.getByHash(hash(1)))?.state,
      'paid',
      'the payment is recorded whatever the log did',
    );
    broken = false;
    await payOnce(store, 2);
    assert.deepEqual(
      appended.map((e) => {
        const r = readEntry(e);
        return r.type === 'wallet-event' ? r.seq : -1;
      }),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    await store.close();
  });

  it('opens with the wallet, in <data>/wallet/log, and a second process shares it without a lock error', async () => {
    const data = join(dir, 'data');
    const first = await openWallet({ dataDir: data });
    assert.ok(existsSync(join(data, 'wallet', 'log')));
    await payOnce(first.wallet.store, 1);
    const second = await openWallet({ dataDir: data });
    await payOnce(second.wallet.store, 2);
    await second.close();
    await payOnce(first.wallet.store, 3);
    await first.close();
    const events = await logged(join(data, 'wallet', 'log'));
    assert.equal(events.length, 12);
    assert.equal(events.at(-1), '12:paid');
  });
});
