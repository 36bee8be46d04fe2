/**
 * The one transaction shape an OpenTimestamps calendar needs: spend one P2WPKH coin into
 * `[change P2WPKH, OP_RETURN <data>]`, replaceable (BIP125) and locked to the current height, signed
 * with @scure/btc-signer.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { NETWORK, p2wpkh, Script, TEST_NETWORK, Transaction } from '@scure/btc-signer';
import { LightproofError } from '../core/errors.js';

export type ChainNetwork = 'mainnet' | 'testnet' | 'signet' | 'regtest';

const ADDRESS_PARAMS: Record<ChainNetwork, typeof NETWORK> = {
  mainnet: NETWORK,
  testnet: TEST_NETWORK,
  signet: TEST_NETWORK,
  regtest: { ...TEST_NETWORK, bech32: 'bcrt' },
};

/** Signals BIP125 replaceability, and lets nLockTime take effect. */
export const RBF_SEQUENCE = 0xfffffffd;
/** A P2WPKH output worth less than this is dust to Bitcoin Core's relay policy (at 3 sat/vB). */
export const P2WPKH_DUST_SATS = 294n;
/** Bitcoin Core relays OP_RETURN outputs of up to 80 data bytes by default. */
export const MAX_OP_RETURN_BYTES = 80;

export interface P2wpkhKey {
  readonly script: Uint8Array;
  readonly address: string;
  readonly publicKey: Uint8Array;
}

/** The P2WPKH script and address of a 32-byte secret key. */
export function p2wpkhOf(secretKey: Uint8Array, network: ChainNetwork): P2wpkhKey {
  const publicKey = secp256k1.getPublicKey(secretKey, true);
  const pay = p2wpkh(publicKey, ADDRESS_PARAMS[network]);
  if (!pay.address) throw new Error('p2wpkh gave no address');
  return { script: pay.script, address: pay.address, publicKey };
}

export interface Coin {
  /** Display order. */
  readonly txid: string;
  readonly vout: number;
  readonly sats: bigint;
}

export interface OpReturnTxRequest {
  readonly coin: Coin;
  readonly secretKey: Uint8Array;
  readonly network: ChainNetwork;
  /** 1..80 bytes carried by the OP_RETURN output. */
  readonly data: Uint8Array;
  readonly feeSats: bigint;
  /** nLockTime: the current height, so the tx cannot be mined in an earlier block than planned. */
  readonly lockTime: number;
}

export interface SignedTx {
  readonly hex: string;
  /** Display order. */
  readonly txid: string;
  readonly vsize: number;
  readonly feeSats: bigint;
  readonly changeSats: bigint;
  /** The serialization without witness: what the txid (and an OTS path) commits to. */
  readonly stripped: Uint8Array;
}

/** Builds and signs `[change, OP_RETURN data]`; refuses when the change would be dust. */
export function buildOpReturnTx(req: OpReturnTxRequest): SignedTx {
  if (req.data.length < 1 || req.data.length > MAX_OP_RETURN_BYTES) {
    throw new LightproofError(
      'LP_BTC_BAD_OP_RETURN',
      `OP_RETURN data must be 1..${MAX_OP_RETURN_BYTES} bytes, not ${req.data.length}; nodes do not relay larger ones.`,
    );
  }
  const own = p2wpkhOf(req.secretKey, req.network);
  const changeSats = req.coin.sats - req.feeSats;
  if (req.feeSats < 0n || changeSats < P2WPKH_DUST_SATS) {
    throw new LightproofError(
      'LP_BTC_FUNDS_LOW',
      `The coin ${req.coin.txid}:${req.coin.vout} holds ${req.coin.sats} sat; after a fee of ${req.feeSats} sat the change would be below ${P2WPKH_DUST_SATS} sat. Send more coins to ${own.address}.`,
      {
        status: 503,
        details: { address: own.address, coinSats: String(req.coin.sats), feeSats: String(req.feeSats) },
      },
    );
  }
  const tx = new Transaction({ lockTime: req.lockTime, allowUnknownOutputs: true, lowR: true });
  tx.addInput({
    txid: req.coin.txid,
    index: req.coin.vout,
    sequence: RBF_SEQUENCE,
    witnessUtxo: { script: own.script, amount: req.coin.sats },
  });
  tx.addOutput({ script: own.script, amount: changeSats });
  tx.addOutput({ script: Script.encode(['RETURN', req.data]), amount: 0n });
  tx.sign(req.secretKey);
  tx.finalize();
  return {
    hex: tx.hex,
    txid: tx.id,
    vsize: tx.vsize,
    feeSats: req.feeSats,
    changeSats,
    stripped: tx.toBytes(true, false),
  };
}

/** The fee for `rate` sat/vB (a decimal, e.g. 1.5) on a tx of `vsize`, rounded up. */
export function feeFor(ratePerVb: number, vsize: number): bigint {
  return BigInt(Math.ceil(ratePerVb * vsize));
}

/**
 * The vsize `buildOpReturnTx` gives for `dataLength` bytes of OP_RETURN data, or one less: low-R
 * signatures fix the signature's length up to a rare shorter s, so fees can be planned before signing.
 */
export function opReturnTxVsize(dataLength: number, network: ChainNetwork = 'regtest'): number {
  const dummyKey = new Uint8Array(32).fill(1);
  return buildOpReturnTx({
    coin: { txid: '11'.repeat(32), vout: 0, sats: 100_000_000n },
    secretKey: dummyKey,
    network,
    data: new Uint8Array(dataLength).fill(0xab),
    feeSats: 1000n,
    lockTime: 0,
  }).vsize;
}

/**
 * The bytes before and after `data` in a stripped transaction: an OTS path goes from the OP_RETURN
 * data to the txid by `prepend prefix`, `append suffix`, sha256, sha256.
 */
export function splitAround(
  stripped: Uint8Array,
  data: Uint8Array,
): { prefix: Uint8Array; suffix: Uint8Array } {
  const at = indexOf(stripped, data);
  if (at < 0) {
    throw new LightproofError(
      'LP_BTC_DATA_NOT_IN_TX',
      `The transaction does not contain ${bytesToHex(data)}; it is not the anchor it was taken for.`,
    );
  }
  return { prefix: stripped.slice(0, at), suffix: stripped.slice(at + data.length) };
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** A txid's display hex to internal byte order. */
export function txidBytes(txid: string): Uint8Array {
  return hexToBytes(txid).reverse();
}
