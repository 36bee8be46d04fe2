import assert from 'node:assert/strict';
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { bytesToHex } from '@noble/hashes/utils.js';
import {
  append,
  makeMerkleTree,
  nonceTimestamp,
  prepend,
  readTimestamp,
  Timestamp,
  writeTimestamp,
} from '../ots/index.js';
import { buildRound, commitmentHmac, decodeLeaves, NONCE_BYTES } from './round.js';

const randomBytes = (n: number) => new Uint8Array(nodeRandomBytes(n));
const KEY = new Uint8Array(32).fill(0x11);
const URI = 'https://calendar.example.org';
const TIME = 1_700_000_123;

/** The same round made with the OpenTimestamps core's own objects, as python's calendar does. */
function reference(
  digests: Uint8Array[],
  nonces: Uint8Array,
): { replies: Uint8Array[]; commitment: Uint8Array } {
  const roots = digests.map((d) => new Timestamp(d));
  const leaves = roots.map((ts, i) =>
    nonceTimestamp(ts, nonces.subarray(i * NONCE_BYTES, (i + 1) * NONCE_BYTES)),
  );
  const tip = makeMerkleTree(leaves);
  const time = Buffer.alloc(4);
  time.writeUInt32BE(TIME);
  const commitment = tip.add(prepend(time)).add(append(commitmentHmac(KEY, TIME, tip.msg)));
  commitment.attest({ kind: 'pending', uri: URI });
  return { replies: roots.map(writeTimestamp), commitment: commitment.msg };
}

describe('buildRound', () => {
  it('writes, for 1 to 40 digests, the same replies the OpenTimestamps core builds', () => {
    for (let n = 1; n <= 40; n++) {
      const digests = Array.from({ length: n }, (_, i) => randomBytes(1 + ((i * 7) % 64)));
      const nonces = randomBytes(n * NONCE_BYTES);
      const round = buildRound(digests, { time: TIME, hmacKey: KEY, uri: URI, nonces });
      const ref = reference(digests, nonces);
      assert.equal(bytesToHex(round.commitment), bytesToHex(ref.commitment), `n=${n}`);
      for (const [i, r] of round.replies.entries()) {
        assert.equal(bytesToHex(r), bytesToHex(ref.replies[i]!), `n=${n} i=${i}`);
      }
    }
  });

  it('commits to time ‖ tip ‖ HMAC8, and every reply replays to that commitment with a pending attestation', () => {
    const digests = Array.from({ length: 9 }, () => randomBytes(32));
    const round = buildRound(digests, { time: TIME, hmacKey: KEY, uri: URI });
    assert.equal(round.commitment.length, 44);
    assert.equal(Buffer.from(round.commitment).readUInt32BE(0), TIME);
    assert.deepEqual(round.commitment.subarray(4, 36), round.tip);
    assert.deepEqual(round.commitment.subarray(36), commitmentHmac(KEY, TIME, round.tip));
    for (const [i, bytes] of round.replies.entries()) {
      const [leaf] = readTimestamp(bytes, digests[i]!).allAttestations();
      assert.deepEqual(leaf, { msg: round.commitment, attestation: { kind: 'pending', uri: URI } });
    }
  });

  it('a different key gives a different commitment for the same tip', () => {
    const digests = [randomBytes(32)];
    const nonces = randomBytes(NONCE_BYTES);
    const a = buildRound(digests, { time: TIME, hmacKey: KEY, uri: URI, nonces });
    const b = buildRound(digests, { time: TIME, hmacKey: new Uint8Array(32).fill(2), uri: URI, nonces });
    assert.deepEqual(a.tip, b.tip);
    assert.notDeepEqual(a.commitment, b.commitment);
  });

  it('keeps every (digest, nonce) so the round can be rebuilt to the same commitment', () => {
    const digests = Array.from({ length: 7 }, (_, i) => randomBytes(20 + i));
    const round = buildRound(digests, { time: TIME, hmacKey: KEY, uri: URI });
    const { digests: again, nonces } = decodeLeaves(round.leaves);
    assert.deepEqual(again, digests);
    const rebuilt = buildRound(again, { time: TIME, hmacKey: KEY, uri: URI, nonces });
    assert.deepEqual(rebuilt.commitment, round.commitment);
    assert.throws(() => decodeLeaves(round.leaves.subarray(0, round.leaves.length - 1)), RangeError);
  });

  it('refuses a URI a pending attestation may not carry', () => {
    assert.throws(() =>
      buildRound([randomBytes(32)], { time: TIME, hmacKey: KEY, uri: 'https://x.org/?a=b' }),
    );
  });
});
