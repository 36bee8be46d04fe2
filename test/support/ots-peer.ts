/**
 * The OpenTimestamps reference peers that test/peers/install-ots.sh puts in a cache outside the
 * clone: the python client `ots` (opentimestamps-client, in a venv) and the public example proofs.
 * A missing peer is an error that names the install script: a cross-check must fail, never skip.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

/** Must match CLIENT_VERSION in test/peers/install-ots.sh, which names the venv after it. */
export const OTS_CLIENT_VERSION = '0.7.2';
const INSTALL = 'bash test/peers/install-ots.sh';

export interface OtsPeer {
  /** The reference client's `ots` command. */
  otsBin: string;
  /** The venv's python, with python-opentimestamps and python-bitcoinlib importable. */
  python: string;
  /** The examples/ folder of npm opentimestamps@0.4.9: *.ots, their targets, *.info, sha1/, ripemd160/. */
  examplesDir: string;
}

/** The cache directory, resolved exactly as install-ots.sh does (an empty variable counts as unset). */
export function peerCacheDir(): string {
  const env = process.env;
  if (env.LIGHTPROOF_PEER_CACHE) return env.LIGHTPROOF_PEER_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lightproof', 'peers');
}

export function otsPeer(): OtsPeer {
  const cache = peerCacheDir();
  const venv = join(cache, `ots-client-${OTS_CLIENT_VERSION}`);
  const examplesDir = join(cache, 'ots-examples');
  const missing = [join(venv, '.done'), join(examplesDir, '.done')].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `The OpenTimestamps reference peer is not installed in ${cache} (missing ${missing.join(', ')}). Run: ${INSTALL}`,
    );
  }
  return { otsBin: join(venv, 'bin', 'ots'), python: join(venv, 'bin', 'python'), examplesDir };
}

export interface RunOtsOptions {
  cwd?: string;
  /** Added to the environment the client runs with. */
  env?: Record<string, string>;
  /** The child is killed after this long; then `code` is null and `signal` says why. Default 60 s. */
  timeoutMs?: number;
}

export interface RunOtsResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * urllib would send requests for a calendar on 127.0.0.1 through a proxy named in the environment,
 * so the proxy variables are dropped.
 */
const PROXY_VARS = /^(https?|all|no)_proxy$/i;

/**
 * Runs the reference `ots` with `args`. Each call gets its own empty timestamp cache (the client
 * keeps one under $XDG_CACHE_HOME/ots and would otherwise answer upgrades from an earlier test), unless
 * the args pass --cache or --no-cache. TZ is UTC, so the dates `ots verify` prints do not depend
 * on the machine.
 */
export async function runOts(args: readonly string[], opts: RunOtsOptions = {}): Promise<RunOtsResult> {
  const peer = otsPeer();
  const cacheHome = await mkdtemp(join(tmpdir(), 'lightproof-ots-cache-'));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !PROXY_VARS.test(k)) env[k] = v;
  }
  Object.assign(env, { XDG_CACHE_HOME: cacheHome, TZ: 'UTC', PYTHONDONTWRITEBYTECODE: '1' }, opts.env);
  try {
    return await new Promise<RunOtsResult>((resolve, reject) => {
      const child = spawn(peer.otsBin, args, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`Cannot run ${peer.otsBin} (${e.message}). Run: ${INSTALL}`, { cause: e }));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({
          code,
          signal,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
    });
  } finally {
    await rm(cacheHome, { recursive: true, force: true });
  }
}

const MAX_RPC_BODY = 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_RPC_BODY) req.destroy(new Error(`request body over ${MAX_RPC_BODY} bytes`));
      else chunks.push(b);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Listens on 127.0.0.1 at a port the OS picks, and resolves to that port. */
async function listenLocal(server: ReturnType<typeof createServer>): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return (server.address() as AddressInfo).port;
}

function closer(server: ReturnType<typeof createServer>): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

export interface PythonRpcBridge {
  /** For `ots --btc-regtest --bitcoin-node <nodeUrl>`: http://user:pass@127.0.0.1:port. */
  nodeUrl: string;
  close(): Promise<void>;
}

/** python-bitcoinlib sends `"version": "1.1"` and no `jsonrpc` member; btcd needs one to reply. */
function withJsonRpcVersion(body: Buffer): Buffer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return body; // btcd answers unparsable JSON with its own parse error
  }
  const mark = (r: unknown) =>
    r && typeof r === 'object' && !Array.isArray(r) && !('jsonrpc' in r) ? { jsonrpc: '1.0', ...r } : r;
  return Buffer.from(JSON.stringify(Array.isArray(parsed) ? parsed.map(mark) : mark(parsed)));
}

