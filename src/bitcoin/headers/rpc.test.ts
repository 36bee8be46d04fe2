import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { isLightproofError } from '../../core/errors.js';
import { blockHash } from '../header.js';
import { bitcoinRpc } from '../rpc.js';
import { MAINNET_HEADERS, mineHeader, regtestChain, rootFor } from './headers.testkit.js';
import { rpcHeaderSource } from './rpc.js';

const chain = regtestChain(5);

interface Call {
  method: string;
  params: unknown[];
}

/** A node that answers getblockhash/getblockheader from `headers`; `lie` may replace any answer. */
async function startNode(headers: readonly Uint8Array[]) {
  const state = {
    calls: [] as Call[],
    lie: undefined as ((call: Call) => { result?: unknown; error?: unknown } | undefined) | undefined,
    /** bitcoind's out-of-range error, or btcd's. */
    outOfRange: { code: -8, message: 'Block height out of range' },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as Call & { id: number };
      state.calls.push({ method: body.method, params: body.params });
      const send = (r: { result?: unknown; error?: unknown }) =>
        res.end(JSON.stringify({ result: r.result ?? null, error: r.error ?? null, id: body.id }));
      const lie = state.lie?.(body);
      if (lie) return send(lie);
      if (body.method === 'getblockhash') {
        const header = headers[body.params[0] as number];
        return send(header ? { result: blockHash(header) } : { error: state.outOfRange });
      }
      const header = headers.find((h) => blockHash(h) === body.params[0]);
      send(header ? { result: bytesToHex(header) } : { error: { code: -5, message: 'Block not found' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err) => {
    assert.ok(isLightproofError(err, code), `expected ${code}, got ${(err as Error).message}`);
    return true;
  });
}

describe('rpcHeaderSource', () => {
  let node: Awaited<ReturnType<typeof startNode>>;
  before(async () => {
    node = await startNode(chain);
  });
  beforeEach(() => {
    node.state.calls.length = 0;
    node.state.lie = undefined;
  });
  after(() => {
    node.server.closeAllConnections();
    node.server.close();
  });

  const source = (network: 'regtest' | 'mainnet' = 'regtest') =>
    rpcHeaderSource(bitcoinRpc({ url: node.url }), { network });

  it('asks getblockhash then getblockheader <hash> false, after checking the genesis once', async () => {
    const s = source();
    const header = await s.headerAt(4);
    assert.equal(header.height, 4);
    assert.deepEqual(header.merkleRoot, rootFor(4));
    await s.headerAt(4);
    assert.deepEqual(node.state.calls, [
      { method: 'getblockhash', params: [0] },
      { method: 'getblockhash', params: [4] },
      { method: 'getblockheader', params: [blockHash(chain[4] as Uint8Array), false] },
    ]);
    assert.match(s.name, /127\.0\.0\.1/);
    s.close?.();
  });

  it('turns bitcoind and btcd out-of-range errors into LP_BTC_HEADER_NOT_FOUND', async () => {
    await rejectsWith(source().headerAt(50), 'LP_BTC_HEADER_NOT_FOUND');
    node.state.outOfRange = { code: -1, message: 'Block number out of range' };
    await rejectsWith(source().headerAt(50), 'LP_BTC_HEADER_NOT_FOUND');
    node.state.lie = (c) =>
      c.method === 'getblockhash' && c.params[0] === 2
        ? { error: { code: -28, message: 'Loading block index…' } }
        : undefined;
    await rejectsWith(source().headerAt(2), 'LP_BTC_RPC_ERROR');
  });

  it('refuses a node on another network', async () => {
    await rejectsWith(source('mainnet').headerAt(1), 'LP_BTC_WRONG_NETWORK');
  });

  it('refuses a header that does not hash to the hash the node named', async () => {
    node.state.lie = (c) =>
      c.method === 'getblockheader' ? { result: bytesToHex(chain[1] as Uint8Array) } : undefined;
    await rejectsWith(source().headerAt(3), 'LP_BTC_HEADER_HASH_MISMATCH');
  });

  it('refuses a consistent liar with trivial difficulty on mainnet', async () => {
    const forged = [
      hexToBytes(MAINNET_HEADERS[0]),
      mineHeader({ prev: new Uint8Array(32), merkleRoot: rootFor(1) }),
    ];
    const liar = await startNode(forged);
    try {
      await rejectsWith(
        rpcHeaderSource(bitcoinRpc({ url: liar.url })).headerAt(1),
        'LP_BTC_HEADER_POW_LIMIT',
      );
    } finally {
      liar.server.closeAllConnections();
      liar.server.close();
    }
  });

  it('refuses a bad height before asking', async () => {
    await rejectsWith(source().headerAt(1.5), 'LP_BTC_BAD_HEIGHT');
    assert.equal(node.state.calls.length, 0);
  });
});
