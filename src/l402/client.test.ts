import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { hexToBytes } from '@noble/hashes/utils.js';
import { isLightproofError } from '../core/errors.js';
import { type Msat, msat } from '../core/money.js';
import { EmbeddedLightning, type EmbeddedNode } from '../lightning/index.js';
import { sendWebResponse, toWebRequest } from './adapters/node.js';
import { createL402Fetch, type L402FetchOptions, type Payer, payerFromNode } from './client.js';
import { formatChallenges } from './header.js';
import { createPaywall, type Paywall } from './paywall.js';
import { KeyRing, mintToken } from './token.js';

const PRICE = msat(21_000n);

let dir: string;
let host: EmbeddedLightning;
let mainnetHost: EmbeddedLightning;
let provider: EmbeddedNode;
let agent: EmbeddedNode;
let keys: KeyRing;
let chat: Paywall;
let dear: Paywall;
let server: Server;
let base: string;
const revoked = new Set<string>();
/** Requests the server received, as "METHOD path auth?" */
let hits: string[] = [];

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A 402 carrying a token bound to INVOICE (however that invoice was made). */
function challengeFor(invoice: { paymentRequest: string; paymentHash: string }): Response {
  const minted = mintToken(keys, { paymentHash: hexToBytes(invoice.paymentHash), services: [] });
  const headers = new Headers();
  for (const v of formatChallenges(minted.token, invoice.paymentRequest))
    headers.append('www-authenticate', v);
  return new Response('payment required', { status: 402, headers });
}

async function route(req: IncomingMessage, body: Buffer): Promise<Response> {
  const request = toWebRequest(req);
  const path = new URL(request.url).pathname;
  if (path === '/garbled') {
    return new Response('', {
      status: 402,
      headers: { 'www-authenticate': 'L402 macaroon="AgEEbHNhdAJC", invoice="lnbcrt1notaninvoice"' },
    });
  }
  if (path === '/other-scheme') {
    return new Response('x402', {
      status: 402,
      headers: { 'www-authenticate': 'Payment id="1", method="x"' },
    });
  }
  if (path === '/amountless') {
    return challengeFor(await provider.createInvoice({ amountMsat: null, description: 'any amount' }));
  }
  if (path === '/mismatch' || path === '/advertised') {
    // The body advertises PRICE; /mismatch bills double.
    const amount = path === '/mismatch' ? msat(PRICE * 2n) : PRICE;
    const challenge = challengeFor(await provider.createInvoice({ amountMsat: amount }));
    return new Response(JSON.stringify({ title: 'Payment Required', amount_msat: Number(PRICE) }), {
      status: 402,
      headers: { ...Object.fromEntries(challenge.headers), 'content-type': 'application/problem+json' },
    });
  }
  if (path === '/mainnet') {
    const inv = await mainnetHost.ensureAccount('shop').createInvoice({ amountMsat: PRICE });
    return challengeFor(inv);
  }
  // Challenges like the paywall but never accepts a credential, paid or not.
  if (path === '/stubborn') return ((await chat.challenge(request)) as { response: Response }).response;
  const result = await (path.startsWith('/dear') ? dear : chat).handle(request);
  if (result.kind === 'respond') return result.response;
  const digest = createHash('sha256').update(body).digest('hex');
  return new Response(`${request.method} ${path} ${body.length} ${digest} ${result.token.tokenId}`);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lightproof-l402-client-'));
  host = EmbeddedLightning.open(join(dir, 'regtest'));
  mainnetHost = EmbeddedLightning.open(join(dir, 'mainnet'), { network: 'mainnet' });
  provider = host.ensureAccount('provider');
  agent = host.ensureAccount('agent');
  host.deposit('agent', msat(100_000_000n));
  keys = KeyRing.generate();
  const common = { node: provider, keys, isRevoked: (id: string) => revoked.has(id) };
  chat = createPaywall({ ...common, service: 'chat', price: PRICE, tokenTtlSeconds: 3600 });
  dear = createPaywall({ ...common, service: 'dear', price: msat(5_000_000n) });
  server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      hits.push(`${req.method} ${req.url} ${req.headers.authorization ? 'auth' : 'none'}`);
      await sendWebResponse(res, await route(req, body));
    })().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  host.close();
  mainnetHost.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  hits = [];
});

