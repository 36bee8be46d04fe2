import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { calendarStoreContract } from './contract.js';
import { openCalendarStore, parseStoreSpec, SqliteCalendarStore } from './index.js';

const root = mkdtempSync(join(tmpdir(), 'lightproof-calendar-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const freshPath = (): string => join(root, `calendar-${++files}.db`);

calendarStoreContract('SQLite', () => openCalendarStore({ kind: 'sqlite', path: freshPath() }));

describe('SqliteCalendarStore', () => {
  it('keeps rounds and anchors across a reopen, in an owner-only file', async () => {
    const path = freshPath();
    let store = SqliteCalendarStore.open(path);
    const round = {
      time: 1,
      tip: new Uint8Array(32),
      commitment: new Uint8Array(44).fill(1),
      digests: 1,
      leaves: new Uint8Array(49),
    };
    const id = await store.addRound(round);
    await store.setMeta('k', 'v');
    await store.close();
    store = SqliteCalendarStore.open(path);
    assert.deepEqual(await store.round(id), { id, ...round });
    assert.equal(await store.getMeta('k'), 'v');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    await store.close();
  });

  it('reads --store values', () => {
    assert.deepEqual(parseStoreSpec('sqlite:/var/lib/cal.db'), { kind: 'sqlite', path: '/var/lib/cal.db' });
    assert.deepEqual(parseStoreSpec('postgres://u:p@h/db'), { kind: 'postgres', url: 'postgres://u:p@h/db' });
    assert.throws(
      () => parseStoreSpec('mysql://u:secret@h/db'),
      (e: unknown) =>
        e instanceof Error &&
        /LP_CAL_BAD_STORE/.test(String((e as { code?: string }).code)) &&
        !e.message.includes('secret'),
    );
  });
});
