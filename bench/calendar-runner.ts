/**
 * Runs one Lightproof calendar as its own process for the OpenTimestamps benchmark: argv[2] is JSON
 * {"intervalMs": N, "dataDir": "..."}; prints {"url"} on stdout once listening, closes on SIGTERM.
 * No Bitcoin node: the benchmark measures accepting digests, which never waits for anchoring.
 */
import { pino } from 'pino';
import { parseCalendarConfig, startCalendar } from '../src/calendar/index.js';

const arg = process.argv[2];
if (!arg) {
  console.error('usage: node --import tsx bench/calendar-runner.ts \'{"intervalMs": 50, "dataDir": "..."}\'');
  process.exit(2);
}
const { intervalMs, dataDir } = JSON.parse(arg) as { intervalMs: number; dataDir: string };
const calendar = await startCalendar({
  config: parseCalendarConfig({ listen: '127.0.0.1:0', intervalMs }, 'benchmark config'),
  dataDir,
  logger: pino({ level: 'warn' }, pino.destination(2)),
});
console.log(JSON.stringify({ url: calendar.url }));
process.once('SIGTERM', () => {
  calendar.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
});
