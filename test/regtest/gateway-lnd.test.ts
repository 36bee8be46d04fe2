/**
 * The gateway on carol's real LND, paid by alice through bob with Lightproof's L402 client: the
 * 402, the payment over two hops, the retry, token reuse, and the gateway seeing the settlement in
 * carol's invoice stream.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { msat } from '../../src/core/money.js';
import { parseGatewayConfig, type RunningGateway, startGateway } from '../../src/gateway/index.js';
import { createL402Fetch, payerFromNode } from '../../src/l402/index.js';
import type { LndNode } from '../../src/lightning/index.js';
import { lndNodeClient, type RegtestNetwork, startRegtestNetwork } from '../../src/regtest/index.js';

describe('gateway on carol, paid by alice through bob', { timeout: 10 * 60_000 }, () => {
  let dir: string;
  let network: RegtestNetwork;
  let upstream: http.Server;
  let gw: RunningGateway;
  let alice: LndNode;
  let carol: LndNode;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lightproof-gateway-lnd-'));
    network = await startRegtestNetwork({
      dir: join(dir, 'regtest'),
      log: (l) => console.log(`[regtest] ${l}`),
    });
    upstream = http.createServer((req, res) => res.end(`model output for ${req.url}`));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const carolInfo = network.nodes.carol;
    const config = parseGatewayConfig(
      {
        listen: '127.0.0.1:0',
        logRequests: false,
        lightning: {
          kind: 'lnd',
          restUrl: carolInfo.restUrl,
          macaroonPath: carolInfo.adminMacaroonPath,
          tlsCertPath: carolInfo.tlsCertPath,
        },
        services: [
          {
            name: 'infer',
            upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
            price: 25,
            tokenTimeout: '1h',
          },
        ],
      },
      'test config',
    );
    gw = await startGateway({ config, dataDir: join(dir, 'gateway'), logger: pino({ level: 'silent' }) });
    alice = lndNodeClient(network.nodes.alice);
    carol = lndNodeClient(carolInfo);
  });

  after(async () => {
    await gw?.close(1000);
    upstream?.close();
    await alice?.close();
    await carol?.close();
    await network?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is paid over two hops, serves the retry, reuses the token, and sees the settlement', async () => {
    const before = await alice.balance();
    const paidFetch = createL402Fetch({ payer: payerFromNode(alice), maxPriceMsat: msat(30_000n) });
    const first = await paidFetch(`${gw.url}/v1/completions`);
    assert.equal(first.status, 200);
    assert.equal(await first.text(), 'model output for /v1/completions');
    assert.ok(first.headers.get('lightproof-receipt'), 'the paid response is signed');
    const second = await paidFetch(`${gw.url}/v1/completions?n=2`);
    assert.equal(second.status, 200);
    await second.arrayBuffer();

    const tokens = await gw.state.listTokens({ limit: 10 });
    assert.equal(tokens.length, 1, 'one challenge, one token, for two requests');
    const token = tokens[0]!;
    const invoice = await carol.lookupInvoice(token.paymentHash);
    assert.equal(invoice.state, 'settled');
    assert.equal(invoice.amountMsat, 25_000n);
    const payment = await alice.lookupPayment(token.paymentHash);
    assert.equal(payment?.state, 'succeeded');
    assert.ok(payment.feeMsat > 0n, 'bob charged a routing fee: the payment crossed two hops');
    const after = await alice.balance();
    assert.equal(before.spendableMsat - after.spendableMsat, 25_000n + payment.feeMsat, 'alice paid once');

    // The settlement reaches the gateway through carol's invoice stream, not only through the retry.
    let settled = 0;
    for (let i = 0; i < 100 && settled === 0; i++) {
      const m = await gw.metrics.settled.get();
      settled = m.values.find((v) => v.labels.service === 'infer')?.value ?? 0;
      if (settled === 0) await sleep(100);
    }
    assert.equal(settled, 1);
    const booked = await gw.state.getToken(token.tokenId);
    assert.ok(booked?.paidAt, 'the token is booked as paid');
    const revenue = (await gw.state.revenue()).find((r) => r.service === 'infer');
    assert.equal(revenue?.revenueMsat, 25_000n);
  });
});
