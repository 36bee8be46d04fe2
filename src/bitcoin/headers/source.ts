/**
 * Where verification gets block headers from, and the checks every header passes before anyone
 * compares a merkle root with it: 80 bytes, proof of work for its own bits, bits no easier than the
 * network allows, and (where the source names it) the hash the source claimed.
 */
import { LightproofError } from '../../core/errors.js';
import {
  type BitcoinNetwork,
  type BlockHeader,
  NETWORKS,
  networkOfGenesis,
  parseBlockHeader,
  targetFromBits,
} from '../header.js';

export interface VerifiedHeader extends BlockHeader {
  /** The height the source puts this header at; undefined when it cannot tell (a bare line in a headers file). */
  readonly height: number | undefined;
}

export interface HeaderSource {
  /** Says where headers come from, for reports: "bitcoind at http://…", "esplora https://…", "headers file …". */
  readonly name: string;
  readonly network: BitcoinNetwork;
  /** The checked header at `height`; LP_BTC_HEADER_NOT_FOUND when the source has none there. */
  headerAt(height: number): Promise<VerifiedHeader>;
  /** A checked header whose merkle root (internal order) is `root`, for sources that hold headers without heights. */
  headerWithMerkleRoot?(root: Uint8Array): Promise<VerifiedHeader | undefined>;
  close?(): void;
}

export interface HeaderCheck {
  network: BitcoinNetwork;
  /** The display-order hash the source said this header has. */
  claimedHash?: string;
  height: number | undefined;
  /** Where the header came from, for messages: "esplora https://… at height 5", "line 7 of headers.txt". */
  where: string;
}

/** Parses and checks one header; throws a typed error naming `where` when the header cannot be trusted. */
export function checkHeader(raw: Uint8Array | BlockHeader, check: HeaderCheck): VerifiedHeader {
  const header = raw instanceof Uint8Array ? parseBlockHeader(raw) : raw;
  const details = { where: check.where, height: check.height, hash: header.hash };
  if (check.claimedHash !== undefined && check.claimedHash.toLowerCase() !== header.hash) {
    throw new LightproofError(
      'LP_BTC_HEADER_HASH_MISMATCH',
      `The header from ${check.where} hashes to ${header.hash}, not to ${check.claimedHash.toLowerCase()} as the source claimed. The source is lying or broken; use another header source.`,
      { status: 502, details: { ...details, claimedHash: check.claimedHash } },
    );
  }
  // Named before the proof-of-work checks, which would refuse regtest's genesis under mainnet's limit less clearly.
  const foreign = networkOfGenesis(header.hash);
  if (foreign !== undefined && foreign !== check.network)
    throw wrongNetwork(check.where, check.network, foreign);
  let target: bigint;
  try {
    target = targetFromBits(header.bits);
  } catch (err) {
    if (err instanceof LightproofError) {
      throw new LightproofError(err.code, `${err.message} (header from ${check.where})`, {
        status: 502,
        details: { ...details, ...err.details },
      });
    }
    throw err;
  }
  if (target > NETWORKS[check.network].powLimit) {
    throw new LightproofError(
      'LP_BTC_HEADER_POW_LIMIT',
      `The header from ${check.where} claims a difficulty (bits ${hexBits(header.bits)}) easier than ${check.network} allows, which only a forged or test-network block has. Use a ${check.network} source, or pass the network the header belongs to (e.g. regtest).`,
      { status: 502, details: { ...details, bits: hexBits(header.bits), network: check.network } },
    );
  }
  if (BigInt(`0x${header.hash}`) > target) {
    throw new LightproofError(
      'LP_BTC_HEADER_BAD_POW',
      `The header from ${check.where} does not meet the proof of work its own bits ask for, so no miner made it. The source is lying or the header is damaged; use another source.`,
      { status: 502, details: { ...details, bits: hexBits(header.bits) } },
    );
  }
  return { ...header, height: check.height };
}

function hexBits(bits: number): string {
  return bits.toString(16).padStart(8, '0');
}

export function wrongNetwork(
  where: string,
  expected: BitcoinNetwork,
  found: BitcoinNetwork,
): LightproofError {
  return new LightproofError(
    'LP_BTC_WRONG_NETWORK',
    `${where} serves the ${found} chain, but ${expected} headers were asked for. Point at a ${expected} source, or pass network ${found}.`,
    { details: { where, expected, found } },
  );
}

export function requireHeight(height: number): number {
  if (!Number.isSafeInteger(height) || height < 0) {
    throw new LightproofError(
      'LP_BTC_BAD_HEIGHT',
      `Block height ${height} is not a whole number ≥ 0. Pass a block height such as 358391.`,
    );
  }
  return height;
}

export function headerNotFound(where: string, height: number, why: string): LightproofError {
  return new LightproofError(
    'LP_BTC_HEADER_NOT_FOUND',
    `${where} has no block at height ${height} (${why}). Wait until the node has synced past it, or use a source that has it.`,
    { status: 404, details: { where, height } },
  );
}

/**
 * Remembers checked headers by height (a bounded map, oldest dropped first) and shares one request
 * between concurrent callers; a failed lookup is forgotten so the next call asks again.
 */
export function cachedByHeight(
  size: number,
  fetch: (height: number) => Promise<VerifiedHeader>,
): (height: number) => Promise<VerifiedHeader> {
  const cache = new Map<number, Promise<VerifiedHeader>>();
  return (height) => {
    const hit = cache.get(height);
    if (hit) return hit;
    const pending = fetch(height);
    if (size > 0) {
      cache.set(height, pending);
      if (cache.size > size) cache.delete(cache.keys().next().value as number);
      pending.catch(() => {
        if (cache.get(height) === pending) cache.delete(height);
      });
    }
    return pending;
  };
}

/**
 * Runs `probe` (which fetches the genesis hash) once per source before the first header is served,
 * so a node or explorer on another network is named as such instead of failing every proof later.
 */
export function genesisGuard(
  where: string,
  network: BitcoinNetwork,
  probe: () => Promise<string>,
): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= probe().then(
      (hash) => {
        const found = networkOfGenesis(hash.toLowerCase());
        if (found !== network) {
          throw found === undefined
            ? new LightproofError(
                'LP_BTC_WRONG_NETWORK',
                `${where} has genesis block ${hash}, which is not ${network}'s. Point at a ${network} source.`,
                { details: { where, expected: network, genesis: hash } },
              )
            : wrongNetwork(where, network, found);
        }
      },
      (err: unknown) => {
        done = undefined;
        throw err;
      },
    );
    return done;
  };
}
