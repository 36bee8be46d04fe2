/**
 * The harness's own coins. btcd mines every block to a key held here, so the harness can pay any
 * address by signing a transaction that spends a mature coinbase: no wallet in btcd, no restarts.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { p2wpkh, Transaction } from '@scure/btc-signer';
import { LightproofError } from '../core/index.js';
import type { BtcdRpc } from './btcd.js';

const REGTEST = { bech32: 'bcrt', pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef } as const;

/** Consensus rule: a coinbase may be spent only 100 blocks after the block that created it. */
export const COINBASE_MATURITY = 100;

/** Generous for a one-input transaction with a few dozen outputs; regtest relays anything above 1 sat/vB. */
const FEE_SATS = 20_000n;
const DUST_SATS = 1_000n;

export interface Payout {
  address: string;
  sats: bigint;
}

export interface Faucet {
  /** The bcrt1q… address btcd mines to (--miningaddr). */
  readonly address: string;
  /** Pays every output from one mature coinbase and broadcasts; resolves to the txid. */
  pay(rpc: BtcdRpc, payouts: readonly Payout[]): Promise<string>;
}

export function createFaucet(): Faucet {
  const key = secp256k1.utils.randomSecretKey();
  const payment = p2wpkh(secp256k1.getPublicKey(key, true), REGTEST);
  // p2wpkh always yields an address when given a network.
  const address = payment.address!;
  const ourScript = bytesToHex(payment.script);
  // Coinbases of lower heights have been spent already (or were not ours).
  let nextHeight = 1;

  async function takeCoinbase(rpc: BtcdRpc): Promise<{ txid: string; sats: bigint }> {
    const tip = await rpc('getblockcount');
    if (typeof tip !== 'number') throw new LightproofError('LP_REGTEST_BTCD_RPC', 'btcd sent a bad height.');
    while (nextHeight <= tip - COINBASE_MATURITY + 1) {
      const height = nextHeight++;
      const hash = await rpc('getblockhash', [height]);
      const block = (await rpc('getblock', [hash])) as { tx?: unknown };
      const txid = Array.isArray(block.tx) ? block.tx[0] : undefined;
      if (typeof txid !== 'string') continue;
      const tx = (await rpc('getrawtransaction', [txid, 1])) as {
        vout?: { value?: unknown; n?: unknown; scriptPubKey?: { hex?: unknown } }[];
      };
      const out = tx.vout?.[0];
      if (out?.scriptPubKey?.hex !== ourScript || typeof out.value !== 'number') continue;
      return { txid, sats: BigInt(Math.round(out.value * 1e8)) };
    }
    throw new LightproofError(
      'LP_REGTEST_FAUCET_EMPTY',
      `No mature coinbase is left to spend (tip ${tip}). Mine more blocks (each pays the harness after ${COINBASE_MATURITY} more) and retry.`,
    );
  }

  return {
    address,
    async pay(rpc, payouts) {
      const coin = await takeCoinbase(rpc);
      const total = payouts.reduce((sum, p) => sum + p.sats, 0n);
      const change = coin.sats - total - FEE_SATS;
      if (change < 0n) {
        throw new LightproofError(
          'LP_REGTEST_FAUCET_EMPTY',
          `A coinbase holds ${coin.sats} sat but the payouts need ${total + FEE_SATS}. Pay less per call.`,
        );
      }
      const tx = new Transaction();
      tx.addInput({ txid: coin.txid, index: 0, witnessUtxo: { script: payment.script, amount: coin.sats } });
      for (const p of payouts) tx.addOutputAddress(p.address, p.sats, REGTEST);
      if (change > DUST_SATS) tx.addOutputAddress(address, change, REGTEST);
      tx.sign(key);
      tx.finalize();
      const txid = await rpc('sendrawtransaction', [tx.hex]);
      if (typeof txid !== 'string') throw new LightproofError('LP_REGTEST_BTCD_RPC', 'btcd gave no txid.');
      return txid;
    },
  };
}
