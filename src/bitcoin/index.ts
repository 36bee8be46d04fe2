/** Bitcoin for Lightproof: a JSON-RPC client for bitcoind and btcd, block headers and header sources. */

export {
  type BitcoinNetwork,
  type BlockHeader,
  blockHash,
  checkProofOfWork,
  HEADER_BYTES,
  isBitcoinNetwork,
  NETWORKS,
  type NetworkParams,
  networkOfGenesis,
  parseBlockHeader,
  targetFromBits,
} from './header.js';
export { type EsploraHeaderSourceOptions, esploraHeaderSource } from './headers/esplora.js';
export { fileHeaderSource, type HeaderFileOptions, headerSourceFromText } from './headers/file.js';
export { type RpcHeaderSourceOptions, rpcHeaderSource } from './headers/rpc.js';
export { checkHeader, type HeaderCheck, type HeaderSource, type VerifiedHeader } from './headers/source.js';
export { type BitcoinRpc, type BitcoinRpcOptions, bitcoinRpc } from './rpc.js';
