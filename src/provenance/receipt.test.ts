import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { base64urlnopad } from '@scure/base';
import { isLightproofError } from '../core/errors.js';
import { msat } from '../core/money.js';
import {
  BodyHasher,
  MAX_RECEIPT_HEADER_BYTES,
  type ReceiptFields,
  ReceiptSigner,
  requestDigest,
  responseDigest,
  verifyReceipt,
} from './index.js';

function code(fn: () => unknown, ...expected: string[]): string {
  let got = '';
  assert.throws(fn, (e: unknown) => {
    assert.ok(isLightproofError(e), String(e));
    assert.ok(expected.includes(e.code), `${e.code}: ${e.message}`);
    assert.match(e.message, /[;,] .+\.$/, 'the message says what to do');
    got = e.code;
    return true;
  });
  return got;
}

const enc = new TextEncoder();
const request = { method: 'POST', pathAndQuery: '/v1/chat/completions?x=1', body: enc.encode('{"q":"hi"}') };
const response = { status: 200, body: enc.encode('{"a":"hello"}') };
const fields: ReceiptFields = {
  service: 'chat',
  priceMsat: msat(12_345n),
  paymentHash: 'ab'.repeat(32),
  tokenId: 'cd'.repeat(32),
  requestDigest: requestDigest(request),
  responseDigest: responseDigest(response),
  time: 1_800_000_000,
};
const signer = ReceiptSigner.generate();
const other = ReceiptSigner.generate();
const { header, receipt } = signer.sign(fields);

/** Signs any payload bytes the way a signer would, so structure checks are tested on signed input. */
function forge(payload: string | Uint8Array, secretKey: Uint8Array): string {
  const bytes = typeof payload === 'string' ? enc.encode(payload) : payload;
  const sig = schnorr.sign(taggedHash('lightproof/receipt/v1', bytes), secretKey);
  return `${base64urlnopad.encode(bytes)}.${base64urlnopad.encode(sig)}`;
}

