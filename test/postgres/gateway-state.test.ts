/**
 * The gateway state against a real PostgreSQL cluster started for this file, plus the races that
 * only separate OS processes can show: each racer has its own pool (or its own SQLite connection).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isLightproofError } from '../../src/core/errors.js';
import { msat } from '../../src/core/money.js';
import { gatewayStateContract } from '../../src/gateway/state/contract.js';
import {
  POSTGRES_GATEWAY_MIGRATIONS,
  PostgresGatewayState,
  SqliteGatewayState,
} from '../../src/gateway/state/index.js';
import { freePorts } from '../../src/regtest/index.js';
import { openPostgres } from '../../src/store/index.js';
import { sharedCluster } from '../support/postgres.js';

const pgTest = sharedCluster();
after(() => pgTest.stop());
const freshDatabase = () => pgTest.freshDatabase('db');
const cluster = () => pgTest.cluster();

gatewayStateContract('PostgreSQL', async () => {
  const state = await PostgresGatewayState.open(await freshDatabase());
  return { state, cleanup: () => state.close() };
});

const WORKER = fileURLToPath(new URL('../fixtures/state-debit-worker.ts', import.meta.url));

interface WorkerResult {
  ok: number;
  firstUses: number;
}

/** Runs two worker processes that start their debits together; resolves with what each reports. */
async function race(kind: 'sqlite' | 'postgres', target: string, tokenId: string): Promise<WorkerResult[]> {
  const workers = [0, 1].map(() => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, kind, target, tokenId, '100', '10'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => stdout.includes('ready\n') && resolve());
      void exited.then((code) => reject(new Error(`worker exited (${code}) before it was ready: ${stderr}`)));
    });
    return { child, ready, exited, out: () => ({ stdout, stderr }) };
  });
  await Promise.all(workers.map((w) => w.ready));
  const startAt = Date.now() + 100;
  for (const w of workers) w.child.stdin.write(`${startAt}\n`);
  return Promise.all(
    workers.map(async (w) => {
      const code = await w.exited;
      const { stdout, stderr } = w.out();
      assert.equal(code, 0, `worker failed: ${stderr}`);
      return JSON.parse(stdout.trim().split('\n').at(-1)!) as WorkerResult;
    }),
  );
}

function assertRace(results: WorkerResult[]): void {
  assert.equal(
    results.reduce((n, r) => n + r.ok, 0),
    20,
    `exactly 20 of 200 debits succeed (${JSON.stringify(results)})`,
  );
  assert.equal(
    results.reduce((n, r) => n + r.firstUses, 0),
    1,
    `one recordUse, in one process, was the first (${JSON.stringify(results)})`,
  );
}

describe('gateway state shared by two processes', () => {
  it('PostgreSQL: 2 × 100 debits for credit that covers 20 → 20 succeed, 0 left, one first use', async () => {
    const url = await freshDatabase();
    const tokenId = `tok-${randomBytes(6).toString('hex')}`;
    assertRace(await race('postgres', url, tokenId));
    const state = await PostgresGatewayState.open(url);
    try {
      assert.deepEqual(await state.debit(tokenId, msat(20_000n), msat(1n)), { ok: false, remainingMsat: 0n });
      assert.equal((await state.getToken(tokenId))?.requests, 20);
    } finally {
      await state.close();
    }
  });

  it('SQLite: the same race on one shared file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lightproof-state-race-'));
    try {
      const path = join(dir, 'gateway.sqlite');
      // Create the schema first, so the racers do not also race to migrate.
      await SqliteGatewayState.open(path).close();
      const tokenId = `tok-${randomBytes(6).toString('hex')}`;
      assertRace(await race('sqlite', path, tokenId));
      const state = SqliteGatewayState.open(path);
      assert.deepEqual(await state.debit(tokenId, msat(20_000n), msat(1n)), { ok: false, remainingMsat: 0n });
      assert.equal((await state.getToken(tokenId))?.requests, 20);
      await state.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function expectStoreError(promise: Promise<unknown>, code: string, secret: string): Promise<string> {
  let message = '';
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isLightproofError(err, code), `expected ${code}, got ${String(err)}`);
    message = err.message;
    assert.ok(!message.includes(secret), `the message must not show the password: ${message}`);
    assert.ok(!JSON.stringify(err.toJSON()).includes(secret));
    return true;
  });
  return message;
}

describe('openPostgres', () => {
  it('names host and port, never the password, when nothing listens there', async () => {
    const [port] = await freePorts(1);
    const secret = 'hunter2-do-not-print';
    const message = await expectStoreError(
      PostgresGatewayState.open(`postgres://gw:${secret}@127.0.0.1:${port}/gateway`),
      'LP_STORE_UNAVAILABLE',
      secret,
    );
    assert.match(message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(message, /running/);
  });

  it('tells a wrong password and a missing database apart, without printing the password', async () => {
    const url = new URL((await cluster()).url);
    const secret = 'wrong-password-123';
    url.password = secret;
    const auth = await expectStoreError(openPostgres(url.toString()), 'LP_STORE_AUTH_FAILED', secret);
    assert.match(auth, /user "lightproof"/);
    const missing = new URL((await cluster()).url);
    missing.pathname = '/no_such_db';
    const msg = await expectStoreError(
      openPostgres(missing.toString()),
      'LP_STORE_UNAVAILABLE',
      missing.password,
    );
    assert.match(msg, /createdb/);
  });

  it('refuses a URL that is not postgres:// without quoting it', async () => {
    await expectStoreError(openPostgres('mysql://u:topsecret@h/db'), 'LP_STORE_BAD_URL', 'topsecret');
    await expectStoreError(openPostgres('not a url topsecret'), 'LP_STORE_BAD_URL', 'topsecret');
  });

  it('migrates once when several processes start at the same moment', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all(
      Array.from({ length: 6 }, () => openPostgres(url, POSTGRES_GATEWAY_MIGRATIONS, { max: 1 })),
    );
    const { rows } = await stores[0]!.query<{ module: string; version: number }>(
      'SELECT module, version FROM schema_migrations',
    );
    assert.deepEqual(rows, [{ module: 'gateway', version: 1 }]);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('refuses a database written by a newer schema with LP_STORE_TOO_NEW', async () => {
    const url = await freshDatabase();
    const v1 = { module: 'probe', version: 1, sql: 'CREATE TABLE probe (x INT)' };
    const v2 = { module: 'probe', version: 2, sql: 'ALTER TABLE probe ADD COLUMN y INT' };
    await (await openPostgres(url, [v1, v2])).close();
    await assert.rejects(openPostgres(url, [v1]), (e: unknown) => isLightproofError(e, 'LP_STORE_TOO_NEW'));
  });

  it('reads BIGINT as an exact bigint', async () => {
    const store = await openPostgres(await freshDatabase());
    try {
      const { rows } = await store.query<{ v: bigint }>('SELECT $1::bigint AS v', [2n ** 62n + 1n]);
      assert.equal(rows[0]?.v, 2n ** 62n + 1n);
    } finally {
      await store.close();
    }
  });
});
