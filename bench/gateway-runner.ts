/**
 * Runs one Lightproof gateway as its own process for the gateway benchmark: argv[2] is JSON
 * {"config": <gateway config object>, "dataDir": "..."}; prints {"url"} on stdout once listening and
 * closes on SIGTERM, exiting normally so `node --cpu-prof` can write its profile.
 */
import { pino } from 'pino';
import { parseGatewayConfig, startGateway } from '../src/gateway/index.js';

const arg = process.argv[2];
if (!arg) {
  console.error('usage: node --import tsx bench/gateway-runner.ts \'{"config": {...}, "dataDir": "..."}\'');
  process.exit(2);
}
const { config, dataDir } = JSON.parse(arg) as { config: unknown; dataDir: string };
const parsed = parseGatewayConfig(config, 'benchmark config');
const gw = await startGateway({
  config: parsed,
  dataDir,
  // To stderr, which the benchmark sends to a file; warnings and errors only unless requests are logged.
  logger: pino({ level: parsed.logRequests ? 'info' : 'warn' }, pino.destination(2)),
});
console.log(JSON.stringify({ url: gw.url }));
process.once('SIGTERM', () => {
  gw.close(1000).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
});
