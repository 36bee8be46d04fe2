/**
 * Turns three idle nodes into the test topology alice → bob → carol: coins for each node, two public
 * channels, announcements, and a probe payment that proves alice can route to carol.
 */
import { z } from 'zod';
import type { HttpTarget } from '../lightning/http.js';
import { type BtcdRpc, blockCount, mineBlocks } from './btcd.js';
import type { Payout } from './faucet.js';
import {
  activeChannels,
  addInvoice,
  confirmedBalance,
  connectPeer,
  edgeHasPolicies,
  getInfo,
  lndCall,
  newAddress,
  openChannel,
  payInvoice,
} from './lnd-api.js';
import type { Daemon } from './processes.js';
import type { LndNodeInfo } from './state.js';
import { waitFor } from './wait.js';

export interface RunningNode {
  info: LndNodeInfo;
  daemon: Daemon;
  target: HttpTarget;
}

export interface Chain {
  rpc: BtcdRpc;
  btcd: Daemon;
}

/** Several UTXOs per node, so later channel opens need not wait for change to confirm. */
const UTXOS_PER_NODE = 4;
const UTXO_SATS = 25_000_000n;
export const CHANNEL_SATS = 5_000_000n;
/** Half of each channel starts on the far side, so payments work in both directions. */
export const PUSH_SATS = 2_500_000n;
/** BOLT 7: a channel is announced only after six confirmations of its funding transaction. */
const ANNOUNCE_CONFS = 6;
const STEP_TIMEOUT_MS = 60_000;

/** Waits until every node has processed btcd's tip and calls itself synced to chain. */
export async function waitSynced(chain: Chain, nodes: readonly RunningNode[]): Promise<void> {
  const height = await blockCount(chain.rpc);
  await Promise.all(
    nodes.map((n) =>
      waitFor(
        {
          what: `${n.info.name} to sync to block ${height}`,
          timeoutMs: STEP_TIMEOUT_MS,
          daemons: [n.daemon, chain.btcd],
        },
        async () => {
          const got = await getInfo(n.target);
          return got.block_height >= height && got.synced_to_chain ? true : undefined;
        },
      ),
    ),
  );
}

/** Collects the addresses first: lnd must be RPC_ACTIVE, and the payout must confirm in a block mined after. */
export async function payoutsFor(nodes: readonly { target: HttpTarget }[]): Promise<Payout[]> {
  const payouts: Payout[] = [];
  for (const n of nodes) {
    for (let i = 0; i < UTXOS_PER_NODE; i++)
      payouts.push({ address: await newAddress(n.target), sats: UTXO_SATS });
  }
  return payouts;
}

export async function waitFunded(chain: Chain, nodes: readonly RunningNode[]): Promise<void> {
  const want = UTXO_SATS * BigInt(UTXOS_PER_NODE);
  await Promise.all(
    nodes.map((n) =>
      waitFor(
        {
          what: `${n.info.name} to see ${want} sat confirmed`,
          timeoutMs: STEP_TIMEOUT_MS,
          daemons: [n.daemon, chain.btcd],
        },
        async () => ((await confirmedBalance(n.target)) >= want ? true : undefined),
      ),
    ),
  );
}

async function connect(from: RunningNode, to: RunningNode): Promise<void> {
  await connectPeer(from.target, to.info.pubkey, to.info.p2pHost);
  const Peers = z.object({ peers: z.array(z.object({ pub_key: z.string() })) });
  await waitFor(
    {
      what: `${from.info.name} to be connected to ${to.info.name}`,
      timeoutMs: 30_000,
      daemons: [from.daemon, to.daemon],
    },
    async () => {
      const { peers } = await lndCall(from.target, 'GET', '/v1/peers', Peers);
      return peers.some((p) => p.pub_key === to.info.pubkey) ? true : undefined;
    },
  );
}

async function waitActive(a: RunningNode, b: RunningNode, point: string): Promise<string> {
  let chanId = '';
  for (const n of [a, b]) {
    chanId = await waitFor(
      {
        what: `channel ${point} (${a.info.name}→${b.info.name}) to be active at ${n.info.name}`,
        timeoutMs: STEP_TIMEOUT_MS,
        daemons: [a.daemon, b.daemon],
      },
      async () => (await activeChannels(n.target)).find((c) => c.channel_point === point)?.chan_id,
    );
  }
  return chanId;
}

async function waitMempool(chain: Chain, txids: readonly string[]): Promise<void> {
  await waitFor(
    {
      what: `funding transactions ${txids.join(', ')} to reach btcd's mempool`,
      timeoutMs: 30_000,
      daemons: [chain.btcd],
    },
    async () => {
      const pool = await chain.rpc('getrawmempool');
      return Array.isArray(pool) && txids.every((t) => pool.includes(t)) ? true : undefined;
    },
  );
}

/** Opens alice→bob and bob→carol, confirms and announces both; returns their short channel ids. */
export async function openChannels(
  chain: Chain,
  alice: RunningNode,
  bob: RunningNode,
  carol: RunningNode,
): Promise<string[]> {
  const pairs = [
    [alice, bob],
    [bob, carol],
  ] as const;
  await Promise.all(pairs.map(([from, to]) => connect(from, to)));
  const points = await Promise.all(
    pairs.map(([from, to]) => openChannel(from.target, to.info.pubkey, CHANNEL_SATS, PUSH_SATS)),
  );
  await waitMempool(
    chain,
    points.map((p) => p.split(':')[0] ?? ''),
  );
  // One confirmation opens the channels (defaultchanconfs=1); announcing them takes six in all.
  await mineBlocks(chain.rpc, 1);
  const chanIds = await Promise.all(pairs.map(([from, to], i) => waitActive(from, to, points[i] ?? '')));
  await mineBlocks(chain.rpc, ANNOUNCE_CONFS - 1);
  await waitSynced(chain, [alice, bob, carol]);
  return chanIds;
}

/** Waits until alice knows both edges with policies, then until a 1-sat payment to carol succeeds. */
export async function waitRoutable(
  alice: RunningNode,
  bob: RunningNode,
  carol: RunningNode,
  chanIds: readonly string[],
): Promise<void> {
  const daemons = [alice.daemon, bob.daemon, carol.daemon];
  await waitFor(
    {
      what: `alice's graph to hold channels ${chanIds.join(', ')} with both policies`,
      timeoutMs: STEP_TIMEOUT_MS,
      daemons,
    },
    async () => {
      for (const id of chanIds) if (!(await edgeHasPolicies(alice.target, id))) return undefined;
      return true;
    },
  );
  // Gossip can lag the graph query; only a payment proves the route works end to end.
  await waitFor(
    {
      what: 'a 1-sat probe payment from alice to carol through bob to succeed',
      timeoutMs: 90_000,
      daemons,
      intervalMs: 500,
    },
    async () => {
      const { paymentRequest } = await addInvoice(carol.target, 1, 'lightproof regtest probe');
      const paid = await payInvoice(alice.target, paymentRequest, 10, 15);
      if (paid.status !== 'SUCCEEDED') throw new Error(`payment ${paid.status}: ${paid.failureReason}`);
      return true;
    },
  );
}
