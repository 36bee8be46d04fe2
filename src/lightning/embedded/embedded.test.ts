import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lightningContract } from '../../../test/contract/lightning.js';
import { isLightproofError } from '../../core/errors.js';
import { msat } from '../../core/money.js';
import { freePorts } from '../../regtest/index.js';
import { LndNode } from '../lnd/index.js';
import { EmbeddedLightning } from './host.js';
import { EmbeddedRestServer } from './rest.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'lightproof-embedded-'));
}

function openFunded(dir: string): EmbeddedLightning {
  const host = EmbeddedLightning.open(dir);
  host.ensureAccount('payer');
  host.ensureAccount('payee');
  host.deposit('payer', msat(10_000_000n));
  return host;
}

lightningContract('embedded, in process', async () => {
  const dir = tempDir();
  const host = openFunded(dir);
  return {
    payer: host.account('payer'),
    payee: host.account('payee'),
    async teardown() {
      host.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

lightningContract('lnd client against `lightproof node` (embedded over LND REST)', async () => {
  const dir = tempDir();
  const host = openFunded(dir);
  const server = new EmbeddedRestServer(host);
  const url = await server.listen('127.0.0.1', 0);
  const port = (await freePorts(1))[0]!;
  return {
    payer: new LndNode({ restUrl: url, macaroonPath: host.credentialPath('payer') }),
    payee: new LndNode({ restUrl: url, macaroonPath: host.credentialPath('payee') }),
    unreachable: () => new LndNode({ restUrl: `http://127.0.0.1:${port}`, macaroon: '00' }),
    wrongCredential: () => new LndNode({ restUrl: url, macaroon: 'ab'.repeat(32) }),
    async teardown() {
      await server.close();
      host.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('embedded node: durability', () => {
  it('keeps accounts, invoices and payments across a restart, with secrets in 0600 files', async () => {
    const dir = tempDir();
    let host = openFunded(dir);
    const inv = await host
      .account('payee')
      .createInvoice({ amountMsat: msat(4_000n), description: 'persist' });
    const paid = await host.account('payer').payInvoice(inv.paymentRequest);
    const pubkey = host.pubkey;
    host.close();
    host = EmbeddedLightning.open(dir);
    assert.equal(host.pubkey, pubkey, 'the node key survives');
    assert.equal((await host.account('payee').lookupInvoice(inv.paymentHash)).state, 'settled');
    assert.equal((await host.account('payer').balance()).spendableMsat, 10_000_000n - 4_000n);
    assert.equal((await host.account('payer').payInvoice(inv.paymentRequest)).preimage, paid.preimage);
    assert.equal((await host.account('payer').balance()).spendableMsat, 10_000_000n - 4_000n);
    assert.equal(statSync(join(dir, 'node.key')).mode & 0o777, 0o600);
    assert.equal(statSync(host.credentialPath('payer')).mode & 0o777, 0o600);
    host.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing and pays once when killed -9 in the middle of a payment', async () => {
    const dir = tempDir();
    let host = openFunded(dir);
    const inv = await host
      .account('payee')
      .createInvoice({ amountMsat: msat(25_000n), description: 'crash' });
    host.close();
    const fixture = fileURLToPath(new URL('../../../test/fixtures/embedded-crash.ts', import.meta.url));
    const child = spawnSync(process.execPath, ['--import', 'tsx', fixture, dir, inv.paymentRequest], {
      encoding: 'utf8',
    });
    assert.equal(
      child.signal,
      'SIGKILL',
      `the child died inside the payment (stdout: ${child.stdout} stderr: ${child.stderr})`,
    );
    host = EmbeddedLightning.open(dir);
    assert.equal(
      (await host.account('payer').balance()).spendableMsat,
      10_000_000n,
      'the debit was rolled back',
    );
    assert.equal((await host.account('payee').lookupInvoice(inv.paymentHash)).state, 'open');
    assert.equal(await host.account('payer').lookupPayment(inv.paymentHash), null);
    await host.account('payer').payInvoice(inv.paymentRequest);
    await host.account('payer').payInvoice(inv.paymentRequest);
    assert.equal((await host.account('payer').balance()).spendableMsat, 10_000_000n - 25_000n);
    assert.equal((await host.account('payee').balance()).spendableMsat, 25_000n);
    host.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a corrupt database with a typed error and leaves the file as it was', () => {
    const dir = tempDir();
    const garbage = Buffer.alloc(8192, 0x5a);
    writeFileSync(join(dir, 'embedded.sqlite'), garbage);
    assert.throws(
      () => EmbeddedLightning.open(dir),
      (e: unknown) => isLightproofError(e, 'LP_STORE_CORRUPT'),
    );
    assert.equal(statSync(join(dir, 'embedded.sqlite')).size, garbage.length);
    rmSync(dir, { recursive: true, force: true });
  });

  it('names bad and unknown accounts, and refuses a second account of the same name', () => {
    const dir = tempDir();
    const host = openFunded(dir);
    assert.throws(
      () => host.createAccount('Bad Name!'),
      (e: unknown) => isLightproofError(e, 'LP_LN_BAD_ACCOUNT_NAME'),
    );
    assert.throws(
      () => host.createAccount('payer'),
      (e: unknown) => isLightproofError(e, 'LP_LN_ACCOUNT_EXISTS'),
    );
    assert.throws(
      () => host.account('nobody'),
      (e: unknown) => isLightproofError(e, 'LP_LN_UNKNOWN_ACCOUNT'),
    );
    host.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses self-payment and invoices of other nodes', async () => {
    const dir = tempDir();
    const other = tempDir();
    const host = openFunded(dir);
    const stranger = EmbeddedLightning.open(other);
    const own = await host.account('payer').createInvoice({ amountMsat: msat(1_000n) });
    await assert.rejects(host.account('payer').payInvoice(own.paymentRequest), (e: unknown) =>
      isLightproofError(e, 'LP_LN_SELF_PAYMENT'),
    );
    const foreign = await stranger.ensureAccount('x').createInvoice({ amountMsat: msat(1_000n) });
    await assert.rejects(host.account('payer').payInvoice(foreign.paymentRequest), (e: unknown) =>
      isLightproofError(e, 'LP_LN_NO_ROUTE'),
    );
    host.close();
    stranger.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });
});

describe('lightproof node REST API with hostile requests', () => {
  it('answers with LND-style 4xx errors, never a 500', async () => {
    const dir = tempDir();
    const host = openFunded(dir);
    const server = new EmbeddedRestServer(host);
    const url = await server.listen();
    const mac = readFileSync(host.credentialPath('payer')).toString('hex');
    try {
      const call = async (path: string, init: RequestInit = {}) => {
        const res = await fetch(url + path, init);
        return {
          status: res.status,
          body: (await res.json()) as { lightproof_code?: string; message?: string },
        };
      };
      const auth = { 'Grpc-Metadata-macaroon': mac };
      assert.equal((await call('/v1/getinfo')).status, 401);
      assert.equal((await call('/v1/getinfo', { headers: { 'Grpc-Metadata-macaroon': 'zz' } })).status, 401);
      assert.equal((await call('/v1/nope', { headers: auth })).status, 404);
      const bad = await call('/v1/invoices', { method: 'POST', headers: auth, body: '{not json' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.lightproof_code, 'LP_HTTP_BAD_JSON');
      const big = await call('/v1/invoices', {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ memo: 'x'.repeat(70_000) }),
      });
      assert.equal(big.status, 413);
      const neg = await call('/v1/invoices', {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ value_msat: '-5' }),
      });
      assert.equal(neg.status, 400);
      const garbled = await call('/v2/router/send', {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ payment_request: 'lnbcrt1zzz' }),
      });
      assert.equal(garbled.status, 400);
      assert.match(garbled.body.lightproof_code ?? '', /^LP_BOLT11_/);
    } finally {
      await server.close();
      host.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