/**
 * The reference client cannot talk to btcd directly: python-bitcoinlib 0.12.2's Proxy speaks plain
 * http only (btcd serves TLS), and btcd 0.26 answers a request without a `jsonrpc` member with an
 * empty body. This bridge listens on 127.0.0.1 over http, adds `"jsonrpc": "1.0"`, and forwards to
 * btcd over TLS trusting its certificate. The caller's credentials pass through unchanged, so a
 * wrong password still fails at btcd.
 */
export async function startPythonRpcBridge(rpc: {
  url: string;
  user: string;
  pass: string;
  tlsCert: string;
}): Promise<PythonRpcBridge> {
  // python-bitcoinlib takes the user and password from the URL without percent-decoding them.
  for (const part of [rpc.user, rpc.pass]) {
    if (!/^[\w.~-]+$/.test(part))
      throw new Error('The bridge needs RPC credentials of letters, digits and ._~-');
  }
  const target = new URL(rpc.url);
  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        const payload = withJsonRpcVersion(body);
        const upstream = httpsRequest(
          target,
          {
            method: 'POST',
            ca: rpc.tlsCert,
            headers: {
              'content-type': 'application/json',
              'content-length': payload.length,
              ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
            },
          },
          (up) => {
            res.writeHead(up.statusCode ?? 502, {
              'content-type': up.headers['content-type'] ?? 'text/plain',
            });
            up.pipe(res);
          },
        );
        upstream.on('error', (e) => {
          res.writeHead(502, { 'content-type': 'text/plain' }).end(`btcd unreachable: ${e.message}`);
        });
        upstream.end(payload);
      },
      (e: Error) => res.writeHead(400, { 'content-type': 'text/plain' }).end(e.message),
    );
  });
  const port = await listenLocal(server);
  return { nodeUrl: `http://${rpc.user}:${rpc.pass}@127.0.0.1:${port}`, close: closer(server) };
}

export interface HeadersNode {
  /** For `ots --bitcoin-node <nodeUrl>` (mainnet, the client's default). */
  nodeUrl: string;
  close(): Promise<void>;
}

/**
 * A stand-in Bitcoin node for the reference client that knows only the headers in `file` (lines
 * `HEIGHT HEX`, `#` comments, as test/vectors/ots/mainnet-headers.txt), so `ots verify` checks the
 * real example proofs offline. It answers the three calls python-bitcoinlib makes to verify:
 * getblockcount, getblockhash and getblockheader (raw), with Bitcoin Core's error codes for an
 * unknown height (-8) or hash (-5), which the client reports as "block height N not found".
 */
export async function startHeadersNode(file: string): Promise<HeadersNode> {
  const byHeight = new Map<number, string>();
  const byHash = new Map<string, string>();
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 2 || line.trim().startsWith('#')) continue;
    const [height, raw] = fields as [string, string];
    const hash = bytesToHex(sha256(sha256(hexToBytes(raw))).reverse());
    byHeight.set(Number(height), hash);
    byHash.set(hash, raw);
  }
  const tip = Math.max(...byHeight.keys());
  const answer = (method: unknown, params: unknown[]): { result?: unknown; error?: object } => {
    if (method === 'getblockcount') return { result: tip };
    if (method === 'getblockhash') {
      const hash = byHeight.get(Number(params[0]));
      return hash ? { result: hash } : { error: { code: -8, message: 'Block height out of range' } };
    }
    if (method === 'getblockheader') {
      if (params[1] === true) return { error: { code: -32601, message: 'Only raw headers are served' } };
      const raw = byHash.get(String(params[0]));
      if (!raw) return { error: { code: -5, message: 'Block not found' } };
      return { result: raw };
    }
    return { error: { code: -32601, message: 'Method not found' } };
  };
  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        let request: { id?: unknown; method?: unknown; params?: unknown };
        try {
          request = JSON.parse(body.toString('utf8'));
        } catch {
          res.writeHead(400).end();
          return;
        }
        const params = Array.isArray(request.params) ? request.params : [];
        const reply = {
          result: null,
          error: null,
          id: request.id ?? null,
          ...answer(request.method, params),
        };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      },
      (e: Error) => res.writeHead(400, { 'content-type': 'text/plain' }).end(e.message),
    );
  });
  const port = await listenLocal(server);
  return { nodeUrl: `http://lightproof:headers@127.0.0.1:${port}`, close: closer(server) };
}
