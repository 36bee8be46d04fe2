/**
 * The LightningNode contract against real LND: alice pays carol through bob on a btcd regtest
 * network, with the lnd REST client. Plus a kill -9 between sending a payment and recording it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { msat } from '../../src/core/money.js';
import { requestJson } from '../../src/lightning/http.js';
import { LndNode } from '../../src/lightning/index.js';
import {
  freePorts,
  lndNodeClient,
  lndTarget,
  type RegtestNetwork,
  startRegtestNetwork,
} from '../../src/regtest/index.js';
import { lightningContract } from '../contract/lightning.js';

let network: RegtestNetwork | undefined;
let dir = '';
let starting: Promise<RegtestNetwork> | undefined;

/** One network for every suite in this file, started on first use. */
function sharedNetwork(): Promise<RegtestNetwork> {
  starting ??= (async () => {
    dir = mkdtempSync(join(tmpdir(), 'lightproof-lnd-contract-'));
    network = await startRegtestNetwork({ dir, log: (line) => console.log(`[regtest] ${line}`) });
    return network;
  })();
  return starting;
}

after(async () => {
  await network?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

lightningContract('lnd client against real LND (alice pays carol through bob)', async () => {
  const net = await sharedNetwork();
  const port = (await freePorts(1))[0]!;
  return {
    payer: lndNodeClient(net.nodes.alice),
    payee: lndNodeClient(net.nodes.carol),
    unreachable: () =>
      new LndNode({ restUrl: `https://127.0.0.1:${port}`, macaroonPath: net.nodes.alice.adminMacaroonPath }),
    // bob's admin macaroon is well-formed but minted under another node's root key.
    wrongCredential: () =>
      new LndNode({
        restUrl: net.nodes.carol.restUrl,
        macaroonPath: net.nodes.bob.adminMacaroonPath,
        tlsCertPath: net.nodes.carol.tlsCertPath,
      }),
    async teardown() {},
  };
});

describe('lnd client: a crash between sending and recording never pays twice', {
  timeout: 10 * 60_000,
}, () => {
  it('recovers the first payment instead of sending a second one', async () => {
    const net = await sharedNetwork();
    const alice = lndNodeClient(net.nodes.alice);
    const carol = lndNodeClient(net.nodes.carol);
    const inv = await carol.createInvoice({ amountMsat: msat(12_345_000n), description: 'crash test' });
    const before = await alice.balance();

    const fixture = fileURLToPath(new URL('../fixtures/lnd-crash.ts', import.meta.url));
    const a = net.nodes.alice;
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', fixture, a.restUrl, a.adminMacaroonPath, a.tlsCertPath, inv.paymentRequest],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(
      child.signal,
      'SIGKILL',
      `the child died mid-payment (stdout ${child.stdout}, stderr ${child.stderr})`,
    );
    assert.match(child.stdout, /IN_FLIGHT|SUCCEEDED/, 'LND had taken the payment before the crash');

    const paid = await alice.payInvoice(inv.paymentRequest);
    assert.equal(bytesToHex(sha256(hexToBytes(paid.preimage))), inv.paymentHash);
    const again = await alice.payInvoice(inv.paymentRequest);
    assert.equal(again.preimage, paid.preimage);

    const settled = await carol.lookupInvoice(inv.paymentHash);
    assert.equal(settled.state, 'settled');
    assert.equal(settled.amountPaidMsat, 12_345_000n, 'carol was paid exactly once');
    const list = await requestJson(
      lndTarget(a),
      'GET',
      '/v1/payments?include_incomplete=true&max_payments=1000',
    );
    const payments = (
      (list.body as { payments?: { payment_hash: string; status: string }[] }).payments ?? []
    ).filter((p) => p.payment_hash === inv.paymentHash);
    assert.equal(payments.length, 1, 'LND holds one payment for the hash');
    assert.equal(payments[0]?.status, 'SUCCEEDED');
    // Spendable balance also reserves commitment fees for HTLCs still on the channel, so it settles
    // to its final value only once the HTLC is gone from both commitments.
    let after = await alice.balance();
    for (
      let i = 0;
      i < 100 && before.spendableMsat - after.spendableMsat !== 12_345_000n + paid.feeMsat;
      i++
    ) {
      await sleep(100);
      after = await alice.balance();
    }
    assert.equal(
      before.spendableMsat - after.spendableMsat,
      12_345_000n + paid.feeMsat,
      'alice paid once, plus fees',
    );
  });
});
