import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseChallenges } from '../l402/index.js';
import { verifyReceipt } from '../provenance/index.js';
import { type Kit, pay, problemOf, startKit } from './gateway.testkit.js';

async function wellKnownKey(kit: Kit): Promise<string> {
  const wk = (await (await fetch(kit.url('/.well-known/lightproof.json'))).json()) as {
    receipts: { public_key: string };
  };
  return wk.receipts.public_key;
}

describe('gateway: prepaid credit', () => {
  let kit: Kit;
  before(async () => {
    kit = await startKit({
      config: {
        services: [
          {
            name: 'metered',
            path: '^/m/',
            upstream: 'UPSTREAM',
            price: 10,
            credit: '3000 msat',
            perRequest: '1000 msat',
          },
          {
            name: 'llm',
            path: '^/llm/',
            stripPrefix: '/llm',
            upstream: 'UPSTREAM',
            price: 100,
            credit: 100,
            usage: {
              inputPerMillion: '1000000 msat',
              outputPerMillion: '2000000 msat',
              reserve: '6000 msat',
            },
          },
        ],
      },
    });
  });
  after(() => kit.stop());

  it('draws credit per request, then asks for a new payment when it runs out', async () => {
    const paid = await pay(kit.agent, await fetch(kit.url('/m/x')));
    for (let i = 0; i < 3; i++) {
      const r = await fetch(kit.url('/m/x'), { headers: { authorization: paid.authorization } });
      assert.equal(r.status, 200, `request ${i + 1} of 3 is covered`);
      await r.arrayBuffer();
    }
    const out = await fetch(kit.url('/m/x'), { headers: { authorization: paid.authorization } });
    assert.equal(out.status, 402);
    const p = await problemOf(out);
    assert.equal(p.code, 'LP_GATEWAY_CREDIT_EXHAUSTED');
    assert.match(p.detail, /0 msat of credit left/);
    assert.ok(
      parseChallenges(out.headers.get('www-authenticate')).length > 0,
      'with a challenge to buy more',
    );
    assert.equal(kit.upstream.seen.filter((s) => s.url === '/m/x').length, 3);
  });

  it('debits credit exactly once per request under concurrency', async () => {
    const paid = await pay(kit.agent, await fetch(kit.url('/m/y')));
    const results = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const r = await fetch(kit.url('/m/y'), { headers: { authorization: paid.authorization } });
        await r.arrayBuffer();
        return r.status;
      }),
    );
    assert.equal(results.filter((s) => s === 200).length, 3);
    assert.equal(results.filter((s) => s === 402).length, 9);
  });

  it('prices OpenAI JSON responses by their usage and signs the real cost', async () => {
    const paid = await pay(kit.agent, await fetch(kit.url('/llm/v1/chat/completions')));
    const res = await fetch(kit.url('/llm/usage'), {
      method: 'POST',
      headers: { authorization: paid.authorization },
      body: '{}',
    });
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.equal(kit.upstream.seen.at(-1)!.url, '/usage', 'the prefix was stripped');
    // 1000 prompt tokens at 1 msat each, 2000 completion tokens at 2 msat each.
    const receipt = verifyReceipt(res.headers.get('lightproof-receipt')!, await wellKnownKey(kit), {
      response: { status: 200, body: Buffer.from(body) },
    });
    assert.equal(receipt.priceMsat, 5000n);
    const token = (await kit.gw.state.listTokens({ service: 'llm', limit: 5 })).find(
      (t) => t.paymentHash === paid.paymentHash,
    )!;
    assert.equal(token.remainingMsat, 95_000n, 'the 6000 msat reservation settled to 5000');
  });

  it('prices a streamed response from its last SSE event, passes events through as they come, and sends the receipt as a trailer', async () => {
    const paid = await pay(kit.agent, await fetch(kit.url('/llm/sse-gated')));
    const before = (await kit.gw.state.listTokens({ service: 'llm', limit: 5 })).find(
      (t) => t.paymentHash === paid.paymentHash,
    );
    const { firstChunk, rest, trailers } = await streamed(kit.url('/llm/sse-gated'), paid.authorization, () =>
      kit.upstream.release(),
    );
    assert.match(firstChunk, /"he"/, 'the first event arrived while the upstream was still holding the rest');
    assert.match(rest, /\[DONE\]/);
    const receipt = verifyReceipt(trailers['lightproof-receipt']!, await wellKnownKey(kit), {
      response: { status: 200, body: Buffer.from(firstChunk + rest) },
    });
    // 10 prompt tokens × 1 msat + 20 completion tokens × 2 msat.
    assert.equal(receipt.priceMsat, 50n);
    const afterTok = (await kit.gw.state.listTokens({ service: 'llm', limit: 5 })).find(
      (t) => t.paymentHash === paid.paymentHash,
    )!;
    assert.equal(before?.remainingMsat ?? null, null);
    assert.equal(afterTok.remainingMsat, 100_000n - 50n);
  });
});

