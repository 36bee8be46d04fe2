/** Runs the benchmarks named on the command line (all when none): npm run bench -- payments */

import { benchCheckpoint } from './checkpoint.js';
import { benchEnergy } from './energy.js';
import { benchGateway } from './gateway.js';
import { benchPayments } from './lightning-payments.js';
import { benchLog } from './log.js';
import { benchManifest } from './manifest.js';
import { benchOtsStampAndCalendar, benchOtsVerify } from './ots.js';

const suites: Record<string, () => Promise<void>> = {
  payments: benchPayments,
  gateway: benchGateway,
  'ots-verify': benchOtsVerify,
  'ots-stamp': benchOtsStampAndCalendar,
  energy: benchEnergy,
  manifest: benchManifest,
  log: benchLog,
  checkpoint: benchCheckpoint,
};
const wanted = process.argv.slice(2);
for (const name of wanted.length ? wanted : Object.keys(suites)) {
  const suite = suites[name];
  if (!suite) {
    console.error(`unknown benchmark '${name}'; choose from: ${Object.keys(suites).join(', ')}`);
    process.exit(2);
  }
  await suite();
}
