/**
 * The wallet journal against a real PostgreSQL cluster started for this file: the shared contract
 * (including two pools racing in one process), plus two OS processes racing for one budget.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { raceWalletProcesses, walletStoreContract } from '../../src/wallet/store/contract.js';
import { openWalletStore, PostgresWalletStore } from '../../src/wallet/store/index.js';
import { sharedCluster } from '../support/postgres.js';

const pgTest = sharedCluster();
after(() => pgTest.stop());
const freshDatabase = () => pgTest.freshDatabase('wallet');

walletStoreContract(
  'PostgreSQL',
  async () => openWalletStore({ kind: 'postgres', url: await freshDatabase() }),
  {
    async openTwo() {
      const url = await freshDatabase();
      return [await PostgresWalletStore.open(url), await PostgresWalletStore.open(url)];
    },
  },
);

describe('PostgresWalletStore', () => {
  it('reserves exactly up to the cap when two processes race (2 × 30 begins, room for 10)', async () => {
    const url = await freshDatabase();
    await (await PostgresWalletStore.open(url)).close();
    const reserved = await raceWalletProcesses({ kind: 'postgres', url }, 30, 10_100n);
    assert.equal(reserved[0]! + reserved[1]!, 10, `reserved per process: ${reserved.join(', ')}`);
    const store = await PostgresWalletStore.open(url);
    try {
      const all = await store.list({ limit: 1000 });
      assert.equal(all.length, 60);
      assert.equal(all.filter((r) => r.state === 'reserved').length, 10);
      assert.equal((await store.spent({ hour: 0, day: 0, month: 0 }, null)).wallet.total, 10_100n);
    } finally {
      await store.close();
    }
  });
});
