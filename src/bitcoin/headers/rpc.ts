/** Headers from a bitcoind or btcd node over JSON-RPC: getblockhash, then getblockheader <hash> false. */
import { hexToBytes } from '@noble/hashes/utils.js';
import { isLightproofError } from '../../core/errors.js';
import type { BitcoinNetwork } from '../header.js';
import type { BitcoinRpc } from '../rpc.js';
import {
  cachedByHeight,
  checkHeader,
  genesisGuard,
  type HeaderSource,
  headerNotFound,
  requireHeight,
  type VerifiedHeader,
} from './source.js';

export interface RpcHeaderSourceOptions {
  /** Which chain the node must be on; its genesis is checked before the first header. Default mainnet. */
  network?: BitcoinNetwork;
  /** How many checked headers to remember; 0 asks the node every time. Default 1024. */
  cacheSize?: number;
}

/** bitcoind says -8 "Block height out of range"; btcd says -1 "Block number out of range". */
function isOutOfRange(err: unknown): boolean {
  if (!isLightproofError(err, 'LP_BTC_RPC_ERROR')) return false;
  const { code, message } = err.details ?? {};
  return code === -8 || (typeof message === 'string' && /out of range/i.test(message));
}

export function rpcHeaderSource(rpc: BitcoinRpc, opts: RpcHeaderSourceOptions = {}): HeaderSource {
  const network = opts.network ?? 'mainnet';
  const name = `Bitcoin node at ${rpc.url}`;
  const ensureNetwork = genesisGuard(name, network, () => rpc.getBlockHash(0));

  const fetchHeader = async (height: number): Promise<VerifiedHeader> => {
    await ensureNetwork();
    let hash: string;
    try {
      hash = await rpc.getBlockHash(height);
    } catch (err) {
      if (isOutOfRange(err)) throw headerNotFound(name, height, 'past its tip');
      throw err;
    }
    const raw = hexToBytes(await rpc.getBlockHeaderHex(hash));
    return checkHeader(raw, { network, claimedHash: hash, height, where: `${name} at height ${height}` });
  };
  const headerAt = cachedByHeight(opts.cacheSize ?? 1024, fetchHeader);

  return {
    name,
    network,
    headerAt: async (height) => headerAt(requireHeight(height)),
    close: () => rpc.close(),
  };
}
