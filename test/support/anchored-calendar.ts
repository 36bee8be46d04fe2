/**
 * A btcd regtest chain with our calendar in this process, its wallet funded so the anchorer can
 * broadcast: the set-up the end-to-end tests share, and the step that anchors a round in a mined block.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  type Anchorer,
  parseCalendarConfig,
  type RunningCalendar,
  startCalendar,
} from '../../src/calendar/index.js';
import { type BitcoinChain, startBitcoinChain } from '../../src/regtest/index.js';

export interface AnchoredCalendar {
  chain: BitcoinChain;
  calendar: RunningCalendar;
  anchorer: Anchorer;
  /** `--bitcoin-node` (credentials in the URL), `--rpc-cert` and `--network` for the CLI to reach btcd. */
  nodeFlags: string[];
  /** Waits for the calendar's anchor transaction, mines it, lets the wallet see the block, and returns its height. */
  anchorAndMine(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts btcd and the calendar under `dir` (chain/ and calendar/); `stop()` ends both but leaves `dir`. */
export async function startAnchoredCalendar(dir: string, name: string): Promise<AnchoredCalendar> {
  const chain = await startBitcoinChain({ dir: join(dir, 'chain') });
  let calendar: RunningCalendar | undefined;
  const stop = async () => {
    await calendar?.close();
    await chain.stop();
  };
  try {
    const config = parseCalendarConfig(
      {
        listen: '127.0.0.1:0',
        network: 'regtest',
        intervalMs: 50,
        minConfirmations: 1,
        bitcoin: {
          rpc: chain.rpc.url,
          rpcUser: chain.rpc.user,
          rpcPass: chain.rpc.pass,
          rpcCert: chain.rpc.certPath,
          anchorIntervalMs: 1,
          pollMs: 100,
        },
      },
      name,
    );
    calendar = await startCalendar({
      config,
      dataDir: join(dir, 'calendar'),
      logger: pino({ level: 'warn' }, pino.destination(2)),
    });
    await chain.fund(calendar.address, 1_000_000n);
  } catch (e) {
    await stop();
    throw e;
  }
  const anchorer = calendar.anchorer!;
  const nodeFlags = [
    '--bitcoin-node',
    chain.rpc.url.replace('https://', `https://${chain.rpc.user}:${chain.rpc.pass}@`),
    '--rpc-cert',
    chain.rpc.certPath,
    '--network',
    'regtest',
  ];

  async function anchorAndMine(): Promise<number> {
    for (let i = 0; i < 100; i++) {
      await anchorer.tick();
      if ((await anchorer.status()).pending) break;
    }
    const pending = (await anchorer.status()).pending;
    assert.ok(pending, 'the calendar never broadcast an anchor transaction');
    const [hash] = await chain.mine(1);
    const header = (await chain.btcdRpc('getblockheader', [hash, true])) as { height: number };
    for (let i = 0; i < 100; i++) {
      await anchorer.tick();
      if ((await anchorer.status()).lastAnchor?.txid === pending.txid) break;
    }
    assert.equal((await anchorer.status()).lastAnchor?.txid, pending.txid, 'the anchor never confirmed');
    return header.height;
  }

  return { chain, calendar, anchorer, nodeFlags, anchorAndMine, stop };
}
