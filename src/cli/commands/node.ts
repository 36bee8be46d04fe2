import type { Command } from 'commander';
import { toJson } from '../../core/json.js';
import { satToMsat } from '../../core/money.js';
import { EmbeddedLightning, EmbeddedRestServer } from '../../lightning/index.js';
import { parseSats } from '../args.js';
import { dataDir, print } from '../context.js';
import { parseListen } from '../listen.js';

export function registerNode(program: Command): void {
  const node = program
    .command('node')
    .description("The embedded Lightning node: serve it over LND's REST API, manage its accounts")
    .addHelpText(
      'after',
      '\nExample:\n  $ lightproof node add-account shop\n  $ lightproof node serve --listen 127.0.0.1:8090',
    );

  node
    .command('serve', { isDefault: true })
    .description(
      "Serve the embedded node over the subset of LND's REST API that Lightproof's lnd client uses",
    )
    .option('--listen <host:port>', 'address to listen on (port 0 picks a free port)', '127.0.0.1:8090')
    .addHelpText(
      'after',
      '\nEach account is reached with its own macaroon file (hex in the Grpc-Metadata-macaroon header),\nlisted in the JSON printed at start. Plain HTTP: keep it on loopback.\n\nExample:\n  $ lightproof node serve --listen 127.0.0.1:0\n  $ curl -H "Grpc-Metadata-macaroon: $(xxd -p -c999 ~/.local/share/lightproof/node/accounts/alice.macaroon)" \\\n      http://127.0.0.1:8090/v1/getinfo',
    )
    .action(async (opts: { listen: string }, cmd: Command) => {
      const { host, port } = parseListen(opts.listen);
      const embedded = EmbeddedLightning.open(dataDir(cmd, 'node'));
      const server = new EmbeddedRestServer(embedded);
      const url = await server.listen(host, port);
      print(
        toJson({
          rest_url: url,
          pubkey: embedded.pubkey,
          network: embedded.network,
          accounts: embedded
            .listAccounts()
            .map((a) => ({ name: a.name, macaroon_path: embedded.credentialPath(a.name) })),
        }),
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
      embedded.close();
    });

  node
    .command('add-account')
    .description('Create an account (and its 0600 macaroon file) on the embedded node')
    .argument('<name>', '1-32 lower-case letters, digits, - or _')
    .option('--deposit-sat <sats>', 'fund it with this many satoshis (the embedded node mints them)')
    .addHelpText('after', '\nExample:\n  $ lightproof node add-account agent --deposit-sat 100000')
    .action((name: string, opts: { depositSat?: string }, cmd: Command) => {
      const deposit = opts.depositSat === undefined ? undefined : parseSats(opts.depositSat, '--deposit-sat');
      const embedded = EmbeddedLightning.open(dataDir(cmd, 'node'));
      try {
        embedded.createAccount(name);
        const balance = deposit ? embedded.deposit(name, satToMsat(deposit), 'add-account') : 0n;
        print(toJson({ name, macaroon_path: embedded.credentialPath(name), balance_msat: balance }));
      } finally {
        embedded.close();
      }
    });

  node
    .command('accounts')
    .description("List the embedded node's accounts and balances as JSON")
    .addHelpText('after', '\nExample:\n  $ lightproof node accounts')
    .action((_opts: unknown, cmd: Command) => {
      const embedded = EmbeddedLightning.open(dataDir(cmd, 'node'));
      try {
        print(
          toJson({
            pubkey: embedded.pubkey,
            network: embedded.network,
            accounts: embedded.listAccounts().map((a) => ({
              name: a.name,
              balance_msat: a.balance_msat,
              macaroon_path: embedded.credentialPath(a.name),
            })),
          }),
        );
      } finally {
        embedded.close();
      }
    });
}
