/**
 * btcd alone on a private regtest chain, with the harness's faucet: seconds to start, for tests that
 * need blocks and transactions but no Lightning (OpenTimestamps calendars, header sources).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensurePrivateDir } from '../core/index.js';
import { type BtcdRpc, mineBlocks, startBtcd } from './btcd.js';
import { stopDaemons } from './control.js';
import { locateDaemons } from './daemons.js';
import { COINBASE_MATURITY, createFaucet } from './faucet.js';
import { freePorts } from './ports.js';

export interface StartBitcoinChainOptions {
  /** Holds btcd's data and logs; must not be shared with a running network. */
  dir: string;
  log?: (line: string) => void;
}

export interface BitcoinChain {
  /** What a JSON-RPC client needs: btcd serves HTTPS with its own certificate (PEM in tlsCert). */
  readonly rpc: { url: string; user: string; pass: string; certPath: string; tlsCert: string };
  readonly btcdRpc: BtcdRpc;
  /** Mines N blocks to the faucet's key; resolves to their hashes. */
  mine(n: number): Promise<string[]>;
  /** Pays `sats` to the address from a mature coinbase and mines one block; resolves to the txid. */
  fund(address: string, sats: bigint): Promise<string>;
  /** Stops btcd (SIGTERM, then SIGKILL). Safe to call twice. */
  stop(): Promise<void>;
}

export async function startBitcoinChain(opts: StartBitcoinChainOptions): Promise<BitcoinChain> {
  const dir = ensurePrivateDir(resolve(opts.dir));
  mkdirSync(join(dir, 'logs'), { recursive: true, mode: 0o700 });
  const bins = await locateDaemons(opts.log ?? (() => {}));
  const [rpcPort, p2pPort] = await freePorts(2);
  const faucet = createFaucet();
  const btcd = await startBtcd({
    bin: bins.btcd,
    dir,
    rpcPort: rpcPort!,
    p2pPort: p2pPort!,
    miningAddress: faucet.address,
    detached: false,
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= stopDaemons(dir, { btcd: btcd.daemon.pid, lnd: [] });
    return stopping;
  };
  try {
    // One mature coinbase to spend from the start.
    await mineBlocks(btcd.rpc, COINBASE_MATURITY + 1);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    rpc: {
      url: btcd.info.rpcUrl,
      user: btcd.info.rpcUser,
      pass: btcd.info.rpcPass,
      certPath: btcd.info.certPath,
      tlsCert: readFileSync(btcd.info.certPath, 'utf8'),
    },
    btcdRpc: btcd.rpc,
    mine: (n) => mineBlocks(btcd.rpc, n),
    async fund(address, sats) {
      const txid = await faucet.pay(btcd.rpc, [{ address, sats }]);
      await mineBlocks(btcd.rpc, 1);
      return txid;
    },
    stop,
  };
}
