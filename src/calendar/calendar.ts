/**
 * Starting and stopping a calendar: its keys, its store, the aggregator, the HTTP listener and, when
 * a Bitcoin node is configured, the anchoring wallet. Without a node it still takes digests; the
 * rounds wait in the store until a node is configured.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { bytesToHex } from '@noble/hashes/utils.js';
import { type Logger, pino } from 'pino';
import { bitcoinRpc, p2wpkhOf } from '../bitcoin/index.js';
import { ensurePrivateDir } from '../core/datadir.js';
import { LightproofError } from '../core/errors.js';
import { Aggregator } from './aggregator.js';
import { Anchorer } from './anchor/anchorer.js';
import type { CalendarBitcoinConfig, CalendarConfig } from './config.js';
import { openCalendarKeys } from './keys.js';
import { type ChainView, createCalendarHandler } from './server.js';
import { openCalendarStore } from './store/index.js';
import type { CalendarStore } from './store/types.js';

export interface StartCalendarOptions {
  config: CalendarConfig;
  /** Keys (hmac.key, anchor.key) and, by default, the SQLite store calendar.db. */
  dataDir: string;
  logger?: Logger;
}

export interface RunningCalendar {
  /** Where it listens, e.g. http://127.0.0.1:14788. */
  readonly url: string;
  /** The URI written into pending attestations. */
  readonly publicUrl: string;
  /** The anchoring wallet's address: fund it to anchor. */
  readonly address: string;
  readonly store: CalendarStore;
  /** The anchoring wallet, when a Bitcoin node is configured; tick() runs one pass now (tests). */
  readonly anchorer: Anchorer | null;
  status(): Promise<Record<string, unknown>>;
  /** Stops taking digests, answers those already queued with a last round, then closes everything. */
  close(): Promise<void>;
}

const NO_CHAIN: ChainView = { height: () => null, pendingTip: () => null };

export async function startCalendar(o: StartCalendarOptions): Promise<RunningCalendar> {
  const { config } = o;
  // Logs go to stderr so stdout stays free for what the CLI prints.
  const log = o.logger ?? pino({ name: 'lightproof-calendar' }, pino.destination(2));
  const dir = ensurePrivateDir(o.dataDir);
  const keys = openCalendarKeys(dir);
  const address = p2wpkhOf(keys.anchorKey, config.network).address;
  const store = await openCalendarStore(config.store ?? { kind: 'sqlite', path: join(dir, 'calendar.db') });
  const cleanups: (() => Promise<void> | void)[] = [() => store.close()];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    // Requests that arrive before the calendar is wired (the public URL needs the bound port) get 503.
    let handle: http.RequestListener = (_req, res) => res.writeHead(503, { 'retry-after': '1' }).end();
    // Slow senders are cut off by the header and request deadlines, checked every second.
    const server = http.createServer({ maxHeaderSize: 8192, connectionsCheckingInterval: 1000 }, (req, res) =>
      handle(req, res),
    );
    server.headersTimeout = 10_000;
    server.requestTimeout = 15_000;
    server.keepAliveTimeout = 5_000;
    server.maxHeadersCount = 64;
    const url = await listen(server, config.listen.host, config.listen.port);
    cleanups.push(() => closeServer(server));
    const publicUrl = config.publicUrl ?? defaultPublicUrl(url, log);

    const anchorer = config.bitcoin ? openAnchorer(config, config.bitcoin, store, keys.anchorKey, log) : null;
    const aggregator = new Aggregator({
      store,
      hmacKey: keys.hmacKey,
      uri: publicUrl,
      intervalMs: config.intervalMs,
      maxPending: config.maxPending,
      log,
    });
    const status = async (): Promise<Record<string, unknown>> => {
      const stats = await store.stats();
      const last = aggregator.lastRound;
      return {
        calendar: 'lightproof',
        publicUrl,
        network: config.network,
        intervalMs: config.intervalMs,
        minConfirmations: config.minConfirmations,
        rounds: stats.rounds,
        digests: stats.digests,
        queuedDigests: aggregator.queued,
        pendingRounds: stats.rounds - stats.anchoredRounds,
        lastRound: last
          ? {
              id: last.id,
              time: last.time,
              digests: last.digests,
              commitment: bytesToHex(last.commitment),
              commitMs: Math.round(last.commitMs * 10) / 10,
            }
          : null,
        anchoring: anchorer ? 'enabled' : 'disabled: no Bitcoin node configured (--bitcoin-rpc); rounds wait',
        ...(anchorer ? await anchorer.status() : { address }),
      };
    };
    handle = createCalendarHandler({
      aggregator,
      store,
      chain: anchorer ?? NO_CHAIN,
      minConfirmations: config.minConfirmations,
      status,
    });
    aggregator.start();
    cleanups.push(() => aggregator.close());
    if (anchorer) {
      anchorer.start();
      cleanups.push(() => anchorer.close());
    } else {
      log.warn({ address }, 'no Bitcoin node configured: digests are accepted and rounds wait for anchoring');
    }
    log.info({ url, publicUrl, address, store: store.where, network: config.network }, 'calendar listening');

    let closing: Promise<void> | null = null;
    return {
      url,
      publicUrl,
      address,
      store,
      anchorer,
      status,
      close() {
        closing ??= (async () => {
          server.close();
          server.closeIdleConnections();
          await cleanup();
          log.info('calendar stopped');
        })();
        return closing;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function openAnchorer(
  config: CalendarConfig,
  b: CalendarBitcoinConfig,
  store: CalendarStore,
  secretKey: Uint8Array,
  log: Logger,
): Anchorer {
  let tlsCert: string | undefined;
  if (b.rpcCertPath) {
    try {
      tlsCert = readFileSync(b.rpcCertPath, 'utf8');
    } catch (cause) {
      throw new LightproofError(
        'LP_CAL_CONFIG',
        `Cannot read the node's TLS certificate ${b.rpcCertPath} (${(cause as NodeJS.ErrnoException).code ?? cause}). Pass btcd's rpc.cert with --rpc-cert.`,
        { cause },
      );
    }
  }
  const rpc = bitcoinRpc({
    url: b.rpcUrl,
    ...(b.rpcUser === null ? {} : { user: b.rpcUser, pass: b.rpcPass ?? '' }),
    ...(b.cookieFile === null ? {} : { cookieFile: b.cookieFile }),
    ...(tlsCert === undefined ? {} : { tlsCert }),
  });
  return new Anchorer({
    store,
    rpc,
    secretKey,
    network: config.network,
    feeRate: b.feeRate,
    maxFeeSats: b.maxFeeSats,
    anchorIntervalMs: b.anchorIntervalMs,
    pollMs: b.pollMs,
    ...(b.startHeight === null ? {} : { startHeight: b.startHeight }),
    log,
  });
}

/** http://HOST:PORT of the listener; a wildcard address is no URL a client can use, so loopback stands in. */
function defaultPublicUrl(url: string, log: Logger): string {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0' || u.hostname === '[::]') {
    log.warn('listening on all addresses without --public-url: proofs will name 127.0.0.1; set --public-url');
    u.hostname = '127.0.0.1';
  }
  if (u.hostname.startsWith('[')) {
    throw new LightproofError(
      'LP_CAL_CONFIG',
      'A pending attestation cannot carry an IPv6 literal address; set --public-url to a host name.',
    );
  }
  return u.origin;
}

async function listen(server: http.Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new LightproofError(
          'LP_CAL_LISTEN',
          `Cannot listen on ${host}:${port} (${err.code ?? err.message}); choose another address with --listen.`,
          { cause: err },
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
