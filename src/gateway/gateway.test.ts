import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { LightproofError } from '../core/errors.js';
import { formatAuthorization, parseChallenges } from '../l402/index.js';
import type { LightningNode } from '../lightning/index.js';
import { verifyReceipt } from '../provenance/index.js';
import { type Kit, pay, problemOf, startKit } from './gateway.testkit.js';

describe('gateway: pay, proxy, receipts', () => {
  let kit: Kit;
  before(async () => {
    kit = await startKit({
      config: {
        admin: { listen: '127.0.0.1:0' },
        services: [
          {
            name: 'chat',
            path: '^/v1/',
            upstream: 'UPSTREAM',
            price: 21,
            freePaths: ['^/v1/models$'],
            headers: { 'X-Api-Key': 'upstream-secret' },
          },
          { name: 'other', path: '^/other/', upstream: 'UPSTREAM', price: 5 },
        ],
      },
    });
  });
  after(() => kit.stop());

  it('answers 402 with an L402 challenge (macaroon first) and a legacy LSAT one, and mints nothing twice', async () => {
    const res = await fetch(kit.url('/v1/chat'));
    assert.equal(res.status, 402);
    const raw = res.headers.get('www-authenticate') ?? '';
    assert.match(raw, /^L402 macaroon="[^"]+", invoice="lnbcrt[^"]+", version="0", token="/);
    // The shape lnget's parser insists on (reference: lnget l402/header.go), for each challenge.
    for (const value of raw.split(/,\s*(?=L402 |LSAT )/))
      assert.match(value, /^(LSAT|L402)\s+macaroon="[^"]+",\s*invoice="[^"]+"/);
    assert.match(raw, /LSAT macaroon="/);
    const challenges = parseChallenges(raw);
    assert.deepEqual(
      challenges.map((c) => c.scheme),
      ['L402', 'LSAT'],
    );
    const body = await problemOf(res);
    assert.equal(body.code, 'LP_L402_PAYMENT_REQUIRED');
    assert.equal(kit.upstream.seen.length, 0, 'nothing reached the upstream');
  });

  it('pays once, proxies with the upstream headers, strips the credential, and signs a verifiable receipt', async () => {
    const paid = await pay(kit.agent, await fetch(kit.url('/v1/chat')));
    const res = await fetch(kit.url('/v1/chat?x=1'), {
      method: 'POST',
      headers: { authorization: paid.authorization, 'content-type': 'application/json' },
      body: '{"prompt":"hi"}',
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), {
      ok: true,
      method: 'POST',
      url: '/v1/chat?x=1',
      body: '{"prompt":"hi"}',
    });
    const seen = kit.upstream.seen.at(-1)!;
    assert.equal(seen.headers['x-api-key'], 'upstream-secret');
    assert.equal(seen.headers.authorization, undefined, 'the L402 credential stays at the gateway');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');

    const wk = (await (await fetch(kit.url('/.well-known/lightproof.json'))).json()) as {
      receipts: { public_key: string };
      services: { name: string; price_msat: string; free_paths: string[] }[];
    };
    assert.equal(wk.services[0]!.price_msat, '21000');
    assert.ok(new RegExp(wk.services[0]!.free_paths[0]!).test('/v1/models'));
    const header = res.headers.get('lightproof-receipt');
    assert.ok(header, 'a paid response carries a receipt');
    const receipt = verifyReceipt(header, wk.receipts.public_key, {
      request: { method: 'POST', pathAndQuery: '/v1/chat?x=1', body: Buffer.from('{"prompt":"hi"}') },
      response: { status: 200, body: Buffer.from(text) },
    });
    assert.equal(receipt.service, 'chat');
    assert.equal(receipt.priceMsat, 21_000n);
    assert.equal(receipt.paymentHash, paid.paymentHash);
    assert.throws(
      () =>
        verifyReceipt(header, wk.receipts.public_key, {
          response: { status: 200, body: Buffer.from(`${text} `) },
        }),
      (err: unknown) => (err as { code?: string }).code === 'LP_RECEIPT_DIGEST_MISMATCH',
    );
  });

  it('reuses a token without a new invoice, and books revenue once', async () => {
    const paid = await pay(kit.agent, await fetch(kit.url('/v1/a')));
    for (let i = 0; i < 5; i++) {
      const res = await fetch(kit.url('/v1/a'), { headers: { authorization: paid.authorization } });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const revenue = await kit.gw.state.revenue();
    const chat = revenue.find((r) => r.service === 'chat')!;
    assert.equal(chat.paid, 2);
    assert.equal(chat.revenueMsat, 42_000n);
  });

  it('lets free paths through unpaid, and answers 404 for paths no service serves', async () => {
    const free = await fetch(kit.url('/v1/models'));
    assert.equal(free.status, 200);
    assert.equal(free.headers.get('lightproof-receipt'), null);
    await free.arrayBuffer();
    const none = await fetch(kit.url('/nowhere'));
    assert.equal(none.status, 404);
    assert.equal((await problemOf(none)).code, 'LP_GATEWAY_NO_SERVICE');
  });

  it('refuses a token minted for another service, a wrong preimage, and garbled credentials, with a fresh challenge', async () => {
    const paid = await pay(kit.agent, await fetch(kit.url('/other/x')));
    const cross = await fetch(kit.url('/v1/x'), { headers: { authorization: paid.authorization } });
    assert.equal(cross.status, 401);
    assert.equal((await problemOf(cross)).code, 'LP_L402_CAVEAT_FAILED');
    assert.ok(
      parseChallenges(cross.headers.get('www-authenticate')).length > 0,
      'a new challenge comes with the 401',
    );

    const wrong = formatAuthorization([paid.token], '00'.repeat(32));
    const r2 = await fetch(kit.url('/other/x'), { headers: { authorization: wrong } });
    assert.equal(r2.status, 401);
    assert.equal((await problemOf(r2)).code, 'LP_L402_WRONG_PREIMAGE');

    for (const bad of [
      'L402',
      'L402 !!!:zz',
      `L402 ${paid.token}`,
      'Basic dXNlcjpwYXNz',
      `L402 ${paid.token}:${'g'.repeat(64)}`,
    ]) {
      const r = await fetch(kit.url('/other/x'), { headers: { authorization: bad } });
      assert.ok(r.status === 402 || r.status === 401, `${bad.slice(0, 20)} → ${r.status}`);
      await r.arrayBuffer();
    }
    const huge = await rawRequest(kit.gw.url, '/other/x', {
      authorization: `L402 ${'A'.repeat(9000)}:${'0'.repeat(64)}`,
    });
    assert.equal(huge.status, 431);
    const dup = await rawRequest(kit.gw.url, '/other/x', {
      authorization: [paid.authorization, paid.authorization],
    });
    assert.ok(
      dup.status === 200 || dup.status === 402 || dup.status === 400,
      `duplicated Authorization → ${dup.status}`,
    );
    assert.notEqual(dup.status, 500);
  });

  it('revokes a token through the admin API, which needs its own credential', async () => {
    const paid = await pay(kit.agent, await fetch(kit.url('/v1/r')));
    const ok = await fetch(kit.url('/v1/r'), { headers: { authorization: paid.authorization } });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    const admin = kit.gw.adminUrl!;
    const denied = await fetch(`${admin}/v1/tokens`);
    assert.equal(denied.status, 401);
    assert.equal((await problemOf(denied)).code, 'LP_ADMIN_UNAUTHORIZED');
    const wrongKey = await fetch(`${admin}/v1/tokens`, {
      headers: { authorization: `Bearer ${'x'.repeat(64)}` },
    });
    assert.equal(wrongKey.status, 401);
    await wrongKey.arrayBuffer();

    const auth = {
      authorization: `Bearer ${(await import('node:fs')).readFileSync(kit.gw.adminCredentialPath, 'utf8').trim()}`,
    };
    const list = (await (
      await fetch(`${admin}/v1/tokens?service=chat&limit=10`, { headers: auth })
    ).json()) as {
      tokens: { token_id: string; payment_hash: string; paid_at: number | null }[];
    };
    const mine = list.tokens.find((t) => t.payment_hash === paid.paymentHash);
    assert.ok(mine, 'the token is listed');
    assert.ok(mine.paid_at !== null, 'and seen paid');
    const revoke = await fetch(`${admin}/v1/tokens/${mine.token_id}/revoke`, {
      method: 'POST',
      headers: auth,
    });
    assert.deepEqual(await revoke.json(), { token_id: mine.token_id, revoked: true, already_revoked: false });
    const after = await fetch(kit.url('/v1/r'), { headers: { authorization: paid.authorization } });
    assert.equal(after.status, 401);
    assert.equal((await problemOf(after)).code, 'LP_L402_REVOKED');

    const bad = await fetch(`${admin}/v1/tokens/not-hex/revoke`, { method: 'POST', headers: auth });
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
    const rev = (await (await fetch(`${admin}/v1/revenue`, { headers: auth })).json()) as {
      services: { service: string }[];
    };
    assert.ok(rev.services.some((s) => s.service === 'chat'));
    const metrics = await (await fetch(`${admin}/metrics`, { headers: auth })).text();
    assert.match(metrics, /lightproof_gateway_requests_total\{service="chat",outcome="paid"\} \d+/);
    assert.match(metrics, /lightproof_gateway_revenue_msat_total\{service="chat"\} [1-9]\d*/);
    assert.match(metrics, /lightproof_gateway_invoices_settled_total\{service="chat"\} [1-9]/);
  });
});

describe('gateway: failures answer with problems, never 500', () => {
  it('answers 502 with a problem body when the upstream is down', async () => {
    const kit = await startKit({
      config: { services: [{ name: 'down', upstream: 'http://127.0.0.1:1', price: 1 }] },
    });
    try {
      const paid = await pay(kit.agent, await fetch(kit.url('/x')));
      const res = await fetch(kit.url('/x'), { headers: { authorization: paid.authorization } });
      assert.equal(res.status, 502);
      const p = await problemOf(res);
      assert.equal(p.code, 'LP_GATEWAY_UPSTREAM_DOWN');
      assert.match(p.detail, /127\.0\.0\.1:1/);
    } finally {
      await kit.stop();
    }
  });

  it('answers 503 with Retry-After and mints no token when the Lightning node is down', async () => {
    const kit = await startKit({
      config: { services: [{ name: 'n', upstream: 'UPSTREAM', price: 1 }] },
      node: (provider) => downNode(provider),
    });
    try {
      const res = await fetch(kit.url('/x'));
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.equal(res.headers.get('www-authenticate'), null);
      assert.equal((await problemOf(res)).code, 'LP_L402_NODE_UNAVAILABLE');
      assert.deepEqual(await kit.gw.state.listTokens({ limit: 10 }), []);
    } finally {
      await kit.stop();
    }
  });

  it('refuses a token after its timeout, even one that was accepted a moment before', async () => {
    let clock = Math.floor(Date.now() / 1000);
    const kit = await startKit({
      config: { services: [{ name: 't', upstream: 'UPSTREAM', price: 1, tokenTimeout: '1m' }] },
      now: () => clock,
    });
    try {
      const paid = await pay(kit.agent, await fetch(kit.url('/x')));
      const ok = await fetch(kit.url('/x'), { headers: { authorization: paid.authorization } });
      assert.equal(ok.status, 200);
      await ok.arrayBuffer();
      clock += 61;
      const late = await fetch(kit.url('/x'), { headers: { authorization: paid.authorization } });
      assert.equal(late.status, 401);
      const p = await problemOf(late);
      assert.equal(p.code, 'LP_L402_CAVEAT_FAILED');
      assert.match(p.detail, /expired/);
    } finally {
      await kit.stop();
    }
  });

  it('answers 504 when the upstream is too slow, and a shutdown lets a request in flight finish', async () => {
    const kit = await startKit({
      config: {
        upstreamTimeout: '0.3s',
        services: [{ name: 's', upstream: 'UPSTREAM', price: 1, freePaths: ['^/'] }],
      },
    });
    try {
      const slow = await fetch(kit.url('/slow?ms=2000'));
      assert.equal(slow.status, 504);
      assert.equal((await problemOf(slow)).code, 'LP_GATEWAY_UPSTREAM_TIMEOUT');
      // An upstream that dies mid-body: the client sees a cut response, not a short one that looks whole.
      const cut = await fetch(kit.url('/cut'));
      assert.equal(cut.status, 200);
      await assert.rejects(cut.text());
      const inflight = fetch(kit.url('/slow?ms=200'));
      await new Promise((r) => setTimeout(r, 50));
      const closing = kit.gw.close(5000);
      const res = await inflight;
      assert.equal(res.status, 200, 'the request in flight completed during shutdown');
      await res.arrayBuffer();
      await closing;
      await assert.rejects(fetch(kit.url('/slow?ms=0')), 'no new connections after close');
    } finally {
      await kit.stop();
    }
  });
});

/** A node that cannot create invoices (as when LND is down or locked). */
function downNode(inner: LightningNode): LightningNode {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'createInvoice')
        return () =>
          Promise.reject(new LightproofError('LP_LN_UNREACHABLE', 'connection refused', { status: 503 }));
      return Reflect.get(target, prop, receiver);
    },
  });
}

/** A request with headers fetch would refuse to send (oversized, duplicated). */
function rawRequest(
  base: string,
  path: string,
  headers: Record<string, string | string[]>,
): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { headers, maxHeaderSize: 64 * 1024 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end();
  });
}
