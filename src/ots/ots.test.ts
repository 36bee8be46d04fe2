import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { isLightproofError } from '../core/errors.js';
import {
  type Attestation,
  append,
  applyOp,
  catSha256,
  DetachedTimestampFile,
  describeAttestation,
  HEADER_MAGIC,
  HEXLIFY,
  KECCAK256,
  makeMerkleTree,
  parseOts,
  prepend,
  readTimestamp,
  SHA256,
  serializeOts,
  Timestamp,
  writeTimestamp,
} from './index.js';

const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const h = hexToBytes;
const PENDING = h('83dfe30d2ef90c8e');
const pendingBytes = (uri: string): Uint8Array => {
  const u = utf8ToBytes(uri);
  return cat(PENDING, Uint8Array.of(u.length + 1, u.length), u);
};

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isLightproofError(err), `expected a LightproofError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('the .ots file', () => {
  // python-opentimestamps: tests/core/test_timestamp.py, DetachedTimestampFile serialization.
  const reference = cat(
    HEADER_MAGIC,
    h('01'),
    h('08'),
    sha256(new Uint8Array()),
    h('00'),
    pendingBytes('foobar'),
  );

  test('the reference bytes parse and are written back identically', () => {
    const file = parseOts(reference);
    assert.equal(file.hashOp, 'sha256');
    assert.equal(bytesToHex(file.digest), bytesToHex(sha256(new Uint8Array())));
    assert.deepEqual(file.timestamp.attestations, [{ kind: 'pending', uri: 'foobar' }]);
    assert.deepEqual(serializeOts(file), reference);
  });

  test('every truncation of a valid file is a typed error, never a crash', () => {
    for (let n = 0; n < reference.length; n++) {
      assert.throws(
        () => parseOts(reference.subarray(0, n)),
        (err: unknown) => isLightproofError(err) && /LP_OTS_(TRUNCATED|BAD_MAGIC)/.test(err.code),
        `prefix of ${n} bytes`,
      );
    }
  });

  test('trailing bytes, a wrong magic and another major version are refused', () => {
    throwsCode(() => parseOts(cat(reference, h('00'))), 'LP_OTS_TRAILING_BYTES');
    const badMagic = reference.slice();
    badMagic[5] = badMagic[5]! ^ 1;
    throwsCode(() => parseOts(badMagic), 'LP_OTS_BAD_MAGIC');
    // opentimestamps-client examples/invalid/bad-major-version.ots uses 0xff; a varuint then needs more bytes.
    throwsCode(
      () => parseOts(cat(HEADER_MAGIC, h('02'), reference.subarray(32))),
      'LP_OTS_UNSUPPORTED_VERSION',
    );
    throwsCode(
      () => parseOts(cat(HEADER_MAGIC, h('ff'), reference.subarray(32))),
      'LP_OTS_UNSUPPORTED_VERSION',
    );
  });

  test('a file digest made with an op that is not a hash is refused (invalid-file-digest-type)', () => {
    throwsCode(
      () => parseOts(cat(HEADER_MAGIC, h('01f3'), reference.subarray(33))),
      'LP_OTS_BAD_FILE_HASH_OP',
    );
  });

  test('a result over 4096 bytes is refused (exceeds-max-msg-length)', () => {
    // sha256(""), seven hexlifies take 32 bytes to 4096, then an append makes it longer than allowed.
    const tree = cat(h('f3f3f3f3f3f3f3'), h('f001ff'), h('00'), pendingBytes('x'));
    throwsCode(
      () => parseOts(cat(HEADER_MAGIC, h('0108'), sha256(new Uint8Array()), tree)),
      'LP_OTS_OP_FAILED',
    );
    const ok = cat(h('f3f3f3f3f3f3f3'), h('00'), pendingBytes('x'));
    assert.equal(
      parseOts(cat(HEADER_MAGIC, h('0108'), sha256(new Uint8Array()), ok)).timestamp.ops.length,
      1,
    );
  });

  test('every hash op can hash the file, keccak256 included', () => {
    for (const [op, len] of [
      ['02', 20],
      ['03', 20],
      ['08', 32],
      ['67', 32],
    ] as const) {
      const bytes = cat(
        HEADER_MAGIC,
        h('01'),
        h(op),
        new Uint8Array(len).fill(7),
        h('00'),
        pendingBytes('a'),
      );
      assert.deepEqual(serializeOts(parseOts(bytes)), bytes);
    }
  });
});

describe('the timestamp tree', () => {
  test('a node with many forks keeps one copy of each attestation and op, in order', () => {
    // Past eight entries a node switches from linear search to a key index; both must agree.
    const ts = new Timestamp(utf8ToBytes('many'));
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 40; i++) ts.attest({ kind: 'pending', uri: `https://c${i % 20}.example` });
      for (let i = 0; i < 30; i++)
        ts.add(append(Uint8Array.of(i % 15))).attest({ kind: 'bitcoin', height: i });
    }
    assert.equal(ts.attestations.length, 20);
    assert.equal(ts.ops.length, 15);
    assert.deepEqual(
      ts.ops.map(([op]) => op.arg?.[0]),
      Array.from({ length: 15 }, (_, i) => i),
    );
    // Each append child saw heights i and i + 15 (the same op reached twice) in both rounds.
    assert.deepEqual(
      ts.ops[3]![1].attestations.map((a) => (a.kind === 'bitcoin' ? a.height : -1)),
      [3, 18],
    );
    const bytes = writeTimestamp(ts);
    assert.deepEqual(writeTimestamp(readTimestamp(bytes, utf8ToBytes('many'))), bytes);
  });

  test("attestations and ops are written in python-opentimestamps' order", () => {
    // tests/core/test_timestamp.py: three pending attestations and a sha256 child.
    const ts = new Timestamp(utf8ToBytes('foo'));
    for (const uri of ['foobaz', 'barfoo', 'foobar']) ts.attest({ kind: 'pending', uri });
    ts.add(SHA256).attest({ kind: 'pending', uri: 'deeper' });
    const expected = cat(
      h('ff00'),
      pendingBytes('barfoo'),
      h('ff00'),
      pendingBytes('foobar'),
      h('ff00'),
      pendingBytes('foobaz'),
      h('0800'),
      pendingBytes('deeper'),
    );
    assert.deepEqual(writeTimestamp(ts), expected);
    assert.deepEqual(writeTimestamp(readTimestamp(expected, utf8ToBytes('foo'))), expected);
  });

  test('ops are ordered by tag, then argument; attestation kinds by tag', () => {
    const ts = new Timestamp(utf8ToBytes('m'));
    ts.add(append(h('02'))).attest({ kind: 'bitcoin', height: 1 });
    ts.add(prepend(h('00'))).attest({ kind: 'bitcoin', height: 1 });
    ts.add(append(h('01'))).attest({ kind: 'bitcoin', height: 1 });
    ts.add(SHA256).attest({ kind: 'bitcoin', height: 1 });
    assert.deepEqual(
      ts.ops.map(([op]) => `${op.name}${op.arg ? bytesToHex(op.arg) : ''}`),
      ['sha256', 'append01', 'append02', 'prepend00'],
    );
    const atts: Attestation[] = [
      { kind: 'pending', uri: 'a' },
      { kind: 'unknown', tag: h('0102030405060708'), payload: utf8ToBytes('x') },
      { kind: 'ethereum', height: 1 },
      { kind: 'bitcoin', height: 500 },
      { kind: 'bitcoin', height: 3 },
      { kind: 'litecoin', height: 2 },
    ];
    const leaf = new Timestamp(utf8ToBytes('n'));
    for (const a of atts) leaf.attest(a);
    leaf.attest({ kind: 'bitcoin', height: 3 });
    assert.deepEqual(
      leaf.attestations.map((a) => a.kind + ('height' in a ? a.height : '')),
      ['unknown', 'bitcoin3', 'bitcoin500', 'litecoin2', 'ethereum1', 'pending'],
    );
    const bytes = writeTimestamp(leaf);
    assert.deepEqual(writeTimestamp(readTimestamp(bytes, utf8ToBytes('n'))), bytes);
  });

  test("attestations are named as python's repr names them, quotes included", () => {
    const tag = utf8ToBytes('12345678');
    const named = (payload: string) =>
      describeAttestation({ kind: 'unknown', tag, payload: utf8ToBytes(payload) });
    assert.equal(named("a'b"), `UnknownAttestation(b'12345678', b"a'b")`);
    assert.equal(named(`a'"b`), `UnknownAttestation(b'12345678', b'a\\'"b')`);
    assert.equal(named('x\\y\n'), `UnknownAttestation(b'12345678', b'x\\\\y\\n')`);
    assert.equal(
      describeAttestation({ kind: 'bitcoin', height: 358391 }),
      'BitcoinBlockHeaderAttestation(358391)',
    );
  });

  test('an unknown attestation is kept byte for byte', () => {
    const bytes = cat(h('00'), h('0102030405060708'), Uint8Array.of(46), new Uint8Array(46).fill(0x78));
    const ts = readTimestamp(bytes, utf8ToBytes('m'));
    const [att] = ts.attestations;
    assert.equal(att?.kind, 'unknown');
    assert.deepEqual(writeTimestamp(ts), bytes);
  });

  test('255 nested operations are read; 256 are refused, as in the reference', () => {
    const nest = (n: number): Uint8Array => cat(new Uint8Array(n).fill(0x08), h('00'), pendingBytes('x'));
    readTimestamp(nest(255), new Uint8Array(32));
    throwsCode(() => readTimestamp(nest(256), new Uint8Array(32)), 'LP_OTS_RECURSION_LIMIT');
    throwsCode(() => readTimestamp(nest(100_000), new Uint8Array(32)), 'LP_OTS_RECURSION_LIMIT');
  });

  test('calendar URIs: 1000 bytes accepted, 1001 and odd characters refused', () => {
    const uriAtt = (uri: string): Uint8Array => {
      const u = utf8ToBytes(uri);
      const inner = cat(varuint(u.length), u);
      return cat(h('00'), PENDING, varuint(inner.length), inner);
    };
    readTimestamp(uriAtt('a'.repeat(1000)), h('00'));
    throwsCode(() => readTimestamp(uriAtt('a'.repeat(1001)), h('00')), 'LP_OTS_BAD_LENGTH');
    for (const bad of ['https://x/?q', 'https://x/#f', 'https://u@x', 'https://x/%20', 'a b', 'é']) {
      throwsCode(() => readTimestamp(uriAtt(bad), h('00')), 'LP_OTS_BAD_URI');
    }
  });

  test('an attestation payload over 8192 bytes is refused, and leftover payload bytes too', () => {
    throwsCode(() => readTimestamp(cat(h('00'), PENDING, h('8140')), h('00')), 'LP_OTS_BAD_LENGTH');
    const bitcoinWithJunk = cat(h('00'), h('0588960d73d71901'), h('02'), h('0101'));
    throwsCode(() => readTimestamp(bitcoinWithJunk, h('00')), 'LP_OTS_BAD_ATTESTATION');
  });

  test('heights use LEB128: 358391 is f7ef15', () => {
    const ts = new Timestamp(h('00'));
    ts.attest({ kind: 'bitcoin', height: 358391 });
    assert.equal(bytesToHex(writeTimestamp(ts)), '000588960d73d7190103f7ef15');
  });

  test('unknown op tags, empty appends and an empty tree are typed errors', () => {
    throwsCode(() => readTimestamp(h('0900'), h('00')), 'LP_OTS_UNKNOWN_OP');
    throwsCode(() => readTimestamp(cat(h('f000'), h('00'), pendingBytes('x')), h('00')), 'LP_OTS_BAD_LENGTH');
    throwsCode(() => writeTimestamp(new Timestamp(h('00'))), 'LP_OTS_EMPTY_TIMESTAMP');
    throwsCode(() => applyOp({ name: 'reverse' }, new Uint8Array()), 'LP_OTS_OP_FAILED');
  });

  test('merge adds what is new and refuses another message', () => {
    const a = new Timestamp(h('01'));
    a.add(SHA256).attest({ kind: 'pending', uri: 'a' });
    const b = new Timestamp(h('01'));
    b.add(SHA256).attest({ kind: 'bitcoin', height: 9 });
    b.attest({ kind: 'pending', uri: 'a' });
    a.merge(b);
    assert.equal(a.allAttestations().length, 3);
    assert.ok(a.isComplete());
    throwsCode(() => a.merge(new Timestamp(h('02'))), 'LP_OTS_MSG_MISMATCH');
  });

  test('random bytes never crash the reader', () => {
    let seed = 1;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed & 0xff;
    };
    for (let i = 0; i < 3000; i++) {
      const body = Uint8Array.from({ length: 1 + (i % 90) }, rand);
      try {
        parseOts(cat(HEADER_MAGIC, h('0108'), new Uint8Array(32), body));
      } catch (err) {
        assert.ok(isLightproofError(err), String(err));
      }
    }
  });
});

