import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isLightproofError } from '../core/errors.js';
import { FixedRate, HttpRate, rateSourceFor } from './rates.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const json =
  (body: unknown): Handler =>
  (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

const routes: Record<string, Handler> = {
  '/good': json({ data: { amount: '97123.45', currency: 'USD' } }),
  '/number': json({ data: { amount: 97123.5 } }),
  '/array': json({ prices: [{ usd: '50000' }] }),
  '/garbage': json({ data: { amount: 'lots' } }),
  '/exponent': json({ data: { amount: '1e5' } }),
  '/zero': json({ data: { amount: 0 } }),
  '/negative': json({ data: { amount: '-97123.45' } }),
  '/object': json({ data: { amount: { value: 1 } } }),
  '/missing': json({ data: { price: '97123.45' } }),
  '/proto': json('{"data":{"__proto__":{"amount":"1"}}}'),
  '/not-json': (_req, res) => res.end('<html>rate limited</html>'),
  '/500': (_req, res) => {
    res.statusCode = 500;
    res.end(JSON.stringify({ data: { amount: '1' } }));
  },
  '/slow-headers': () => {}, // never answers
  '/slow-body': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"data":{"amount":');
  },
  '/huge-declared': (_req, res) => {
    res.writeHead(200, { 'content-length': String(1024 * 1024) });
    res.write('{');
  },
  '/huge-chunked': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const pad = 'x'.repeat(16 * 1024);
    res.write(`{"pad":"`);
    for (let i = 0; i < 8; i++) res.write(pad);
    res.end(`","data":{"amount":"1"}}`);
  },
};

let server: Server;
let base: string;
let hits = 0;
let flaky = { status: 200, amount: '100' };

before(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/flaky') {
      res.statusCode = flaky.status;
      res.end(JSON.stringify({ usd: flaky.amount }));
      return;
    }
    (routes[req.url ?? ''] ?? ((_q, r) => r.writeHead(404).end()))(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

const rate = (
  path: string,
  field = 'data.amount',
  extra: Partial<ConstructorParameters<typeof HttpRate>[0]> = {},
) => new HttpRate({ url: `${base}${path}`, field, maxAgeSeconds: 60, timeoutMs: 300, ...extra });

async function unavailable(r: HttpRate, fragment: string): Promise<void> {
  await assert.rejects(r.usdPerBtc(), (err: unknown) => {
    assert.ok(isLightproofError(err), String(err));
    assert.equal(err.code, 'LP_WALLET_RATE_UNAVAILABLE');
    assert.ok(err.message.includes(r.url), err.message);
    assert.ok(err.message.includes('USD budgets cannot be checked'), err.message);
    assert.ok(err.message.includes(fragment), `"${fragment}" missing from: ${err.message}`);
    return true;
  });
}

describe('FixedRate', () => {
  it('returns its value and refuses a bad one', async () => {
    assert.equal(await new FixedRate('97123.450').usdPerBtc(), '97123.45');
    assert.throws(
      () => new FixedRate('-1'),
      (e: unknown) => isLightproofError(e, 'LP_WALLET_BAD_RATE'),
    );
    assert.equal(await rateSourceFor({ kind: 'fixed', usdPerBtc: '100000' }).usdPerBtc(), '100000');
  });
});

describe('HttpRate', () => {
  it('reads a decimal string or number at the dotted field', async () => {
    assert.equal(await rate('/good').usdPerBtc(), '97123.45');
    assert.equal(await rate('/number').usdPerBtc(), '97123.5');
    assert.equal(await rate('/array', 'prices.0.usd').usdPerBtc(), '50000');
  });

  it('refuses values that are not a positive decimal', async () => {
    await unavailable(rate('/garbage'), 'not a positive decimal');
    await unavailable(rate('/exponent'), 'not a positive decimal');
    await unavailable(rate('/zero'), 'not a positive decimal');
    await unavailable(rate('/negative'), 'not a positive decimal');
    await unavailable(rate('/object'), 'not a number');
  });

  it('refuses a missing field, including one only reachable through the prototype', async () => {
    await unavailable(rate('/missing'), 'no "data.amount"');
    await unavailable(rate('/proto'), 'no "data.amount"');
    await unavailable(rate('/good', 'data.constructor'), 'no "data.constructor"');
  });

  it('refuses non-JSON bodies, error statuses and unreachable servers', async () => {
    await unavailable(rate('/not-json'), 'not JSON');
    await unavailable(rate('/500'), 'HTTP 500');
    await unavailable(rate('/nowhere'), 'HTTP 404');
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await unavailable(
      new HttpRate({ url: `http://127.0.0.1:${port}/`, field: 'a', maxAgeSeconds: 1 }),
      'ECONNREFUSED',
    );
  });

  it('gives up on a slow server within the timeout', async () => {
    const started = Date.now();
    await unavailable(rate('/slow-headers'), 'no answer within 300 ms');
    await unavailable(rate('/slow-body'), 'no answer within 300 ms');
    assert.ok(Date.now() - started < 3000, 'both timed out promptly');
  });

  it('refuses a body over 64 KiB, declared or streamed', async () => {
    await unavailable(rate('/huge-declared'), 'larger than 64 KiB');
    await unavailable(rate('/huge-chunked'), 'larger than 64 KiB');
  });

  it('caches for maxAgeSeconds and shares one request among concurrent callers', async () => {
    let now = 1_000_000;
    const r = rate('/good', 'data.amount', { now: () => now });
    const before = hits;
    const got = await Promise.all([r.usdPerBtc(), r.usdPerBtc(), r.usdPerBtc()]);
    assert.deepEqual(got, ['97123.45', '97123.45', '97123.45']);
    assert.equal(hits - before, 1);
    now += 59_000;
    await r.usdPerBtc();
    assert.equal(hits - before, 1, 'still fresh');
    now += 1_000;
    await r.usdPerBtc();
    assert.equal(hits - before, 2, 'refetched after maxAge');
  });

  it('falls back to a recent price when the feed fails, but never one older than 10x maxAge', async () => {
    let now = 0;
    flaky = { status: 200, amount: '100' };
    const r = new HttpRate({
      url: `${base}/flaky`,
      field: 'usd',
      maxAgeSeconds: 10,
      timeoutMs: 300,
      now: () => now,
    });
    assert.equal(await r.usdPerBtc(), '100');
    flaky = { status: 503, amount: '999' };
    now = 50_000;
    assert.equal(await r.usdPerBtc(), '100', 'within 10x maxAge the last good price stands');
    now = 100_001;
    await unavailable(r, 'HTTP 503');
    flaky = { status: 200, amount: '200' };
    assert.equal(await r.usdPerBtc(), '200', 'recovers when the feed does');
  });

  it('is shared per feed by rateSourceFor, so its cache survives between payments', () => {
    const spec = { kind: 'http' as const, url: `${base}/good`, field: 'data.amount', maxAgeSeconds: 60 };
    assert.equal(rateSourceFor(spec), rateSourceFor({ ...spec }));
    assert.notEqual(rateSourceFor(spec), rateSourceFor({ ...spec, maxAgeSeconds: 61 }));
    assert.ok(rateSourceFor(spec) instanceof HttpRate);
  });
});
