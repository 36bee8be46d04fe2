/**
 * `lightproof fetch` and `lightproof wallet` as real child processes, buying from a real gateway on the
 * embedded node they share with the test (the kit's data directory is the CLI's --data-dir).
 */
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Kit, spendMeter, startKit } from '../gateway/gateway.testkit.js';
import { cli as lightproof } from './cli.testkit.js';

let kit: Kit;
/** The CLI on the kit's data directory, the wallet the gateway's test node funds. */
const cli = (...args: string[]) => lightproof(['--data-dir', kit.dir, ...args]);

before(async () => {
  kit = await startKit({
    config: { services: [{ name: 'chat', upstream: 'UPSTREAM', price: 10, tokenTimeout: '1h' }] },
  });
  spent = spendMeter(kit.agent);
});
after(() => kit.stop());

const json = (text: string) => JSON.parse(text) as Record<string, unknown>;

/** Msat the agent's embedded account spent since the last call, from the node's own ledger. */
let spent: () => Promise<bigint>;

describe('lightproof fetch', () => {
  it('quotes with --no-pay and pays nothing', async () => {
    await spent();
    const r = await cli('fetch', '--no-pay', kit.url('/v1/q'));
    assert.equal(r.status, 0, r.err);
    const quote = json(r.out);
    assert.equal(quote.payment_required, true);
    assert.equal(quote.price_msat, 10_000);
    assert.equal(quote.would_pay, true);
    assert.equal(await spent(), 0n);
  });

  it('refuses a price above --max-sats with a code, paying nothing', async () => {
    const r = await cli('fetch', '--max-sats', '5', kit.url('/v1/q'));
    assert.equal(r.status, 1);
    assert.match(r.err, /error LP_L402_PRICE_TOO_HIGH: .*10000 msat/);
    assert.equal(await spent(), 0n);
  });

  it('pays once, prints the body, and a second process reuses the token from the journal', async () => {
    const first = await cli('fetch', '-i', kit.url('/v1/a?x=1'));
    assert.equal(first.status, 0, first.err);
    assert.match(first.out, /^HTTP 200 /);
    assert.match(first.err, /paid 10000 msat/);
    const second = await cli('fetch', '--json', '-X', 'POST', '-d', 'hello', kit.url('/v1/b'));
    assert.equal(second.status, 0, second.err);
    const res = json(second.out);
    assert.equal(res.status, 200);
    assert.deepEqual(res.paid, [], 'no payment the second time');
    assert.equal(kit.upstream.seen.at(-1)?.body, 'hello', 'the body reached the upstream');
    assert.equal(await spent(), 10_000n);
  });

  it('says a server is unreachable with a code, not a bare "fetch failed"', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    const r = await cli('fetch', `http://127.0.0.1:${port}/x`);
    assert.equal(r.status, 1);
    assert.match(
      r.err,
      /error LP_FETCH_UNREACHABLE: Could not reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
  });

  it('exits 22 with --fail when the server answers an HTTP error, as curl does', async () => {
    const missing = createServer((_req, res) => res.writeHead(404).end('no such thing'));
    await new Promise<void>((r) => missing.listen(0, '127.0.0.1', r));
    const { port } = missing.address() as AddressInfo;
    try {
      const r = await cli('fetch', '--fail', `http://127.0.0.1:${port}/x`);
      assert.equal(r.status, 22, r.err);
      assert.equal(await spent(), 0n);
    } finally {
      await new Promise((r) => missing.close(r));
    }
  });

  it('rejects malformed flags before touching the network', async () => {
    assert.match((await cli('fetch', 'not a url')).err, /LP_CLI_BAD_URL/);
    assert.match((await cli('fetch', 'ftp://x/y')).err, /LP_CLI_BAD_URL/);
    assert.match((await cli('fetch', '-H', 'no colon', kit.url('/'))).err, /LP_CLI_BAD_HEADER/);
    assert.match((await cli('fetch', '-d', 'x', '-X', 'GET', kit.url('/'))).err, /LP_CLI_BAD_METHOD/);
    assert.match((await cli('fetch', '--max-sats', '-3', kit.url('/'))).err, /LP_CLI_BAD_AMOUNT/);
    assert.match((await cli('fetch', '-d', '@/nonexistent/file', kit.url('/'))).err, /LP_CLI_BAD_DATA/);
  });
});

