/**
 * End-to-end: the Bitcoin JSON-RPC client and the RPC header source against a real btcd (regtest,
 * TLS with its self-signed certificate). Needs Go or a warm daemon cache, like the other regtest tests.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hexToBytes } from '@noble/hashes/utils.js';
import { type BitcoinRpc, bitcoinRpc, parseBlockHeader, rpcHeaderSource } from '../../src/bitcoin/index.js';
import { isLightproofError } from '../../src/core/index.js';
import { Timestamp } from '../../src/ots/index.js';
import { verifyTimestamp } from '../../src/ots/verify.js';
import { mineBlocks, type StartedBtcd, startBtcd } from '../../src/regtest/btcd.js';
import { createFaucet } from '../../src/regtest/faucet.js';
import { freePorts, locateDaemons } from '../../src/regtest/index.js';
import { stopPids } from '../../src/regtest/processes.js';

async function rejectsWith(p: Promise<unknown>, code: string): Promise<unknown> {
  let caught: unknown;
  await assert.rejects(p, (err) => {
    caught = err;
    assert.ok(isLightproofError(err, code), `expected ${code}, got ${(err as Error).message}`);
    return true;
  });
  return caught;
}

describe('Bitcoin RPC against btcd', { timeout: 20 * 60_000 }, () => {
  let dir = '';
  let btcd: StartedBtcd | undefined;
  let rpc: BitcoinRpc;
  let hashes: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lightproof-btcrpc-'));
    mkdirSync(join(dir, 'logs'));
    const bins = await locateDaemons((line) => console.log(`[build] ${line}`));
    const [rpcPort, p2pPort] = (await freePorts(2)) as [number, number];
    btcd = await startBtcd({
      bin: bins.btcd,
      dir,
      rpcPort,
      p2pPort,
      miningAddress: createFaucet().address,
      detached: false,
    });
    hashes = await mineBlocks(btcd.rpc, 5);
    rpc = bitcoinRpc({
      url: btcd.info.rpcUrl,
      user: btcd.info.rpcUser,
      pass: btcd.info.rpcPass,
      tlsCert: readFileSync(btcd.info.certPath),
    });
  });

  after(async () => {
    rpc?.close();
    if (btcd) await stopPids([btcd.daemon.pid], dir);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('reads the chain: count, hashes, headers, raw blocks and transactions', async () => {
    assert.equal(await rpc.getBlockCount(), 5);
    const hash = await rpc.getBlockHash(3);
    assert.equal(hash, hashes[2]);
    const headerHex = await rpc.getBlockHeaderHex(hash);
    assert.equal(parseBlockHeader(hexToBytes(headerHex)).hash, hash);
    const block = await rpc.getRawBlockHex(hash);
    assert.equal(block.slice(0, 160), headerHex);
    const verbose = await rpc.call<{ tx: string[]; merkleroot: string }>('getblock', [hash]);
    const coinbase = await rpc.getRawTransactionHex(verbose.tx[0] as string);
    assert.ok(block.includes(coinbase), 'the raw block holds its coinbase');
  });

  test('logs in with credentials in the URL', async () => {
    const url = new URL(btcd!.info.rpcUrl);
    url.username = btcd!.info.rpcUser;
    url.password = btcd!.info.rpcPass;
    const viaUrl = bitcoinRpc({ url: url.toString(), tlsCert: readFileSync(btcd!.info.certPath) });
    assert.equal(await viaUrl.getBlockCount(), 5);
    viaUrl.close();
  });

  test('maps a wrong password, a missing certificate and a rejected transaction to typed errors', async () => {
    const cert = readFileSync(btcd!.info.certPath);
    const wrong = bitcoinRpc({
      url: btcd!.info.rpcUrl,
      user: btcd!.info.rpcUser,
      pass: 'nope',
      tlsCert: cert,
    });
    await rejectsWith(wrong.getBlockCount(), 'LP_BTC_RPC_AUTH');
    wrong.close();
    const noCert = bitcoinRpc({ url: btcd!.info.rpcUrl, user: btcd!.info.rpcUser, pass: btcd!.info.rpcPass });
    await rejectsWith(noCert.getBlockCount(), 'LP_BTC_RPC_UNREACHABLE');
    noCert.close();
    const err = (await rejectsWith(rpc.sendRawTransaction('00'), 'LP_BTC_RPC_ERROR')) as {
      details: { code?: unknown };
    };
    assert.equal(typeof err.details.code, 'number');
  });

  test('serves checked headers and verifies a timestamp on the block merkle root', async () => {
    const source = rpcHeaderSource(rpc, { network: 'regtest' });
    const header = await source.headerAt(4);
    assert.equal(header.hash, hashes[3]);
    const verbose = await rpc.call<{ merkleroot: string; time: number }>('getblock', [header.hash]);
    assert.equal(Buffer.from(header.merkleRoot).reverse().toString('hex'), verbose.merkleroot);
    await rejectsWith(source.headerAt(500), 'LP_BTC_HEADER_NOT_FOUND');
    await rejectsWith(rpcHeaderSource(rpc).headerAt(4), 'LP_BTC_WRONG_NETWORK');

    const ts = new Timestamp(header.merkleRoot);
    ts.attest({ kind: 'bitcoin', height: 4 });
    const report = await verifyTimestamp(ts, source);
    assert.equal(report.verified, true);
    assert.deepEqual(report.earliest, {
      height: 4,
      time: verbose.time,
      blockHash: header.hash,
      heightChecked: true,
    });
    const wrongHeight = new Timestamp(header.merkleRoot);
    wrongHeight.attest({ kind: 'bitcoin', height: 3 });
    assert.equal((await verifyTimestamp(wrongHeight, source)).verified, false);
  });
});
