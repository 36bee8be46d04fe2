/**
 * The contract every LightningNode implementation passes. Each pairing (embedded in-process, the lnd
 * client against `lightproof node`, the lnd client against real LND) runs this same suite.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { isLightproofError } from '../../src/core/errors.js';
import { type Msat, msat } from '../../src/core/money.js';
import {
  decodeInvoice,
  encodeInvoice,
  type InvoiceStatus,
  type LightningNode,
} from '../../src/lightning/index.js';

export interface ContractPair {
  payer: LightningNode;
  payee: LightningNode;
  /** A client of the same kind pointed at an address where nothing listens. */
  unreachable?: () => LightningNode;
  /** A client of the same kind that presents a credential the node does not accept. */
  wrongCredential?: () => LightningNode;
  teardown(): Promise<void>;
}

async function expectCode(promise: Promise<unknown>, code: string | RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isLightproofError(err), `expected a LightproofError, got ${String(err)}`);
    if (typeof code === 'string') assert.equal(err.code, code, err.message);
    else assert.match(err.code, code, err.message);
    assert.ok(err.message.length > 20, 'the message says what to do');
    return true;
  });
}

export function lightningContract(name: string, setup: () => Promise<ContractPair>): void {
  describe(`LightningNode contract: ${name}`, () => {
    let pair: ContractPair;
    before(async () => {
      pair = await setup();
    });
    after(async () => {
      await pair?.teardown();
    });

    it('reports its identity and network', async () => {
      const info = await pair.payee.getInfo();
      assert.match(info.pubkey, /^0[23][0-9a-f]{64}$/);
      assert.equal(info.network, 'regtest');
      assert.equal(info.synced, true);
    });

    it('issues a signed invoice that decodes to what was asked, and looks it up as open', async () => {
      const info = await pair.payee.getInfo();
      const inv = await pair.payee.createInvoice({
        amountMsat: msat(21_000n),
        description: 'contract: issue',
        expirySeconds: 600,
      });
      const d = decodeInvoice(inv.paymentRequest);
      assert.equal(d.network, 'regtest');
      assert.equal(d.amountMsat, 21_000n);
      assert.equal(d.description, 'contract: issue');
      assert.equal(d.paymentHash, inv.paymentHash);
      assert.equal(d.payee, info.pubkey);
      assert.equal(inv.expiresAt, d.timestamp + 600);
      const status = await pair.payee.lookupInvoice(inv.paymentHash);
      assert.equal(status.state, 'open');
      assert.equal(status.amountMsat, 21_000n);
      assert.equal(status.amountPaidMsat, 0n);
    });

    it('pays an invoice: the preimage proves payment, the payee sees it settle, balances move once', async () => {
      const stop = new AbortController();
      const seen: InvoiceStatus[] = [];
      const watching = (async () => {
        for await (const s of pair.payee.subscribeInvoices({ signal: stop.signal })) seen.push(s);
      })();
      await sleep(200); // let the subscription attach before the invoice is made
      const before = await pair.payer.balance();
      const inv = await pair.payee.createInvoice({ amountMsat: msat(50_000n), description: 'contract: pay' });
      const paid = await pair.payer.payInvoice(inv.paymentRequest);
      assert.equal(paid.state, 'succeeded');
      assert.equal(bytesToHex(sha256(hexToBytes(paid.preimage))), inv.paymentHash);
      assert.equal(paid.amountMsat, 50_000n);
      const status = await pair.payee.lookupInvoice(inv.paymentHash);
      assert.equal(status.state, 'settled');
      assert.equal(status.amountPaidMsat, 50_000n);
      assert.equal(status.preimage, paid.preimage);
      const afterPay = await pair.payer.balance();
      assert.equal(before.spendableMsat - afterPay.spendableMsat, 50_000n + paid.feeMsat);
      const deadline = Date.now() + 10_000;
      while (
        !seen.some((s) => s.paymentHash === inv.paymentHash && s.state === 'settled') &&
        Date.now() < deadline
      ) {
        await sleep(50);
      }
      stop.abort();
      await watching;
      assert.ok(
        seen.some((s) => s.paymentHash === inv.paymentHash && s.state === 'settled'),
        'the subscription reported the settlement',
      );
    });

    it('is idempotent by payment hash: paying again, even concurrently, never pays twice', async () => {
      const inv = await pair.payee.createInvoice({
        amountMsat: msat(7_000n),
        description: 'contract: twice',
      });
      const before = await pair.payer.balance();
      const [a, b] = await Promise.all([
        pair.payer.payInvoice(inv.paymentRequest),
        pair.payer.payInvoice(inv.paymentRequest),
      ]);
      const c = await pair.payer.payInvoice(inv.paymentRequest);
      assert.equal(a.preimage, b.preimage);
      assert.equal(a.preimage, c.preimage);
      const afterPay = await pair.payer.balance();
      assert.equal(before.spendableMsat - afterPay.spendableMsat, 7_000n + a.feeMsat);
      assert.equal((await pair.payee.lookupInvoice(inv.paymentHash)).amountPaidMsat, 7_000n);
      const record = await pair.payer.lookupPayment(inv.paymentHash);
      assert.equal(record?.state, 'succeeded');
      assert.equal(record?.preimage, a.preimage);
    });

    it('pays an amountless invoice only with an amount', async () => {
      const inv = await pair.payee.createInvoice({ amountMsat: null, description: 'contract: amountless' });
      assert.equal(decodeInvoice(inv.paymentRequest).amountMsat, null);
      await expectCode(pair.payer.payInvoice(inv.paymentRequest), 'LP_LN_AMOUNT_REQUIRED');
      const paid = await pair.payer.payInvoice(inv.paymentRequest, { amountMsat: msat(3_000n) });
      assert.equal(paid.amountMsat, 3_000n);
      assert.equal((await pair.payee.lookupInvoice(inv.paymentHash)).amountPaidMsat, 3_000n);
    });

    it('knows nothing of a payment it never made', async () => {
      assert.equal(await pair.payer.lookupPayment('ab'.repeat(32)), null);
    });

    it('refuses an unknown invoice hash and a malformed one', async () => {
      await expectCode(pair.payee.lookupInvoice('cd'.repeat(32)), 'LP_LN_INVOICE_NOT_FOUND');
      await expectCode(pair.payee.lookupInvoice('not-a-hash'), 'LP_LN_BAD_PAYMENT_HASH');
    });

    it('refuses an expired invoice without paying', async () => {
      const inv = await pair.payee.createInvoice({
        amountMsat: msat(1_000n),
        description: 'contract: expiry',
        expirySeconds: 1,
      });
      await sleep(2_100);
      const before = await pair.payer.balance();
      await expectCode(pair.payer.payInvoice(inv.paymentRequest), 'LP_LN_INVOICE_EXPIRED');
      assert.equal((await pair.payer.balance()).spendableMsat, before.spendableMsat);
    });

    it('refuses malformed invoices and invoices for another network', async () => {
      await expectCode(pair.payer.payInvoice('lnbcrt1garbage'), /^LP_BOLT11_/);
      await expectCode(pair.payer.payInvoice(''), /^LP_BOLT11_/);
      const mainnet = encodeInvoice(
        {
          network: 'mainnet',
          amountMsat: msat(1_000n),
          timestamp: Math.floor(Date.now() / 1000),
          paymentHash: new Uint8Array(32).fill(1),
          paymentSecret: new Uint8Array(32).fill(2),
          description: 'wrong network',
        },
        new Uint8Array(32).fill(3),
      );
      await expectCode(pair.payer.payInvoice(mainnet), 'LP_LN_WRONG_NETWORK');
    });

    it('refuses a payment larger than the balance, and moves nothing', async () => {
      const before = await pair.payer.balance();
      const tooMuch = (before.spendableMsat + 1_000_000n) as Msat;
      const inv = await pair.payee.createInvoice({ amountMsat: tooMuch, description: 'contract: too much' });
      await expectCode(pair.payer.payInvoice(inv.paymentRequest), 'LP_LN_INSUFFICIENT_BALANCE');
      assert.equal((await pair.payer.balance()).spendableMsat, before.spendableMsat);
      assert.equal((await pair.payee.lookupInvoice(inv.paymentHash)).state, 'open');
    });

    it('names an unreachable node', { skip: false }, async (t) => {
      if (!pair.unreachable) return t.skip('no network between client and node in this pairing');
      await expectCode(pair.unreachable().getInfo(), 'LP_LN_NODE_UNREACHABLE');
    });

    it('names a wrong macaroon', async (t) => {
      if (!pair.wrongCredential) return t.skip('no credential in this pairing');
      await expectCode(pair.wrongCredential().getInfo(), 'LP_LN_AUTH_FAILED');
      await expectCode(
        pair.wrongCredential().createInvoice({ amountMsat: msat(1000n) }),
        'LP_LN_AUTH_FAILED',
      );
    });
  });
}
