import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { bytesToHex } from '@noble/hashes/utils.js';
import { isLightproofError } from '../../core/errors.js';
import { blockHash } from '../header.js';
import { esploraHeaderSource } from './esplora.js';
import { MAINNET_HEADERS, mineHeader, regtestChain, rootFor } from './headers.testkit.js';

const chain = regtestChain(6);
const hashes = chain.map((h) => blockHash(h));

/** How the fake Esplora answers a path; undefined falls through to the honest answer. */
type Override = (path: string, res: ServerResponse) => boolean;

interface FakeEsplora {
  server: Server;
  base: string;
  requests: string[];
  override: Override | undefined;
}

/** An override that answers paths matching `match` with `status` and `body`. */
function answer(match: (path: string) => boolean, body: string, status = 200): Override {
  return (path, res) => {
    if (!match(path)) return false;
    res.writeHead(status).end(body);
    return true;
  };
}
const isHeader = (p: string) => p.endsWith('/header');
const isHeight = (h: number) => (p: string) => p === `block-height/${h}`;

async function startEsplora(headers: readonly Uint8Array[]): Promise<FakeEsplora> {
  const fake: FakeEsplora = {
    server: undefined as unknown as Server,
    base: '',
    requests: [],
    override: undefined,
  };
  fake.server = createServer((req, res) => {
    const path = (req.url ?? '').replace(/^\/api\//, '');
    fake.requests.push(path);
    if (fake.override?.(path, res)) return;
    const byHeight = /^block-height\/(\d+)$/.exec(path);
    if (byHeight) {
      const header = headers[Number(byHeight[1])];
      if (!header) return void res.writeHead(404).end('Block not found');
      return void res.end(blockHash(header));
    }
    const byHash = /^block\/([0-9a-f]{64})\/header$/.exec(path);
    const header = byHash ? headers.find((h) => blockHash(h) === byHash[1]) : undefined;
    if (!header) return void res.writeHead(404).end('Block not found');
    res.end(bytesToHex(header));
  });
  await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
  fake.base = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}/api`;
  return fake;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err) => {
    assert.ok(isLightproofError(err, code), `expected ${code}, got ${(err as Error).message}`);
    return true;
  });
}

describe('esploraHeaderSource', () => {
  let fake: FakeEsplora;
  before(async () => {
    fake = await startEsplora(chain);
  });
  beforeEach(() => {
    fake.override = undefined;
    fake.requests.length = 0;
  });
  after(() => {
    fake.server.closeAllConnections();
    fake.server.close();
  });

  it('fetches, checks and caches headers under the base path, after checking the genesis once', async () => {
    const source = esploraHeaderSource(fake.base, { network: 'regtest' });
    const header = await source.headerAt(3);
    assert.equal(header.height, 3);
    assert.equal(header.hash, hashes[3]);
    assert.deepEqual(header.merkleRoot, rootFor(3));
    await source.headerAt(3);
    await source.headerAt(4);
    assert.deepEqual(fake.requests, [
      'block-height/0',
      'block-height/3',
      `block/${hashes[3]}/header`,
      'block-height/4',
      `block/${hashes[4]}/header`,
    ]);
  });

  it('says a height past the tip is not found', async () => {
    await rejectsWith(
      esploraHeaderSource(fake.base, { network: 'regtest' }).headerAt(99),
      'LP_BTC_HEADER_NOT_FOUND',
    );
  });

  it('refuses an explorer on another network', async () => {
    await rejectsWith(esploraHeaderSource(fake.base).headerAt(1), 'LP_BTC_WRONG_NETWORK');
    fake.override = answer(isHeight(0), 'ab'.repeat(32));
    await rejectsWith(
      esploraHeaderSource(fake.base, { network: 'regtest' }).headerAt(1),
      'LP_BTC_WRONG_NETWORK',
    );
  });

  it('refuses a lying server: a header that does not hash to the hash it named', async () => {
    const other = mineHeader({ prev: new Uint8Array(32), merkleRoot: rootFor(99) });
    fake.override = answer(isHeader, bytesToHex(other));
    await rejectsWith(
      esploraHeaderSource(fake.base, { network: 'regtest' }).headerAt(2),
      'LP_BTC_HEADER_HASH_MISMATCH',
    );
  });

  it('refuses a consistent liar whose header has regtest difficulty on mainnet', async () => {
    const forged = [MAINNET_HEADERS[0], mineHeader({ prev: new Uint8Array(32), merkleRoot: rootFor(1) })];
    const liar = await startEsplora(forged.map((h) => (typeof h === 'string' ? Buffer.from(h, 'hex') : h)));
    try {
      await rejectsWith(esploraHeaderSource(liar.base).headerAt(1), 'LP_BTC_HEADER_POW_LIMIT');
    } finally {
      liar.server.closeAllConnections();
      liar.server.close();
    }
  });

  it('refuses garbage, HTML, errors and a header of the wrong length', async () => {
    const cases: [Override, string][] = [
      [answer(isHeight(1), 'not a hash'), 'LP_BTC_ESPLORA_BAD_REPLY'],
      [answer(isHeight(1), 'oops', 500), 'LP_BTC_ESPLORA_BAD_REPLY'],
      [answer(isHeader, '<html></html>'), 'LP_BTC_ESPLORA_BAD_REPLY'],
      [answer(isHeader, '00'.repeat(81)), 'LP_BTC_ESPLORA_BAD_REPLY'],
      [answer(isHeader, 'Block not found', 404), 'LP_BTC_ESPLORA_BAD_REPLY'],
    ];
    for (const [override, code] of cases) {
      fake.override = override;
      await rejectsWith(esploraHeaderSource(fake.base, { network: 'regtest' }).headerAt(1), code);
    }
  });

  it('stops reading an answer that is too long', async () => {
    fake.override = (p, res) => {
      if (!p.endsWith('/header')) return false;
      res.write(bytesToHex(chain[1] as Uint8Array));
      res.end('0'.repeat(1_000_000));
      return true;
    };
    await rejectsWith(
      esploraHeaderSource(fake.base, { network: 'regtest' }).headerAt(1),
      'LP_BTC_ESPLORA_BAD_REPLY',
    );
  });

  it('times out on a server that answers nothing, or starts and stalls', async () => {
    fake.override = (p) => p === 'block-height/2';
    const source = esploraHeaderSource(fake.base, { network: 'regtest', timeoutMs: 100 });
    await rejectsWith(source.headerAt(2), 'LP_BTC_ESPLORA_TIMEOUT');
    fake.override = (p, res) => {
      if (!p.endsWith('/header')) return false;
      res.write('0100');
      return true;
    };
    await rejectsWith(source.headerAt(3), 'LP_BTC_ESPLORA_TIMEOUT');
  });

  it('forgets a failed lookup so the next call asks again', async () => {
    const source = esploraHeaderSource(fake.base, { network: 'regtest' });
    fake.override = answer(isHeight(5), '', 503);
    await rejectsWith(source.headerAt(5), 'LP_BTC_ESPLORA_BAD_REPLY');
    fake.override = undefined;
    assert.equal((await source.headerAt(5)).hash, hashes[5]);
  });

  it('reports an unreachable server and refuses a bad base URL', async () => {
    const gone = await startEsplora(chain);
    const base = gone.base;
    await new Promise<void>((resolve) => gone.server.close(() => resolve()));
    await rejectsWith(
      esploraHeaderSource(base, { network: 'regtest' }).headerAt(1),
      'LP_BTC_ESPLORA_UNREACHABLE',
    );
    for (const bad of ['ftp://x/api', 'blockstream.info/api', 'https://x/api?key=1']) {
      assert.throws(
        () => esploraHeaderSource(bad),
        (e) => isLightproofError(e, 'LP_BTC_ESPLORA_BAD_URL'),
      );
    }
  });
});
