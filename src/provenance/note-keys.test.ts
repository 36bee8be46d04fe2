import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { isLightproofError } from '../core/errors.js';
import {
  generateNoteKey,
  noteKeyId,
  noteSigner,
  noteVerifier,
  noteVerifierKey,
  toBase64,
} from './note-keys.js';

const go = JSON.parse(
  readFileSync(new URL('../../test/vectors/note/go-sumdb-note.json', import.meta.url), 'utf8'),
);

function badKey(fn: () => unknown, part: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isLightproofError(e), String(e));
    assert.equal(e.code, 'LP_NOTE_BAD_KEY', e.message);
    assert.match(e.message, part);
    return true;
  });
}

/** A signer key for SEED under NAME, built by hand so the test does not trust the code it checks. */
function signerKeyFor(name: string, seed: Uint8Array): string {
  const pub = ed25519.getPublicKey(seed);
  const id = noteKeyId(name, pub).toString(16).padStart(8, '0');
  return `PRIVATE+KEY+${name}+${id}+${toBase64(Uint8Array.of(1, ...seed))}`;
}

describe('note keys: node:crypto agrees with @noble/curves', () => {
  it('signs byte for byte as noble does, and each verifies the other, on random keys and messages', () => {
    for (let i = 0; i < 40; i++) {
      const seed = new Uint8Array(randomBytes(32));
      const message = new Uint8Array(randomBytes(i * 7));
      const signer = noteSigner(signerKeyFor('random.example', seed));
      const pub = ed25519.getPublicKey(seed);
      assert.equal(signer.verifierKey, noteVerifierKey('random.example', pub));
      const sig = signer.sign(message);
      assert.deepEqual(sig, ed25519.sign(message, seed), `key ${i}`);
      const verifier = noteVerifier(signer.verifierKey);
      assert.ok(verifier.verify(message, ed25519.sign(message, seed)));
      assert.ok(ed25519.verify(sig, message, pub, { zip215: false }));
      const flipped = Uint8Array.from(sig);
      flipped[i % 64]! ^= 1 << (i % 8);
      assert.equal(verifier.verify(message, flipped), false);
      assert.equal(verifier.verify(message, sig.subarray(0, 63)), false);
      assert.equal(verifier.verify(Uint8Array.of(...message, 0), sig), false);
    }
  });

  it('generates keys noble reads back to the same public key', () => {
    const { signerKey, verifierKey } = generateNoteKey('example.com/log');
    const seed = Buffer.from(signerKey.split('+').slice(4).join('+'), 'base64').subarray(1);
    assert.equal(verifierKey, noteVerifierKey('example.com/log', ed25519.getPublicKey(seed)));
    assert.equal(noteSigner(signerKey).verifierKey, verifierKey);
  });

  it('refuses a signature whose S is not below the group order (malleability)', () => {
    const seed = new Uint8Array(32).fill(7);
    const signer = noteSigner(signerKeyFor('s.example', seed));
    const verifier = noteVerifier(signer.verifierKey);
    const message = new TextEncoder().encode('text\n');
    const sig = signer.sign(message);
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
    let t = s + L;
    const malleated = Uint8Array.from(sig);
    for (let i = 32; i < 64; i++, t >>= 8n) malleated[i] = Number(t & 0xffn);
    assert.ok(verifier.verify(message, sig));
    assert.equal(verifier.verify(message, malleated), false);
  });
});

