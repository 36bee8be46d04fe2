import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { bech32 } from '@scure/base';
import { isLightproofError } from '../core/errors.js';
import { msat } from '../core/money.js';
import { decodeInvoice, encodeInvoice, MAX_INVOICE_LENGTH } from './bolt11.js';

interface ValidVector {
  name: string;
  invoice: string;
  network: string;
  amountMsat: number | null;
  timestamp?: number;
  expiry?: number;
  minFinalCltvExpiry?: number;
  paymentHash?: string;
  description?: string;
  descriptionOf?: string;
  descriptionHash?: string | null;
  paymentSecret?: string;
  signature?: string;
  recoveryId?: number;
  fallbacks?: string[];
  routeHints?: unknown[];
  featureBits?: number[];
  unknownRequired?: number[];
  otherPayee?: boolean;
  reencode?: boolean;
}
const vectors = JSON.parse(
  readFileSync(new URL('../../test/vectors/bolt11.json', import.meta.url), 'utf8'),
) as {
  privateKey: string;
  payee: string;
  valid: ValidVector[];
  invalid: { name: string; invoice: string; code: string }[];
};

function expectCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isLightproofError(err), `expected a LightproofError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('BOLT 11 specification vectors', () => {
  for (const v of vectors.valid) {
    it(`decodes: ${v.name}`, () => {
      const d = decodeInvoice(v.invoice);
      assert.equal(d.network, v.network);
      assert.equal(d.amountMsat, v.amountMsat === null ? null : BigInt(v.amountMsat));
      if (!v.otherPayee) assert.equal(d.payee, vectors.payee);
      else assert.match(d.payee, /^0[23][0-9a-f]{64}$/);
      if (v.timestamp !== undefined) assert.equal(d.timestamp, v.timestamp);
      if (v.expiry !== undefined) assert.equal(d.expiry, v.expiry);
      if (v.minFinalCltvExpiry !== undefined) assert.equal(d.minFinalCltvExpiry, v.minFinalCltvExpiry);
      if (v.paymentHash !== undefined) assert.equal(d.paymentHash, v.paymentHash);
      if (v.description !== undefined) assert.equal(d.description, v.description);
      if (v.descriptionOf !== undefined) {
        assert.equal(d.descriptionHash, bytesToHex(sha256(new TextEncoder().encode(v.descriptionOf))));
      }
      if (v.descriptionHash !== undefined) assert.equal(d.descriptionHash, v.descriptionHash);
      if (v.paymentSecret !== undefined) assert.equal(d.paymentSecret, v.paymentSecret);
      if (v.signature !== undefined) assert.equal(d.signature, v.signature);
      if (v.recoveryId !== undefined) assert.equal(d.recoveryId, v.recoveryId);
      if (v.fallbacks !== undefined)
        assert.deepEqual(
          d.fallbacks.map((f) => f.address),
          v.fallbacks,
        );
      if (v.routeHints !== undefined) assert.deepEqual(d.routeHints, v.routeHints);
      if (v.featureBits !== undefined) assert.deepEqual(d.features.bits, v.featureBits);
      if (v.unknownRequired !== undefined) assert.deepEqual(d.features.unknownRequired, v.unknownRequired);
    });
  }

  for (const v of vectors.valid.filter((x) => x.reencode)) {
    it(`re-encodes byte for byte: ${v.name}`, () => {
      const d = decodeInvoice(v.invoice);
      const again = encodeInvoice(
        {
          network: d.network,
          amountMsat: d.amountMsat,
          timestamp: d.timestamp,
          paymentHash: hexToBytes(d.paymentHash),
          ...(d.description !== null ? { description: d.description } : {}),
          ...(d.descriptionHash !== null ? { descriptionHash: hexToBytes(d.descriptionHash) } : {}),
          ...(d.paymentSecret !== null ? { paymentSecret: hexToBytes(d.paymentSecret) } : {}),
          ...(d.expiry !== 3600 ? { expiry: d.expiry } : {}),
          featureBits: d.features.bits,
        },
        hexToBytes(vectors.privateKey),
      );
      assert.equal(again, v.invoice.toLowerCase());
    });
  }

  for (const v of vectors.invalid) {
    it(`rejects: ${v.name}`, () => expectCode(() => decodeInvoice(v.invoice), v.code));
  }
});

describe('BOLT 11 codec with hostile input', () => {
  const key = hexToBytes(vectors.privateKey);
  const good = encodeInvoice(
    {
      network: 'regtest',
      amountMsat: msat(1234567n),
      timestamp: 1_700_000_000,
      paymentHash: new Uint8Array(32).fill(7),
      paymentSecret: new Uint8Array(32).fill(9),
      description: 'test',
      expiry: 600,
      minFinalCltvExpiry: 80,
      featureBits: [8, 14],
      includePayee: true,
    },
    key,
  );

  it('round-trips its own invoices with n field, sub-satoshi amounts and regtest prefix', () => {
    assert.ok(good.startsWith('lnbcrt12345670p1'));
    const d = decodeInvoice(good);
    assert.equal(d.amountMsat, 1234567n);
    assert.equal(d.network, 'regtest');
    assert.equal(d.expiry, 600);
    assert.equal(d.minFinalCltvExpiry, 80);
    assert.equal(d.payee, vectors.payee);
    assert.deepEqual(d.features.bits, [8, 14]);
  });

  it('accepts a lightning: URI prefix and surrounding whitespace', () => {
    assert.equal(decodeInvoice(`  lightning:${good.toUpperCase()}\n`).paymentHash, '07'.repeat(32));
  });

  it('refuses every single-character change (checksum or signature)', () => {
    const alphabet = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
    const start = good.indexOf('1', 8) + 1;
    for (let i = start; i < good.length; i += 7) {
      const c = good[i]!;
      const swapped = alphabet[(alphabet.indexOf(c) + 1) % 32]!;
      const bad = good.slice(0, i) + swapped + good.slice(i + 1);
      assert.throws(
        () => decodeInvoice(bad),
        (e: unknown) => isLightproofError(e) && e.code.startsWith('LP_BOLT11_'),
      );
    }
  });

  it('refuses an invoice whose n field names a key that did not sign it, under a valid checksum', () => {
    const { prefix, words } = bech32.decode(good as `${string}1${string}`, false);
    const honest = bech32.toWords(hexToBytes(vectors.payee));
    const stranger = bech32.toWords(secp256k1.getPublicKey(hexToBytes('11'.repeat(32)), true));
    const at = findSubarray(words, honest);
    assert.ok(at > 0, 'the n field is present');
    const forged = [...words.slice(0, at), ...stranger, ...words.slice(at + honest.length)];
    expectCode(() => decodeInvoice(bech32.encode(prefix, forged, false)), 'LP_BOLT11_BAD_SIGNATURE');
  });

  it('gives typed errors for garbage, empty, truncated and oversized input', () => {
    expectCode(() => decodeInvoice(''), 'LP_BOLT11_MALFORMED');
    expectCode(() => decodeInvoice('hello world'), 'LP_BOLT11_MALFORMED');
    expectCode(() => decodeInvoice(good.slice(0, good.length - 10)), 'LP_BOLT11_BAD_CHECKSUM');
    expectCode(() => decodeInvoice(`lnbcrt1${'q'.repeat(MAX_INVOICE_LENGTH)}`), 'LP_BOLT11_TOO_LONG');
    expectCode(() => decodeInvoice('lnxy1qqqqqqqq'), 'LP_BOLT11_BAD_CHECKSUM');
    expectCode(() => decodeInvoice(42 as unknown as string), 'LP_BOLT11_MALFORMED');
  });

  it('names an unknown currency prefix', () => {
    const words = [0, 0, 0, 0, 0, 0, 0, ...new Array<number>(104).fill(0)];
    expectCode(() => decodeInvoice(bech32.encode('lnzz', words, false)), 'LP_BOLT11_UNKNOWN_NETWORK');
  });

  it('refuses amounts beyond the bitcoin supply and bad encoder input', () => {
    const words = [0, 0, 0, 0, 0, 0, 0, ...new Array<number>(104).fill(0)];
    expectCode(() => decodeInvoice(bech32.encode('lnbc99999999999', words, false)), 'LP_BOLT11_BAD_AMOUNT');
    expectCode(
      () =>
        encodeInvoice(
          {
            network: 'regtest',
            amountMsat: null,
            timestamp: 1,
            paymentHash: new Uint8Array(31),
            description: '',
          },
          key,
        ),
      'LP_BOLT11_BAD_FIELD',
    );
    expectCode(
      () =>
        encodeInvoice(
          { network: 'regtest', amountMsat: null, timestamp: 1, paymentHash: new Uint8Array(32) },
          key,
        ),
      'LP_BOLT11_BAD_FIELD',
    );
  });
});

function findSubarray(hay: number[], needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
