import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { Bip340Signer } from './bip340.js';

describe('Bip340Signer', () => {
  it('signs byte for byte as noble does, given the same auxiliary randomness', () => {
    for (let i = 0; i < 200; i++) {
      const sk = schnorr.utils.randomSecretKey();
      const msg = randomBytes(i % 3 === 0 ? 32 : i);
      const aux = randomBytes(32);
      const signer = new Bip340Signer(sk);
      assert.deepEqual(signer.publicKey, schnorr.getPublicKey(sk));
      const sig = signer.sign(msg, aux);
      assert.deepEqual(sig, schnorr.sign(msg, sk, aux));
      assert.ok(schnorr.verify(sig, msg, signer.publicKey));
    }
  });

  it('matches the BIP340 signing vectors', () => {
    // bitcoin/bips bip-0340/test-vectors.csv, vectors 0 to 3 (secret key, aux, message, signature).
    const vectors = [
      [
        '0000000000000000000000000000000000000000000000000000000000000003',
        '0000000000000000000000000000000000000000000000000000000000000000',
        '0000000000000000000000000000000000000000000000000000000000000000',
        'E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA821525F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0',
      ],
      [
        'B7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF',
        '0000000000000000000000000000000000000000000000000000000000000001',
        '243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89',
        '6896BD60EEAE296DB48A229FF71DFE071BDE413E6D43F917DC8DCF8C78DE33418906D11AC976ABCCB20B091292BFF4EA897EFCB639EA871CFA95F6DE339E4B0A',
      ],
      [
        'C90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B14E5C9',
        'C87AA53824B4D7AE2EB035A2B5BBBCCC080E76CDC6D1692C4B0B62D798E6D906',
        '7E2D58D8B3BCDF1ABADEC7829054F90DDA9805AAB56C77333024B9D0A508B75C',
        '5831AAEED7B44BB74E5EAB94BA9D4294C49BCF2A60728D8B4C200F50DD313C1BAB745879A5AD954A72C45A91C3A51D3C7ADEA98D82F8481E0E1E03674A6F3FB7',
      ],
      [
        '0B432B2677937381AEF05BB02A66ECD012773062CF3FA2549E44F58ED2401710',
        'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF',
        'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF',
        '7EB0509757E246F19449885651611CB965ECC1A187DD51B64FDA1EDC9637D5EC97582B9CB13DB3933705B32BA982AF5AF25FD78881EBB32771FC5922EFC66EA3',
      ],
    ] as const;
    for (const [sk, aux, msg, sig] of vectors) {
      const out = new Bip340Signer(hexToBytes(sk)).sign(hexToBytes(msg), hexToBytes(aux));
      assert.equal(Buffer.from(out).toString('hex').toUpperCase(), sig);
    }
  });

  it('refuses a secret key of zero, the group order or the wrong length', () => {
    assert.throws(() => new Bip340Signer(new Uint8Array(32)));
    assert.throws(
      () => new Bip340Signer(hexToBytes('FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141')),
    );
    assert.throws(() => new Bip340Signer(new Uint8Array(31).fill(1)));
    assert.throws(() =>
      new Bip340Signer(new Uint8Array(32).fill(1)).sign(new Uint8Array(1), new Uint8Array(31)),
    );
  });
});
