/** status and down for a network started earlier, possibly by another process, found via state.json. */
import { getInfo, lndTarget } from './lnd-api.js';
import { isDaemonAlive, stopPids } from './processes.js';
import {
  NODE_NAMES,
  type NodeName,
  type RegtestState,
  readRegtestState,
  removeRegtestState,
} from './state.js';

export interface LndNodeStatus {
  pid: number;
  alive: boolean;
  /** From /v1/getinfo; absent when the node is down or did not answer (see error). */
  blockHeight?: number;
  numActiveChannels?: number;
  syncedToChain?: boolean;
  error?: string;
}

export interface RegtestStatus {
  state: RegtestState;
  btcd: { pid: number; alive: boolean };
  nodes: Record<NodeName, LndNodeStatus>;
}

export async function regtestStatus(dir: string): Promise<RegtestStatus> {
  const state = readRegtestState(dir);
  const entries = await Promise.all(
    NODE_NAMES.map(async (name): Promise<[NodeName, LndNodeStatus]> => {
      const node = state.nodes[name];
      const status: LndNodeStatus = { pid: node.pid, alive: isDaemonAlive(node.pid, state.dir) };
      if (!status.alive) return [name, status];
      try {
        const info = await getInfo(lndTarget(node));
        status.blockHeight = info.block_height;
        status.numActiveChannels = info.num_active_channels;
        status.syncedToChain = info.synced_to_chain;
      } catch (err) {
        status.error = (err as Error).message;
      }
      return [name, status];
    }),
  );
  return {
    state,
    btcd: { pid: state.btcd.pid, alive: isDaemonAlive(state.btcd.pid, state.dir) },
    nodes: Object.fromEntries(entries) as Record<NodeName, LndNodeStatus>,
  };
}

/** Stops the daemons listed in dir/state.json and removes it; LP_REGTEST_NOT_RUNNING when absent. */
export async function stopRegtestNetwork(dir: string): Promise<void> {
  const state = readRegtestState(dir);
  await stopDaemons(state.dir, { btcd: state.btcd.pid, lnd: NODE_NAMES.map((n) => state.nodes[n].pid) });
}

/** lnd first, so each node shuts down cleanly while its chain backend still answers. */
export async function stopDaemons(
  dir: string,
  pids: { btcd?: number; lnd: readonly number[] },
): Promise<void> {
  await stopPids(pids.lnd, dir);
  if (pids.btcd !== undefined) await stopPids([pids.btcd], dir);
  removeRegtestState(dir);
}
