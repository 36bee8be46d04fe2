/**
 * The block-header source flags shared by `ots verify`, `model verify` and `verify`: declared once,
 * checked once, turned into a HeaderSource once.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  type BitcoinNetwork,
  bitcoinRpc,
  esploraHeaderSource,
  fileHeaderSource,
  type HeaderSource,
  isBitcoinNetwork,
  rpcHeaderSource,
} from '../../bitcoin/index.js';
import { usage } from './ots-shared.js';

export interface HeaderFlags {
  bitcoinNode?: string;
  rpcCert?: string;
  rpcCookie?: string;
  esplora?: string;
  headers?: string;
  network: string;
}

/** Adds --bitcoin-node, --rpc-cert, --rpc-cookie, --esplora, --headers and --network to cmd. */
export function headerOptions(cmd: Command): Command {
  return cmd
    .option(
      '--bitcoin-node <url>',
      'headers from bitcoind or btcd JSON-RPC, e.g. http://user:pass@127.0.0.1:8332',
    )
    .option('--rpc-cert <pem>', "the node's TLS certificate (btcd's rpc.cert) for an https node")
    .option('--rpc-cookie <file>', "bitcoind's .cookie file for RPC authentication")
    .option('--esplora <url>', 'headers from an Esplora API, e.g. https://blockstream.info/api')
    .option('--headers <file>', 'headers from a file: one 80-byte header in hex per line')
    .option('--network <name>', 'mainnet, testnet, testnet4, signet or regtest', 'mainnet');
}

/**
 * Refuses more than one source (or none, when `required`) and an unknown network, as usage errors.
 * Returns whether a source was given.
 */
export function checkHeaderFlags(cmd: Command, flags: HeaderFlags, required: boolean): boolean {
  const given = [flags.bitcoinNode, flags.esplora, flags.headers].filter((s) => s !== undefined).length;
  if (given > 1 || (required && given === 0)) {
    usage(
      cmd,
      'LP_OTS_NO_HEADER_SOURCE',
      `Give ${required ? 'exactly' : 'at most'} one header source: --bitcoin-node URL, --esplora URL or --headers FILE.`,
    );
  }
  if (!isBitcoinNetwork(flags.network)) {
    usage(
      cmd,
      'LP_BTC_BAD_NETWORK',
      `--network '${flags.network}' is not mainnet, testnet, testnet4, signet or regtest.`,
    );
  }
  return given === 1;
}

/** The one source the flags name; call checkHeaderFlags first. */
export async function headerSourceFromFlags(flags: HeaderFlags, timeoutMs: number): Promise<HeaderSource> {
  const network = flags.network as BitcoinNetwork;
  if (flags.headers !== undefined) return fileHeaderSource(flags.headers, { network });
  if (flags.esplora !== undefined) return esploraHeaderSource(flags.esplora, { network, timeoutMs });
  const rpc = bitcoinRpc({
    url: flags.bitcoinNode!,
    timeoutMs,
    ...(flags.rpcCert ? { tlsCert: readFileSync(flags.rpcCert) } : {}),
    ...(flags.rpcCookie ? { cookieFile: flags.rpcCookie } : {}),
  });
  return rpcHeaderSource(rpc, { network });
}
