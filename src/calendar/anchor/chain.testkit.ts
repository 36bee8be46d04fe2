/**
 * A pretend Bitcoin node for anchoring tests: real serialized blocks and transactions (so parsing,
 * txids and merkle paths are the real ones), a mempool with BIP125 replacement rules, and reorgs on
 * demand. Scripts and proof of work are not checked; btcd does that in test/regtest.
 */
import { randomBytes } from 'node:crypto';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import {
  type BitcoinRpc,
  computeMerkleRoot,
  displayHex,
  type ParsedTx,
  parseTx,
  sha256d,
} from '../../bitcoin/index.js';
import { LightproofError } from '../../core/errors.js';

interface Block {
  hash: string;
  raw: Uint8Array;
  txs: ParsedTx[];
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

function u64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
}

function cat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

/** A legacy transaction spending `inputs` (no signatures) into `outputs`. */
export function rawTx(
  inputs: { txid: string; vout: number }[],
  outputs: { script: Uint8Array; sats: bigint }[],
): Uint8Array {
  return cat(
    u32(2),
    Uint8Array.of(inputs.length),
    ...inputs.map((i) => cat(hexToBytes(i.txid).reverse(), u32(i.vout), Uint8Array.of(0), u32(0xffffffff))),
    Uint8Array.of(outputs.length),
    ...outputs.map((o) => cat(u64(o.sats), Uint8Array.of(o.script.length), o.script)),
    u32(0),
  );
}

function rpcError(code: number, message: string): LightproofError {
  return new LightproofError('LP_BTC_RPC_ERROR', `The Bitcoin node refused: ${message} (code ${code}).`, {
    status: 502,
    details: { code, message },
  });
}

export class FakeChain implements BitcoinRpc {
  readonly url = 'fake://node';
  readonly blocks: Block[] = [];
  /** txid → parsed tx, in arrival order. */
  readonly mempool = new Map<string, ParsedTx>();
  /** Every output ever seen, for fees. */
  private readonly outputs = new Map<string, bigint>();
  /** sat per 1000 vbytes, as btcd's --minrelaytxfee. */
  minRelayPerKvb = 1000n;
  broadcasts: string[] = [];

  constructor() {
    this.mineBlock([]);
  }

  private record(tx: ParsedTx): void {
    const txid = displayHex(tx.txid);
    for (const [vout, o] of tx.outputs.entries()) this.outputs.set(`${txid}:${vout}`, o.sats);
  }

  private spentInChain(): Set<string> {
    return new Set(
      this.blocks.flatMap((b) => b.txs.flatMap((t) => t.inputs.map((i) => `${i.txid}:${i.vout}`))),
    );
  }

  private fee(tx: ParsedTx): bigint {
    const ins = tx.inputs.reduce((s, i) => s + (this.outputs.get(`${i.txid}:${i.vout}`) ?? 0n), 0n);
    return ins - tx.outputs.reduce((s, o) => s + o.sats, 0n);
  }

  /** Appends a block of a coinbase plus `txs`; returns its hash. */
  private mineBlock(txs: ParsedTx[]): string {
    const height = this.blocks.length;
    const coinbase = parseTx(
      rawTx(
        [{ txid: '00'.repeat(32), vout: height }],
        [{ script: Uint8Array.of(0x51), sats: 5_000_000_000n }],
      ),
    );
    const all = [coinbase, ...txs];
    const prev = this.blocks.at(-1);
    const header = cat(
      u32(0x20000000),
      prev ? hexToBytes(prev.hash).reverse() : new Uint8Array(32),
      computeMerkleRoot(all.map((t) => t.txid)),
      u32(1_700_000_000 + height * 600),
      u32(0x207fffff),
      new Uint8Array(randomBytes(4)),
    );
    const raw = cat(header, Uint8Array.of(all.length), ...all.map((t) => t.stripped));
    const hash = displayHex(sha256d(header));
    for (const t of all) this.record(t);
    this.blocks.push({ hash, raw, txs: all });
    return hash;
  }

