/**
 * The agent's side on the real regtest network: a wallet on alice's LND buys from a Lightproof gateway
 * on carol's LND through bob, inside its policy. Every payment count below is read from alice's LND,
 * not from the wallet's own journal, so a double payment cannot hide.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { z } from 'zod';
import { isLightproofError } from '../../src/core/errors.js';
import { msat } from '../../src/core/money.js';
import { parseGatewayConfig, type RunningGateway, startGateway } from '../../src/gateway/index.js';
import { createL402Fetch, MemoryTokenCache } from '../../src/l402/index.js';
import type { LndNode } from '../../src/lightning/index.js';
import {
  lndNodeClient,
  lndTarget,
  type RegtestNetwork,
  startRegtestNetwork,
} from '../../src/regtest/index.js';
import { lndCall } from '../../src/regtest/lnd-api.js';
import { DEFAULT_POLICY, parsePolicy, SqliteWalletStore, Wallet } from '../../src/wallet/index.js';

const PRICE_SAT = 10n;
const ROOT = join(import.meta.dirname, '..', '..');

const Payments = z.object({
  payments: z
    .array(z.object({ payment_hash: z.string(), status: z.string(), value_msat: z.string() }))
    .default([]),
});

describe('agent wallet on alice, buying from a gateway on carol', { timeout: 15 * 60_000 }, () => {
  let dir: string;
  let network: RegtestNetwork;
  let upstream: http.Server;
  let gw: RunningGateway;
  let alice: LndNode;
  let served = 0;

  /** Payments alice's LND has made (any state), by hash: the ground truth for "paid once". */
  async function alicePayments(): Promise<Map<string, string>> {
    const list = await lndCall(
      lndTarget(network.nodes.alice),
      'GET',
      '/v1/payments?include_incomplete=true&max_payments=10000',
      Payments,
    );
    return new Map(list.payments.map((p) => [p.payment_hash, p.status]));
  }

  function openWallet(name: string, policy = DEFAULT_POLICY): Promise<Wallet> {
    const store = SqliteWalletStore.open(join(dir, `${name}.db`));
    return Wallet.open({ node: alice, store, pollMs: 50 }).then(async (w) => {
      await w.setPolicy(policy);
      return w;
    });
  }

  const policyOf = (doc: Record<string, unknown>) => parsePolicy(doc, 'test policy');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lightproof-agent-'));
    network = await startRegtestNetwork({
      dir: join(dir, 'regtest'),
      log: (l) => console.log(`[regtest] ${l}`),
    });
    upstream = http.createServer((req, res) => {
      served++;
      res.end(`answer for ${req.url}`);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const carol = network.nodes.carol;
    const config = parseGatewayConfig(
      {
        listen: '127.0.0.1:0',
        logRequests: false,
        challengeLimits: [{ requests: 10000, per: '1s', burst: 10000 }],
        lightning: {
          kind: 'lnd',
          restUrl: carol.restUrl,
          macaroonPath: carol.adminMacaroonPath,
          tlsCertPath: carol.tlsCertPath,
        },
        services: [
          {
            name: 'infer',
            upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
            price: Number(PRICE_SAT),
            tokenTimeout: '1h',
          },
        ],
      },
      'test config',
    );
    gw = await startGateway({ config, dataDir: join(dir, 'gateway'), logger: pino({ level: 'silent' }) });
    alice = lndNodeClient(network.nodes.alice);
  });

  after(async () => {
    await gw?.close(1000);
    await new Promise((r) => upstream?.close(r));
    await alice?.close();
    await network?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('pays once through bob within budget, and reuses the token', async () => {
    const wallet = await openWallet('reuse');
    const before = await alicePayments();
    const l402 = wallet.fetch({ maxPriceMsat: msat(PRICE_SAT * 1000n) });
    const first = await l402(`${gw.url}/v1/a`);
    assert.equal(first.status, 200);
    assert.equal(await first.text(), 'answer for /v1/a');
    const second = await l402(`${gw.url}/v1/b`);
    assert.equal(second.status, 200);
    await second.text();
    const made = [...(await alicePayments()).keys()].filter((h) => !before.has(h));
    assert.equal(made.length, 1, 'one payment on alice for two requests');
    const [paid] = await wallet.store.list({ states: ['paid'] });
    assert.equal(paid?.paymentHash, made[0]);
    assert.equal(paid?.amountMsat, msat(PRICE_SAT * 1000n));
    assert.ok((paid?.feeMsat ?? 0n) > 0n, 'two hops: bob took a routing fee, journaled');
    const states = (await wallet.store.events({ paymentId: paid!.id })).map((e) => e.to);
    assert.deepEqual(states, ['quoted', 'reserved', 'paying', 'paid']);
    await wallet.close();
  });

  it('never makes more payments than the budget allows under 200 concurrent requests', async () => {
    // Each reservation holds price + maxFee (10 + 1 sat): a 220-sat total allows exactly 20.
    const wallet = await openWallet(
      'race',
      policyOf({ perRequest: '10 sat', maxFee: '1 sat', budgets: { total: '220 sat' } }),
    );
    const before = await alicePayments();
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        // A cache per request: each one must buy its own token, so all 200 reach the budget.
        createL402Fetch({
          payer: wallet.payer(),
          maxPriceMsat: msat(PRICE_SAT * 1000n),
          cache: new MemoryTokenCache(),
        })(`${gw.url}/v1/race/${i}`).then(async (r) => {
          await r.text();
          return r.status;
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled' && r.value === 200).length;
    const refused = results.filter(
      (r) => r.status === 'rejected' && isLightproofError(r.reason, 'LP_WALLET_BUDGET_EXCEEDED'),
    ).length;
    const made = [...(await alicePayments()).entries()].filter(([h]) => !before.has(h));
    assert.equal(ok, 20, 'exactly the 20 payments the budget allows went through');
    assert.equal(refused, 180, 'every other request was refused by the budget');
    assert.equal(made.length, 20, "alice's LND made 20 payments, no more");
    assert.ok(made.every(([, status]) => status === 'SUCCEEDED'));
    const paid = await wallet.store.list({ states: ['paid'], limit: 1000 });
    const spent = paid.reduce((sum, p) => sum + p.amountMsat + (p.feeMsat ?? 0n), 0n);
    assert.equal(paid.length, 20);
    assert.ok(spent <= 220_000n, `spent ${spent} msat, within the 220 000 msat budget`);
    await wallet.close();
  });

  it('after kill -9 between paying and recording, a restart reconciles with LND and never pays again', async () => {
    const db = join(dir, 'crash.db');
    const url = `${gw.url}/v1/crash`;
    const before = await alicePayments();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'test', 'support', 'crash-agent.ts')],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          CRASH_DB: db,
          CRASH_URL: url,
          CRASH_LND_REST: network.nodes.alice.restUrl,
          CRASH_LND_MACAROON: network.nodes.alice.adminMacaroonPath,
          CRASH_LND_TLS: network.nodes.alice.tlsCertPath,
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    const signal = await new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));
    assert.equal(signal, 'SIGKILL', 'the agent died by kill -9 right after the node paid');
    const made = [...(await alicePayments()).keys()].filter((h) => !before.has(h));
    assert.equal(made.length, 1, 'the node made the payment before the crash');

    const crashed = SqliteWalletStore.open(db);
    const [left] = await crashed.list();
    assert.equal(left?.state, 'paying', 'the journal was left mid-payment');
    await crashed.close();

    const wallet = await Wallet.open({ node: alice, store: SqliteWalletStore.open(db) });
    const [recovered] = await wallet.store.list();
    assert.equal(recovered?.state, 'paid', 'reconciled from LND on open');
    assert.equal(recovered?.paymentHash, made[0]);
    assert.match(recovered?.preimage ?? '', /^[0-9a-f]{64}$/);
    const servedBefore = served;
    const res = await wallet.fetch({ maxPriceMsat: msat(PRICE_SAT * 1000n) })(url);
    assert.equal(res.status, 200, 'the token bought before the crash opens the resource');
    await res.text();
    assert.equal(served, servedBefore + 1);
    const after = [...(await alicePayments()).keys()].filter((h) => !before.has(h));
    assert.equal(after.length, 1, 'no second payment after the restart');
    await wallet.close();
  });

  it('a frozen wallet pays nothing, and unfreezing lets it pay', async () => {
    const wallet = await openWallet('frozen');
    await wallet.freeze('test');
    const before = await alicePayments();
    const l402 = wallet.fetch({ maxPriceMsat: msat(PRICE_SAT * 1000n) });
    await assert.rejects(l402(`${gw.url}/v1/frozen`), (e) => isLightproofError(e, 'LP_WALLET_FROZEN'));
    assert.equal((await alicePayments()).size, before.size, 'zero payments while frozen');
    await wallet.unfreeze();
    const res = await l402(`${gw.url}/v1/frozen`);
    assert.equal(res.status, 200);
    await res.text();
    assert.equal((await alicePayments()).size, before.size + 1);
    await wallet.close();
  });

  it('a payment above the threshold waits, and is paid only after `lightproof wallet approve`', async () => {
    const dataDir = join(dir, 'approval-data');
    const alice_ = network.nodes.alice;
    const configPath = join(dir, 'approval-wallet.yaml');
    const db = join(dir, 'approval.db');
    writeFileSync(
      configPath,
      JSON.stringify({
        lightning: {
          kind: 'lnd',
          restUrl: alice_.restUrl,
          macaroonPath: alice_.adminMacaroonPath,
          tlsCertPath: alice_.tlsCertPath,
        },
        store: { kind: 'sqlite', path: db },
      }),
    );
    const wallet = await Wallet.open({ node: alice, store: SqliteWalletStore.open(db), pollMs: 50 });
    await wallet.setPolicy(policyOf({ perRequest: '100 sat', approvalAbove: '5 sat' }));
    const before = await alicePayments();
    const pending = wallet.fetch({ maxPriceMsat: msat(PRICE_SAT * 1000n), approvalWaitMs: 120_000 })(
      `${gw.url}/v1/approve-me`,
    );
    let waiting: Awaited<ReturnType<typeof wallet.store.list>> = [];
    for (let i = 0; i < 200 && waiting.length === 0; i++) {
      await sleep(50);
      waiting = await wallet.store.list({ states: ['awaiting-approval'] });
    }
    assert.equal(waiting.length, 1, 'the payment waits for a person');
    assert.equal((await alicePayments()).size, before.size, 'nothing paid before approval');

    const cli = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'src', 'cli', 'main.ts'),
        '--data-dir',
        dataDir,
        'wallet',
        '--wallet-config',
        configPath,
        'approve',
        String(waiting[0]!.id),
        '--by',
        'operator',
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(JSON.parse(cli.stdout).decided_by, 'operator');

    const res = await pending;
    assert.equal(res.status, 200);
    await res.text();
    const made = [...(await alicePayments()).keys()].filter((h) => !before.has(h));
    assert.deepEqual(made, [waiting[0]!.paymentHash], 'exactly the approved invoice was paid');
    await wallet.close();
  });
});
