/**
 * The reference peer works as the OpenTimestamps tests use it: the python client verifies the real
 * example proofs offline against test/vectors/ots/mainnet-headers.txt, and reaches btcd's RPC through
 * the bridge. Fails (never skips) when test/peers/install-ots.sh has not run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startBitcoinChain } from '../../src/regtest/index.js';
import { otsPeer, runOts, startHeadersNode, startPythonRpcBridge } from '../support/ots-peer.js';
import { checkMainnetHeaders, HEADERS_FILE } from '../vectors/ots/check-headers.js';

const INCOMPLETE_COMMITMENT =
  '57cfa5c46716df9bd9e83595bce439c58108d8fcc1678f30d4c6731c3f1fa6c79ed712c66fb1ac8d4e4eb0e7';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lightproof-ots-peer-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the mainnet headers hash to their listed blocks and meet their targets', () => {
  assert.deepEqual(
    checkMainnetHeaders().map((h) => [h.height, h.time]),
    [
      [0, 1231006505],
      [358391, 1432827678],
      [428648, 1473227803],
    ],
  );
});

describe('the reference client against the mainnet headers', () => {
  let node: Awaited<ReturnType<typeof startHeadersNode>>;
  const examples = () => otsPeer().examplesDir;
  before(async () => {
    node = await startHeadersNode(HEADERS_FILE);
  });
  after(() => node.close());

  const verify = (proof: string, extra: string[] = []) =>
    runOts(['--no-default-whitelist', ...extra, '--bitcoin-node', node.nodeUrl, 'verify', proof]);

  test('verifies hello-world.txt.ots at block 358391', async () => {
    const r = await verify(join(examples(), 'hello-world.txt.ots'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Success! Bitcoin block 358391 attests existence as of 2015-05-28 UTC/);
  });

  test('rejects bad-stamp.txt.ots, whose path ends in another merkle root', async () => {
    const r = await verify(join(examples(), 'bad-stamp.txt.ots'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Digest does not match merkleroot/);
    assert.doesNotMatch(r.stderr, /Success/);
  });

  test('reports a block it has no header for as not found', async () => {
    const r = await verify(join(examples(), 'empty.ots'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Bitcoin block height 129405 not found/);
  });

  test("completes incomplete.txt.ots at block 428648 with alice's recorded reply", async () => {
    const cache = join(dir, 'ots-cache');
    const c = INCOMPLETE_COMMITMENT;
    const entry = join(cache, c.slice(0, 2), c.slice(2, 4), c.slice(4, 6), c.slice(6, 8));
    await mkdir(entry, { recursive: true });
    await writeFile(join(cache, 'version'), '1.0\n');
    const reply = await readFile(
      new URL('../vectors/ots/incomplete.txt.ots.alice-reply.hex', import.meta.url),
    );
    await writeFile(join(entry, c), Buffer.from(reply.toString('utf8').trim(), 'hex'));
    const r = await verify(join(examples(), 'incomplete.txt.ots'), ['--cache', cache]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Success! Bitcoin block 428648 attests existence as of 2016-09-07 UTC/);
  });
});

test('the reference client verifies a regtest block over btcd through the bridge', async () => {
  const chain = await startBitcoinChain({ dir: join(dir, 'chain') });
  try {
    const [hash] = await chain.mine(1);
    const header = (await chain.btcdRpc('getblockheader', [hash, true])) as {
      merkleroot: string;
      height: number;
    };
    const digest = Buffer.from(header.merkleroot, 'hex').reverse().toString('hex');
    // A proof with no ops: the digest is the block's merkle root itself, attested at its height.
    const proof = join(dir, 'block.ots');
    const script = [
      'import sys',
      'from opentimestamps.core.timestamp import Timestamp, DetachedTimestampFile',
      'from opentimestamps.core.notary import BitcoinBlockHeaderAttestation',
      'from opentimestamps.core.op import OpSHA256',
      'from opentimestamps.core.serialize import BytesSerializationContext',
      't = Timestamp(bytes.fromhex(sys.argv[1]))',
      't.attestations.add(BitcoinBlockHeaderAttestation(int(sys.argv[2])))',
      'c = BytesSerializationContext()',
      'DetachedTimestampFile(OpSHA256(), t).serialize(c)',
      "open(sys.argv[3], 'wb').write(c.getbytes())",
    ].join('\n');
    await promisify(execFile)(otsPeer().python, ['-c', script, digest, String(header.height), proof]);
    const bridge = await startPythonRpcBridge(chain.rpc);
    try {
      const node = (url: string) => ['--btc-regtest', '--bitcoin-node', url, 'verify', '-d', digest, proof];
      const ok = await runOts(node(bridge.nodeUrl));
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stderr, new RegExp(`Success! Bitcoin block ${header.height} attests existence`));
      const wrong = await runOts(node(bridge.nodeUrl.replace(`:${chain.rpc.pass}@`, ':wrong@')));
      assert.notEqual(wrong.code, 0);
      assert.doesNotMatch(wrong.stderr, /Success/);
    } finally {
      await bridge.close();
    }
  } finally {
    await chain.stop();
  }
});
