/**
 * End-to-end: a real btcd + three lnd nodes. Needs Go (or a warm daemon cache); the first run builds
 * btcd and lnd via build-daemons.sh, which takes minutes.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isLightproofError } from '../../src/core/index.js';
import { requestJson, streamJson } from '../../src/lightning/http.js';
import {
  isDaemonAlive,
  lndTarget,
  type RegtestNetwork,
  readRegtestState,
  regtestStatus,
  startRegtestNetwork,
  stopRegtestNetwork,
} from '../../src/regtest/index.js';

function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}

describe('regtest network alice → bob → carol', { timeout: 20 * 60_000 }, () => {
  let dir = '';
  let net: RegtestNetwork | undefined;
  let pids: number[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lightproof-regtest-'));
    const t0 = performance.now();
    net = await startRegtestNetwork({ dir, log: (line) => console.log(`[regtest] ${line}`) });
    console.log(`regtest network started in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    pids = [net.btcd.pid, net.nodes.alice.pid, net.nodes.bob.pid, net.nodes.carol.pid];
  });

  after(async () => {
    await net?.stop();
    for (const pid of pids)
      assert.equal(isDaemonAlive(pid, dir), false, `pid ${pid} still runs after stop()`);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every node is synced and has its active channels', async () => {
    assert.ok(net);
    const height = await net.btcdRpc('getblockcount');
    const want = { alice: 1, bob: 2, carol: 1 } as const;
    for (const [name, channels] of Object.entries(want) as [keyof typeof want, number][]) {
      const res = await requestJson(lndTarget(net.nodes[name]), 'GET', '/v1/getinfo');
      assert.equal(res.status, 200);
      assert.equal(field(res.body, 'synced_to_chain'), true, `${name} not synced`);
      assert.equal(field(res.body, 'block_height'), height, `${name} height`);
      assert.equal(field(res.body, 'num_active_channels'), channels, `${name} channels`);
      assert.equal(field(res.body, 'identity_pubkey'), net.nodes[name].pubkey);
    }
  });

  test('alice pays a 1,000-sat invoice of carol through bob', async () => {
    assert.ok(net);
    const carol = lndTarget(net.nodes.carol);
    const invoice = await requestJson(carol, 'POST', '/v1/invoices', { value: '1000', memo: 'regtest test' });
    assert.equal(invoice.status, 200);
    const paymentRequest = field(invoice.body, 'payment_request');
    const rHash = Buffer.from(String(field(invoice.body, 'r_hash')), 'base64').toString('hex');
    assert.equal(typeof paymentRequest, 'string');

    const body = {
      payment_request: paymentRequest,
      fee_limit_sat: '10',
      timeout_seconds: 30,
      no_inflight_updates: true,
    };
    let payment: unknown;
    for await (const line of streamJson(lndTarget(net.nodes.alice), 'POST', '/v2/router/send', body, {
      signal: AbortSignal.timeout(45_000),
    })) {
      payment = field(line.body, 'result') ?? line.body;
      if (['SUCCEEDED', 'FAILED'].includes(String(field(payment, 'status')))) break;
    }
    assert.equal(field(payment, 'status'), 'SUCCEEDED', JSON.stringify(payment));
    const htlcs = field(payment, 'htlcs') as unknown[];
    const hops = field(field(htlcs.at(-1), 'route'), 'hops') as unknown[];
    assert.deepEqual(
      hops.map((h) => field(h, 'pub_key')),
      [net.nodes.bob.pubkey, net.nodes.carol.pubkey],
    );

    const lookup = await requestJson(carol, 'GET', `/v1/invoice/${rHash}`);
    assert.equal(field(lookup.body, 'state'), 'SETTLED');
    assert.equal(field(lookup.body, 'amt_paid_sat'), '1000');
  });

  test('state.json and regtestStatus describe the running network', async () => {
    assert.ok(net);
    assert.equal(statSync(join(dir, 'state.json')).mode & 0o777, 0o600);
    const state = readRegtestState(dir);
    assert.deepEqual(state.nodes, net.nodes);
    assert.deepEqual(state.btcd, net.btcd);
    const status = await regtestStatus(dir);
    assert.equal(status.btcd.alive, true);
    for (const name of ['alice', 'bob', 'carol'] as const) {
      assert.equal(status.nodes[name].alive, true);
      assert.equal(status.nodes[name].syncedToChain, true);
    }
    assert.equal(status.nodes.bob.numActiveChannels, 2);
  });

  test('stopRegtestNetwork stops every daemon and removes state.json', async () => {
    await stopRegtestNetwork(dir);
    for (const pid of pids) assert.equal(isDaemonAlive(pid, dir), false, `pid ${pid} still runs`);
    assert.equal(existsSync(join(dir, 'state.json')), false);
    assert.throws(
      () => readRegtestState(dir),
      (err) => isLightproofError(err, 'LP_REGTEST_NOT_RUNNING'),
    );
  });
});

test('the state functions say LP_REGTEST_NOT_RUNNING for a directory without a network', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lightproof-regtest-empty-'));
  try {
    assert.throws(
      () => readRegtestState(dir),
      (err) => isLightproofError(err, 'LP_REGTEST_NOT_RUNNING') && /lightproof regtest up/.test(err.message),
    );
    await assert.rejects(regtestStatus(dir), (err) => isLightproofError(err, 'LP_REGTEST_NOT_RUNNING'));
    await assert.rejects(stopRegtestNetwork(dir), (err) => isLightproofError(err, 'LP_REGTEST_NOT_RUNNING'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
