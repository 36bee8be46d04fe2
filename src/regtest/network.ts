/** startRegtestNetwork: btcd plus alice → bob → carol, funded, connected and able to route. */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensurePrivateDir, LightproofError } from '../core/index.js';
import { mineBlocks, startBtcd } from './btcd.js';
import { stopDaemons } from './control.js';
import { locateDaemons } from './daemons.js';
import { COINBASE_MATURITY, createFaucet } from './faucet.js';
import { spawnLnd, waitRpcActive, waitServerActive } from './lnd.js';
import { freePorts } from './ports.js';
import { type Daemon, isDaemonAlive, releaseDaemons } from './processes.js';
import {
  type BtcdInfo,
  type LndNodeInfo,
  NODE_NAMES,
  type NodeName,
  readRegtestState,
  removeRegtestState,
  statePath,
  writeRegtestState,
} from './state.js';
import {
  type Chain,
  openChannels,
  payoutsFor,
  type RunningNode,
  waitFunded,
  waitRoutable,
  waitSynced,
} from './topology.js';

export interface StartRegtestOptions {
  /** Holds every daemon's data, the logs and state.json; earlier networks' data in it is replaced. */
  dir: string;
  /** true: daemons outlive this process (the CLI). false (default): they die with it (tests). */
  detached?: boolean;
  log?: (line: string) => void;
}

export interface RegtestNetwork {
  readonly dir: string;
  readonly btcd: BtcdInfo;
  readonly nodes: Readonly<Record<NodeName, LndNodeInfo>>;
  /** Mines N blocks to the harness's key and returns their hashes. */
  mine(n: number): Promise<string[]>;
  btcdRpc(method: string, params?: readonly unknown[]): Promise<unknown>;
  /** SIGTERM, SIGKILL after a grace period, then removes state.json. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startRegtestNetwork(opts: StartRegtestOptions): Promise<RegtestNetwork> {
  const dir = resolve(opts.dir);
  const detached = opts.detached ?? false;
  const log = opts.log ?? (() => {});
  const startedAt = new Date().toISOString();
  prepareDir(dir);
  const bins = await locateDaemons(log);

  const started: Daemon[] = [];
  try {
    const [btcdRpcPort, btcdP2pPort, ...lndPorts] = await freePorts(2 + 3 * NODE_NAMES.length);
    const faucet = createFaucet();
    const btcd = await startBtcd({
      bin: bins.btcd,
      dir,
      rpcPort: btcdRpcPort!,
      p2pPort: btcdP2pPort!,
      miningAddress: faucet.address,
      detached,
    });
    started.push(btcd.daemon);
    log(`btcd pid ${btcd.daemon.pid} listens on ${btcd.info.rpcUrl}`);
    const chain: Chain = { rpc: btcd.rpc, btcd: btcd.daemon };
    // Mature coinbases to spend, and a fresh tip: lnd will not serve until the tip is recent.
    await mineBlocks(btcd.rpc, COINBASE_MATURITY + 1);

    const procs = NODE_NAMES.map((name, i) => {
      const [rpc, rest, p2p] = lndPorts.slice(3 * i, 3 * i + 3) as [number, number, number];
      const p = spawnLnd({ bin: bins.lnd, dir, name, ports: { rpc, rest, p2p }, btcd: btcd.info, detached });
      started.push(p.daemon);
      return p;
    });
    const targets = await Promise.all(procs.map(waitRpcActive));
    log('lnd wallets are unlocked; funding them');
    await faucet.pay(btcd.rpc, await payoutsFor(targets.map((target) => ({ target }))));
    await mineBlocks(btcd.rpc, 1);
    const pubkeys = await Promise.all(procs.map((p, i) => waitServerActive(p, targets[i]!)));
    const running: RunningNode[] = procs.map((p, i) => ({
      info: { ...p.info, pubkey: pubkeys[i]! },
      daemon: p.daemon,
      target: targets[i]!,
    }));
    const [alice, bob, carol] = running as [RunningNode, RunningNode, RunningNode];
    const nodes = { alice: alice.info, bob: bob.info, carol: carol.info };
    // Written before the channels open, so `lightproof regtest down` can stop a startup that hangs.
    writeRegtestState({ version: 1, dir, startedAt, detached, btcd: btcd.info, nodes });

    await waitSynced(chain, running);
    await waitFunded(chain, running);
    log('nodes are funded; opening alice→bob and bob→carol');
    const chanIds = await openChannels(chain, alice, bob, carol);
    log(`channels ${chanIds.join(', ')} are announced; probing alice→carol`);
    await waitRoutable(alice, bob, carol, chanIds);
    log('alice can pay carol through bob');

    if (detached) releaseDaemons(started);
    const pids = { btcd: btcd.daemon.pid, lnd: procs.map((p) => p.daemon.pid) };
    const stop = once(() => stopDaemons(dir, pids));
    return {
      dir,
      btcd: btcd.info,
      nodes,
      mine: (n) => mineBlocks(btcd.rpc, n),
      btcdRpc: btcd.rpc,
      stop,
    };
  } catch (err) {
    log(`startup failed; stopping the ${started.length} daemons already running`);
    const [btcd, ...lnd] = started.map((d) => d.pid);
    await stopDaemons(dir, { btcd, lnd }).catch((stopErr: unknown) =>
      log(`cleanup failed too: ${(stopErr as Error).message}`),
    );
    throw err;
  }
}

/** Marks a directory as the harness's own, so a later start may wipe what an earlier one left. */
const MARKER = '.lightproof-regtest';
const OWN_ENTRIES = ['btcd', ...NODE_NAMES, 'logs'];

/** Refuses a directory whose network still runs, or that holds someone else's files named like ours. */
function prepareDir(dir: string): void {
  ensurePrivateDir(dir);
  if (!existsSync(join(dir, MARKER)) && OWN_ENTRIES.some((e) => existsSync(join(dir, e)))) {
    throw new LightproofError(
      'LP_REGTEST_DIR_IN_USE',
      `${dir} already holds files not made by lightproof (${OWN_ENTRIES.join(', ')}). Pick an empty directory.`,
    );
  }
  if (existsSync(statePath(dir))) {
    const prev = readRegtestState(dir);
    const pids = [prev.btcd.pid, ...NODE_NAMES.map((n) => prev.nodes[n].pid)];
    if (pids.some((pid) => isDaemonAlive(pid, dir))) {
      throw new LightproofError(
        'LP_REGTEST_ALREADY_RUNNING',
        `A regtest network already runs in ${dir}. Run \`lightproof regtest down\` first, or pick another directory.`,
      );
    }
    removeRegtestState(dir);
  }
  // Each start is a fresh chain: replaying old channels against a new btcd would only confuse lnd.
  for (const e of OWN_ENTRIES) rmSync(join(dir, e), { recursive: true, force: true });
  writeFileSync(
    join(dir, MARKER),
    "Created by lightproof: `lightproof regtest up` replaces this directory's daemon data.\n",
  );
  mkdirSync(join(dir, 'logs'), { mode: 0o700 });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= fn();
    return running;
  };
}
