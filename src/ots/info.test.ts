import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { otsPeer, runOts } from '../../test/support/ots-peer.js';
import type { Attestation } from './attestation.js';
import { DetachedTimestampFile, type FileHashOp, parseOts, serializeOts } from './file.js';
import { formatInfo, isTransaction } from './info.js';
import { append, type Op, type OpName, prepend } from './ops.js';
import { Timestamp } from './timestamp.js';

/** opentimestamps@0.4.9 examples/merkle2.txt.ots.info (the JS client's `info`, which python matches here). */
const MERKLE2 = `File sha256 hash: 8bd5a5f07b4451c29756df5eb51d194fb5b20c7e89812d877bbad30d871c582f
Timestamp:
append b63d8f213d047298b8ab4595acd8e5d0
sha256
prepend ae59d2c0d2f5efa97df8f3cca7e85845880c102237f1a6a1b0b4c6a5ab77f494
sha256
append 026356e7972f023930ec84c213adedc4050460973935bbd2f4df3d7bd5dec55f
sha256
 -> append 2e12050afd7a10ea4f591ed717d35de6
    sha256
    prepend 57d982df
    append b1f26e2e55590477
    verify PendingAttestation('https://alice.btc.calendar.opentimestamps.org')
 -> append 4aaade9c2ffb853ccff9c07681d019fd
    sha256
    prepend 57d982e0
    append 6644ef713071762a
    verify PendingAttestation('https://bob.btc.calendar.opentimestamps.org')
`;

