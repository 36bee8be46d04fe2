/** btcd in regtest mode: its flags, and a JSON-RPC client that trusts its self-signed certificate. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLightproofError, LightproofError } from '../core/index.js';
import { requestJson } from '../lightning/http.js';
import { type Daemon, spawnDaemon } from './processes.js';
import type { BtcdInfo } from './state.js';
import { waitFor } from './wait.js';

export type BtcdRpc = (method: string, params?: readonly unknown[]) => Promise<unknown>;

export function btcdRpcClient(info: Omit<BtcdInfo, 'pid'>): BtcdRpc {
  let cert: string | undefined;
  const auth = `Basic ${Buffer.from(`${info.rpcUser}:${info.rpcPass}`).toString('base64')}`;
  let id = 0;
  return async (method, params = []) => {
    // btcd writes its certificate only once it starts, so read it on first use.
    cert ??= readFileSync(info.certPath, 'utf8');
    const target = { url: info.rpcUrl, tlsCert: cert, headers: { authorization: auth } };
    let res: Awaited<ReturnType<typeof requestJson>>;
    try {
      res = await requestJson(target, 'POST', '/', { jsonrpc: '1.0', id: ++id, method, params });
    } catch (cause) {
      if (isLightproofError(cause, 'LP_LN_BAD_RESPONSE')) {
        // btcd answers a wrong password with a plain-text 401, which is not JSON.
        throw new LightproofError(
          'LP_REGTEST_BTCD_AUTH',
          `btcd at ${info.rpcUrl} did not answer ${method} with JSON; the RPC credentials are probably wrong. Use the rpcUser/rpcPass from the network's state.json.`,
          { cause },
        );
      }
      throw new LightproofError(
        'LP_REGTEST_BTCD_UNREACHABLE',
        `Cannot reach btcd at ${info.rpcUrl}. Check that the regtest network runs (lightproof regtest status).`,
        { cause },
      );
    }
    const body = res.body as { result?: unknown; error?: { message?: unknown } | null };
    if (body.error) {
      throw new LightproofError(
        'LP_REGTEST_BTCD_RPC',
        `btcd refused ${method}: ${String(body.error.message)}. Check the method's parameters against btcd's RPC docs.`,
        { details: { method, status: res.status } },
      );
    }
    return body.result;
  };
}

export interface StartBtcdOptions {
  bin: string;
  dir: string;
  rpcPort: number;
  p2pPort: number;
  miningAddress: string;
  detached: boolean;
}

export interface StartedBtcd {
  info: BtcdInfo;
  daemon: Daemon;
  rpc: BtcdRpc;
}

/** Starts btcd and resolves once its RPC server answers. */
export async function startBtcd(opts: StartBtcdOptions): Promise<StartedBtcd> {
  const base = join(opts.dir, 'btcd');
  const home = join(base, 'home');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const info: Omit<BtcdInfo, 'pid'> = {
    rpcUrl: `https://127.0.0.1:${opts.rpcPort}`,
    rpcUser: `lightproof-${randomBytes(4).toString('hex')}`,
    rpcPass: randomBytes(24).toString('hex'),
    certPath: join(base, 'rpc.cert'),
  };
  const args = [
    '--regtest',
    `--datadir=${join(base, 'data')}`,
    `--logdir=${join(base, 'logs')}`,
    `--rpcuser=${info.rpcUser}`,
    `--rpcpass=${info.rpcPass}`,
    `--rpclisten=127.0.0.1:${opts.rpcPort}`,
    `--rpccert=${info.certPath}`,
    `--rpckey=${join(base, 'rpc.key')}`,
    `--listen=127.0.0.1:${opts.p2pPort}`,
    // Coinbases pay a key the harness holds, so it can fund the nodes without restarting btcd.
    `--miningaddr=${opts.miningAddress}`,
    '--txindex',
    '--rejectnonstd',
    '--trickleinterval=100ms',
    '--nobanning',
    '--nostalldetect',
    '--rpcmaxwebsockets=50',
    '--rpcmaxclients=50',
    '--debuglevel=info',
  ];
  const daemon = spawnDaemon({
    name: 'btcd',
    command: opts.bin,
    args,
    // btcd creates ~/.btcd even in regtest; a private HOME keeps the user's home clean.
    env: { ...process.env, HOME: home },
    logPath: join(opts.dir, 'logs', 'btcd.log'),
    detached: opts.detached,
  });
  const rpc = btcdRpcClient(info);
  await waitFor(
    { what: "btcd's RPC server to answer getblockcount", timeoutMs: 30_000, daemons: [daemon] },
    () => (existsSync(info.certPath) ? rpc('getblockcount') : Promise.resolve(undefined)),
  );
  return { info: { ...info, pid: daemon.pid }, daemon, rpc };
}

export async function mineBlocks(rpc: BtcdRpc, n: number): Promise<string[]> {
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new LightproofError(
      'LP_REGTEST_BAD_BLOCK_COUNT',
      `Cannot mine ${n} blocks; pass an integer 1–10000.`,
    );
  }
  const hashes = await rpc('generate', [n]);
  if (!Array.isArray(hashes) || !hashes.every((h): h is string => typeof h === 'string')) {
    throw new LightproofError('LP_REGTEST_BTCD_RPC', 'btcd answered generate without block hashes.');
  }
  return hashes;
}

export async function blockCount(rpc: BtcdRpc): Promise<number> {
  const n = await rpc('getblockcount');
  if (typeof n !== 'number')
    throw new LightproofError('LP_REGTEST_BTCD_RPC', 'btcd sent a non-numeric height.');
  return n;
}
