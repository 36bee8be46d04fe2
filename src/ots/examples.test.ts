/**
 * The public example proofs (npm opentimestamps@0.4.9's examples/, installed by
 * test/peers/install-ots.sh): every one parses and writes back byte for byte; the complete ones verify
 * against the real mainnet headers in test/vectors/ots/; a lying proof fails and names the mismatch.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { hexToBytes } from '@noble/hashes/utils.js';
import { otsPeer } from '../../test/support/ots-peer.js';
import { checkMainnetHeaders, HEADERS_FILE } from '../../test/vectors/ots/check-headers.js';
import { fileHeaderSource } from '../bitcoin/index.js';
import { run } from '../cli/cli.testkit.js';
import {
  parseOts,
  readTimestamp,
  serializeOts,
  type Timestamp,
  verifyFile,
  verifyTimestamp,
} from './index.js';

const examples = otsPeer().examplesDir;
const proofs = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? proofs(join(dir, e.name)) : e.name.endsWith('.ots') ? [join(dir, e.name)] : [],
  );
const bytesOf = (name: string) => new Uint8Array(readFileSync(join(examples, name)));

describe('the public example proofs', () => {
  test('the header vectors are real: each hashes to its block and meets its proof of work', () => {
    assert.ok(checkMainnetHeaders().length >= 3);
  });

  test('every example proof parses and is written back exactly as python-opentimestamps writes it', async () => {
    const all = proofs(examples);
    assert.ok(all.length >= 12, `only ${all.length} example proofs in ${examples}`);
    const reference = await pythonReserialize(all);
    const changed: string[] = [];
    for (const path of all) {
      const bytes = new Uint8Array(readFileSync(path));
      const ours = serializeOts(parseOts(bytes));
      const name = relative(examples, path);
      assert.equal(Buffer.from(ours).toString('hex'), reference.get(path), name);
      if (Buffer.compare(ours, bytes) !== 0) changed.push(name);
    }
    // javascript-opentimestamps wrote this one with its ops unsorted; the reference reorders it too.
    assert.deepEqual(changed, ['ripemd160/README.md.ots']);
  });

  test('hello-world.txt.ots verifies: Bitcoin block 358391, 2015-05-28T15:41:18Z, height checked', async () => {
    const source = await fileHeaderSource(HEADERS_FILE);
    const report = await verifyFile(
      parseOts(bytesOf('hello-world.txt.ots')),
      { bytes: bytesOf('hello-world.txt') },
      source,
    );
    assert.equal(report.verified, true);
    assert.deepEqual(
      {
        height: report.earliest?.height,
        time: report.earliest?.time,
        heightChecked: report.earliest?.heightChecked,
      },
      { height: 358391, time: 1432827678, heightChecked: true },
    );
  });

  test("incomplete.txt.ots with alice's reply merged verifies at block 428648", async () => {
    const file = parseOts(bytesOf('incomplete.txt.ots'));
    const [pending] = file.timestamp.allAttestations().filter((a) => a.attestation.kind === 'pending');
    const reply = readFileSync(
      new URL('../../test/vectors/ots/incomplete.txt.ots.alice-reply.hex', import.meta.url),
      'utf8',
    );
    const before = await verifyTimestamp(file.timestamp, await fileHeaderSource(HEADERS_FILE));
    assert.equal(before.verified, false, 'a pending proof must not verify');
    // Merge the reply where the pending attestation sits, as an upgrade does.
    findNode(file.timestamp, pending!.msg)!.merge(readTimestamp(hexToBytes(reply.trim()), pending!.msg));
    const report = await verifyFile(
      file,
      { bytes: bytesOf('incomplete.txt') },
      await fileHeaderSource(HEADERS_FILE),
    );
    assert.equal(report.verified, true);
    assert.equal(report.earliest?.height, 428648);
    assert.equal(report.earliest?.time, 1473227803);
  });

  test('bad-stamp.txt.ots claims block 358391 but does not match its merkle root: not verified', async () => {
    const report = await verifyFile(
      parseOts(bytesOf('bad-stamp.txt.ots')),
      { bytes: bytesOf('bad-stamp.txt') },
      await fileHeaderSource(HEADERS_FILE),
    );
    assert.equal(report.verified, false);
    assert.equal(report.bitcoin[0]?.result, 'mismatch');
    assert.match(report.bitcoin[0]?.error?.message ?? '', /Digest does not match merkleroot/);
  });

  test('proofs whose block is not in the headers file are unavailable, never verified', async () => {
    for (const name of ['empty.ots', 'sha1/a_or_b.ots', 'osdsp.txt.ots']) {
      const report = await verifyTimestamp(
        parseOts(bytesOf(name)).timestamp,
        await fileHeaderSource(HEADERS_FILE),
      );
      assert.equal(report.verified, false, name);
      assert.ok(report.bitcoin.length > 0 && report.bitcoin.every((b) => b.result === 'unavailable'), name);
    }
  });

  test('a proof for another file is refused before any header is read', async () => {
    await assert.rejects(
      verifyFile(
        parseOts(bytesOf('hello-world.txt.ots')),
        { bytes: bytesOf('empty') },
        await fileHeaderSource(HEADERS_FILE),
      ),
      /LP_OTS_DIGEST_MISMATCH|proof is for another file/,
    );
  });

  test('flipping any bit of hello-world.txt.ots never yields a verified proof of the same file', async () => {
    const source = await fileHeaderSource(HEADERS_FILE);
    const original = bytesOf('hello-world.txt.ots');
    const target = bytesOf('hello-world.txt');
    let verified = 0;
    for (let bit = 0; bit < original.length * 8; bit += 7) {
      const bytes = original.slice();
      bytes[bit >> 3] = bytes[bit >> 3]! ^ (1 << (bit & 7));
      try {
        const report = await verifyFile(parseOts(bytes), { bytes: target }, source);
        if (report.verified) verified++;
      } catch {
        // A typed parse or digest error is the expected outcome for most flips.
      }
    }
    assert.equal(verified, 0);
  });
});

function findNode(ts: Timestamp, msg: Uint8Array): Timestamp | undefined {
  if (Buffer.compare(ts.msg, msg) === 0) return ts;
  for (const [, child] of ts.ops) {
    const found = findNode(child, msg);
    if (found) return found;
  }
  return undefined;
}

const RESERIALIZE = `
import sys
from opentimestamps.core.timestamp import DetachedTimestampFile
from opentimestamps.core.serialize import BytesDeserializationContext, BytesSerializationContext
for path in sys.argv[1:]:
    f = DetachedTimestampFile.deserialize(BytesDeserializationContext(open(path, 'rb').read()))
    ctx = BytesSerializationContext()
    f.serialize(ctx)
    print(path + ' ' + ctx.getbytes().hex())
`;

/** Each file read and written again by python-opentimestamps: path → hex. */
async function pythonReserialize(paths: string[]): Promise<Map<string, string>> {
  const { status, out, err } = await run(otsPeer().python, ['-c', RESERIALIZE, ...paths]);
  if (status !== 0) throw new Error(`python-opentimestamps failed (${status}): ${err}`);
  return new Map(
    out
      .trim()
      .split('\n')
      .map((line) => line.split(' ') as [string, string]),
  );
}