describe('lightproof wallet', () => {
  it('sets budgets and shows what is left', async () => {
    const set = await cli(
      'wallet',
      'budget',
      '--per-request',
      '50 sat',
      '--day',
      '0.05 usd',
      '--usd-per-btc',
      '100000',
    );
    assert.equal(set.status, 0, set.err);
    assert.equal(json(set.out).perRequest, '50 sat');
    const status = json((await cli('wallet', 'status')).out);
    const day = (status.budgets as { wallet: { periods: { day: { limitMsat: number; spentMsat: number } } } })
      .wallet.periods.day;
    assert.equal(day.limitMsat, 50_000, '0.05 usd at 100 000 usd/btc');
    assert.ok(day.spentMsat >= 10_000, 'the earlier payment counts');
    assert.equal(status.frozen, false);
    assert.match((await cli('wallet', 'budget', '--day', 'lots')).err, /LP_WALLET_POLICY: .*budgets\.day/);
  });

  it('freezes: a direct payment is refused; unfrozen it is paid once', async () => {
    const invoice = await kit.provider.createInvoice({ amountMsat: 2_000n as never });
    assert.equal((await cli('wallet', 'freeze', '--reason', 'drill')).status, 0);
    const refused = await cli('wallet', 'pay', invoice.paymentRequest, '--max-sats', '5');
    assert.match(refused.err, /LP_WALLET_FROZEN/);
    await spent();
    assert.equal((await cli('wallet', 'unfreeze')).status, 0);
    // The same invoice: its hash was journaled as rejected, so it is not paid behind the operator's back.
    const again = await cli('wallet', 'pay', invoice.paymentRequest, '--max-sats', '5');
    assert.match(again.err, /LP_WALLET_FROZEN/);
    const fresh = await kit.provider.createInvoice({ amountMsat: 2_000n as never });
    const paid = await cli('wallet', 'pay', fresh.paymentRequest, '--max-sats', '5');
    assert.equal(paid.status, 0, paid.err);
    assert.equal(json(paid.out).state, 'paid');
    assert.equal(await spent(), 2_000n);
  });

  it('lists history without bearer credentials, and events oldest first', async () => {
    const history = JSON.parse((await cli('wallet', 'history', '--limit', '10')).out) as Record<
      string,
      unknown
    >[];
    assert.ok(history.length >= 2);
    for (const r of history) {
      assert.ok(!('token' in r) && !('preimage' in r), 'no token or preimage in history');
    }
    const events = JSON.parse((await cli('wallet', 'history', '--events')).out) as { to: string }[];
    assert.equal(events[0]?.to, 'quoted');
    assert.match((await cli('wallet', 'history', '--state', 'lost')).err, /LP_CLI_BAD_STATE/);
  });

  it('approving or rejecting a payment that is not waiting says so', async () => {
    assert.match((await cli('wallet', 'approve', '999')).err, /LP_WALLET_NOT_FOUND/);
    assert.match((await cli('wallet', 'approve', '1')).err, /LP_WALLET_NOT_AWAITING/);
    assert.match((await cli('wallet', 'reject', 'x')).err, /LP_CLI_BAD_NUMBER/);
  });

  it('derives a regtest address from a seed it keeps in a 0600 file', async () => {
    const r = await cli('wallet', 'address', '--index', '2');
    assert.equal(r.status, 0, r.err);
    assert.match(json(r.out).address as string, /^bcrt1q[02-9ac-hj-np-z]{38}$/);
    assert.equal(json((await cli('wallet', 'address', '--index', '2')).out).address, json(r.out).address);
    assert.equal(statSync(join(kit.dir, 'wallet', 'seed')).mode & 0o777, 0o600);
  });

  it('installs a policy file and refuses a garbled one', async () => {
    const good = join(kit.dir, 'policy.yaml');
    writeFileSync(good, 'perRequest: 30 sat\nbudgets: { day: 1000 sat }\nallow: ["127.0.0.1"]\n');
    const r = await cli('wallet', 'policy', good);
    assert.equal(r.status, 0, r.err);
    assert.deepEqual(json(r.out).allow, ['127.0.0.1']);
    const bad = join(kit.dir, 'bad.yaml');
    writeFileSync(bad, 'perRequest: 30 sat\nbudgets: { weekly: 5 }\n');
    assert.match((await cli('wallet', 'policy', bad)).err, /LP_WALLET_POLICY: .*budgets/);
  });
});
