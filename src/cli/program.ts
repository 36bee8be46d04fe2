import { createRequire } from 'node:module';
import { Command } from 'commander';
import { registerCalendar } from './commands/calendar.js';
import { registerDecode } from './commands/decode.js';
import { registerDemo } from './commands/demo.js';
import { registerEnergy } from './commands/energy.js';
import { registerFetch } from './commands/fetch.js';
import { registerGateway } from './commands/gateway.js';
import { registerLog } from './commands/log.js';
import { registerMcp } from './commands/mcp.js';
import { registerModel } from './commands/model.js';
import { registerNode } from './commands/node.js';
import { registerOts } from './commands/ots.js';
import { registerRegtest } from './commands/regtest.js';
import { registerVerify } from './commands/verify.js';
import { registerWallet } from './commands/wallet.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

export function buildProgram(): Command {
  const program = new Command()
    .name('lightproof')
    .description(
      'Bitcoin-native money and memory for AI agents: pay over Lightning (L402), prove with OpenTimestamps.',
    )
    .version(version)
    .option(
      '--data-dir <dir>',
      'where state is kept (default: $LIGHTPROOF_DATA_DIR, else a per-user directory)',
    )
    .showHelpAfterError('(add --help for usage and an example)')
    .addHelpText('after', '\nExample:\n  $ lightproof demo\n  $ lightproof decode lnbcrt10u1p...');
  registerDemo(program);
  registerCalendar(program);
  registerDecode(program);
  registerEnergy(program);
  registerFetch(program);
  registerGateway(program);
  registerMcp(program);
  registerModel(program);
  registerNode(program);
  registerLog(program);
  registerOts(program);
  registerRegtest(program);
  registerVerify(program);
  registerWallet(program);
  return program;
}