describe('gateway: freebies, rate limits, price hooks', () => {
  it('gives each client its freebies, then challenges', async () => {
    const kit = await startKit({
      config: { services: [{ name: 'f', upstream: 'UPSTREAM', price: 1, freebies: 2 }] },
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await fetch(kit.url('/x'));
        statuses.push(r.status);
        await r.arrayBuffer();
      }
      assert.deepEqual(statuses, [200, 200, 402]);
    } finally {
      await kit.stop();
    }
  });

  it('limits requests per token and challenges per client with 429 and Retry-After', async () => {
    const kit = await startKit({
      config: {
        challengeLimits: [{ requests: 1, per: '1h', burst: 3 }],
        services: [
          { name: 'rl', upstream: 'UPSTREAM', price: 1, rateLimits: [{ requests: 1, per: '1h', burst: 2 }] },
        ],
      },
    });
    try {
      const paid = await pay(kit.agent, await fetch(kit.url('/x')));
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await fetch(kit.url('/x'), { headers: { authorization: paid.authorization } });
        statuses.push(r.status);
        if (r.status === 429) {
          assert.ok(Number(r.headers.get('retry-after')) >= 1);
          assert.equal((await problemOf(r)).code, 'LP_GATEWAY_RATE_LIMITED');
        } else await r.arrayBuffer();
      }
      assert.deepEqual(statuses, [200, 200, 429]);
      // One challenge was spent above; two more, then the client must wait, and no invoice is made.
      const minted = (await kit.gw.state.listTokens({ limit: 50 })).length;
      const c: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await fetch(kit.url('/y'));
        c.push(r.status);
        await r.arrayBuffer();
      }
      assert.deepEqual(c, [402, 402, 429]);
      assert.equal((await kit.gw.state.listTokens({ limit: 50 })).length, minted + 2);
    } finally {
      await kit.stop();
    }
  });

  it('reads a dynamic price from an HTTP hook, and answers 503 without a token when the hook fails', async () => {
    let price: string | null = '12345';
    const hook = http.createServer((req, res) => {
      if (price === null) {
        res.writeHead(500);
        return res.end('down');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          service: new URL(req.url!, 'http://x').searchParams.get('service'),
          price_msat: price,
        }),
      );
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/price`;
    const kit = await startKit({
      config: {
        services: [{ name: 'dyn', upstream: 'UPSTREAM', price: { hook: { url: hookUrl, cache: '0.05s' } } }],
      },
    });
    try {
      const r1 = await fetch(kit.url('/x'));
      assert.equal(r1.status, 402);
      assert.equal(((await r1.json()) as { amount_msat: number }).amount_msat, 12345);
      price = 'lots';
      await new Promise((r) => setTimeout(r, 100));
      const r2 = await fetch(kit.url('/x'));
      assert.equal(r2.status, 503);
      assert.equal((await problemOf(r2)).code, 'LP_GATEWAY_PRICE_UNAVAILABLE');
      price = null;
      const r3 = await fetch(kit.url('/x'));
      assert.equal(r3.status, 503);
      assert.ok(r3.headers.get('retry-after'));
      await r3.arrayBuffer();
      assert.equal(
        (await kit.gw.state.listTokens({ limit: 10 })).length,
        1,
        'only the priced challenge minted a token',
      );
    } finally {
      await kit.stop();
      hook.close();
    }
  });
});

/** Reads a streamed response: the first chunk, then (after RELEASE) the rest and the trailers. */
function streamed(
  url: string,
  authorization: string,
  release: () => void,
): Promise<{ firstChunk: string; rest: string; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization } }, (res) => {
      let firstChunk = '';
      let rest = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (!firstChunk) {
          firstChunk = chunk;
          release();
        } else rest += chunk;
      });
      res.on('end', () => resolve({ firstChunk, rest, trailers: res.trailers }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
