/**
 * The wallet as an MCP server, over stdio (the client starts `lightproof mcp`) or over streamable HTTP
 * on loopback. Over HTTP every request must carry `Authorization: Bearer <token>`, the token being a
 * random 32-byte secret in a 0600 file, and must come with a loopback Host (and Origin, when a browser
 * sends one), so a web page cannot reach the wallet by DNS rebinding.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { readSecretFile, writeSecretFile } from '../core/secrets.js';
import type { Wallet } from '../wallet/wallet.js';
import { type McpToolOptions, registerTools } from './tools.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

export const MCP_PATH = '/mcp';

const INSTRUCTIONS = `Lightproof wallet: pays for HTTP APIs over Lightning (L402) and pays invoices, within a spending policy that a person controls.
- Quote first when unsure of a price. max_sats is the most you are willing to pay for one request; choose it from what the user wants.
- Never retry a refused payment by raising max_sats, changing the URL or splitting it up without the user's agreement.
- A payment above the approval threshold returns "awaiting-approval": call request_approval once, tell the user, and do not retry in a loop.
- You cannot approve or reject payments, unfreeze the wallet or change budgets; only a person can.`;

export type McpServerOptions = McpToolOptions;

/** An MCP server with the wallet's tools; connect it to any transport. */
export function createMcpServer(wallet: Wallet, options: McpServerOptions = {}): McpServer {
  const server = new McpServer({ name: 'lightproof', version }, { instructions: INSTRUCTIONS });
  registerTools(server, wallet, options);
  return server;
}

export interface StdioOptions extends McpServerOptions {
  wallet: Wallet;
  stdin?: NodeJS.ReadableStream & { pause?: () => unknown };
  stdout?: NodeJS.WritableStream;
}

export interface RunningStdio {
  /** Resolves when the client hangs up (stdin ends) or close() is called. */
  closed: Promise<void>;
  close(): Promise<void>;
}

/** Serves the tools on stdin/stdout: stdout carries only the protocol. */
export async function serveStdio(o: StdioOptions): Promise<RunningStdio> {
  const stdin = (o.stdin ?? process.stdin) as NodeJS.ReadStream;
  const stdout = (o.stdout ?? process.stdout) as NodeJS.WriteStream;
  const server = createMcpServer(o.wallet, o);
  const transport = new StdioServerTransport(stdin, stdout);
  let resolve!: () => void;
  const closed = new Promise<void>((r) => {
    resolve = r;
  });
  server.server.onclose = () => resolve();
  const close = async () => {
    stdin.off('end', onEnd);
    await server.close();
    resolve();
  };
  const onEnd = () => void close();
  stdin.once('end', onEnd);
  await server.connect(transport);
  return { closed, close };
}

export interface HttpOptions extends McpServerOptions {
  wallet: Wallet;
  /** 127.0.0.1 by default. */
  host?: string;
  /** 0 (any free port) by default. */
  port?: number;
  /** The bearer token's file: read if it holds one, else created with a new random token (mode 0600). */
  tokenPath: string;
  /** Host names (without port) accepted in the Host header besides loopback ones and the listen address. */
  allowedHosts?: string[];
  /** Origins (scheme://host:port) a browser may call from, besides loopback ones. */
  allowedOrigins?: string[];
}

export interface RunningHttp {
  /** http://host:port/mcp */
  url: string;
  tokenPath: string;
  close(): Promise<void>;
}

/** Serves the tools over streamable HTTP (stateless: one MCP server per request) behind the bearer token. */
export async function serveHttp(o: HttpOptions): Promise<RunningHttp> {
  const host = o.host ?? '127.0.0.1';
  const token = loadOrCreateToken(o.tokenPath);
  const expected = digest(token);
  const hosts = new Set([
    'localhost',
    '127.0.0.1',
    '::1',
    ...(o.allowedHosts ?? []).map((h) => h.toLowerCase()),
  ]);
  if (!isWildcard(host)) hosts.add(bare(host.toLowerCase()));
  const origins = new Set(o.allowedOrigins ?? []);

  const server = http.createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) deny(res, 500, 'internal error');
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== MCP_PATH) return deny(res, 404, `not found; the MCP endpoint is ${MCP_PATH}`);
    if (!hostAllowed(req.headers.host, hosts)) return deny(res, 403, 'Host header not allowed');
    const origin = req.headers.origin;
    if (origin !== undefined && !originAllowed(origin, origins)) return deny(res, 403, 'Origin not allowed');
    const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      res.setHeader('www-authenticate', 'Bearer realm="lightproof-mcp"');
      return deny(res, 401, 'missing or wrong bearer token');
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return deny(res, 405, 'this server is stateless: POST JSON-RPC requests only');
    }
    const mcp = createMcpServer(o.wallet, o);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close().catch(() => {});
      void mcp.close().catch(() => {});
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}${MCP_PATH}`,
    tokenPath: o.tokenPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The token in PATH, or a new one written there; a malformed or group/world-readable file is replaced. */
export function loadOrCreateToken(path: string): string {
  if (existsSync(path)) {
    const text = readSecretFile(path).toString('utf8').trim();
    if ((statSync(path).mode & 0o077) === 0 && /^[0-9a-f]{64}$/.test(text)) return text;
  }
  const token = randomBytes(32).toString('hex');
  writeSecretFile(path, token);
  return token;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function deny(res: http.ServerResponse, status: number, error: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ error }));
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** "[::1]" → "::1"; "example.com." → "example.com". */
function bare(host: string): string {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

function hostAllowed(header: string | undefined, hosts: Set<string>): boolean {
  if (!header) return false;
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::\d{1,5})?$/i.exec(header.trim());
  return m !== null && hosts.has(bare(m[1]!.toLowerCase()));
}

function originAllowed(origin: string, origins: Set<string>): boolean {
  if (origins.has(origin)) return true;
  try {
    const u = new URL(origin);
    return (
      (u.protocol === 'http:' || u.protocol === 'https:') &&
      ['localhost', '127.0.0.1', '::1'].includes(bare(u.hostname))
    );
  } catch {
    return false;
  }
}
