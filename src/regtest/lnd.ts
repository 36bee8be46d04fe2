/** One lnd node: its flags, its files, and the waits that take it from spawned to serving. */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HttpTarget } from '../lightning/http.js';
import { getInfo, lndTarget, walletState } from './lnd-api.js';
import { type Daemon, spawnDaemon } from './processes.js';
import type { BtcdInfo, LndNodeInfo, NodeName } from './state.js';
import { waitFor } from './wait.js';

/** lntest allows a node two minutes to start; wallet creation alone takes seconds. */
const NODE_START_TIMEOUT_MS = 120_000;

export interface LndPorts {
  rpc: number;
  rest: number;
  p2p: number;
}

export interface LndProcess {
  /** Everything but the pubkey, which lnd reveals only once it runs. */
  info: Omit<LndNodeInfo, 'pubkey'>;
  daemon: Daemon;
}

export interface SpawnLndOptions {
  bin: string;
  dir: string;
  name: NodeName;
  ports: LndPorts;
  btcd: BtcdInfo;
  detached: boolean;
}

export function spawnLnd(opts: SpawnLndOptions): LndProcess {
  const lndDir = join(opts.dir, opts.name);
  mkdirSync(lndDir, { recursive: true, mode: 0o700 });
  const macaroonDir = join(lndDir, 'data', 'chain', 'bitcoin', 'regtest');
  const p2pHost = `127.0.0.1:${opts.ports.p2p}`;
  const args = [
    `--lnddir=${lndDir}`,
    '--bitcoin.regtest',
    '--bitcoin.node=btcd',
    `--btcd.rpchost=${new URL(opts.btcd.rpcUrl).host}`,
    `--btcd.rpcuser=${opts.btcd.rpcUser}`,
    `--btcd.rpcpass=${opts.btcd.rpcPass}`,
    `--btcd.rpccert=${opts.btcd.certPath}`,
    // The wallet is created and unlocked without a seed prompt; regtest coins need no backup.
    '--noseedbackup',
    '--nobootstrap',
    `--rpclisten=127.0.0.1:${opts.ports.rpc}`,
    `--restlisten=127.0.0.1:${opts.ports.rest}`,
    `--listen=${p2pHost}`,
    `--externalip=${p2pHost}`,
    `--alias=${opts.name}`,
    '--debuglevel=info',
    '--accept-keysend',
    // Test speed: lnd's defaults batch gossip for 90 s and database commits for 500 ms.
    '--trickledelay=50',
    '--gossip.sub-batch-delay=5ms',
    '--caches.rpc-graph-cache-duration=100ms',
    '--db.batch-commit-interval=10ms',
    '--bitcoin.defaultchanconfs=1',
    '--bitcoin.defaultremotedelay=4',
    '--maxpendingchannels=10',
  ];
  const daemon = spawnDaemon({
    name: opts.name,
    command: opts.bin,
    args,
    env: { ...process.env, HOME: lndDir },
    logPath: join(opts.dir, 'logs', `${opts.name}.log`),
    detached: opts.detached,
  });
  return {
    daemon,
    info: {
      name: opts.name,
      restUrl: `https://127.0.0.1:${opts.ports.rest}`,
      grpcHost: `127.0.0.1:${opts.ports.rpc}`,
      p2pHost,
      lndDir,
      tlsCertPath: join(lndDir, 'tls.cert'),
      adminMacaroonPath: join(macaroonDir, 'admin.macaroon'),
      invoiceMacaroonPath: join(macaroonDir, 'invoice.macaroon'),
      pid: daemon.pid,
    },
  };
}

/** Waits until the node's RPC server accepts macaroon calls (RPC_ACTIVE); returns an admin target. */
export async function waitRpcActive(node: LndProcess): Promise<HttpTarget> {
  const { info } = node;
  await waitFor(
    {
      what: `${info.name}'s wallet to unlock (state RPC_ACTIVE)`,
      timeoutMs: NODE_START_TIMEOUT_MS,
      daemons: [node.daemon],
    },
    async () => {
      if (!existsSync(info.tlsCertPath) || !existsSync(info.adminMacaroonPath)) return undefined;
      const state = await walletState(info.restUrl, readFileSync(info.tlsCertPath));
      return state === 'RPC_ACTIVE' || state === 'SERVER_ACTIVE' ? state : undefined;
    },
  );
  return lndTarget(info);
}

/** Waits for SERVER_ACTIVE, reached only once btcd's tip is recent; returns the node's pubkey. */
export async function waitServerActive(node: LndProcess, target: HttpTarget): Promise<string> {
  const { info } = node;
  await waitFor(
    {
      what: `${info.name} to reach SERVER_ACTIVE (it needs a btcd tip younger than 2 hours)`,
      timeoutMs: NODE_START_TIMEOUT_MS,
      daemons: [node.daemon],
    },
    async () =>
      (await walletState(info.restUrl, readFileSync(info.tlsCertPath))) === 'SERVER_ACTIVE'
        ? true
        : undefined,
  );
  const got = await getInfo(target);
  return got.identity_pubkey;
}
