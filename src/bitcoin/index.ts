/** Bitcoin for Lightproof: a JSON-RPC client for bitcoind and btcd, block headers and header sources. */

export {
  computeMerkleRoot,
  displayHex,
  type MerkleStep,
  merklePath,
  type ParsedBlock,
  type ParsedTx,
  parseBlock,
  parseTx,
  type TxInput,
  type TxOutput,
} from './block.js';
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
  sha256d,
  targetFromBits,
} from './header.js';
export { type EsploraHeaderSourceOptions, esploraHeaderSource } from './headers/esplora.js';
export { fileHeaderSource, type HeaderFileOptions, headerSourceFromText } from './headers/file.js';
export { type RpcHeaderSourceOptions, rpcHeaderSource } from './headers/rpc.js';
export { checkHeader, type HeaderCheck, type HeaderSource, type VerifiedHeader } from './headers/source.js';
export { type BitcoinRpc, type BitcoinRpcOptions, bitcoinRpc } from './rpc.js';
export {
  buildOpReturnTx,
  type ChainNetwork,
  type Coin,
  feeFor,
  MAX_OP_RETURN_BYTES,
  type OpReturnTxRequest,
  opReturnTxVsize,
  P2WPKH_DUST_SATS,
  p2wpkhOf,
  RBF_SEQUENCE,
  type SignedTx,
  splitAround,
  txidBytes,
} from './tx.js';
