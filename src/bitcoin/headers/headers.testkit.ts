/** Real and home-mined block headers for tests: a few mainnet headers, and regtest chains mined on the spot. */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { checkProofOfWork, HEADER_BYTES, sha256d } from '../header.js';

/** Mainnet blocks 0, 1 and 2, as 80-byte headers in hex. */
export const MAINNET_HEADERS = [
  '0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c',
  '010000006fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000982051fd1e4ba744bbbe680e1fee14677ba1a3c3540bf7b1cdb606e857233e0e61bc6649ffff001d01e36299',
  '010000004860eb18bf1b1620e37e9490fc8a427514416fd75159ab86688e9a8300000000d5fdcc541e25de1c7a5addedf24858b8bb665c9f36ef744ee42c316022c90f9bb0bc6649ffff001d08d2bd61',
] as const;

export const REGTEST_GENESIS =
  '0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4adae5494dffff7f2002000000';

export interface HeaderFields {
  /** Internal order (sha256d output of the previous header). */
  prev: Uint8Array;
  /** Internal order. */
  merkleRoot: Uint8Array;
  time?: number;
  bits?: number;
}

/** Builds a header and tries nonces until it meets its bits; regtest's 207fffff takes about two tries. */
export function mineHeader(fields: HeaderFields): Uint8Array {
  const raw = new Uint8Array(HEADER_BYTES);
  const view = new DataView(raw.buffer);
  view.setInt32(0, 0x20000000, true);
  raw.set(fields.prev, 4);
  raw.set(fields.merkleRoot, 36);
  view.setUint32(68, fields.time ?? 1_700_000_000, true);
  view.setUint32(72, fields.bits ?? 0x207fffff, true);
  for (let nonce = 0; nonce < 1_000_000; nonce++) {
    view.setUint32(76, nonce, true);
    if (checkProofOfWork(raw)) return raw;
  }
  throw new Error('no nonce found; use easier bits');
}

/** Mines a header whose hash misses its target (for PoW failure tests). */
export function unminedHeader(fields: HeaderFields): Uint8Array {
  const raw = mineHeader(fields);
  const view = new DataView(raw.buffer);
  for (let nonce = 0; ; nonce++) {
    view.setUint32(76, nonce, true);
    if (!checkProofOfWork(raw)) return raw;
  }
}

/** A regtest chain from genesis: `length` headers, header i with merkle root `rootOf(i)`. */
export function regtestChain(length: number, rootOf: (height: number) => Uint8Array = rootFor): Uint8Array[] {
  const chain: Uint8Array[] = [hexToBytes(REGTEST_GENESIS)];
  for (let h = 1; h < length; h++) {
    const prev = chain[h - 1] as Uint8Array;
    chain.push(mineHeader({ prev: sha256d(prev), merkleRoot: rootOf(h), time: 1_700_000_000 + h * 600 }));
  }
  return chain;
}

/** A distinct merkle root per height. */
export function rootFor(height: number): Uint8Array {
  return sha256d(new TextEncoder().encode(`block ${height}`));
}

export function hexLines(headers: readonly Uint8Array[]): string {
  return `${headers.map((h) => bytesToHex(h)).join('\n')}\n`;
}
