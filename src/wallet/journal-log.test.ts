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
import type { NewPayment, WalletEvent, WalletStore } from './types.js';

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

/** A journal whose events become visible when the test says, as PostgreSQL's can: 11 before 10. */
function journalDouble() {
  const visible = new Map<number, WalletEvent>();
  const store = {
    async events(query: { afterSeq?: number; limit?: number } = {}) {
      return [...visible.values()]
        .filter((e) => e.seq > (query.afterSeq ?? 0))
        .sort((a, b) => a.seq - b.seq)
        .slice(0, query.limit ?? 100);
    },
  } as unknown as WalletStore;
  /** Commits the events SEQS, each recorded at unix time AT. */
  const commit = (at: number, ...seqs: number[]) => {
    for (const seq of seqs) {
      visible.set(seq, {
        seq,
        paymentId: seq,
        paymentHash: hash(seq),
        from: null,
        to: 'quoted',
        at,
        detail: null,
      });
    }
  };
  return { store, commit };
}

/** An in-memory log, and the seqs of the wallet events in it. */
function memorySink() {
  const appended: Uint8Array[] = [];
  const sink: JournalSink = {
    size: () => appended.length,
    entry: (i) => appended[i]!,
    appendMany: async (entries) => {
      appended.push(...entries);
      return { first: appended.length - entries.length, count: entries.length };
    },
    close: async () => {},
  };
  const seqs = () => appended.map((e) => readEntry(e)).map((e) => (e.type === 'wallet-event' ? e.seq : -1));
  return { sink, seqs };
}

/** An onError that fails the sync, and with it the test. */
const rethrow = (err: unknown): void => {
  throw err;
};

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('the journal copy when seqs commit out of order (PostgreSQL)', () => {
  const T0 = 1_700_000_000;
  const GRACE = 60_000;

  it('waits for a late seq, gives up a burned one after the grace, across restarts, each event once', async () => {
    const logDir = join(dir, 'ooo-log');
    const { store, commit } = journalDouble();
    let now = T0 * 1000;
    const options = { graceMs: GRACE, now: () => now };
    const errors: unknown[] = [];
    const open = async () => (await openJournalLog(logDir, store, (e) => errors.push(e), options))!;
    const seqs = async () => (await logged(logDir)).map((e) => Number(e.split(':')[0]));

    commit(T0, ...range(1, 9));
    let journal = await open();
    commit(T0, 11); // 10 took its seq first but has not committed yet
    await journal.sync();
    await journal.close();
    assert.deepEqual(await seqs(), range(1, 9), '11 waits for 10');

    journal = await open(); // a restart while 10 is still in flight
    commit(T0, 10);
    await journal.sync();
    commit(T0, 13, 14); // 12 was rolled back: it never commits
    now += GRACE / 2;
    await journal.sync();
    await journal.close();
    assert.deepEqual(await seqs(), range(1, 11), 'in order, 13 and 14 wait for 12 within the grace');

    // A new process sees the gap for the first time, but 13 was recorded over a grace period ago.
    now += GRACE / 2;
    journal = await open();
    commit(now / 1000, 15);
    await journal.sync();
    await journal.close();
    assert.deepEqual(await seqs(), [...range(1, 11), 13, 14, 15]);

    commit(T0, 12); // too late: 12 was given up, and the log stays in seq order
    journal = await open();
    await journal.sync();
    await journal.close();
    assert.deepEqual(await seqs(), [...range(1, 11), 13, 14, 15]);
    assert.deepEqual(errors, []);
  });

  it('gives up a gap after this copier has waited the grace on it, whatever the events say their time is', async () => {
    const { store, commit } = journalDouble();
    const { sink, seqs } = memorySink();
    let now = T0 * 1000;
    const journal = new JournalLog(store, sink, rethrow, { graceMs: GRACE, now: () => now });
    const future = T0 + 86_400; // a writer whose clock runs a day ahead
    commit(future, 2, 3); // seq 1 was burned
    await journal.sync();
    now += GRACE - 1;
    await journal.sync();
    assert.deepEqual(seqs(), []);
    now += 1;
    await journal.sync();
    assert.deepEqual(seqs(), [2, 3]);
    commit(future, 5);
    await journal.sync();
    commit(future, 4);
    await journal.sync();
    await journal.close();
    assert.deepEqual(seqs(), [2, 3, 4, 5]);
  });

  it('copies what waits behind a gap once it expires, with no further change to the wallet', async () => {
    const { store, commit } = journalDouble();
    const { sink, seqs } = memorySink();
    const journal = new JournalLog(store, sink, rethrow, { graceMs: 20 });
    commit(Math.floor(Date.now() / 1000) + 86_400, 1, 3);
    await journal.sync();
    assert.deepEqual(seqs(), [1]);
    for (let i = 0; i < 500 && seqs().length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    await journal.close();
    assert.deepEqual(seqs(), [1, 3]);
  });

  it('takes more than one batch of events past gaps in one sync', async () => {
    const { store, commit } = journalDouble();
    const { sink, seqs } = memorySink();
    const journal = new JournalLog(store, sink, rethrow, { graceMs: GRACE, now: () => T0 * 1000 });
    const odd = range(1, 2500).filter((s) => s % 2 === 1);
    commit(T0 - 61, ...odd); // every even seq burned long ago
    await journal.sync();
    await journal.close();
    assert.deepEqual(seqs(), odd);
  });
});
