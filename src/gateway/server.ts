/**
 * Starting and stopping a gateway: the Lightning node, the shared state, the key ring, the receipt
 * key, the public listener (HTTP or HTTPS), the admin listener, the invoice watcher, and a graceful
 * shutdown that lets requests in flight finish.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { ensurePrivateDir } from '../core/datadir.js';
import { LightproofError } from '../core/errors.js';
import { KeyRing } from '../l402/index.js';
import { type LightningNode, type NodeInfo, openLightning } from '../lightning/index.js';
import { AdminServer, adminCredential } from './admin.js';
import type { GatewayConfig } from './config.js';
import { GatewayHandler } from './handler.js';
import { GatewayMetrics } from './metrics.js';
import { PriceBook } from './pricing.js';
import { openReceiptLog, type ReceiptLog } from './receipt-log.js';
import { loggedIssuer, openReceiptIssuer } from './receipts.js';
import { RevocationCache } from './revocations.js';
import { openGatewayState } from './state/index.js';
import type { GatewayState } from './state/types.js';
import { wellKnownDocument } from './wellknown.js';

export interface StartGatewayOptions {
  config: GatewayConfig;
  /** The gateway's own directory: key ring, receipt key, admin credential, SQLite state. */
  dataDir: string;
  /** The embedded node's directory, when the config uses it. */
  nodeDataDir?: string;
  /** Replaces the node the config names (tests). */
  node?: LightningNode;
  logger?: Logger;
  /** How often revocations made by other processes are picked up; 1 s by default. */
  revocationPollMs?: number;
  now?: () => number;
}

export interface RunningGateway {
  url: string;
  adminUrl: string | null;
  adminCredentialPath: string;
  receiptKey: string | null;
  metrics: GatewayMetrics;
  state: GatewayState;
  /** Stops accepting, lets requests in flight finish (up to GRACE ms), then closes everything. */
  close(graceMs?: number): Promise<void>;
}

