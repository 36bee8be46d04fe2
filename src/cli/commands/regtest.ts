import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { LightproofError } from '../../core/errors.js';
import { toJson } from '../../core/json.js';
import { regtestStatus, startRegtestNetwork, stopRegtestNetwork } from '../../regtest/index.js';
import { dataDir, print } from '../context.js';

function describeStatus(status: Awaited<ReturnType<typeof regtestStatus>>): string {
  const lines = [`regtest network in ${status.state.dir} (started ${status.state.startedAt})`];
  lines.push(
    `  btcd   ${status.btcd.alive ? 'running' : 'STOPPED'}  rpc ${status.state.btcd.rpcUrl}  cert ${status.state.btcd.certPath}`,
  );
  for (const [name, n] of Object.entries(status.nodes)) {
    const info = status.state.nodes[name as keyof typeof status.nodes];
    lines.push(
      `  ${name.padEnd(6)} ${n.alive ? 'running' : 'STOPPED'}  rest ${info.restUrl}  height ${n.blockHeight ?? '?'}  channels ${n.numActiveChannels ?? '?'}${n.error ? `  (${n.error})` : ''}`,
    );
    lines.push(`         macaroon ${info.adminMacaroonPath}`);
    lines.push(`         tls cert ${info.tlsCertPath}`);
  }
  return lines.join('\n');
}

export function registerRegtest(program: Command): void {
  const regtest = program
    .command('regtest')
    .description(
      'A real local Lightning network: btcd in regtest plus three LND nodes (alice -> bob -> carol)',
    )
    .addHelpText(
      'after',
      '\nThe daemons are built from their Go modules on first use (several minutes; cached afterwards).\n\nExample:\n  $ lightproof regtest up\n  $ lightproof regtest status --json | jq .state.nodes.alice.restUrl\n  $ lightproof regtest down',
    );

  regtest
    .command('up')
    .description('Start btcd and alice, bob, carol; fund them and open channels alice->bob->carol')
    .option('--json', 'print the status as JSON')
    .addHelpText('after', '\nExample:\n  $ lightproof regtest up')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const dir = dataDir(cmd, 'regtest');
      if (existsSync(join(dir, 'state.json'))) {
        const status = await regtestStatus(dir);
        if (status.btcd.alive || Object.values(status.nodes).some((n) => n.alive)) {
          throw new LightproofError(
            'LP_REGTEST_ALREADY_RUNNING',
            `A regtest network is already running in ${dir}; use it, or stop it with \`lightproof regtest down\`.`,
          );
        }
        await stopRegtestNetwork(dir);
      }
      const started = Date.now();
      const network = await startRegtestNetwork({
        dir,
        detached: true,
        log: (l) => process.stderr.write(`${l}\n`),
      });
      process.stderr.write(`regtest network ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      const status = await regtestStatus(network.dir);
      print(opts.json ? toJson(status) : describeStatus(status));
    });

  regtest
    .command('status')
    .description("Print each node's REST URL, macaroon and TLS cert paths, height and channels")
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ lightproof regtest status --json')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const status = await regtestStatus(dataDir(cmd, 'regtest'));
      print(opts.json ? toJson(status) : describeStatus(status));
    });

  regtest
    .command('down')
    .description('Stop the regtest network started by `regtest up`')
    .addHelpText('after', '\nExample:\n  $ lightproof regtest down')
    .action(async (_opts: unknown, cmd: Command) => {
      const dir = dataDir(cmd, 'regtest');
      await stopRegtestNetwork(dir);
      print(`regtest network in ${dir} stopped`);
    });
}