describe('ops and Merkle joins', () => {
  test('keccak256 is the original Keccak, not SHA3-256', () => {
    assert.equal(
      bytesToHex(applyOp(KECCAK256, new Uint8Array())),
      'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
    );
  });

  test('hexlify gives lower-case ASCII hex and refuses more than 2048 bytes', () => {
    assert.equal(new TextDecoder().decode(applyOp(HEXLIFY, h('abcd'))), 'abcd');
    throwsCode(() => applyOp(HEXLIFY, new Uint8Array(2049)), 'LP_OTS_OP_FAILED');
  });

  test('cat_sha256 and make_merkle_tree match the reference vectors', () => {
    const foobar = catSha256(new Timestamp(utf8ToBytes('foo')), new Timestamp(utf8ToBytes('bar')));
    assert.equal(bytesToHex(foobar.msg), 'c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2');
    assert.ok(bytesToHex(catSha256(foobar, new Timestamp(utf8ToBytes('baz'))).msg).startsWith('23388b16'));
    const expected: Record<number, [string, string]> = {
      2: ['b413f47d13ee2fe6c845b2ee141af81de858df4ec549a58b7970bb96645bc8d2', ''],
      3: ['e6aa6391', '6a5e'],
      4: ['7699a4fd', '4b24'],
      5: ['aaa9609d', 'dbd8'],
      6: ['ebdb4245', '3c06'],
      7: ['ba4603a3', '1b8f'],
    };
    for (const [n, [start, end]] of Object.entries(expected)) {
      const leaves = Array.from({ length: Number(n) }, (_, i) => new Timestamp(Uint8Array.of(i)));
      const tip = bytesToHex(makeMerkleTree(leaves).msg);
      assert.ok(tip.startsWith(start) && tip.endsWith(end), `n=${n}: ${tip}`);
      const root = makeMerkleTree(leaves);
      root.attest({ kind: 'pending', uri: 'x' });
      for (const leaf of leaves) {
        assert.deepEqual(
          leaf.allAttestations().map((a) => bytesToHex(a.msg)),
          [bytesToHex(root.msg)],
        );
      }
    }
  });

  test('a file built from parts writes and reads back', () => {
    const digest = sha256(utf8ToBytes('hello'));
    const file = new DetachedTimestampFile('sha256', new Timestamp(digest));
    file.timestamp
      .add(append(new Uint8Array(16).fill(1)))
      .add(SHA256)
      .attest({ kind: 'pending', uri: 'https://a' });
    const bytes = serializeOts(file);
    assert.deepEqual(serializeOts(parseOts(bytes)), bytes);
    throwsCode(() => new DetachedTimestampFile('sha1', new Timestamp(digest)), 'LP_OTS_BAD_FILE_HASH_OP');
  });
});

function varuint(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Uint8Array.from(out);
}
