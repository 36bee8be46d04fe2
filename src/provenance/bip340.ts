/**
 * A BIP340 signer for one long-lived key. noble's `schnorr.sign` re-derives the public key from the
 * secret and verifies its own signature on every call (4× the work of signing); a gateway signs every
 * paid response with the same key, so this keeps the key's point and even-y scalar from the start and
 * follows BIP340's signing steps once per message. Signatures are byte-identical to noble's for the
 * same auxiliary randomness (tested), and verified with noble's `schnorr.verify`.
 *
 * Trade-off: BIP340 recommends verifying a signature before releasing it, as a guard against faults
 * corrupting the computation. This signer does not; receipts are checked by their readers instead.
 */
import { randomBytes } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE } from '@noble/curves/utils.js';

const { Point, utils } = schnorr;
const Fn = Point.Fn;

function evenY(p: InstanceType<typeof Point>): boolean {
  return (p.toAffine().y & 1n) === 0n;
}

export class Bip340Signer {
  /** The secret scalar, negated when needed so that its point has an even y. */
  readonly #d: bigint;
  /** x-only public key. */
  readonly publicKey: Uint8Array;

  constructor(secretKey: Uint8Array) {
    const d0 = Fn.fromBytes(secretKey);
    const p = Point.BASE.multiply(d0);
    this.#d = evenY(p) ? d0 : Fn.neg(d0);
    this.publicKey = utils.pointToBytes(p);
  }

  sign(message: Uint8Array, auxRand: Uint8Array = randomBytes(32)): Uint8Array {
    if (auxRand.length !== 32) throw new Error('BIP340 auxiliary randomness is 32 bytes');
    const t = Fn.toBytes(this.#d ^ bytesToNumberBE(utils.taggedHash('BIP0340/aux', auxRand)));
    const k0 = Fn.create(bytesToNumberBE(utils.taggedHash('BIP0340/nonce', t, this.publicKey, message)));
    if (k0 === 0n) throw new Error('BIP340 nonce is zero; sign again with fresh randomness');
    const r = Point.BASE.multiply(k0);
    const k = evenY(r) ? k0 : Fn.neg(k0);
    const rx = utils.pointToBytes(r);
    const e = Fn.create(bytesToNumberBE(utils.taggedHash('BIP0340/challenge', rx, this.publicKey, message)));
    const sig = new Uint8Array(64);
    sig.set(rx, 0);
    sig.set(Fn.toBytes(Fn.add(k, Fn.mul(e, this.#d))), 32);
    return sig;
  }
}
