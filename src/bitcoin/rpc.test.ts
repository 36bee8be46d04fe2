import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isLightproofError } from '../core/errors.js';
import { type BitcoinRpc, bitcoinRpc } from './rpc.js';

interface Seen {
  auth: string | undefined;
  body: { id: number; method: string; params: unknown[] };
}

type Handler = (seen: Seen, res: ServerResponse) => void;

/** A JSON-RPC server on 127.0.0.1 whose behaviour each test sets through `handler`. */
async function startNode(): Promise<{ server: Server; url: string; set(h: Handler): void; seen: Seen[] }> {
  let handler: Handler = () => {};
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { auth: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString()) };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, set: (h) => (handler = h), seen };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function ok(result: unknown): Handler {
  return (s, res) => reply(res, 200, { result, error: null, id: s.body.id });
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<unknown> {
  let caught: unknown;
  await assert.rejects(p, (err) => {
    caught = err;
    return isLightproofError(err, code);
  });
  return caught;
}

const HASH = '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f';

describe('bitcoinRpc', () => {
  let node: Awaited<ReturnType<typeof startNode>>;
  let rpc: BitcoinRpc;
  let dir: string;

  before(async () => {
    node = await startNode();
    rpc = bitcoinRpc({ url: node.url, user: 'u', pass: 'p', timeoutMs: 2000 });
    dir = mkdtempSync(join(tmpdir(), 'lp-rpc-'));
  });
  after(() => {
    rpc.close();
    node.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a JSON-RPC 1.0 request with basic auth and returns the result', async () => {
    node.set(ok(812345));
    assert.equal(await rpc.getBlockCount(), 812345);
    const last = node.seen.at(-1)!;
    assert.equal(last.body.method, 'getblockcount');
    assert.deepEqual(last.body.params, []);
    assert.equal(last.auth, `Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('passes the bitcoind/btcd-compatible parameters for each convenience call', async () => {
    node.set(ok(HASH));
    assert.equal(await rpc.getBlockHash(0), HASH);
    assert.deepEqual(node.seen.at(-1)!.body.params, [0]);
    node.set(ok('00'.repeat(80)));
    await rpc.getBlockHeaderHex(HASH);
    assert.deepEqual(node.seen.at(-1)!.body, {
      jsonrpc: '1.0',
      id: node.seen.at(-1)!.body.id,
      method: 'getblockheader',
      params: [HASH, false],
    });
    node.set(ok('abcd'));
    assert.equal(await rpc.getRawBlockHex(HASH), 'abcd');
    assert.deepEqual(node.seen.at(-1)!.body.params, [HASH, 0]);
    assert.equal(await rpc.getRawTransactionHex(HASH), 'abcd');
    assert.deepEqual(node.seen.at(-1)!.body.params, [HASH, 0]);
    node.set(ok(HASH));
    assert.equal(await rpc.sendRawTransaction('0200'), HASH);
    assert.equal(node.seen.at(-1)!.body.method, 'sendrawtransaction');
  });

  it('takes credentials from the URL and from a cookie file', async () => {
    node.set(ok(1));
    const fromUrl = bitcoinRpc({ url: node.url.replace('//', '//al%40ice:s3cret@') });
    assert.equal(fromUrl.url, node.url);
    await fromUrl.getBlockCount();
    assert.equal(node.seen.at(-1)!.auth, `Basic ${Buffer.from('al@ice:s3cret').toString('base64')}`);
    fromUrl.close();

    const cookie = join(dir, '.cookie');
    writeFileSync(cookie, '__cookie__:abc123\n');
    const fromCookie = bitcoinRpc({ url: node.url, cookieFile: cookie });
    await fromCookie.getBlockCount();
    assert.equal(node.seen.at(-1)!.auth, `Basic ${Buffer.from('__cookie__:abc123').toString('base64')}`);
    fromCookie.close();
  });

  it('reports a missing or malformed cookie file', async () => {
    await rejectsWith(
      bitcoinRpc({ url: node.url, cookieFile: join(dir, 'nope') }).getBlockCount(),
      'LP_BTC_RPC_COOKIE',
    );
    const bad = join(dir, 'bad-cookie');
    writeFileSync(bad, 'no colon here');
    await rejectsWith(bitcoinRpc({ url: node.url, cookieFile: bad }).getBlockCount(), 'LP_BTC_RPC_COOKIE');
  });

  it('maps a plain-text 401 (btcd) and a 403 to LP_BTC_RPC_AUTH', async () => {
    node.set((_s, res) => {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('401 Unauthorized.\n');
    });
    await rejectsWith(rpc.getBlockCount(), 'LP_BTC_RPC_AUTH');
    node.set((_s, res) => reply(res, 403, ''));
    await rejectsWith(rpc.getBlockCount(), 'LP_BTC_RPC_AUTH');
  });

  it('keeps the node error code: bitcoind (HTTP 500) and btcd (HTTP 200)', async () => {
    node.set((s, res) =>
      reply(res, 500, {
        result: null,
        error: { code: -26, message: 'min relay fee not met' },
        id: s.body.id,
      }),
    );
    const err = (await rejectsWith(rpc.sendRawTransaction('00'), 'LP_BTC_RPC_ERROR')) as {
      details: Record<string, unknown>;
    };
    assert.equal(err.details.code, -26);
    assert.equal(err.details.message, 'min relay fee not met');
    assert.equal(err.details.method, 'sendrawtransaction');

    node.set((s, res) =>
      reply(res, 200, {
        result: null,
        error: { code: -8, message: 'Block number out of range' },
        id: s.body.id,
      }),
    );
    const err2 = (await rejectsWith(rpc.getBlockHash(10_000_000), 'LP_BTC_RPC_ERROR')) as {
      details: Record<string, unknown>;
    };
    assert.equal(err2.details.code, -8);
  });

  it('refuses garbage, non-RPC JSON, a wrong id, an HTTP error and wrong result shapes', async () => {
    node.set((_s, res) => reply(res, 200, '<html>nginx</html>'));
    await rejectsWith(rpc.getBlockCount(), 'LP_BTC_RPC_BAD_REPLY');
    node.set((_s, res) => reply(res, 200, [1, 2]));
    await rejectsWith(rpc.getBlockCount(), 'LP_BTC_RPC_BAD_REPLY');
    node.set((s, res) => reply(res, 200, { result: 5, error: null, id: s.body.id + 1 }));
    await rejectsWith(rpc.getBlockCount(), 'LP_BTC_RPC_BAD_REPLY');
    node.set((_s, res) => reply(res, 502, { message: 'bad gateway' }));
    await rejectsWith(rpc.getBlockCount(), 'LP_BTC_RPC_BAD_REPLY');
    node.set(ok(-1));
    await rejectsWith(rpc.getBlockCount(), 'LP_BTC_RPC_BAD_REPLY');
    node.set(ok(1.5));
    await rejectsWith(rpc.getBlockCount(), 'LP_BTC_RPC_BAD_REPLY');
    node.set(ok('zz'.repeat(32)));
    await rejectsWith(rpc.getBlockHash(1), 'LP_BTC_RPC_BAD_REPLY');
    node.set(ok('00'.repeat(81)));
    await rejectsWith(rpc.getBlockHeaderHex(HASH), 'LP_BTC_RPC_BAD_REPLY');
    node.set(ok({ hex: '00' }));
    await rejectsWith(rpc.getRawTransactionHex(HASH), 'LP_BTC_RPC_BAD_REPLY');
  });

  it('stops reading a reply past the size cap', async () => {
    const small = bitcoinRpc({ url: node.url, maxReplyBytes: 1024 });
    node.set((s, res) => reply(res, 200, { result: 'ab'.repeat(10_000), error: null, id: s.body.id }));
    await rejectsWith(small.getRawBlockHex(HASH), 'LP_BTC_RPC_BAD_REPLY');
    small.close();
  });

  it('times out when the node never answers', async () => {
    const pending: ServerResponse[] = [];
    node.set((_s, res) => pending.push(res));
    const slow = bitcoinRpc({ url: node.url, timeoutMs: 100 });
    await rejectsWith(slow.getBlockCount(), 'LP_BTC_RPC_TIMEOUT');
    slow.close();
    for (const res of pending) res.destroy();
  });

  it('reports an unreachable node and a bad URL', async () => {
    const closed = await startNode();
    const url = closed.url;
    await new Promise<void>((resolve) => closed.server.close(() => resolve()));
    await rejectsWith(bitcoinRpc({ url }).getBlockCount(), 'LP_BTC_RPC_UNREACHABLE');
    assert.throws(
      () => bitcoinRpc({ url: 'ftp://x' }),
      (e) => isLightproofError(e, 'LP_BTC_RPC_BAD_URL'),
    );
    assert.throws(
      () => bitcoinRpc({ url: 'not a url' }),
      (e) => isLightproofError(e, 'LP_BTC_RPC_BAD_URL'),
    );
  });

  it('checks arguments before calling the node', async () => {
    await rejectsWith(rpc.getBlockHash(-1), 'LP_BTC_BAD_HEIGHT');
    await rejectsWith(rpc.getBlockHeaderHex('xyz'), 'LP_BTC_BAD_HEX');
    await rejectsWith(rpc.sendRawTransaction('0g'), 'LP_BTC_BAD_HEX');
  });
});
