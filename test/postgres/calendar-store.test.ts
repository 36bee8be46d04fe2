/** The calendar store against a real PostgreSQL cluster started for this file: the shared contract. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { calendarStoreContract } from '../../src/calendar/store/contract.js';
import { openCalendarStore, PostgresCalendarStore } from '../../src/calendar/store/index.js';
import { sharedCluster } from '../support/postgres.js';

const pgTest = sharedCluster();
after(() => pgTest.stop());
const freshDatabase = () => pgTest.freshDatabase('calendar');

calendarStoreContract('PostgreSQL', async () =>
  openCalendarStore({ kind: 'postgres', url: await freshDatabase() }),
);

describe('PostgresCalendarStore', () => {
  it('keeps rounds across a reopen, and two processes may migrate one database at once', async () => {
    const url = await freshDatabase();
    const [a, b] = await Promise.all([PostgresCalendarStore.open(url), PostgresCalendarStore.open(url)]);
    const round = {
      time: 7,
      tip: new Uint8Array(32),
      commitment: new Uint8Array(44).fill(9),
      digests: 2,
      leaves: new Uint8Array(98),
    };
    const id = await a.addRound(round);
    await Promise.all([a.close(), b.close()]);
    const again = await PostgresCalendarStore.open(url);
    try {
      assert.deepEqual(await again.round(id), { id, ...round });
    } finally {
      await again.close();
    }
  });
});
