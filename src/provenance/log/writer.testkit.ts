/**
 * Child process for the read-only tests: appends `entry <i>` up to COUNT entries with 64 appends in
 * flight, printing `ack <index>` for each acknowledged one, then `done`, and keeps the log (and its
 * lock) open until the parent kills it.
 * Usage: node --import tsx src/provenance/log/writer.testkit.ts DIR COUNT
 */
import { openLog } from './index.js';

const log = await openLog(process.argv[2]!);
const count = Number(process.argv[3]);
let next = log.size();
let pending = 0;

function one(): void {
  if (next >= count) {
    if (pending === 0) process.stdout.write('done\n');
    return;
  }
  const i = next++;
  pending++;
  log.append(Buffer.from(`entry ${i}`)).then(({ index }) => {
    pending--;
    process.stdout.write(`ack ${index}\n`);
    one();
  });
}
for (let k = 0; k < 64; k++) one();
setInterval(() => {}, 1 << 30);