/** An independent BIP340 tagged hash, from node:crypto, to pin the documented format. */
function taggedHash(tag: string, ...parts: Uint8Array[]): Uint8Array {
  const t = createHash('sha256').update(tag).digest();
  const h = createHash('sha256').update(t).update(t);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function payloadOf(h: string): string {
  return new TextDecoder().decode(base64urlnopad.decode(h.split('.')[0]!));
}

describe('receipts: signing and verifying', () => {
  it('round-trips with only the header and the public key', () => {
    const got = verifyReceipt(header, signer.publicKeyHex);
    assert.deepEqual(got, receipt);
    assert.equal(got.priceMsat, 12_345n);
    assert.equal(got.key, signer.publicKeyHex);
    assert.deepEqual(
      verifyReceipt(header, signer.publicKeyHex.toUpperCase(), { request, response }),
      receipt,
    );
  });

  it('writes the documented byte format', () => {
    assert.equal(
      payloadOf(header),
      `{"v":1,"service":"chat","priceMsat":"12345","paymentHash":"${'ab'.repeat(32)}","tokenId":"${'cd'.repeat(32)}",` +
        `"requestDigest":"${fields.requestDigest}","responseDigest":"${fields.responseDigest}","time":1800000000,` +
        `"key":"${signer.publicKeyHex}"}`,
    );
    const [p, s] = header.split('.');
    assert.match(p!, /^[A-Za-z0-9_-]+$/);
    assert.match(s!, /^[A-Za-z0-9_-]{86}$/);
    const sig = base64urlnopad.decode(s!);
    const msg = taggedHash('lightproof/receipt/v1', base64urlnopad.decode(p!));
    assert.ok(schnorr.verify(sig, msg, Buffer.from(signer.publicKeyHex, 'hex')));
  });

  it('digests requests and responses as documented, streamed or whole', () => {
    const m = enc.encode(request.method);
    const pq = enc.encode(request.pathAndQuery);
    const want = taggedHash(
      'lightproof/receipt/request/v1',
      u32(m.length),
      m,
      u32(pq.length),
      pq,
      request.body,
    );
    assert.equal(requestDigest(request), Buffer.from(want).toString('hex'));
    const wantRes = taggedHash('lightproof/receipt/response/v1', new Uint8Array([0, 200]), response.body);
    assert.equal(responseDigest(response), Buffer.from(wantRes).toString('hex'));

    const streamed = BodyHasher.forRequest(request.method, request.pathAndQuery);
    for (const byte of request.body) streamed.update(new Uint8Array([byte]));
    assert.equal(streamed.digest(), requestDigest(request));
    // Length prefixes keep method and path apart.
    assert.notEqual(
      requestDigest({ method: 'GE', pathAndQuery: 'T/x', body: new Uint8Array() }),
      requestDigest({ method: 'GET', pathAndQuery: '/x', body: new Uint8Array() }),
    );
    code(() => BodyHasher.forResponse(20), 'LP_RECEIPT_BAD_INPUT');
  });

  it('stays under 1 KiB with every field at its largest', () => {
    const big = signer.sign({
      ...fields,
      service: `s${'x'.repeat(63)}`,
      priceMsat: msat(21_000_000n * 100_000_000n * 1000n),
      time: Number.MAX_SAFE_INTEGER,
    });
    assert.ok(big.header.length < MAX_RECEIPT_HEADER_BYTES, `${big.header.length} bytes`);
    assert.deepEqual(verifyReceipt(big.header, signer.publicKeyHex), big.receipt);
  });

  it('refuses fields it could not verify later', () => {
    code(() => signer.sign({ ...fields, paymentHash: 'AB'.repeat(32) }), 'LP_RECEIPT_BAD_INPUT');
    code(() => signer.sign({ ...fields, service: 'a b' }), 'LP_RECEIPT_BAD_INPUT');
    code(() => signer.sign({ ...fields, time: 1.5 }), 'LP_RECEIPT_BAD_INPUT');
    code(() => new ReceiptSigner(new Uint8Array(32)), 'LP_RECEIPT_BAD_INPUT');
  });
});

describe('receipts: tampering', () => {
  const [p64, s64] = header.split('.') as [string, string];
  const payload = base64urlnopad.decode(p64);
  const sig = base64urlnopad.decode(s64);

  it('rejects every one-byte change of the payload', () => {
    const seen = new Set<string>();
    for (let i = 0; i < payload.length; i++) {
      for (const mask of [0x01, 0x80]) {
        const p = Uint8Array.from(payload);
        p[i]! ^= mask;
        const h = `${base64urlnopad.encode(p)}.${s64}`;
        seen.add(
          code(
            () => verifyReceipt(h, signer.publicKeyHex),
            'LP_RECEIPT_BAD_SIGNATURE',
            'LP_RECEIPT_MALFORMED',
          ),
        );
      }
    }
    assert.deepEqual([...seen].sort(), ['LP_RECEIPT_BAD_SIGNATURE', 'LP_RECEIPT_MALFORMED']);
  });

  it('rejects every one-byte change of the signature', () => {
    for (let i = 0; i < sig.length; i++) {
      const s = Uint8Array.from(sig);
      s[i]! ^= 0x01;
      const h = `${p64}.${base64urlnopad.encode(s)}`;
      code(() => verifyReceipt(h, signer.publicKeyHex), 'LP_RECEIPT_BAD_SIGNATURE');
    }
  });

  it('rejects every one-character change of the header, including base64 padding bits', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < header.length; i++) {
      if (header[i] === '.') continue;
      const at = alphabet.indexOf(header[i]!);
      // The neighbour differs only in the lowest bit, which is padding in the last character.
      const swapped = alphabet[at ^ 1]!;
      const h = header.slice(0, i) + swapped + header.slice(i + 1);
      code(() => verifyReceipt(h, signer.publicKeyHex), 'LP_RECEIPT_BAD_SIGNATURE', 'LP_RECEIPT_MALFORMED');
    }
  });

  it('names a receipt signed by another key', () => {
    code(() => verifyReceipt(header, other.publicKeyHex), 'LP_RECEIPT_WRONG_KEY');
    code(() => verifyReceipt(other.sign(fields).header, signer.publicKeyHex), 'LP_RECEIPT_WRONG_KEY');
    code(() => verifyReceipt(header, 'zz'), 'LP_RECEIPT_WRONG_KEY');
    code(() => verifyReceipt(header, `${signer.publicKeyHex}00`), 'LP_RECEIPT_WRONG_KEY');
  });

  it('rejects a receipt whose key field names another key than the one that signed it', () => {
    const sk = schnorr.utils.randomSecretKey();
    const pk = Buffer.from(schnorr.getPublicKey(sk)).toString('hex');
    const h = forge(payloadOf(header).replace(signer.publicKeyHex, other.publicKeyHex), sk);
    code(() => verifyReceipt(h, pk), 'LP_RECEIPT_MALFORMED');
  });

  it('detects a request or response it does not cover', () => {
    const mismatches = [
      { request: { ...request, body: enc.encode('{"q":"hi!"}') } },
      { request: { ...request, method: 'PUT' } },
      { request: { ...request, pathAndQuery: '/v1/chat/completions?x=2' } },
      { response: { ...response, status: 201 } },
      { response: { ...response, body: enc.encode('{"a":"hellO"}') } },
      { request, response: { ...response, body: new Uint8Array() } },
    ];
    for (const opts of mismatches) {
      code(() => verifyReceipt(header, signer.publicKeyHex, opts), 'LP_RECEIPT_DIGEST_MISMATCH');
    }
  });
});