export async function startGateway(o: StartGatewayOptions): Promise<RunningGateway> {
  const { config } = o;
  // Logs go to stderr so stdout stays free for what the CLI prints (its address, as JSON).
  const log = o.logger ?? pino({ name: 'lightproof-gateway' }, pino.destination(2));
  const now = o.now ?? (() => Math.floor(Date.now() / 1000));
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    ensurePrivateDir(o.dataDir);
    const node = o.node ?? openNode(config, o.nodeDataDir ?? join(o.dataDir, '..', 'node'), cleanups);
    const state = await openGatewayState(
      config.state.kind === 'sqlite'
        ? { kind: 'sqlite', path: config.state.path ?? join(o.dataDir, 'gateway.sqlite') }
        : config.state,
    );
    cleanups.push(() => state.close());
    const keys = KeyRing.open(join(o.dataDir, 'l402-keys.json'));
    const signer = config.receipts.enabled ? openReceiptIssuer(join(o.dataDir, 'receipt.key')) : null;
    let receiptLog: ReceiptLog | null = null;
    if (signer && config.receipts.log) {
      receiptLog = await openReceiptLog({
        config: config.receipts.log,
        dataDir: o.dataDir,
        receiptKey: signer.publicKeyHex,
        log,
      });
      const opened = receiptLog;
      cleanups.push(() => opened.close());
    }
    const receipts = signer && receiptLog ? loggedIssuer(signer, receiptLog) : signer;
    const metrics = new GatewayMetrics();
    const prices = new PriceBook();
    const revocations = new RevocationCache(state, log);
    await revocations.start(o.revocationPollMs ?? 1000);
    cleanups.push(() => revocations.stop());
    const nodeInfo = async () => node.getInfo().catch(() => null);
    // The well-known document names the node (pubkey, network), which never changes: ask once it
    // answers, rather than calling the node on every public, unauthenticated request.
    let identity: Promise<NodeInfo | null> | null = null;
    const nodeIdentity = () => {
      identity ??= nodeInfo().then((info) => {
        if (info === null) identity = null;
        return info;
      });
      return identity;
    };
    const wellKnown = () =>
      wellKnownDocument({
        config,
        prices,
        receiptKey: receipts?.publicKeyHex ?? null,
        receiptLog,
        nodeInfo: nodeIdentity,
      });
    const handler = new GatewayHandler({
      config,
      node,
      keys,
      state,
      prices,
      revocations,
      receipts,
      metrics,
      log,
      wellKnown,
      now,
    });
    cleanups.push(() => handler.close());
    const flusher = setInterval(() => {
      handler
        .flushCounts()
        .catch((err: unknown) => log.warn({ err: String(err) }, 'could not write request counts'));
    }, 1000);
    flusher.unref();
    cleanups.push(async () => {
      clearInterval(flusher);
      await handler.flushCounts();
    });

    const server = config.tls
      ? https.createServer(
          { cert: readTlsFile(config, 'cert'), key: readTlsFile(config, 'key') },
          handler.handle,
        )
      : http.createServer(handler.handle);
    server.keepAliveTimeout = 65_000;
    const url = await listen(server, config.listen.host, config.listen.port, config.tls ? 'https' : 'http');
    cleanups.push(() => closeServer(server));

    const adminCredentialPath = join(o.dataDir, 'admin.token');
    let adminUrl: string | null = null;
    if (config.admin) {
      const admin = new AdminServer({
        state,
        revocations,
        metrics,
        credential: adminCredential(adminCredentialPath),
        metricsPublic: config.admin.metricsPublic,
        services: async () => ((await wellKnown()) as { services: unknown }).services,
        ...(receiptLog ? { receiptProof: receiptLog.prove } : {}),
        health: async () => {
          const info = await nodeInfo();
          return { ok: info !== null, node: info, inflight: handler.inflight };
        },
        now,
      });
      adminUrl = await admin.listen(config.admin.listen.host, config.admin.listen.port);
      cleanups.push(() => admin.close());
    }

    const watcher = watchSettlements(node, state, metrics, log);
    cleanups.push(() => watcher.stop());
    log.info(
      { url, admin: adminUrl, services: config.services.map((s) => s.name), config: config.source },
      'gateway listening',
    );

    let closing: Promise<void> | null = null;
    return {
      url,
      adminUrl,
      adminCredentialPath,
      receiptKey: receipts?.publicKeyHex ?? null,
      metrics,
      state,
      close(graceMs = 10_000) {
        closing ??= (async () => {
          server.close();
          server.closeIdleConnections();
          await Promise.race([handler.drained(), new Promise((r) => setTimeout(r, graceMs).unref())]);
          server.closeAllConnections();
          await cleanup();
          log.info('gateway stopped');
        })();
        return closing;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function openNode(
  config: GatewayConfig,
  nodeDir: string,
  cleanups: (() => Promise<void> | void)[],
): LightningNode {
  const opened = openLightning(config.lightning, nodeDir);
  cleanups.push(() => opened.close());
  return opened.node;
}

/** Counts settled invoices as the node reports them, so the gateway sees payments as they land. */
function watchSettlements(node: LightningNode, state: GatewayState, metrics: GatewayMetrics, log: Logger) {
  const abort = new AbortController();
  const run = async () => {
    while (!abort.signal.aborted) {
      try {
        for await (const inv of node.subscribeInvoices({ signal: abort.signal })) {
          if (inv.state !== 'settled') continue;
          const token = await state.markSettled(
            inv.paymentHash,
            inv.settledAt ?? Math.floor(Date.now() / 1000),
          );
          if (token) {
            metrics.settled.inc({ service: token.service });
            log.info(
              { token_id: token.tokenId, service: token.service, price_msat: String(token.priceMsat) },
              'invoice settled',
            );
          }
        }
      } catch (err) {
        if (abort.signal.aborted) return;
        log.warn({ err: String(err) }, 'invoice subscription ended; resubscribing in 5 s');
        await new Promise((r) => setTimeout(r, 5000).unref());
      }
    }
  };
  const done = run();
  return {
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}

function readTlsFile(config: GatewayConfig, which: 'cert' | 'key'): Buffer {
  const path = which === 'cert' ? config.tls!.certPath : config.tls!.keyPath;
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new LightproofError(
      'LP_GATEWAY_CONFIG',
      `${config.source}: tls.${which}: cannot read ${path} (${(cause as Error).message}).`,
      { cause },
    );
  }
}

async function listen(
  server: http.Server | https.Server,
  host: string,
  port: number,
  scheme: string,
): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new LightproofError(
          'LP_GATEWAY_LISTEN',
          `Cannot listen on ${host}:${port} (${err.code ?? err.message}); choose another address with --listen or "listen:".`,
          { cause: err },
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return `${scheme}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

function closeServer(server: http.Server | https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
