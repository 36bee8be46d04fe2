import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { importMacaroon, newMacaroon } from 'macaroon';
import { isLightproofError } from '../core/errors.js';
import { checkCaveats } from './caveats.js';
import {
  formatAuthorization,
  formatChallenges,
  MAX_AUTHORIZATION_LENGTH,
  parseAuthorization,
  parseChallenges,
} from './header.js';
import { decodeIdentifier, encodeIdentifier } from './identifier.js';
import { Macaroon } from './macaroon.js';
import { KeyRing, mintToken, verifyToken } from './token.js';

function code(fn: () => unknown, expected: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isLightproofError(e), String(e));
    assert.equal(e.code, expected, e.message);
    return true;
  });
}

const preimage = new Uint8Array(32).fill(42);
const paymentHash = sha256(preimage);
const now = 1_800_000_000;
const target = { service: 'chat', now };

describe('macaroons: the go-macaroon / libmacaroons signature chain', () => {
  const rootKey = 'this is our super secret key; only we should know it';
  const expected = [
    'e3d9e02908526c4c0039ae15114115d97fdd68bf2ba379b342aaf0f617d0552f',
    '1efe4763f290dbce0c1d08477367e11f4eee456a64933cf662d79772dbb82128',
    null,
    'ddf553e46083e55b8d71ab822be3d8fcf21d6bf19c40d617bb9fb438934474b6',
  ];
  const caveats = ['account = 3735928559', 'time < 2020-01-01T00:00', 'email = alice@example.org'];

  it('reproduces the reference signatures with 0, 1 and 3 first-party caveats (ours and js-macaroon)', () => {
    const key = new TextEncoder().encode(rootKey);
    const ours = Macaroon.create(key, new TextEncoder().encode('we used our secret key'), 'http://mybank/');
    const theirs = newMacaroon({
      identifier: 'we used our secret key',
      location: 'http://mybank/',
      rootKey,
      version: 2,
    });
    assert.equal(bytesToHex(ours.signature), expected[0]);
    assert.equal(bytesToHex(theirs.signature), expected[0]);
    caveats.forEach((c, i) => {
      ours.addFirstPartyCaveat(c);
      theirs.addFirstPartyCaveat(c);
      if (expected[i + 1]) assert.equal(bytesToHex(ours.signature), expected[i + 1]);
      assert.deepEqual(ours.signature, theirs.signature);
    });
    assert.ok(ours.verifySignature(key));
    assert.equal(ours.verifySignature(new TextEncoder().encode('another key')), false);
    // js-macaroon reads what we write, and we read what it writes.
    assert.deepEqual(importMacaroon(ours.toBinary()).signature, ours.signature);
    assert.deepEqual(Macaroon.fromBinary(theirs.exportBinary()).toBinary(), ours.toBinary());
  });

  it('refuses truncated, padded and V1 macaroons, and third-party caveats', () => {
    const m = Macaroon.create(new Uint8Array(32), new Uint8Array(66), 'lsat');
    m.addFirstPartyCaveat('services=chat:0');
    const bin = m.toBinary();
    for (let cut = 0; cut < bin.length; cut += 3)
      code(() => Macaroon.fromBinary(bin.subarray(0, cut)), 'LP_L402_BAD_TOKEN');
    code(() => Macaroon.fromBinary(new Uint8Array([...bin, 0])), 'LP_L402_BAD_TOKEN');
    code(() => Macaroon.fromBinary(new TextEncoder().encode('MDAxY2xvY2F0aW9u')), 'LP_L402_BAD_TOKEN');
    const third = m.clone();
    third.caveats.push({ identifier: new Uint8Array([1]), verificationId: new Uint8Array([2]) });
    assert.equal(Macaroon.fromBinary(third.toBinary()).verifySignature(new Uint8Array(32)), false);
  });

  it("writes the V2 binary layout byte for byte, so tokens start like Aperture's (AgEEbHNhdAJC)", () => {
    const id = encodeIdentifier({ paymentHash, tokenId: new Uint8Array(32).fill(1) });
    const m = Macaroon.create(new Uint8Array(32), id, 'lsat');
    m.addFirstPartyCaveat('services=chat:0');
    const bin = m.toBinary();
    const expected = new Uint8Array([
      0x02,
      0x01,
      0x04,
      ...new TextEncoder().encode('lsat'),
      0x02,
      0x42,
      ...id,
      0x00,
      0x02,
      0x0f,
      ...new TextEncoder().encode('services=chat:0'),
      0x00,
      0x00,
      0x06,
      0x20,
      ...m.signature,
    ]);
    assert.deepEqual(bin, expected);
    assert.ok(Buffer.from(bin).toString('base64').startsWith('AgEEbHNhdAJC'));
    assert.deepEqual(importMacaroon(bin).signature, m.signature);
    assert.deepEqual(Macaroon.fromBinary(bin).toBinary(), bin);
  });

  it('decodes the 66-byte identifier and refuses other lengths and versions', () => {
    const id = encodeIdentifier({ paymentHash, tokenId: new Uint8Array(32).fill(9) });
    assert.equal(id.length, 66);
    assert.deepEqual(decodeIdentifier(id).paymentHash, paymentHash);
    code(() => decodeIdentifier(id.subarray(0, 65)), 'LP_L402_BAD_IDENTIFIER');
    const v1 = id.slice();
    v1[1] = 1;
    code(() => decodeIdentifier(v1), 'LP_L402_BAD_IDENTIFIER');
  });
});

