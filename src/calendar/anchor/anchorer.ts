/**
 * The anchoring wallet: every tick it follows the chain, re-sends what is pending, and commits the
 * rounds waiting for an anchor. At most one chain of spends is open: a new anchor spends a confirmed
 * coin (usually the previous anchor's change), and while it is unconfirmed every later version spends
 * the same coin (BIP125 replacement), commits to all waiting rounds, and pays more. Each version is
 * written to the store before it is broadcast, so a restart re-sends it instead of spending again.
 */
import type { Logger } from 'pino';
import {
  type BitcoinRpc,
  buildOpReturnTx,
  type ChainNetwork,
  type Coin,
  feeFor,
  opReturnTxVsize,
  p2wpkhOf,
} from '../../bitcoin/index.js';
import { isLightproofError, LightproofError } from '../../core/errors.js';
import type { ChainView } from '../server.js';
import type { AnchorRecord, CalendarStore } from '../store/types.js';
import { syncChain } from './follower.js';
import { anchorTree } from './proof.js';

export interface AnchorerOptions {
  store: CalendarStore;
  rpc: BitcoinRpc;
  secretKey: Uint8Array;
  network: ChainNetwork;
  /** sat/vB for a new anchor. */
  feeRate: number;
  /** The node's incremental relay fee in sat/vB: each replacement adds at least this × vsize (BIP125 rule 4). */
  relayFeeRate?: number;
  /** No version of an anchor pays more than this. */
  maxFeeSats: bigint;
  /** At least this long between a version and the next one that only adds rounds. */
  anchorIntervalMs: number;
  /** How often the node is asked for new blocks. */
  pollMs: number;
  startHeight?: number;
  log: Logger;
  /** Milliseconds. */
  now?: () => number;
}

export interface AnchorStatus {
  readonly address: string;
  readonly network: ChainNetwork;
  readonly height: number | null;
  readonly balanceSats: string;
  readonly pending: { txid: string; feeSats: string; rounds: number; versions: number } | null;
  readonly lastAnchor: { txid: string; height: number; rounds: number } | null;
  readonly lastError: { code: string; message: string } | null;
}

type Sent = 'sent' | { rejected: string } | 'later';

const RETRY_FACTOR = 1.25;
const MAX_ATTEMPTS = 12;

