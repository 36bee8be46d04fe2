import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bytesToHex } from '@noble/hashes/utils.js';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { msat } from '../core/money.js';
import { EmbeddedLightning, type EmbeddedNode, LndNode } from '../lightning/index.js';
import { freePorts } from '../regtest/index.js';
import { l402Express } from './adapters/express.js';
import { l402Fastify } from './adapters/fastify.js';
import { l402Hono } from './adapters/hono.js';
import { formatAuthorization, parseChallenges } from './header.js';
import { decodeIdentifier } from './identifier.js';
import { createPaywall, type Paywall } from './paywall.js';
import { decodeToken, KeyRing, mintToken } from './token.js';

let dir: string;
let host: EmbeddedLightning;
let shop: EmbeddedNode;
let agent: EmbeddedNode;
let keys: KeyRing;
let paywall: Paywall;
let clock = 1_800_000_000;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lightproof-paywall-'));
  host = EmbeddedLightning.open(dir);
  shop = host.ensureAccount('shop');
  agent = host.ensureAccount('agent');
  host.deposit('agent', msat(10_000_000n));
  keys = KeyRing.generate();
  clock = Math.floor(Date.now() / 1000);
  paywall = createPaywall({
    node: shop,
    keys,
    service: 'chat',
    price: msat(21_000n),
    tokenTtlSeconds: 3600,
    now: () => clock,
  });
});
after(() => {
  host.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Pays a 402 response's challenge from the agent account; returns the Authorization value. */
async function pay(res: Response): Promise<string> {
  assert.equal(res.status, 402);
  const [challenge] = parseChallenges(res.headers.get('www-authenticate'));
  assert.ok(challenge, 'a parseable L402 challenge');
  const paid = await agent.payInvoice(challenge.invoice);
  return formatAuthorization([challenge.token], paid.preimage);
}

async function problemCode(res: Response): Promise<string> {
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  return ((await res.json()) as { code: string }).code;
}

describe('paywall core', () => {
  it('challenges, then lets the paid credential through, and reuses it', async () => {
    const first = await paywall.handle(new Request('http://shop/v1/chat'));
    assert.equal(first.kind, 'respond');
    const res = (first as { response: Response }).response;
    const values = res.headers.get('www-authenticate')!;
    assert.match(values, /^L402 macaroon="/);
    assert.match(values, /LSAT macaroon="/);
    const body = (await res.clone().json()) as { amount_msat: number; status: number; type: string };
    assert.equal(body.amount_msat, 21000);
    assert.equal(body.status, 402);
    const auth = await pay(res);
    for (let i = 0; i < 3; i++) {
      const ok = await paywall.handle(
        new Request('http://shop/v1/chat', { headers: { authorization: auth } }),
      );
      assert.equal(ok.kind, 'pass');
    }
  });

  it('answers a failed credential with 401 and a fresh challenge, for each way a token can be wrong', async () => {
    const auth = await pay(
      ((await paywall.handle(new Request('http://shop/x'))) as { response: Response }).response,
    );
    const [, token, preimage] = /^L402 (.+):([0-9a-f]{64})$/.exec(auth)!;
    const { paymentHash } = decodeIdentifier(decodeToken(token!).identifier);
    const otherService = mintToken(keys, { paymentHash, services: [{ name: 'images', tier: 0 }] });
    const forged = mintToken(KeyRing.generate(), { paymentHash, services: [{ name: 'chat', tier: 0 }] });
    const tampered = Buffer.from(token!, 'base64');
    tampered[tampered.length - 40] = tampered[tampered.length - 40]! ^ 1;
    const cases: [string, string, string][] = [
      ['wrong preimage', `L402 ${token}:${'00'.repeat(32)}`, 'LP_L402_WRONG_PREIMAGE'],
      ['another service', `L402 ${otherService.token}:${preimage}`, 'LP_L402_CAVEAT_FAILED'],
      ['forged root key', `L402 ${forged.token}:${preimage}`, 'LP_L402_BAD_SIGNATURE'],
      ['tampered bytes', `L402 ${tampered.toString('base64')}:${preimage}`, 'LP_L402_BAD'],
    ];
    for (const [name, header, code] of cases) {
      const r = await paywall.handle(new Request('http://shop/x', { headers: { authorization: header } }));
      assert.equal(r.kind, 'respond', name);
      const res = (r as { response: Response }).response;
      assert.equal(res.status, 401, name);
      assert.ok(
        parseChallenges(res.headers.get('www-authenticate')).length > 0,
        `${name}: a fresh challenge`,
      );
      assert.ok((await problemCode(res)).startsWith(code), name);
    }
    clock += 3601;
    const expired = await paywall.handle(new Request('http://shop/x', { headers: { authorization: auth } }));
    assert.equal((expired as { response: Response }).response.status, 401);
    clock -= 3601;
    const revoking = createPaywall({ ...paywall.options, isRevoked: () => true });
    const revoked = await revoking.handle(new Request('http://shop/x', { headers: { authorization: auth } }));
    assert.equal(await problemCode((revoked as { response: Response }).response), 'LP_L402_REVOKED');
  });

  it('answers garbled and duplicated credentials with 402 and oversized ones with 431, never 500', async () => {
    const hex = bytesToHex(new Uint8Array(32));
    for (const header of ['L402 garbage', `L402 abc:${hex}, L402 abc:${hex}`, `LSAT x:${hex.slice(1)}`]) {
      const r = (await paywall.handle(
        new Request('http://shop/x', { headers: { authorization: header } }),
      )) as { response: Response };
      assert.equal(r.response.status, 402, header);
      assert.equal(await problemCode(r.response), 'LP_L402_BAD_CREDENTIAL');
    }
    const big = (await paywall.handle(
      new Request('http://shop/x', { headers: { authorization: `L402 ${'A'.repeat(9000)}:${hex}` } }),
    )) as { response: Response };
    assert.equal(big.response.status, 431);
    const other = await paywall.handle(
      new Request('http://shop/x', { headers: { authorization: 'Bearer abc' } }),
    );
    assert.equal(
      (other as { response: Response }).response.status,
      402,
      'another scheme is treated as no credential',
    );
  });

  it('answers 503 with Retry-After and mints no token when the Lightning node is down', async () => {
    const [port] = await freePorts(1);
    const down = createPaywall({
      ...paywall.options,
      node: new LndNode({ restUrl: `http://127.0.0.1:${port}`, macaroon: '00' }),
    });
    const r = (await down.handle(new Request('http://shop/x'))) as {
      kind: string;
      response: Response;
      minted?: unknown;
    };
    assert.equal(r.response.status, 503);
    assert.equal(r.response.headers.get('retry-after'), '5');
    assert.equal(r.response.headers.get('www-authenticate'), null);
    assert.equal(r.minted, undefined);
    assert.equal(await problemCode(r.response), 'LP_L402_NODE_UNAVAILABLE');
  });

  it('prices dynamically from the request', async () => {
    const dynamic = createPaywall({
      ...paywall.options,
      price: (req) => msat(new URL(req.url).pathname.length * 1000),
    });
    const r = (await dynamic.handle(new Request('http://shop/abcd'))) as { response: Response };
    assert.equal(((await r.response.json()) as { amount_msat: number }).amount_msat, 5000);
  });
});

describe('framework adapters', () => {
  async function roundTrip(base: string): Promise<void> {
    const first = await fetch(`${base}/paid`);
    const auth = await pay(first);
    const second = await fetch(`${base}/paid`, { headers: { authorization: auth } });
    assert.equal(second.status, 200);
    assert.match(await second.text(), /^paid by [0-9a-f]{64}$/);
    assert.equal((await fetch(`${base}/free`)).status, 200);
  }

  it('Hono', async () => {
    const app = new Hono<{ Variables: { l402: import('./token.js').VerifiedToken } }>();
    app.get('/free', (c) => c.text('free'));
    app.use('/paid', l402Hono(paywall));
    app.get('/paid', (c) => c.text(`paid by ${c.get('l402').tokenId}`));
    const first = await app.request('/paid');
    const auth = await pay(first);
    const second = await app.request('/paid', { headers: { authorization: auth } });
    assert.equal(second.status, 200);
    assert.match(await second.text(), /^paid by [0-9a-f]{64}$/);
  });

  it('Express', async () => {
    const app = express();
    app.get('/free', (_req, res) => void res.send('free'));
    app.use('/paid', l402Express(paywall));
    app.get(
      '/paid',
      (req, res) => void res.send(`paid by ${(req as { l402?: { tokenId: string } }).l402?.tokenId}`),
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/paid`);
      assert.equal(
        res.headers.get('www-authenticate')?.split(/,\s*(?=L402|LSAT)/).length,
        2,
        'two challenges',
      );
      await roundTrip(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.close();
    }
  });

  it('Fastify', async () => {
    const app = Fastify();
    app.get('/free', async () => 'free');
    app.register(async (scope) => {
      scope.addHook('onRequest', l402Fastify(paywall));
      scope.get(
        '/paid',
        async (req) => `paid by ${(req as unknown as { l402: { tokenId: string } }).l402.tokenId}`,
      );
    });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      await roundTrip(base);
    } finally {
      await app.close();
    }
  });
});
