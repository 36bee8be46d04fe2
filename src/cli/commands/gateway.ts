import type { Command } from 'commander';
import { LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import {
  type GatewayConfig,
  loadGatewayConfig,
  parseGatewayConfig,
  startGateway,
} from '../../gateway/index.js';
import { dataDir, print } from '../context.js';
import { parseListen } from '../listen.js';

interface GatewayFlags {
  config?: string;
  upstream?: string;
  price?: string;
  listen?: string;
  adminListen?: string;
  check?: boolean;
}

/** The config from --config, or the one-service quick start from --upstream and --price. */
function configFrom(flags: GatewayFlags): GatewayConfig {
  if (flags.config) {
    if (flags.upstream || flags.price)
      throw new LightproofError(
        'LP_CLI_USAGE',
        'Use either --config FILE or --upstream with --price, not both: put the service in the config file.',
      );
    const config = loadGatewayConfig(flags.config);
    if (flags.listen) config.listen = parseListen(flags.listen);
    if (flags.adminListen)
      config.admin = {
        listen: parseListen(flags.adminListen),
        metricsPublic: config.admin?.metricsPublic ?? false,
      };
    return config;
  }
  if (!flags.upstream || flags.price === undefined)
    throw new LightproofError(
      'LP_CLI_USAGE',
      'Give --upstream URL and --price SATS (the one-line quick start), or --config gateway.yaml.',
    );
  const price = /^\d+$/.test(flags.price) ? Number(flags.price) : flags.price;
  return parseGatewayConfig(
    {
      listen: flags.listen ?? '127.0.0.1:8402',
      ...(flags.adminListen ? { admin: { listen: flags.adminListen } } : {}),
      services: [{ name: 'default', path: '^/', upstream: flags.upstream, price }],
    },
    'the command line',
  );
}

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description('Sell any HTTP API per request over Lightning: an L402 reverse proxy (Aperture-class)')
    .option(
      '--config <file>',
      'a gateway.yaml with services, prices, limits, state and TLS (see docs/gateway.md)',
    )
    .option('--upstream <url>', 'quick start: the API to put behind the paywall')
    .option('--price <sats>', 'quick start: the price of one token, in sats ("1500 msat" also works)')
    .option('--listen <host:port>', 'where the gateway listens (default 127.0.0.1:8402; port 0 picks one)')
    .option(
      '--admin-listen <host:port>',
      'serve the admin API and /metrics here (credential in <data-dir>/gateway/admin.token)',
    )
    .option('--check', 'only check the config and print it; start nothing')
    .addHelpText(
      'after',
      `
The quick start runs on embedded defaults: the embedded Lightning node and SQLite, both in the data
directory. Clients get 402 with an invoice and a macaroon, pay, and retry with
"Authorization: L402 <macaroon>:<preimage>". Stop with Ctrl-C; requests in flight finish first.

Example:
  $ lightproof gateway --upstream http://127.0.0.1:8080 --price 10
  $ lightproof gateway --config gateway.yaml --admin-listen 127.0.0.1:8403
  $ lightproof gateway --config gateway.yaml --check`,
    )
    .action(async (flags: GatewayFlags, cmd: Command) => {
      const config = configFrom(flags);
      if (flags.check) {
        print(
          toJson({
            ok: true,
            source: config.source,
            listen: `${config.listen.host}:${config.listen.port}`,
            services: config.services.map((s) => ({
              name: s.name,
              path: s.path.source,
              upstream: s.upstream.origin,
            })),
          }),
        );
        return;
      }
      const gw = await startGateway({
        config,
        dataDir: dataDir(cmd, 'gateway'),
        nodeDataDir: dataDir(cmd, 'node'),
      });
      print(
        toJson({
          url: gw.url,
          admin_url: gw.adminUrl,
          admin_credential_path: gw.adminUrl ? gw.adminCredentialPath : null,
          receipt_key: gw.receiptKey,
          services: config.services.map((s) => s.name),
        }),
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await gw.close();
    });
}