describe('receipts: garbage', () => {
  const sk = schnorr.utils.randomSecretKey();
  const pk = Buffer.from(schnorr.getPublicKey(sk)).toString('hex');
  const good = JSON.parse(payloadOf(header)) as Record<string, unknown>;
  good.key = pk;
  const json = (o: unknown): string => JSON.stringify(o);

  it('refuses an oversized header before reading it', () => {
    code(() => verifyReceipt('A'.repeat(MAX_RECEIPT_HEADER_BYTES + 1), pk), 'LP_RECEIPT_TOO_LARGE');
    code(() => verifyReceipt(`${header}.${'A'.repeat(1024)}`, pk), 'LP_RECEIPT_TOO_LARGE');
    code(() => verifyReceipt('A'.repeat(MAX_RECEIPT_HEADER_BYTES), pk), 'LP_RECEIPT_MALFORMED');
  });

  it('refuses headers that are not two base64url parts', () => {
    const sig = header.split('.')[1]!;
    for (const h of [
      '',
      '.',
      'abc',
      `${header}.x`,
      `.${sig}`,
      `abc.`,
      `a+b/.${sig}`,
      `YWJj=.${sig}`,
      `${header.split('.')[0]}.AAAA`,
    ]) {
      code(() => verifyReceipt(h, signer.publicKeyHex), 'LP_RECEIPT_MALFORMED');
    }
  });

  it('refuses signed payloads with the wrong structure', () => {
    const { key: _key, ...noKey } = good;
    const cases: (string | Uint8Array)[] = [
      'not json',
      new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]),
      '[1,2]',
      '42',
      'null',
      '"receipt"',
      '{}',
      json(noKey),
      json({ ...good, v: 2 }),
      json({ ...good, v: '1' }),
      json({ ...good, extra: 1 }),
      json({ ...good, priceMsat: 12345 }),
      json({ ...good, priceMsat: '-1' }),
      json({ ...good, priceMsat: '1.5' }),
      json({ ...good, priceMsat: '012' }),
      json({ ...good, priceMsat: '9999999999999999999' }),
      json({ ...good, time: -1 }),
      json({ ...good, time: 1.5 }),
      json({ ...good, time: '1800000000' }),
      json({ ...good, service: '' }),
      json({ ...good, service: 7 }),
      json({ ...good, paymentHash: 'AB'.repeat(32) }),
      json({ ...good, tokenId: 'cd'.repeat(31) }),
      json({ ...good, requestDigest: null }),
      JSON.stringify(good, null, 1),
      json({ service: good.service, ...good }),
    ];
    for (const payload of cases) {
      code(() => verifyReceipt(forge(payload, sk), pk), 'LP_RECEIPT_MALFORMED');
    }
    assert.equal(verifyReceipt(forge(json(good), sk), pk).key, pk, 'the control case verifies');
  });

  it('refuses a signature of the wrong length', () => {
    const p = header.split('.')[0];
    code(
      () => verifyReceipt(`${p}.${base64urlnopad.encode(new Uint8Array(63))}`, pk),
      'LP_RECEIPT_MALFORMED',
    );
    code(
      () => verifyReceipt(`${p}.${base64urlnopad.encode(new Uint8Array(65))}`, pk),
      'LP_RECEIPT_MALFORMED',
    );
  });
});

describe('receipts: the key file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lightproof-receipt-'));

  it('is created with mode 0600 and gives the same key when reopened', () => {
    const path = join(dir, 'receipt-key.json');
    const first = ReceiptSigner.open(path);
    if (process.platform !== 'win32') assert.equal(statSync(path).mode & 0o777, 0o600);
    const again = ReceiptSigner.open(path);
    assert.equal(again.publicKeyHex, first.publicKeyHex);
    const h = again.sign(fields).header;
    assert.equal(verifyReceipt(h, first.publicKeyHex).key, first.publicKeyHex);
    assert.ok(!readFileSync(path, 'utf8').includes('\r'));
  });

  it('refuses a key file other users can read', { skip: process.platform === 'win32' }, () => {
    const path = join(dir, 'exposed.json');
    ReceiptSigner.open(path);
    chmodSync(path, 0o644);
    code(() => ReceiptSigner.open(path), 'LP_RECEIPT_KEY_FILE_EXPOSED');
  });

  it('refuses a malformed key file with a clear error', () => {
    const stored = JSON.parse(readFileSync(join(dir, 'receipt-key.json'), 'utf8')) as Record<string, unknown>;
    const bad = [
      'not json',
      '{}',
      JSON.stringify({ ...stored, secretKey: 'zz' }),
      JSON.stringify({ ...stored, secretKey: '00'.repeat(32) }),
      JSON.stringify({ ...stored, publicKey: other.publicKeyHex }),
    ];
    bad.forEach((text, i) => {
      const path = join(dir, `bad-${i}.json`);
      writeFileSync(path, text, { mode: 0o600 });
      code(() => ReceiptSigner.open(path), 'LP_RECEIPT_BAD_KEY_FILE');
    });
    code(() => ReceiptSigner.open(dir), 'LP_RECEIPT_BAD_KEY_FILE');
  });
});