/** Money the agent has spent since the last call (the node's own ledger, not the client's word). */
let lastBalance: bigint | undefined;
async function spentSinceLast(): Promise<bigint> {
  const now = (await agent.balance()).spendableMsat;
  const spent = lastBalance === undefined ? 0n : lastBalance - now;
  lastBalance = now;
  return spent;
}

function client(extra: Partial<L402FetchOptions> = {}) {
  return createL402Fetch({ payer: payerFromNode(agent), maxPriceMsat: msat(100_000n), ...extra });
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Error> {
  let caught: unknown;
  await promise.catch((err: unknown) => {
    caught = err;
  });
  assert.ok(isLightproofError(caught, code), `expected ${code}, got ${String(caught)}`);
  return caught as Error;
}

describe('createL402Fetch against the paywall over HTTP', () => {
  it('pays a 402 once, then reuses the token proactively on later requests', async () => {
    await spentSinceLast();
    const l402 = client();
    const first = await l402(`${base}/chat/a`);
    assert.equal(first.status, 200);
    const tokenId = (await first.text()).split(' ')[4];
    assert.match(tokenId ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(hits, ['GET /chat/a none', 'GET /chat/a auth']);
    assert.equal(await spentSinceLast(), PRICE, 'one payment of the price');

    hits = [];
    const second = await l402(`${base}/chat/b`);
    assert.equal(second.status, 200);
    assert.equal((await second.text()).split(' ')[4], tokenId, 'the same token');
    assert.deepEqual(hits, ['GET /chat/b auth'], 'the credential is sent without waiting for a 402');
    assert.equal(await spentSinceLast(), 0n, 'no second payment');
  });

  it('refuses an invoice above maxPriceMsat and pays nothing', async () => {
    await spentSinceLast();
    const err = await rejectsWith(client()(`${base}/dear`), 'LP_L402_PRICE_TOO_HIGH');
    assert.match(err.message, /5000000 msat/);
    assert.equal(await spentSinceLast(), 0n);
  });

  it('refuses amountless, other-network, expired and garbled challenges without paying', async () => {
    await spentSinceLast();
    await rejectsWith(client()(`${base}/amountless`), 'LP_L402_AMOUNTLESS_INVOICE');
    await rejectsWith(client()(`${base}/mainnet`), 'LP_L402_WRONG_NETWORK');
    const later = () => Math.floor(Date.now() / 1000) + 7200;
    await rejectsWith(client({ now: later })(`${base}/chat/x`), 'LP_L402_INVOICE_EXPIRED');
    await rejectsWith(client()(`${base}/garbled`), 'LP_L402_BAD_CHALLENGE');
    assert.equal(await spentSinceLast(), 0n);
  });

  it('refuses an invoice whose amount differs from the price the 402 body advertises', async () => {
    await spentSinceLast();
    const err = await rejectsWith(client()(`${base}/mismatch`), 'LP_L402_PRICE_MISMATCH');
    assert.match(err.message, /advertises 21000 msat but its invoice asks 42000 msat/);
    assert.equal(await spentSinceLast(), 0n);
    const quote = client().quote(`${base}/advertised`);
    assert.equal((await quote).paymentRequired, true, 'a matching advertised price is accepted');
  });

  it('hands back a 402 that offers no L402 challenge', async () => {
    const res = await client()(`${base}/other-scheme`);
    assert.equal(res.status, 402);
    assert.equal(await res.text(), 'x402');
  });

  it('pays exactly once when the server keeps answering 402, and says so with the payment hash', async () => {
    await spentSinceLast();
    const err = await rejectsWith(client()(`${base}/stubborn`), 'LP_L402_PAID_BUT_REFUSED');
    const details = (err as { details?: { paymentHash?: string; preimage?: string } }).details;
    assert.match(details?.paymentHash ?? '', /^[0-9a-f]{64}$/);
    assert.ok(err.message.includes(details!.paymentHash!));
    assert.match(details?.preimage ?? '', /^[0-9a-f]{64}$/);
    assert.equal(await spentSinceLast(), PRICE);
    assert.deepEqual(hits, ['GET /stubborn none', 'GET /stubborn auth']);
  });

  it('drops a revoked token and pays one fresh challenge', async () => {
    const l402 = client();
    const tokenOf = async (res: Response) => (await res.text()).split(' ')[4]!;
    const first = await tokenOf(await l402(`${base}/chat/r`));
    await spentSinceLast();
    revoked.add(first);
    hits = [];
    const res = await l402(`${base}/chat/r`);
    assert.equal(res.status, 200);
    const second = await tokenOf(res);
    assert.notEqual(second, first);
    assert.equal(await spentSinceLast(), PRICE, 'exactly one fresh payment');
    assert.deepEqual(hits, ['GET /chat/r auth', 'GET /chat/r auth']);
    hits = [];
    assert.equal(await tokenOf(await l402(`${base}/chat/r`)), second, 'the fresh token is cached');
    assert.deepEqual(hits, ['GET /chat/r auth']);
    assert.equal(await spentSinceLast(), 0n);
  });

  it('re-sends a POST body intact after paying, and refuses bodies over the cap before sending', async () => {
    const body = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
    const res = await client()(`${base}/chat/upload`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(res.status, 200);
    const digest = createHash('sha256').update(body).digest('hex');
    assert.match(await res.text(), new RegExp(`^POST /chat/upload 300000 ${digest} `));
    assert.deepEqual(hits, ['POST /chat/upload none', 'POST /chat/upload auth']);

    hits = [];
    await rejectsWith(
      client({ maxBodyBytes: 1000 })(`${base}/chat/upload`, { method: 'POST', body }),
      'LP_L402_BODY_TOO_LARGE',
    );
    assert.deepEqual(hits, []);
  });

  it('quotes the price, invoice and services without paying', async () => {
    await spentSinceLast();
    const q = await client().quote(`${base}/chat/q`);
    assert.ok(q.paymentRequired);
    assert.equal(q.priceMsat, PRICE);
    assert.equal(q.invoice.amountMsat, PRICE);
    assert.deepEqual(q.services, ['chat']);
    assert.equal(q.refusal, null);
    const tooDear = await client().quote(`${base}/dear`);
    assert.ok(tooDear.paymentRequired);
    assert.equal(tooDear.refusal?.code, 'LP_L402_PRICE_TOO_HIGH');
    const free = await client().quote(`${base}/other-scheme`);
    assert.equal(free.paymentRequired, false);
    assert.equal(await spentSinceLast(), 0n);
  });

  it('checks the preimage a payer returns and lets one payment serve parallel requests', async () => {
    const liar: Payer = { pay: async () => ({ preimage: '00'.repeat(32) }), network: async () => 'regtest' };
    await rejectsWith(client({ payer: liar })(`${base}/chat/p`), 'LP_L402_BAD_PREIMAGE');

    await spentSinceLast();
    let payments = 0;
    const inner = payerFromNode(agent);
    const slow: Payer = {
      network: () => inner.network!(),
      async pay(invoice, ctx) {
        payments++;
        await new Promise((r) => setTimeout(r, 100)); // every parallel request meets its 402 meanwhile
        assert.equal(ctx.amountMsat, PRICE as Msat);
        assert.equal(ctx.paymentHash, invoice.paymentHash);
        return inner.pay(invoice, ctx);
      },
    };
    const l402 = client({ payer: slow });
    hits = [];
    const all = await Promise.all([1, 2, 3].map(() => l402(`${base}/chat/par`)));
    for (const res of all) assert.equal(res.status, 200);
    assert.equal(payments, 1);
    assert.equal(hits.filter((h) => h.endsWith('none')).length, 3, 'all three met the 402');
    assert.equal(await spentSinceLast(), PRICE);
  });
});
