/**
 * The wallet follows the chain itself, block by block over JSON-RPC: coins paying its script, spends
 * of those coins, and its anchor transactions being mined (which is when round proofs are built). A
 * block that leaves the main chain is rolled back with everything it did, so its anchors turn pending.
 */
import { hexToBytes } from '@noble/hashes/utils.js';
import type { Logger } from 'pino';
import { type BitcoinRpc, displayHex, type ParsedBlock, parseBlock } from '../../bitcoin/index.js';
import { LightproofError } from '../../core/errors.js';
import type { BlockUpdate, CalendarStore } from '../store/types.js';
import { buildAnchorProofs } from './proof.js';

export interface FollowerOptions {
  store: CalendarStore;
  rpc: BitcoinRpc;
  /** The wallet's P2WPKH output script. */
  script: Uint8Array;
  /** Where a new wallet starts scanning; the node's tip when absent. Kept in the store after the first run. */
  startHeight?: number;
  /** Blocks processed per call at most, so one call never runs for long. */
  maxBlocks?: number;
  log: Logger;
}

export interface SyncResult {
  readonly height: number;
  readonly hash: string;
  readonly newBlocks: number;
  /** The height rolled back to when a reorg was found. */
  readonly rolledBackTo: number | null;
}

const BIRTHDAY = 'wallet.birthday';

export async function syncChain(o: FollowerOptions): Promise<SyncResult> {
  const count = await o.rpc.getBlockCount();
  const { next, prevHash, rolledBackTo } = await findFork(o, count);
  let height = next - 1;
  let hash = prevHash;
  let newBlocks = 0;
  for (let h = next; h <= count && newBlocks < (o.maxBlocks ?? 100); h++) {
    const blockHash = await o.rpc.getBlockHash(h);
    const block = parseBlock(hexToBytes(await o.rpc.getRawBlockHex(blockHash)));
    if (block.hash !== blockHash) {
      throw new LightproofError(
        'LP_BTC_RPC_BAD_REPLY',
        `The node answered getblock ${blockHash} with block ${block.hash}. Check that the RPC URL points at one node.`,
        { status: 502 },
      );
    }
    // The chain moved while we read it; the next call finds the fork and rolls back.
    if (hash !== null && block.prevHash !== hash) break;
    await o.store.applyBlock(await scanBlock(o, block, h));
    height = h;
    hash = blockHash;
    newBlocks++;
  }
  return { height, hash: hash ?? '', newBlocks, rolledBackTo };
}

/** The first height to process, walking back from our tip while the node's chain disagrees with it. */
async function findFork(
  o: FollowerOptions,
  count: number,
): Promise<{ next: number; prevHash: string | null; rolledBackTo: number | null }> {
  const tip = await o.store.tipBlock();
  if (!tip) {
    let birthday = Number(await o.store.getMeta(BIRTHDAY));
    if (!Number.isSafeInteger(birthday) || birthday < 0) {
      birthday = o.startHeight ?? count;
      await o.store.setMeta(BIRTHDAY, String(birthday));
    }
    return { next: birthday, prevHash: null, rolledBackTo: null };
  }
  let h = tip.height;
  let stored: string | null = tip.hash;
  while (stored !== null && (h > count || (await o.rpc.getBlockHash(h)) !== stored)) {
    h--;
    stored = await o.store.blockHash(h);
  }
  if (h === tip.height) return { next: h + 1, prevHash: tip.hash, rolledBackTo: null };
  o.log.warn({ from: tip.height, to: h }, 'blocks left the main chain; rolling back their anchors');
  await o.store.rollbackTo(h);
  return { next: h + 1, prevHash: stored, rolledBackTo: h };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function scanBlock(o: FollowerOptions, block: ParsedBlock, height: number): Promise<BlockUpdate> {
  const coins = new Set((await o.store.unspent()).map((u) => `${u.txid}:${u.vout}`));
  const anchors = new Map((await o.store.openAnchors()).map((a) => [a.txid, a]));
  const received: BlockUpdate['received'][number][] = [];
  const spent: BlockUpdate['spent'][number][] = [];
  const confirmed: BlockUpdate['confirmed'][number][] = [];
  for (const [txIndex, tx] of block.txs.entries()) {
    const txid = displayHex(tx.txid);
    for (const input of tx.inputs) {
      if (coins.delete(`${input.txid}:${input.vout}`)) spent.push({ ...input, spentBy: txid });
    }
    for (const [vout, out] of tx.outputs.entries()) {
      if (!sameBytes(out.script, o.script)) continue;
      received.push({ txid, vout, sats: out.sats });
      coins.add(`${txid}:${vout}`);
    }
    const anchor = anchors.get(txid);
    if (anchor) {
      const commitments = await o.store.commitments(anchor.firstRound, anchor.lastRound);
      confirmed.push({ txid, proofs: buildAnchorProofs({ commitments, block, height, txIndex }) });
      o.log.info({ txid, height, rounds: commitments.length }, 'anchor transaction confirmed');
    }
  }
  return { height, hash: block.hash, received, spent, confirmed };
}
