/** The calendar store against a real PostgreSQL cluster started for this file: the shared contract. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { calendarStoreContract } from '../../src/calendar/store/contract.js';
import { openCalendarStore, PostgresCalendarStore } from '../../src/calendar/store/index.js';
import { type PostgresCluster, startPostgres } from '../support/postgres.js';

let started: Promise<PostgresCluster> | undefined;
const cluster = (): Promise<PostgresCluster> => {
  started ??= startPostgres();
  return started;
};
after(async () => {
  await (await started)?.stop();
});

/** A fresh, empty database on the test cluster, so each test starts from nothing. */
async function freshDatabase(): Promise<string> {
  const { adminUrl, url } = await cluster();
  const name = `calendar_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

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