describe('L402 tokens: mint and verify', () => {
  const ring = KeyRing.generate();
  const minted = () =>
    mintToken(ring, {
      paymentHash,
      services: [{ name: 'chat', tier: 0 }],
      validUntil: { chat: now + 60 },
      creditMsat: 5_000n,
    });

  it('verifies its own token with the right preimage, and reports what it grants', () => {
    const t = minted();
    const v = verifyToken(ring, t.token, preimage, { target });
    assert.equal(v.tokenId, t.tokenId);
    assert.equal(v.paymentHash, bytesToHex(paymentHash));
    assert.equal(v.caveats.creditMsat, 5_000n);
    assert.equal(v.caveats.validUntil, now + 60);
  });

  it('refuses a wrong or malformed preimage before any other work', () => {
    code(() => verifyToken(ring, minted().token, new Uint8Array(32), { target }), 'LP_L402_WRONG_PREIMAGE');
    code(() => verifyToken(ring, minted().token, new Uint8Array(31), { target }), 'LP_L402_WRONG_PREIMAGE');
  });

  it('refuses a token minted for another service, an expired one and a revoked one', () => {
    code(
      () => verifyToken(ring, minted().token, preimage, { target: { service: 'images', now } }),
      'LP_L402_CAVEAT_FAILED',
    );
    code(
      () => verifyToken(ring, minted().token, preimage, { target: { service: 'chat', now: now + 60 } }),
      'LP_L402_CAVEAT_FAILED',
    );
    const t = minted();
    code(
      () => verifyToken(ring, t.token, preimage, { target, isRevoked: (id) => id === t.tokenId }),
      'LP_L402_REVOKED',
    );
  });

  it('refuses tampered caveats and a token signed by another root key', () => {
    const t = minted();
    const bin = Buffer.from(t.token, 'base64');
    const at = bin.indexOf('chat:0');
    bin[at + 5] = '9'.charCodeAt(0); // services=chat:9
    code(() => verifyToken(ring, bin.toString('base64'), preimage, { target }), 'LP_L402_BAD_SIGNATURE');
    const forged = mintToken(KeyRing.generate(), { paymentHash, services: [{ name: 'chat', tier: 0 }] });
    code(() => verifyToken(ring, forged.token, preimage, { target }), 'LP_L402_BAD_SIGNATURE');
  });

  it('lets a holder narrow a token (attenuation) but never widen it', () => {
    const narrowed = minted().macaroon;
    narrowed.addFirstPartyCaveat(`chat_valid_until=${now + 10}`);
    assert.equal(verifyToken(ring, narrowed, preimage, { target }).caveats.validUntil, now + 10);
    const widened = minted().macaroon;
    widened.addFirstPartyCaveat(`chat_valid_until=${now + 3600}`);
    code(() => verifyToken(ring, widened, preimage, { target }), 'LP_L402_CAVEAT_FAILED');
    const moreServices = minted().macaroon;
    moreServices.addFirstPartyCaveat('services=chat:0,images:0');
    code(() => verifyToken(ring, moreServices, preimage, { target }), 'LP_L402_CAVEAT_FAILED');
    const moreCredit = minted().macaroon;
    moreCredit.addFirstPartyCaveat('lightproof_credit_msat=999999');
    code(() => verifyToken(ring, moreCredit, preimage, { target }), 'LP_L402_CAVEAT_FAILED');
  });

  it('keeps verifying old tokens after a key rotation, until the old key is retired', () => {
    const old = minted();
    const rotated = ring.rotate();
    assert.equal(verifyToken(rotated, old.token, preimage, { target }).tokenId, old.tokenId);
    const fresh = mintToken(rotated, { paymentHash, services: [{ name: 'chat', tier: 0 }] });
    assert.ok(verifyToken(rotated, fresh.token, preimage, { target }));
    code(
      () => verifyToken(rotated.retire(ring.current), old.token, preimage, { target }),
      'LP_L402_BAD_SIGNATURE',
    );
  });

  it('refuses garbage, truncated and oversized tokens with a typed error', () => {
    for (const bad of [
      '',
      'not base64!',
      'AAAA',
      Buffer.from(minted().token, 'base64').subarray(0, 40).toString('base64'),
      'A'.repeat(10_000),
    ]) {
      code(() => verifyToken(ring, bad, preimage, { target }), 'LP_L402_BAD_TOKEN');
    }
  });

  it('checks capabilities and refuses malformed known caveats', () => {
    const t = mintToken(ring, {
      paymentHash,
      services: [{ name: 'chat', tier: 0 }],
      capabilities: { chat: ['read'] },
    });
    assert.ok(verifyToken(ring, t.token, preimage, { target: { ...target, capability: 'read' } }));
    code(
      () => verifyToken(ring, t.token, preimage, { target: { ...target, capability: 'write' } }),
      'LP_L402_CAVEAT_FAILED',
    );
    code(() => checkCaveats(['services=chat'], target), 'LP_L402_BAD_CAVEAT');
    code(() => checkCaveats(['chat_valid_until=soon'], target), 'LP_L402_BAD_CAVEAT');
    assert.ok(checkCaveats(['unknown_thing=1', 'no-equals-sign'], target));
  });
});

