/**
 * Child process for the crash test: appends `entry <i>` forever with many appends in flight and
 * prints `ack <index>` for each one the log acknowledged, until the parent kills it with SIGKILL.
 * Usage: node --import tsx src/provenance/log/crash.testkit.ts DIR
 */
import { openLog } from './index.js';

const log = await openLog(process.argv[2]!);
let next = log.size();
const IN_FLIGHT = 256;

function one(): void {
  const i = next++;
  log.append(Buffer.from(`entry ${i}`)).then(({ index }) => {
    // Pipes are written synchronously on Linux, so a printed ack was made after the fsync.
    process.stdout.write(`ack ${index}\n`);
    one();
  });
}
for (let k = 0; k < IN_FLIGHT; k++) one();
