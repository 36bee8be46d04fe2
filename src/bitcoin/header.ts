/**
 * Bitcoin's 80-byte block header: its fields, its hash (sha256d), and the proof-of-work rule that
 * the hash read as a little-endian number is at most the target its `bits` encode.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { LightproofError } from '../core/errors.js';

export const HEADER_BYTES = 80;

export interface BlockHeader {
  readonly version: number;
  /** The previous block's hash, display order (as explorers show it). */
  readonly prevHash: string;
  /** Internal byte order: the raw bytes 36..68, which is what an OpenTimestamps path ends in. */
  readonly merkleRoot: Uint8Array;
  /** Unix seconds, as the miner wrote it. */
  readonly time: number;
  readonly bits: number;
  readonly nonce: number;
  /** This block's hash, display order. */
  readonly hash: string;
  readonly raw: Uint8Array;
}

export type BitcoinNetwork = 'mainnet' | 'testnet' | 'testnet4' | 'signet' | 'regtest';

export interface NetworkParams {
  readonly genesisHash: string;
  /** The easiest target a header may claim (Bitcoin Core's powLimit). */
  readonly powLimit: bigint;
  /**
   * Whether every header's bits follow from the chain before it by the plain 2016-block retarget.
   * Only mainnet: the testnets let any block fall to minimum difficulty, regtest never retargets, and
   * signet is left unchecked rather than risk differing from Core's 256-bit arithmetic near its limit.
   */
  readonly retargets: boolean;
}

const MAIN_POW_LIMIT = (1n << 224n) - 1n;

export const NETWORKS: Readonly<Record<BitcoinNetwork, NetworkParams>> = {
  mainnet: {
    genesisHash: '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
    powLimit: MAIN_POW_LIMIT,
    retargets: true,
  },
  testnet: {
    genesisHash: '000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943',
    powLimit: MAIN_POW_LIMIT,
    retargets: false,
  },
  testnet4: {
    genesisHash: '00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043',
    powLimit: MAIN_POW_LIMIT,
    retargets: false,
  },
  signet: {
    genesisHash: '00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6',
    powLimit: BigInt(`0x00000377ae${'0'.repeat(54)}`),
    retargets: false,
  },
  regtest: {
    genesisHash: '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206',
    powLimit: (1n << 255n) - 1n,
    retargets: false,
  },
};

export function isBitcoinNetwork(name: string): name is BitcoinNetwork {
  return Object.hasOwn(NETWORKS, name);
}

const BY_GENESIS = new Map(
  (Object.keys(NETWORKS) as BitcoinNetwork[]).map((name) => [NETWORKS[name].genesisHash, name]),
);

/** The network whose genesis block has this hash (display hex), if any. */
export function networkOfGenesis(hash: string): BitcoinNetwork | undefined {
  return BY_GENESIS.get(hash);
}

export function sha256d(bytes: Uint8Array): Uint8Array {
  return sha256(sha256(bytes));
}

function reversedHex(bytes: Uint8Array): string {
  return bytesToHex(Uint8Array.from(bytes).reverse());
}

function requireHeaderBytes(bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== HEADER_BYTES) {
    throw new LightproofError(
      'LP_BTC_HEADER_LENGTH',
      `A block header is exactly 80 bytes; got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}. Pass the raw header (getblockheader <hash> false), not the block or its JSON.`,
    );
  }
}

/** The block hash in display order (the reverse of sha256d's output). */
export function blockHash(header: Uint8Array): string {
  requireHeaderBytes(header);
  return reversedHex(sha256d(header));
}

export function parseBlockHeader(bytes: Uint8Array): BlockHeader {
  requireHeaderBytes(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const raw = Uint8Array.from(bytes);
  return {
    version: view.getInt32(0, true),
    prevHash: reversedHex(bytes.subarray(4, 36)),
    merkleRoot: raw.slice(36, 68),
    time: view.getUint32(68, true),
    bits: view.getUint32(72, true),
    nonce: view.getUint32(76, true),
    hash: reversedHex(sha256d(bytes)),
    raw,
  };
}

/**
 * Decodes compact `bits` into the 256-bit target as Bitcoin Core's SetCompact does, and refuses what
 * CheckProofOfWork refuses: a set sign bit, a value past 256 bits, and zero.
 */
export function targetFromBits(bits: number): bigint {
  if (!Number.isInteger(bits) || bits < 0 || bits > 0xffffffff) throw badBits(bits, 'is not a 32-bit value');
  const size = bits >>> 24;
  const word = bits & 0x007fffff;
  if (word !== 0 && (bits & 0x00800000) !== 0) throw badBits(bits, 'has the sign bit set');
  if (word !== 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32))) {
    throw badBits(bits, 'overflows 256 bits');
  }
  const target = size <= 3 ? BigInt(word >>> (8 * (3 - size))) : BigInt(word) << BigInt(8 * (size - 3));
  if (target === 0n) throw badBits(bits, 'encodes a zero target');
  return target;
}

function badBits(bits: number, why: string): LightproofError {
  const hex = Number.isInteger(bits) && bits >= 0 ? bits.toString(16).padStart(8, '0') : String(bits);
  return new LightproofError(
    'LP_BTC_HEADER_BAD_BITS',
    `The header's difficulty bits ${hex} ${why}, so no block can have them. The header is forged or damaged; get it from another source.`,
    { details: { bits: hex } },
  );
}

/**
 * True when the header's hash meets the target in its own bits and, with `powLimit`, that target is
 * no easier than the network allows. False for bits that encode no valid target.
 */
export function checkProofOfWork(header: Uint8Array | BlockHeader, powLimit?: bigint): boolean {
  const parsed = header instanceof Uint8Array ? parseBlockHeader(header) : header;
  let target: bigint;
  try {
    target = targetFromBits(parsed.bits);
  } catch {
    return false;
  }
  if (powLimit !== undefined && target > powLimit) return false;
  return BigInt(`0x${parsed.hash}`) <= target;
}

/** Difficulty changes every 2016 blocks, aiming at two weeks per period. */
export const RETARGET_INTERVAL = 2016;
const TARGET_TIMESPAN = 14 * 24 * 60 * 60;

/** The compact form of a target (Bitcoin Core's GetCompact), the inverse of targetFromBits. */
export function compactFromTarget(target: bigint): number {
  if (target <= 0n) return 0;
  let size = Math.ceil(target.toString(2).length / 8);
  let compact = Number(size <= 3 ? target << BigInt(8 * (3 - size)) : target >> BigInt(8 * (size - 3)));
  // The mantissa's top bit is a sign bit, so a target that would set it moves up one byte.
  if (compact & 0x00800000) {
    compact >>>= 8;
    size += 1;
  }
  return (compact | (size << 24)) >>> 0;
}

/**
 * The bits of the first block of a period (Bitcoin Core's CalculateNextWorkRequired): the last
 * period's target scaled by how long it took, from the time of its first block (height h-2016) to its
 * last (h-1), clamped to a factor of four either way and never easier than powLimit.
 */
export function retargetBits(
  lastBits: number,
  firstTime: number,
  lastTime: number,
  powLimit: bigint,
): number {
  const span = Math.min(Math.max(lastTime - firstTime, TARGET_TIMESPAN / 4), TARGET_TIMESPAN * 4);
  const target = (targetFromBits(lastBits) * BigInt(span)) / BigInt(TARGET_TIMESPAN);
  return compactFromTarget(target > powLimit ? powLimit : target);
}
