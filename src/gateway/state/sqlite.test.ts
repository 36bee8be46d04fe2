import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isLightproofError } from '../../core/errors.js';
import { msat } from '../../core/money.js';
import { gatewayStateContract } from './contract.js';
import { openGatewayState, SqliteGatewayState } from './index.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'lightproof-state-'));

gatewayStateContract('SQLite', async () => {
  const dir = tempDir();
  const state = await openGatewayState({ kind: 'sqlite', path: join(dir, 'gateway.sqlite') });
  return {
    state,
    async cleanup() {
      await state.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteGatewayState', () => {
  it('refuses a corrupt file with LP_STORE_CORRUPT and leaves it as it was', () => {
    const dir = tempDir();
    const path = join(dir, 'gateway.sqlite');
    const garbage = Buffer.alloc(8192, 0x5a);
    writeFileSync(path, garbage);
    assert.throws(
      () => SqliteGatewayState.open(path),
      (e: unknown) => isLightproofError(e, 'LP_STORE_CORRUPT'),
    );
    assert.equal(statSync(path).size, garbage.length);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps tokens, credit and revocations across a reopen, in an owner-only file', async () => {
    const dir = tempDir();
    const path = join(dir, 'gateway.sqlite');
    let state = SqliteGatewayState.open(path);
    await state.debit('tok-1', msat(5_000n), msat(2_000n));
    await state.revoke('tok-2', 1_700_000_000);
    await state.close();
    state = SqliteGatewayState.open(path);
    assert.deepEqual(await state.debit('tok-1', msat(5_000n), msat(1_000n)), {
      ok: true,
      remainingMsat: 2_000n,
    });
    assert.equal(await state.isRevoked('tok-2'), true);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
