import type { Command } from 'commander';
import { p2wpkhOf } from '../../bitcoin/index.js';
import {
  type CalendarConfig,
  openCalendarKeys,
  parseCalendarConfig,
  readCalendarConfigFile,
  startCalendar,
} from '../../calendar/index.js';
import { LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import { dataDir, print } from '../context.js';

interface ConfigFlags {
  config?: string;
  listen?: string;
  publicUrl?: string;
  intervalMs?: string;
  store?: string;
  network?: string;
  minConfirmations?: string;
  bitcoinRpc?: string;
  rpcCert?: string;
  rpcUser?: string;
  rpcPass?: string;
  rpcCookie?: string;
  feeRate?: string;
  maxFeeSats?: string;
  anchorIntervalMs?: string;
  startHeight?: string;
}

/** A number flag as a number, or the text itself so the config check names it ("expected number"). */
const num = (v: string | undefined): number | string | undefined =>
  v === undefined ? undefined : /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** The YAML file (if any) with the flags laid over it, checked in full. */
export function calendarConfigFrom(flags: ConfigFlags): CalendarConfig {
  const raw: Record<string, unknown> = flags.config ? readCalendarConfigFile(flags.config) : {};
  Object.assign(
    raw,
    defined({
      listen: flags.listen,
      publicUrl: flags.publicUrl,
      intervalMs: num(flags.intervalMs),
      store: flags.store,
      network: flags.network,
      minConfirmations: num(flags.minConfirmations),
    }),
  );
  const bitcoin = defined({
    rpc: flags.bitcoinRpc,
    rpcCert: flags.rpcCert,
    rpcUser: flags.rpcUser,
    rpcPass: flags.rpcPass,
    cookieFile: flags.rpcCookie,
    feeRate: num(flags.feeRate),
    maxFeeSats: num(flags.maxFeeSats),
    anchorIntervalMs: num(flags.anchorIntervalMs),
    startHeight: num(flags.startHeight),
  });
  if (Object.keys(bitcoin).length > 0) {
    const fromFile = typeof raw.bitcoin === 'object' && raw.bitcoin !== null ? raw.bitcoin : {};
    raw.bitcoin = { ...fromFile, ...bitcoin };
  }
  const source = flags.config ? `${flags.config} (with command-line flags)` : 'the command line';
  return parseCalendarConfig(raw, source);
}

function configOptions(cmd: Command): Command {
  return cmd
    .option(
      '--config <file>',
      'a calendar.yaml with the same settings (flags override it; see docs/calendar.md)',
    )
    .option('--network <name>', 'mainnet, testnet, signet or regtest (default mainnet)');
}

export function registerCalendar(program: Command): void {
  const calendar = program
    .command('calendar')
    .description('Run an OpenTimestamps calendar server that anchors rounds in Bitcoin with its own wallet')
    .addHelpText(
      'after',
      `
Clients (lightproof ots stamp, the python "ots" client) POST digests; each interval closes one Merkle
round, stored before any reply. The calendar's wallet anchors waiting rounds in an OP_RETURN
transaction (replaced with a higher fee as rounds arrive), and serves each round's proof once the
anchor has enough confirmations.

Example:
  $ lightproof calendar address --network regtest
  $ lightproof calendar serve --network regtest --bitcoin-rpc https://user:pass@127.0.0.1:18334 \\
      --rpc-cert ~/.btcd/rpc.cert --public-url http://127.0.0.1:14788
  $ lightproof calendar status`,
    )
    .action(() => {
      calendar.help();
    });

  configOptions(
    calendar
      .command('serve')
      .description('Serve POST /digest and GET /timestamp/<hex>, and anchor rounds when a node is given'),
  )
    .option('--listen <host:port>', 'where to listen (default 127.0.0.1:14788; port 0 picks one)')
    .option('--public-url <url>', 'the URL clients reach, written into every proof (default http://<listen>)')
    .option('--interval-ms <ms>', 'how often a round closes (default 1000; 10 at least)')
    .option(
      '--store <spec>',
      'sqlite:PATH or postgres://user:pass@host/db (default sqlite in the data directory)',
    )
    .option(
      '--bitcoin-rpc <url>',
      'bitcoind or btcd JSON-RPC URL (may carry user:pass@); without it rounds wait',
    )
    .option('--rpc-cert <file>', "the node's TLS certificate (btcd's rpc.cert)")
    .option('--rpc-user <user>', 'RPC user (or put it in the URL)')
    .option('--rpc-pass <password>', 'RPC password (or put it in the URL)')
    .option('--rpc-cookie <file>', "bitcoind's .cookie file instead of a user and password")
    .option('--min-confirmations <n>', 'confirmations before a proof is served (default 6)')
    .option('--fee-rate <sat/vB>', 'fee rate of a new anchor transaction (default 2)')
    .option('--max-fee-sats <sats>', 'no anchor transaction pays more than this (default 100000)')
    .option(
      '--anchor-interval-ms <ms>',
      'least time between anchor versions that only add rounds (default 600000)',
    )
    .option(
      '--start-height <height>',
      "where a new wallet starts reading the chain (default: the node's tip)",
    )
    .option('--check', 'only check the configuration and print it; start nothing')
    .addHelpText(
      'after',
      `
Prints its address and URLs as JSON on stdout; logs are JSON lines on stderr. Ctrl-C (or SIGTERM)
answers the digests already queued with a last round, then stops. Keys live in <data-dir>/calendar:
back up anchor.key, it holds the wallet's coins.

Example:
  $ lightproof calendar serve --listen 127.0.0.1:14788 --public-url https://cal.example.org \\
      --bitcoin-rpc http://127.0.0.1:8332 --rpc-cookie ~/.bitcoin/.cookie
  $ lightproof calendar serve --config calendar.yaml --check`,
    )
    .action(async (flags: ConfigFlags & { check?: boolean }, cmd: Command) => {
      const config = calendarConfigFrom(flags);
      if (flags.check) {
        print(toJson({ ok: true, source: config.source, ...summary(config) }));
        return;
      }
      const cal = await startCalendar({ config, dataDir: dataDir(cmd, 'calendar') });
      print(
        toJson({
          url: cal.url,
          public_url: cal.publicUrl,
          address: cal.address,
          network: config.network,
          anchoring: config.bitcoin ? 'enabled' : 'disabled: no --bitcoin-rpc; rounds wait for a node',
        }),
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await cal.close();
    });

  configOptions(calendar.command('address').description("The anchoring wallet's address: fund it to anchor"))
    .addHelpText(
      'after',
      `
Creates the wallet key (<data-dir>/calendar/anchor.key, mode 0600) on first use.

Example:
  $ lightproof calendar address --network regtest`,
    )
    .action((flags: ConfigFlags, cmd: Command) => {
      const config = calendarConfigFrom(flags);
      const { anchorKey } = openCalendarKeys(dataDir(cmd, 'calendar'));
      print(toJson({ address: p2wpkhOf(anchorKey, config.network).address, network: config.network }));
    });

  calendar
    .command('status')
    .description("A running calendar's rounds, anchors, balance and last error")
    .option('--url <url>', 'the calendar to ask (default http://127.0.0.1:14788)', 'http://127.0.0.1:14788')
    .addHelpText('after', '\nExample:\n  $ lightproof calendar status --url http://127.0.0.1:14788')
    .action(async (flags: { url: string }) => {
      print(toJson(await fetchStatus(flags.url)));
    });
}

function summary(c: CalendarConfig): Record<string, unknown> {
  return {
    listen: `${c.listen.host}:${c.listen.port}`,
    public_url: c.publicUrl,
    interval_ms: c.intervalMs,
    store: c.store?.kind ?? 'sqlite (data directory)',
    network: c.network,
    min_confirmations: c.minConfirmations,
    bitcoin: c.bitcoin
      ? {
          rpc: c.bitcoin.rpcUrl.replace(/\/\/[^@/]*@/, '//'),
          fee_rate: c.bitcoin.feeRate,
          max_fee_sats: c.bitcoin.maxFeeSats,
          anchor_interval_ms: c.bitcoin.anchorIntervalMs,
        }
      : null,
  };
}

async function fetchStatus(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(new URL('/', url), {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (cause) {
    throw new LightproofError(
      'LP_CAL_UNREACHABLE',
      `Cannot reach a calendar at ${url} (${(cause as Error).message}). Start one with "lightproof calendar serve", or pass --url.`,
      { cause },
    );
  }
  const body = await res.text();
  try {
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return JSON.parse(body);
  } catch {
    throw new LightproofError(
      'LP_CAL_UNREACHABLE',
      `${url} did not answer like a Lightproof calendar (HTTP ${res.status}). Check the URL.`,
    );
  }
}
