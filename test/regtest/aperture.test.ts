/**
 * Interop with Aperture, the reference L402 proxy: Aperture on carol's lnd guards a tiny upstream;
 * Lightproof's client pays from alice's lnd through bob. Our token decoder must read Aperture's
 * macaroons, and Aperture must accept what our client sends.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, get as httpGet, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bytesToHex } from '@noble/hashes/utils.js';
import { isLightproofError } from '../../src/core/errors.js';
import { msat } from '../../src/core/money.js';
import {
  createL402Fetch,
  decodeIdentifier,
  decodeToken,
  formatAuthorization,
  parseChallenges,
  payerFromNode,
} from '../../src/l402/index.js';
import { requestJson } from '../../src/lightning/http.js';
import { decodeInvoice } from '../../src/lightning/index.js';
import {
  lndNodeClient,
  lndTarget,
  type RegtestNetwork,
  type RunningAperture,
  startAperture,
  startRegtestNetwork,
} from '../../src/regtest/index.js';

const PRICE_SAT = 10;

let dir = '';
let network: RegtestNetwork | undefined;
let aperture: RunningAperture | undefined;
let upstream: Server | undefined;
/** What the upstream received: method, path, and whether Aperture passed the credential on. */
const upstreamSaw: { method: string; url: string; authorization: string | undefined }[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lightproof-aperture-'));
  upstream = createServer((req, res) => {
    upstreamSaw.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
    });
    res.setHeader('content-type', 'text/plain');
    res.end(`hello from upstream: ${req.method} ${req.url}`);
  });
  await new Promise<void>((resolve) => upstream!.listen(0, '127.0.0.1', resolve));
  network = await startRegtestNetwork({
    dir: join(dir, 'net'),
    log: (line) => console.log(`[regtest] ${line}`),
  });
  aperture = await startAperture({
    dir: join(dir, 'aperture'),
    lnd: network.nodes.carol,
    services: [
      {
        name: 'upstream',
        pathRegexp: '^/.*$',
        address: `127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        priceSat: PRICE_SAT,
        timeoutSeconds: 3600,
      },
    ],
    log: (line) => console.log(`[aperture] ${line}`),
  });
});

after(async () => {
  await aperture?.stop();
  await network?.stop();
  await new Promise((resolve) => (upstream ? upstream.close(resolve) : resolve(undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A raw GET, keeping repeated headers apart (fetch joins them). */
function rawGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; rawHeaders: string[]; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, headers: res.headers, body }),
      );
    }).on('error', reject);
  });
}

function authenticateValues(rawHeaders: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'www-authenticate') out.push(rawHeaders[i + 1]!);
  }
  return out;
}

/** alice's payments as lnd lists them, by payment hash. */
async function alicePayments(): Promise<{ payment_hash: string; status: string }[]> {
  const res = await requestJson(
    lndTarget(network!.nodes.alice),
    'GET',
    '/v1/payments?include_incomplete=true&max_payments=1000',
  );
  return (res.body as { payments?: { payment_hash: string; status: string }[] }).payments ?? [];
}

describe('Aperture v0.5.0 interop', { timeout: 10 * 60_000 }, () => {
  it('answers 402 with an LSAT and an L402 challenge whose macaroon our decoder reads', async () => {
    assert.ok(existsSync(join(dir, 'aperture', 'aperture.db')), 'its database is inside its dir');
    const res = await rawGet(`${aperture!.url}/hello`);
    console.log(
      `[aperture] 402 headers: ${JSON.stringify(res.rawHeaders)} body: ${JSON.stringify(res.body)}`,
    );
    assert.equal(res.status, 402);
    const values = authenticateValues(res.rawHeaders);
    assert.equal(values.length, 2, 'two WWW-Authenticate headers');
    assert.match(values[0]!, /^LSAT macaroon="[^"]+", invoice="lnbcrt[^"]+"$/);
    assert.match(values[1]!, /^L402 macaroon="[^"]+", invoice="lnbcrt[^"]+"$/);
    assert.equal(upstreamSaw.length, 0, 'nothing reached the upstream unpaid');

    const challenges = parseChallenges(values);
    assert.deepEqual(
      challenges.map((c) => c.scheme),
      ['L402', 'LSAT'],
    );
    const [l402, lsat] = challenges as [(typeof challenges)[0], (typeof challenges)[0]];
    assert.equal(l402.token, lsat.token);
    assert.equal(l402.invoice, lsat.invoice);
    assert.ok(l402.token.startsWith('AgEEbHNhdAJC'), 'V2 macaroon, location "lsat", 66-byte identifier');

    const mac = decodeToken(l402.token);
    assert.equal(mac.location, 'lsat');
    assert.equal(mac.identifier.length, 66);
    const id = decodeIdentifier(mac.identifier);
    assert.equal(id.version, 0);
    const invoice = decodeInvoice(l402.invoice);
    assert.equal(bytesToHex(id.paymentHash), invoice.paymentHash);
    assert.equal(invoice.amountMsat, BigInt(PRICE_SAT * 1000));
    assert.equal(invoice.network, 'regtest');
    assert.equal(invoice.payee, network!.nodes.carol.pubkey);
    console.log(
      `[aperture] caveats: ${JSON.stringify(mac.conditions())}, invoice memo ${invoice.description}`,
    );
    assert.ok(mac.conditions().includes('services=upstream:0'));
    assert.ok(mac.conditions().some((c) => /^upstream_valid_until=\d+$/.test(c)));
  });

  it('lets Lightproof pay once through bob, then reuses the token; Aperture refuses a wrong preimage', async () => {
    const alice = lndNodeClient(network!.nodes.alice);
    const carol = lndNodeClient(network!.nodes.carol);
    const paymentsBefore = await alicePayments();
    const l402 = createL402Fetch({ payer: payerFromNode(alice), maxPriceMsat: msat(20_000n) });

    const first = await l402(`${aperture!.url}/hello?n=1`);
    assert.equal(first.status, 200);
    assert.equal(await first.text(), 'hello from upstream: GET /hello?n=1');
    const [cached] = await l402.cache.list(aperture!.url);
    assert.ok(cached, 'the token is cached');
    assert.equal(cached.service, 'upstream');
    console.log(
      `[aperture] upstream saw Authorization: ${JSON.stringify(upstreamSaw.at(-1)?.authorization)}`,
    );

    const second = await l402(`${aperture!.url}/other/path`);
    assert.equal(second.status, 200);
    assert.equal(await second.text(), 'hello from upstream: GET /other/path');

    assert.deepEqual(
      upstreamSaw.map((r) => r.url),
      ['/hello?n=1', '/other/path'],
      'only the two paid requests reached the upstream',
    );
    const paymentsAfter = await alicePayments();
    const newPayments = paymentsAfter.filter(
      (p) => !paymentsBefore.some((q) => q.payment_hash === p.payment_hash),
    );
    assert.deepEqual(
      newPayments.map((p) => [p.payment_hash, p.status]),
      [[cached.paymentHash, 'SUCCEEDED']],
      'alice made exactly one payment',
    );
    const payment = await alice.lookupPayment(cached.paymentHash);
    assert.equal(payment?.state, 'succeeded');
    assert.equal(payment?.preimage, cached.preimage);
    assert.ok((payment?.feeMsat ?? 0n) > 0n, 'routed through bob, who charged a fee');
    const settled = await carol.lookupInvoice(cached.paymentHash);
    assert.equal(settled.state, 'settled');
    assert.equal(settled.amountPaidMsat, BigInt(PRICE_SAT * 1000));

    const wrong = cached.preimage.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const refused = await rawGet(`${aperture!.url}/hello`, {
      authorization: formatAuthorization([cached.token], wrong),
    });
    console.log(`[aperture] wrong preimage: ${refused.status} ${JSON.stringify(refused.body)}`);
    assert.equal(refused.status, 402, 'Aperture answers a bad credential with a fresh challenge');
    assert.equal(authenticateValues(refused.rawHeaders).length, 2);

    const tampered = Buffer.from(cached.token, 'base64');
    tampered[tampered.length - 1]! ^= 1; // the last signature byte
    const forged = await rawGet(`${aperture!.url}/hello`, {
      authorization: formatAuthorization([tampered.toString('base64')], cached.preimage),
    });
    assert.equal(forged.status, 402, 'a macaroon with a broken signature is refused');
    const lsat = await rawGet(`${aperture!.url}/hello`, {
      authorization: `LSAT ${cached.token}:${cached.preimage}`,
    });
    assert.equal(lsat.status, 200, 'the legacy LSAT scheme is still accepted');
  });

  it('surfaces the tail of its log when Aperture cannot start', async () => {
    let caught: unknown;
    await startAperture({
      dir: join(dir, 'aperture-broken'),
      lnd: { ...network!.nodes.carol, tlsCertPath: network!.nodes.carol.invoiceMacaroonPath },
      services: [{ name: 'x', pathRegexp: '^/.*$', address: '127.0.0.1:9', priceSat: 1 }],
    }).catch((err: unknown) => {
      caught = err;
    });
    assert.ok(isLightproofError(caught, 'LP_APERTURE_START_FAILED'), String(caught));
    console.log(`[aperture] start failure: ${(caught as Error).message}`);
    assert.match((caught as Error).message, /last lines of .*aperture\.out\.log/);
    assert.match((caught as Error).message, /failed to append certificates/, "Aperture's own words");
  });
});