  /** Mines n blocks; the first takes the mempool unless `include` is false. */
  mine(n = 1, include = true): void {
    for (let i = 0; i < n; i++) {
      const txs = include && i === 0 ? [...this.mempool.values()] : [];
      if (include && i === 0) this.mempool.clear();
      this.mineBlock(txs);
    }
  }

  /** Confirms a payment of `sats` to `script` at once, with `filler` unrelated transactions around it. */
  fund(script: Uint8Array, sats: bigint, filler = 3): string {
    const junk = () =>
      parseTx(
        rawTx([{ txid: bytesToHex(randomBytes(32)), vout: 0 }], [{ script: Uint8Array.of(0x51), sats: 1n }]),
      );
    const pay = parseTx(rawTx([{ txid: bytesToHex(randomBytes(32)), vout: 1 }], [{ script, sats }]));
    this.mineBlock([...Array.from({ length: filler }, junk), pay]);
    return displayHex(pay.txid);
  }

  /** Drops the top `depth` blocks (their transactions go back to the mempool unless `drop`), then mines depth + 1 empty blocks. */
  reorg(depth: number, drop = false): void {
    const gone = this.blocks.splice(this.blocks.length - depth, depth);
    if (!drop) for (const b of gone) for (const t of b.txs.slice(1)) this.mempool.set(displayHex(t.txid), t);
    this.mine(depth + 1, false);
  }

  /** The mempool's transactions that spend `outpoint`. */
  spenders(outpoint: string): string[] {
    return [...this.mempool.entries()]
      .filter(([, t]) => t.inputs.some((i) => `${i.txid}:${i.vout}` === outpoint))
      .map(([id]) => id);
  }

  async call<T>(method: string): Promise<T> {
    throw new Error(`FakeChain does not implement ${method}`);
  }

  async getBlockCount(): Promise<number> {
    return this.blocks.length - 1;
  }

  async getBlockHash(height: number): Promise<string> {
    const b = this.blocks[height];
    if (!b) throw rpcError(-8, 'Block height out of range');
    return b.hash;
  }

  async getBlockHeaderHex(hash: string): Promise<string> {
    return (await this.getRawBlockHex(hash)).slice(0, 160);
  }

  async getRawBlockHex(hash: string): Promise<string> {
    const b = this.blocks.find((x) => x.hash === hash);
    if (!b) throw rpcError(-5, 'Block not found');
    return bytesToHex(b.raw);
  }

  async getRawTransactionHex(txid: string): Promise<string> {
    throw rpcError(-5, `No such transaction ${txid}`);
  }

  async sendRawTransaction(hex: string): Promise<string> {
    const tx = parseTx(hexToBytes(hex));
    const txid = displayHex(tx.txid);
    this.broadcasts.push(txid);
    if (this.mempool.has(txid) || this.blocks.some((b) => b.txs.some((t) => displayHex(t.txid) === txid))) {
      throw rpcError(-27, 'transaction already exists');
    }
    const spent = this.spentInChain();
    for (const i of tx.inputs) {
      const key = `${i.txid}:${i.vout}`;
      if (!this.outputs.has(key) || spent.has(key)) throw rpcError(-25, `orphan transaction: missing ${key}`);
    }
    const vsize = BigInt(
      Math.ceil(hexToBytes(hex).length - (hexToBytes(hex).length - tx.stripped.length) * 0.75),
    );
    const fee = this.fee(tx);
    const minFee = (vsize * this.minRelayPerKvb) / 1000n;
    if (fee < minFee) throw rpcError(-26, `min relay fee not met, ${fee} < ${minFee}`);
    const conflicts = tx.inputs.flatMap((i) => this.spenders(`${i.txid}:${i.vout}`));
    const conflictFees = conflicts.reduce((s, id) => s + this.fee(this.mempool.get(id)!), 0n);
    if (conflicts.length > 0 && fee < conflictFees + minFee) {
      throw rpcError(
        -26,
        `replacement transaction has an insufficient absolute fee: needs ${conflictFees + minFee}, has ${fee}`,
      );
    }
    for (const id of conflicts) this.mempool.delete(id);
    this.record(tx);
    this.mempool.set(txid, tx);
    return txid;
  }

  close(): void {}
}