export class Anchorer implements ChainView {
  readonly address: string;
  private readonly vsize: number;
  private readonly now: () => number;
  private tipHeight: number | null = null;
  private tip: Uint8Array | null = null;
  private lastError: LightproofError | null = null;
  private lastVersionAt = 0;
  private resendAll = true;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private passes: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly o: AnchorerOptions) {
    this.address = p2wpkhOf(o.secretKey, o.network).address;
    this.vsize = opReturnTxVsize(32, o.network);
    this.now = o.now ?? Date.now;
  }

  height(): number | null {
    return this.tipHeight;
  }

  pendingTip(): Uint8Array | null {
    return this.tip;
  }

  start(): void {
    const loop = () => {
      if (this.closed) return;
      this.running = this.tick().finally(() => {
        this.running = null;
        if (!this.closed) this.timer = setTimeout(loop, this.o.pollMs);
      });
    };
    loop();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    this.o.rpc.close();
  }

  /**
   * One pass: follow the chain, re-send, anchor. Errors are logged and kept for status, never thrown.
   * Passes never overlap: a tick asked for while one runs (the timer's and a caller's) waits its turn,
   * so two passes never apply the same block.
   */
  tick(): Promise<void> {
    const next = this.passes.then(() => this.pass());
    this.passes = next;
    return next;
  }

  private async pass(): Promise<void> {
    try {
      const sync = await syncChain({
        store: this.o.store,
        rpc: this.o.rpc,
        script: p2wpkhOf(this.o.secretKey, this.o.network).script,
        log: this.o.log,
        ...(this.o.startHeight === undefined ? {} : { startHeight: this.o.startHeight }),
      });
      this.tipHeight = sync.height;
      const newBlock = sync.newBlocks > 0 || sync.rolledBackTo !== null;
      if (newBlock || this.resendAll) await this.resendPending();
      this.resendAll = false;
      await this.anchor(newBlock, sync.height);
      const [current] = (await this.o.store.anchors(['pending'])).slice(-1);
      this.tip = current?.tip ?? null;
      this.lastError = null;
    } catch (err) {
      const previous = this.lastError?.message;
      this.lastError = isLightproofError(err)
        ? err
        : new LightproofError('LP_CAL_ANCHOR_FAILED', `Anchoring failed: ${(err as Error).message}.`, {
            cause: err,
          });
      // Said once, not once per poll: the same condition (say, an unfunded wallet) lasts for a while.
      if (this.lastError.message !== previous) {
        this.o.log.warn({ code: this.lastError.code, err: this.lastError.message }, 'anchoring pass failed');
      }
    }
  }

  async status(): Promise<AnchorStatus> {
    const coins = await this.o.store.unspent();
    const pending = await this.o.store.anchors(['pending']);
    const current = pending.at(-1);
    const last = await this.o.store.lastConfirmedAnchor();
    return {
      address: this.address,
      network: this.o.network,
      height: this.tipHeight,
      balanceSats: String(coins.reduce((sum, c) => sum + c.sats, 0n)),
      pending: current
        ? {
            txid: current.txid,
            feeSats: String(current.feeSats),
            rounds: current.lastRound - current.firstRound + 1,
            versions: (await this.o.store.anchors(['pending', 'replaced', 'failed'])).filter(
              (a) => a.inputTxid === current.inputTxid && a.inputVout === current.inputVout,
            ).length,
          }
        : null,
      lastAnchor: last
        ? { txid: last.txid, height: last.height!, rounds: last.lastRound - last.firstRound + 1 }
        : null,
      lastError: this.lastError ? { code: this.lastError.code, message: this.lastError.message } : null,
    };
  }

  /** Re-sends the newest version spending each pending input, oldest input first (a chain's parent first). */
  private async resendPending(): Promise<void> {
    const pending = await this.o.store.anchors(['pending']);
    const newest = new Map<string, AnchorRecord>();
    for (const a of pending) newest.set(`${a.inputTxid}:${a.inputVout}`, a);
    for (const a of newest.values()) {
      const sent = await this.broadcast(a);
      if (sent === 'later') return;
    }
  }

  private async anchor(newBlock: boolean, height: number): Promise<void> {
    const last = await this.o.store.lastRoundId();
    const current = (await this.o.store.anchors(['pending'])).at(-1);
    const intervalPassed = this.now() - this.lastVersionAt >= this.o.anchorIntervalMs;
    if (current) {
      // Once per block the fee rises (as otsserver does); between blocks only new rounds justify a version.
      if (newBlock || (last > current.lastRound && intervalPassed)) await this.replace(current, last, height);
      return;
    }
    const through = await this.o.store.anchoredThrough();
    if (last <= through || !intervalPassed) return;
    const coin = await this.pickCoin();
    if (!coin) {
      throw new LightproofError(
        'LP_CAL_UNFUNDED',
        `${last - through} rounds wait for an anchor, but the wallet has no confirmed coin. Send bitcoin to ${this.address}.`,
        { status: 503 },
      );
    }
    const start = feeFor(this.o.feeRate, this.vsize);
    await this.publish(
      coin,
      through + 1,
      last,
      start < this.o.maxFeeSats ? start : this.o.maxFeeSats,
      height,
    );
  }

  private async replace(current: AnchorRecord, last: number, height: number): Promise<void> {
    const coin = { txid: current.inputTxid, vout: current.inputVout, sats: current.inputSats };
    const minimum = current.feeSats + feeFor(this.o.relayFeeRate ?? 1, this.vsize);
    const target = feeFor(this.o.feeRate, this.vsize);
    await this.publish(
      coin,
      current.firstRound,
      Math.max(last, current.lastRound),
      minimum > target ? minimum : target,
      height,
    );
  }

  /** Builds, records and broadcasts one version; on a fee rejection retries with 1.25× the fee, up to the cap. */
  private async publish(coin: Coin, first: number, last: number, fee: bigint, height: number): Promise<void> {
    const commitments = await this.o.store.commitments(first, last);
    const { tip } = anchorTree(commitments.map((c) => c.commitment));
    let refusal = '';
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (fee > this.o.maxFeeSats) {
        throw new LightproofError(
          'LP_CAL_FEE_CAP',
          `The anchor needs a fee above the cap of ${this.o.maxFeeSats} sat; rounds wait until a block confirms the pending version. Raise --max-fee-sats to pay more.`,
          { status: 503 },
        );
      }
      const signed = buildOpReturnTx({
        coin,
        secretKey: this.o.secretKey,
        network: this.o.network,
        data: tip,
        feeSats: fee,
        lockTime: height,
      });
      const record = await this.o.store.addAnchor({
        txid: signed.txid,
        hex: signed.hex,
        inputTxid: coin.txid,
        inputVout: coin.vout,
        inputSats: coin.sats,
        feeSats: fee,
        vsize: signed.vsize,
        firstRound: first,
        lastRound: commitments.at(-1)!.id,
        tip,
        createdAt: Math.floor(this.now() / 1000),
      });
      this.lastVersionAt = this.now();
      const sent = await this.broadcast(record);
      if (typeof sent === 'string') return;
      refusal = sent.rejected;
      fee = BigInt(Math.ceil(Number(fee) * RETRY_FACTOR));
    }
    throw new LightproofError(
      'LP_CAL_BROADCAST_REFUSED',
      `The node refused ${MAX_ATTEMPTS} versions of the anchor, the last with: ${refusal} Check the node's relay policy; the calendar tries again after the anchor interval.`,
      { status: 503 },
    );
  }

  private async broadcast(a: AnchorRecord): Promise<Sent> {
    try {
      await this.o.rpc.sendRawTransaction(a.hex);
    } catch (err) {
      const code = isLightproofError(err, 'LP_BTC_RPC_ERROR')
        ? (err.details?.code as number | undefined)
        : undefined;
      const message = (err as Error).message;
      if (code === -26 && !/already/i.test(message)) {
        this.o.log.info({ txid: a.txid, fee: String(a.feeSats), err: message }, 'anchor version refused');
        await this.o.store.setAnchorState(a.txid, 'failed');
        return {
          rejected: String(err instanceof LightproofError ? (err.details?.message ?? message) : message),
        };
      }
      if (code !== -27 && code !== -26) {
        // Unreachable node, or a parent not in the mempool yet (-25): keep it pending and try again later.
        this.o.log.warn({ txid: a.txid, err: message }, 'could not broadcast the anchor; will retry');
        return 'later';
      }
    }
    for (const other of await this.o.store.anchors(['pending'])) {
      if (other.id !== a.id && other.inputTxid === a.inputTxid && other.inputVout === a.inputVout) {
        await this.o.store.setAnchorState(other.txid, 'replaced');
      }
    }
    this.o.log.info(
      { txid: a.txid, fee: String(a.feeSats), rounds: a.lastRound - a.firstRound + 1 },
      'anchor transaction broadcast',
    );
    return 'sent';
  }

  /** The largest confirmed coin no pending anchor spends. */
  private async pickCoin(): Promise<Coin | null> {
    const busy = new Set(
      (await this.o.store.anchors(['pending'])).map((a) => `${a.inputTxid}:${a.inputVout}`),
    );
    let best: Coin | null = null;
    for (const u of await this.o.store.unspent()) {
      if (busy.has(`${u.txid}:${u.vout}`)) continue;
      if (!best || u.sats > best.sats) best = { txid: u.txid, vout: u.vout, sats: u.sats };
    }
    return best;
  }
}