describe('L402 headers', () => {
  const token = mintToken(KeyRing.generate(), { paymentHash, services: [{ name: 'chat', tier: 0 }] }).token;
  const invoice = 'lnbcrt10u1pexample';

  it('emits an L402 challenge with macaroon first, and a legacy LSAT one; both parse back', () => {
    const [l402, lsat] = formatChallenges(token, invoice);
    assert.match(l402!, /^L402 macaroon="[^"]+", invoice="[^"]+", version="0", token="[^"]+"$/);
    assert.match(lsat!, /^LSAT macaroon="[^"]+", invoice="[^"]+"$/);
    const parsed = parseChallenges([lsat!, l402!]);
    assert.equal(parsed[0]?.scheme, 'L402');
    assert.equal(parsed[0]?.token, token);
    assert.equal(parsed[0]?.invoice, invoice);
    assert.equal(parsed[1]?.scheme, 'LSAT');
  });

  it('reads every form in the wild: token= only, any order, any case, bare values, unknown params, several per header', () => {
    const forms = [
      `L402 version="0", token="${token}", invoice="${invoice}"`,
      `l402 invoice="${invoice}", macaroon="${token}"`,
      `LSAT macaroon=${token}, invoice=${invoice}`,
      `Basic realm="x", L402 macaroon="${token}", invoice="${invoice}", future="yes"`,
    ];
    for (const f of forms) {
      const [c] = parseChallenges(f);
      assert.equal(c?.token, token, f);
      assert.equal(c?.invoice, invoice, f);
    }
    assert.deepEqual(
      parseChallenges(['Bearer realm="api"', 'L402 invoice="x"', '"""', 'L402 macaroon="unterminated']),
      [],
    );
  });

  it('reads credentials: either scheme and case, several macaroons, upper-case hex', () => {
    const hex = bytesToHex(preimage);
    const c = parseAuthorization(`lsat  ${token},${token}:${hex.toUpperCase()}`);
    assert.equal(c?.scheme, 'LSAT');
    assert.equal(c?.tokens.length, 2);
    assert.deepEqual(c?.preimage, preimage);
    assert.equal(parseAuthorization(formatAuthorization([token], hex))?.tokens[0], token);
    assert.equal(parseAuthorization('Bearer abc'), null);
    assert.equal(parseAuthorization(null), null);
  });

  it('refuses malformed, duplicated and oversized credentials with the status the spec asks for', () => {
    const hex = bytesToHex(preimage);
    for (const bad of [
      `L402 ${token}`,
      `L402 ${token}:${hex.slice(2)}`,
      `L402 ${token}:zz${hex.slice(2)}`,
      `L402 ${token}:${hex}:${hex}`,
      `L402 ${token}\u0001:${hex}`,
      `L402 ${token}:${hex}, L402 ${token}:${hex}`,
      `L402 not-base64!:${hex}`,
      `L402 ${Array(9).fill(token).join(',')}:${hex}`,
    ]) {
      assert.throws(
        () => parseAuthorization(bad),
        (e: unknown) => isLightproofError(e, 'LP_L402_BAD_CREDENTIAL') && e.status === 402,
        bad,
      );
    }
    assert.throws(
      () => parseAuthorization(`L402 ${'A'.repeat(MAX_AUTHORIZATION_LENGTH)}:${hex}`),
      (e: unknown) => isLightproofError(e, 'LP_L402_HEADER_TOO_LARGE') && e.status === 431,
    );
  });
});