describe('note keys: one spelling per key', () => {
  const vkey: string = go.peter.verifierKey;
  const skey: string = go.peter.signerKey;

  it('keeps the verifier key exactly as given', () => {
    assert.equal(noteVerifier(vkey).verifierKey, vkey);
  });

  it('refuses an uppercase or short key ID, naming the key ID', () => {
    badKey(() => noteVerifier(vkey.replace('c74f20a3', 'C74F20A3')), /key ID is not 8 lowercase hex/);
    badKey(() => noteVerifier(vkey.replace('c74f20a3', 'c74F20a3')), /key ID is not 8 lowercase hex/);
    badKey(() => noteVerifier(vkey.replace('c74f20a3', '0c74f20a3')), /key ID is not 8 lowercase hex/);
    badKey(() => noteSigner(skey.replace('c74f20a3', 'C74F20A3')), /key ID is not 8 lowercase hex/);
  });

  it('refuses base64 that is not the canonical standard spelling, naming the base64', () => {
    const b64 = vkey.split('+').slice(2).join('+');
    const name = 'PeterNeumann+c74f20a3+';
    for (const bad of [
      b64.replace(/\//g, '_'),
      `${b64}=`,
      `${b64}\n`,
      `${b64} `,
      `${b64.slice(0, 20)}\n${b64.slice(20)}`,
      `${b64.slice(0, -1)}`,
      '',
    ]) {
      badKey(() => noteVerifier(name + bad), /base64/);
    }
    // 2 bytes with non-zero padding bits: Buffer decodes it, but it is not how those bytes encode.
    badKey(() => noteVerifier(`${name}AQB=`), /base64/);
  });

  it('refuses surrounding space rather than trimming it', () => {
    for (const spaced of [` ${vkey}`, `${vkey}\n`, `\t${vkey}`, `${vkey}\r\n`]) {
      badKey(() => noteVerifier(spaced), /name|base64/);
    }
    badKey(() => noteSigner(`${skey}\n`), /base64/);
  });

  it('names the part that is wrong: type byte, length, key ID match', () => {
    const pub = Buffer.from(vkey.split('+')[2]!, 'base64').subarray(1);
    // Any key bytes under their own correct key ID, so the later checks are the ones reached.
    const withKey = (key: Uint8Array) => {
      const id = sha256(Uint8Array.of(...new TextEncoder().encode('PeterNeumann'), 0x0a, ...key));
      return `PeterNeumann+${Buffer.from(id.subarray(0, 4)).toString('hex')}+${toBase64(key)}`;
    };
    badKey(() => noteVerifier(withKey(Uint8Array.of(2, ...pub))), /type byte 0x02/);
    badKey(() => noteVerifier(withKey(Uint8Array.of(1, ...pub, 0))), /not 32 bytes/);
    badKey(() => noteVerifier(vkey.replace('c74f20a3', 'c74f20a4')), /key ID does not match/);
    badKey(() => noteVerifier(`Peter Neumann+c74f20a3+${vkey.split('+')[2]}`), /name/);
  });

  it('refuses points RFC 8032 refuses: small order, not on the curve, non-canonical', () => {
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const pointKey = (raw: Uint8Array) => noteVerifierKey('weak.example', raw);
    // The identity point verifies (R = identity, S = 0) on every message under cofactorless checks.
    badKey(() => noteVerifier(pointKey(identity)), /small-order/);
    const order2 = new Uint8Array(32).fill(0xff);
    order2[0] = 0xec;
    order2[31] = 0x7f;
    badKey(() => noteVerifier(pointKey(order2)), /small-order/);
    // y = p + 1: the identity again, spelled with an unreduced coordinate.
    const unreduced = Uint8Array.from(order2);
    unreduced[0] = 0xee;
    badKey(() => noteVerifier(pointKey(unreduced)), /canonically encoded/);
    const notOnCurve = new Uint8Array(32);
    notOnCurve[0] = 2;
    badKey(() => noteVerifier(pointKey(notOnCurve)), /canonically encoded Ed25519 point/);
  });

  it('refuses hostile input without echoing a secret or crashing', () => {
    for (const hostile of [
      undefined,
      null,
      42,
      {},
      'x'.repeat(2000),
      '+'.repeat(50),
      'a+b+c',
      `${'a'.repeat(100)}+c74f20a3+${'A'.repeat(800)}`,
      'name+c74f20a3+\u0000AAA',
      'name\u202e+c74f20a3+ARpc',
    ]) {
      badKey(() => noteVerifier(hostile as string), /verifier key/);
      badKey(() => noteSigner(hostile as string), /signer key/);
    }
  });
});