/** Rebuilds a proof from `info` text (comment lines skipped), so printed trees can be compared. */
function fromInfo(text: string): DetachedTimestampFile {
  const lines = text.split('\n').filter((l) => l !== '' && !/^\s*[#*] /.test(l));
  const head = /^File (\w+) hash: ([0-9a-f]+)$/.exec(lines[0]!)!;
  const root = new Timestamp(hexToBytes(head[2]!));
  let i = 2;
  const parseOp = (s: string): Op => {
    const [name, arg] = s.split(' ');
    if (name === 'append') return append(hexToBytes(arg!));
    if (name === 'prepend') return prepend(hexToBytes(arg!));
    return { name: name as OpName };
  };
  const parseAtt = (s: string): Attestation => {
    const m = /^(\w+)\((.*)\)$/.exec(s)!;
    if (m[1] === 'PendingAttestation') return { kind: 'pending', uri: m[2]!.slice(1, -1) };
    if (m[1] === 'BitcoinBlockHeaderAttestation') return { kind: 'bitcoin', height: Number(m[2]) };
    if (m[1] === 'EthereumBlockHeaderAttestation') return { kind: 'ethereum', height: Number(m[2]) };
    throw new Error(s);
  };
  const walk = (ts: Timestamp, indent: number): void => {
    const pad = ' '.repeat(indent);
    let node = ts;
    while (i < lines.length && lines[i]!.startsWith(pad) && lines[i]![indent] !== ' ') {
      const line = lines[i++]!.slice(indent);
      if (line.startsWith('verify ')) node.attest(parseAtt(line.slice(7)));
      else node = node.add(parseOp(line));
    }
    while (i < lines.length && lines[i]!.startsWith(`${pad} -> `)) {
      const child = node.add(parseOp(lines[i++]!.slice(indent + 4)));
      walk(child, indent + 4);
    }
  };
  walk(root, 0);
  return new DetachedTimestampFile(head[1] as FileHashOp, root);
}

describe('formatInfo', () => {
  test("prints merkle2.txt.ots as the reference does (python's print adds the last blank line)", () => {
    assert.equal(formatInfo(fromInfo(MERKLE2)), `${MERKLE2}\n`);
  });

  test('forks are printed in canonical op order, whatever order they were added in', () => {
    const ts = new Timestamp(sha256(new Uint8Array()));
    ts.add(prepend(Uint8Array.of(2))).attest({ kind: 'pending', uri: 'https://b' });
    ts.add(append(Uint8Array.of(9))).attest({ kind: 'pending', uri: 'https://a' });
    ts.add({ name: 'sha256' }).attest({ kind: 'bitcoin', height: 1 });
    const out = formatInfo(new DetachedTimestampFile('sha256', ts));
    const forks = out.split('\n').filter((l) => l.startsWith(' -> '));
    assert.deepEqual(forks, [' -> sha256', ' -> append 09', ' -> prepend 02']);
  });

  test('a Bitcoin attestation is followed by its merkle root, byte-reversed as explorers show it', () => {
    const root = sha256(Uint8Array.of(1));
    const ts = new Timestamp(sha256(Uint8Array.of(0)));
    ts.add(append(root)).add({ name: 'sha256' }).attest({ kind: 'bitcoin', height: 358391 });
    const msg = sha256(Uint8Array.from([...sha256(Uint8Array.of(0)), ...root]));
    const lines = formatInfo(new DetachedTimestampFile('sha256', ts)).split('\n');
    assert.deepEqual(lines.slice(4, 6), [
      'verify BitcoinBlockHeaderAttestation(358391)',
      `# Bitcoin block merkle root ${bytesToHex(msg.slice().reverse())}`,
    ]);
  });

  test('a message that is a whole transaction gets its txid, before the op on it', () => {
    const ts = new Timestamp(sha256(Uint8Array.of(7)));
    const tip = ts.add(prepend(TX.subarray(0, 68))).add(append(TX.subarray(100)));
    assert.deepEqual(
      tip.msg,
      Uint8Array.from([...TX.subarray(0, 68), ...sha256(Uint8Array.of(7)), ...TX.subarray(100)]),
    );
    tip.add({ name: 'sha256' }).add({ name: 'sha256' }).attest({ kind: 'bitcoin', height: 3 });
    const txid = bytesToHex(sha256(sha256(tip.msg)).reverse());
    const lines = formatInfo(new DetachedTimestampFile('sha256', ts)).split('\n');
    const at = lines.indexOf(`# Transaction id ${txid}`);
    assert.ok(at > 0, lines.join('\n'));
    assert.equal(lines[at + 1], 'sha256');

    tip.add(append(Uint8Array.of(1))).attest({ kind: 'pending', uri: 'https://x' });
    const forked = formatInfo(new DetachedTimestampFile('sha256', ts)).split('\n');
    assert.equal(
      forked.filter((l) => l === `* Transaction id ${txid}`).length,
      2,
      'once per fork, as the reference',
    );
  });

  test('-v adds each result, the argument in bold where it first occurs', () => {
    const d = sha256(new Uint8Array());
    const ts = new Timestamp(d);
    ts.add(append(Uint8Array.of(0xab)))
      .add(prepend(Uint8Array.of(0xcd)))
      .attest({ kind: 'pending', uri: 'https://a' });
    const lines = formatInfo(new DetachedTimestampFile('sha256', ts), { verbose: true }).split('\n');
    const hex = bytesToHex(d);
    assert.equal(lines[2], `append ab == ${hex}\u001b[1mab\u001b[0m`);
    assert.equal(lines[3], `prepend cd == \u001b[1mcd\u001b[0m${hex}ab`);
    assert.equal(lines[4], "verify PendingAttestation('https://a')");
  });

  test('sha1, ripemd160 and keccak256 proofs name their hash', () => {
    for (const [op, n] of [
      ['sha1', 20],
      ['ripemd160', 20],
      ['keccak256', 32],
    ] as const) {
      const ts = new Timestamp(new Uint8Array(n).fill(1));
      ts.attest({ kind: 'pending', uri: 'https://a' });
      assert.ok(
        formatInfo(new DetachedTimestampFile(op, ts)).startsWith(`File ${op} hash: ${'01'.repeat(n)}\n`),
      );
    }
  });
});

/** A one-input, two-output legacy transaction (the shape of an OTS anchor: change + OP_RETURN <32 bytes>). */
const TX = hexToBytes(
  '0100000001' +
    '11'.repeat(32) +
    '00000000' +
    '00' +
    'fdffffff' +
    '02' +
    'be50050000000000' +
    '0151' +
    '0000000000000000' +
    '22' +
    '6a20' +
    '22'.repeat(32) +
    'b4f30600',
);

describe('isTransaction', () => {
  test('a whole legacy transaction, and nothing more or less', () => {
    assert.equal(TX.length, 104);
    assert.ok(isTransaction(TX));
    assert.ok(!isTransaction(TX.subarray(0, -1)));
    assert.ok(!isTransaction(Uint8Array.from([...TX, 0])));
  });

  test('a segwit transaction, with its witness', () => {
    const segwit = hexToBytes(
      '02000000' +
        '0001' +
        '01' +
        '33'.repeat(32) +
        '01000000' +
        '00' +
        'ffffffff' +
        '01' +
        '1027000000000000' +
        '0151' +
        '01' +
        '02' +
        'abcd' +
        '00000000',
    );
    assert.ok(isTransaction(segwit));
    assert.ok(!isTransaction(segwit.subarray(0, -5)));
  });

  test('hashes and huge counts are not transactions', () => {
    assert.ok(!isTransaction(sha256(Uint8Array.of(1))));
    assert.ok(!isTransaction(hexToBytes(`01000000ff${'ff'.repeat(8)}`)));
    assert.ok(!isTransaction(new Uint8Array(0)));
  });
});

describe('formatInfo against the reference client (ots info)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'lp-ots-info-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  async function samePrint(path: string): Promise<void> {
    const file = parseOts(readFileSync(path));
    for (const verbose of [false, true]) {
      const ref = await runOts([...(verbose ? ['-v'] : []), 'info', path]);
      assert.equal(ref.code, 0, ref.stderr);
      assert.equal(formatInfo(file, { verbose }), ref.stdout, `${path}${verbose ? ' -v' : ''}`);
    }
  }

  test('prints every example proof exactly as ots info and ots -v info do', async () => {
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) =>
        statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)],
      );
    const proofs = walk(otsPeer().examplesDir).filter((f) => f.endsWith('.ots'));
    assert.ok(proofs.length >= 12, `only ${proofs.length} example proofs`);
    for (const path of proofs) await samePrint(path);
  });

  test('prints a proof made here (forks, a transaction, a Bitcoin attestation) as ots info does', async () => {
    const ts = new Timestamp(sha256(Uint8Array.of(7)));
    const leaf = ts.add(append(Uint8Array.of(1, 2, 3))).add({ name: 'sha256' });
    leaf.add(prepend(Uint8Array.of(9))).attest({ kind: 'pending', uri: 'https://b.example' });
    const tip = leaf.add(prepend(TX.subarray(0, 68))).add(append(TX.subarray(100)));
    tip.add({ name: 'sha256' }).add({ name: 'sha256' }).attest({ kind: 'bitcoin', height: 812_000 });
    tip.add(append(Uint8Array.of(0xee))).attest({ kind: 'litecoin', height: 5 });
    ts.add({ name: 'keccak256' }).attest({
      kind: 'unknown',
      tag: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
      payload: Uint8Array.of(0x5c, 0, 0x41, 0x7f, 0x0a),
    });
    const path = join(scratch, 'made-here.ots');
    writeFileSync(path, serializeOts(new DetachedTimestampFile('sha256', ts)));
    await samePrint(path);
  });
});
