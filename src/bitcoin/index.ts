/** Bitcoin for Lightproof: a JSON-RPC client for bitcoind and btcd, block headers and header sources. */
export { type BitcoinRpc, type BitcoinRpcOptions, bitcoinRpc } from './rpc.js';
