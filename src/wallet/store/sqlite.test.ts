import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isLightproofError } from '../../core/errors.js';
import { msat } from '../../core/money.js';
import { raceWalletProcesses, walletStoreContract } from './contract.js';
import { openWalletStore, SqliteWalletStore } from './index.js';

const root = mkdtempSync(join(tmpdir(), 'lightproof-wallet-'));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const freshPath = (): string => join(root, `wallet-${++files}.db`);

walletStoreContract('SQLite', () => openWalletStore({ kind: 'sqlite', path: freshPath() }), {
  async openTwo() {
    const path = freshPath();
    return [SqliteWalletStore.open(path), SqliteWalletStore.open(path)];
  },
});

describe('SqliteWalletStore', () => {
  it('reserves exactly up to the cap when two processes race on one file (2 × 30 begins, room for 10)', async () => {
    const path = freshPath();
    // Create the schema first, so the racers do not also race to migrate.
    await SqliteWalletStore.open(path).close();
    const reserved = await raceWalletProcesses({ kind: 'sqlite', path }, 30, 10_100n);
    assert.equal(reserved[0]! + reserved[1]!, 10, `reserved per process: ${reserved.join(', ')}`);
    const store = SqliteWalletStore.open(path);
    const all = await store.list({ limit: 1000 });
    assert.equal(all.length, 60);
    assert.equal(all.filter((r) => r.state === 'reserved').length, 10);
    assert.equal((await store.spent({ hour: 0, day: 0, month: 0 }, null)).wallet.total, 10_100n);
    await store.close();
  });

  it('keeps the journal across a reopen, in an owner-only file', async () => {
    const path = freshPath();
    let store = SqliteWalletStore.open(path);
    const p = {
      paymentHash: 'ab'.repeat(32),
      paymentRequest: 'lnbcrt1x',
      source: 'invoice' as const,
      url: null,
      domain: null,
      allowanceKey: null,
      amountMsat: msat(2n ** 53n + 1n),
      feeReserveMsat: msat(0n),
      token: null,
      service: null,
      tokenValidUntil: null,
      invoiceExpiresAt: 1_700_003_600,
      usdPerBtc: null,
      memo: null,
    };
    const { record } = await store.begin(p, { hour: 0, day: 0, month: 0 }, 1_700_000_000, () => ({
      action: 'reserve',
    }));
    await store.setFrozen(true, 1_700_000_001, 'Test.');
    await store.close();
    store = SqliteWalletStore.open(path);
    assert.deepEqual(await store.get(record.id), record);
    assert.equal((await store.settings()).frozen, true);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    await store.close();
  });

  it('refuses a corrupt file with LP_STORE_CORRUPT and leaves it as it was', () => {
    const path = freshPath();
    const garbage = Buffer.alloc(8192, 0x5a);
    writeFileSync(path, garbage);
    assert.throws(
      () => SqliteWalletStore.open(path),
      (e: unknown) => isLightproofError(e, 'LP_STORE_CORRUPT'),
    );
    assert.equal(statSync(path).size, garbage.length);
  });
});
