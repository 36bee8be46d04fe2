/**
 * Aperture (lightninglabs' L402 reverse proxy) as a peer for interop tests: one process in front of
 * upstream HTTP services, minting its invoices on an lnd node of the regtest network.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { ensurePrivateDir, isLightproofError, LightproofError } from '../core/index.js';
import { locateAperture } from './daemons.js';
import { freePorts } from './ports.js';
import { describeLog, spawnDaemon, stopPids } from './processes.js';
import type { LndNodeInfo } from './state.js';
import { waitFor } from './wait.js';

/** Aperture connects to lnd and migrates its database before it listens: seconds, rarely more. */
const START_TIMEOUT_MS = 60_000;

export interface ApertureService {
  name: string;
  /** Matched against the Host header; any host when omitted. */
  hostRegexp?: string;
  pathRegexp: string;
  /** host:port of the upstream, spoken to over plain HTTP. */
  address: string;
  /** Aperture prices in whole satoshis only. */
  priceSat: number;
  /** Seconds a token works after minting (`<name>_valid_until`); forever when omitted. */
  timeoutSeconds?: number;
}

export interface StartApertureOptions {
  /** Holds aperture.yaml, its macaroon dir, database and logs. */
  dir: string;
  /** The node that makes the invoices; Aperture reads its invoice macaroon and TLS cert. */
  lnd: Pick<LndNodeInfo, 'grpcHost' | 'tlsCertPath' | 'invoiceMacaroonPath'>;
  services: ApertureService[];
  listenPort?: number;
  /** The aperture binary; found (or built) by build-daemons.sh --peers when omitted. */
  bin?: string;
  log?: (line: string) => void;
}

export interface RunningAperture {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly pid: number;
  readonly configPath: string;
  /** Aperture's stdout and stderr. */
  readonly logPath: string;
  /** SIGTERM, SIGKILL after a grace period. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startAperture(opts: StartApertureOptions): Promise<RunningAperture> {
  const log = opts.log ?? (() => {});
  const dir = resolve(opts.dir);
  ensurePrivateDir(dir);
  for (const s of opts.services) checkService(s);
  if (!existsSync(opts.lnd.invoiceMacaroonPath) || !existsSync(opts.lnd.tlsCertPath)) {
    throw new LightproofError(
      'LP_APERTURE_BAD_CONFIG',
      `Aperture needs the node's invoice macaroon and TLS cert (${opts.lnd.invoiceMacaroonPath}, ${opts.lnd.tlsCertPath}); start the node first.`,
    );
  }
  const bin = opts.bin ?? (await locateAperture(log));
  // Aperture looks for exactly "invoice.macaroon" in macdir, so it gets a directory of its own.
  const macDir = join(dir, 'macaroons');
  mkdirSync(macDir, { recursive: true, mode: 0o700 });
  copyFileSync(opts.lnd.invoiceMacaroonPath, join(macDir, 'invoice.macaroon'));
  const port = opts.listenPort ?? (await freePorts(1))[0]!;
  const configPath = join(dir, 'aperture.yaml');
  writeFileSync(configPath, apertureConfig(dir, port, opts), { mode: 0o600 });

  const daemon = spawnDaemon({
    name: 'aperture',
    command: bin,
    // go-yaml maps SqliteConfig.DatabaseFileName to "databasefilename", so the sample config's
    // `sqlite.dbfile` is silently ignored; the flag is not.
    args: [`--configfile=${configPath}`, `--sqlite.dbfile=${join(dir, 'aperture.db')}`],
    // Aperture's default data dir is ~/.aperture: keep it inside DIR too.
    env: { ...process.env, HOME: dir },
    logPath: join(dir, 'aperture.out.log'),
    detached: false,
  });
  const stop = once(() => stopPids([daemon.pid], configPath));
  const url = `http://127.0.0.1:${port}`;
  log(`aperture pid ${daemon.pid} starts on ${url}`);
  try {
    await waitFor(
      { what: `Aperture to answer HTTP on ${url}`, timeoutMs: START_TIMEOUT_MS, daemons: [daemon] },
      async () => {
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        await res.body?.cancel();
        return true;
      },
    );
  } catch (err) {
    await stop().catch(() => {});
    const why = isLightproofError(err) ? err.message : String(err);
    throw new LightproofError(
      'LP_APERTURE_START_FAILED',
      `Aperture did not start: ${why.split('\n')[0]!.split('. ')[0]}. Fix the cause its log names:${describeLog(daemon)}`,
      { cause: err },
    );
  }
  return { url, pid: daemon.pid, configPath, logPath: daemon.logPath, stop };
}

/** aperture.yaml as in the reference's §5, with every path inside DIR. */
function apertureConfig(dir: string, port: number, opts: StartApertureOptions): string {
  return stringify({
    listenaddr: `127.0.0.1:${port}`,
    insecure: true,
    debuglevel: 'info',
    basedir: dir,
    // NewConfig() defaults to etcd, whatever the sample config says.
    dbbackend: 'sqlite',
    authenticator: {
      network: 'regtest',
      disable: false,
      lndhost: opts.lnd.grpcHost,
      tlspath: opts.lnd.tlsCertPath,
      macdir: join(dir, 'macaroons'),
    },
    services: opts.services.map((s) => ({
      name: s.name,
      hostregexp: s.hostRegexp ?? '.*',
      pathregexp: s.pathRegexp,
      address: s.address,
      protocol: 'http',
      price: s.priceSat,
      ...(s.timeoutSeconds !== undefined ? { timeout: s.timeoutSeconds } : {}),
    })),
  });
}

function checkService(s: ApertureService): void {
  const bad = (why: string) =>
    new LightproofError('LP_APERTURE_BAD_CONFIG', `Aperture service '${s.name}': ${why}.`);
  if (!/^[A-Za-z0-9_.-]+$/.test(s.name)) throw bad('the name may hold letters, digits, _ . and - only');
  if (!/^[^\s:]+:\d{1,5}$/.test(s.address)) throw bad(`address '${s.address}' is not host:port`);
  if (!Number.isSafeInteger(s.priceSat) || s.priceSat <= 0)
    throw bad('priceSat must be a whole number of satoshis above 0');
  if (s.timeoutSeconds !== undefined && (!Number.isSafeInteger(s.timeoutSeconds) || s.timeoutSeconds <= 0))
    throw bad('timeoutSeconds must be a positive whole number');
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= fn();
    return running;
  };
}
