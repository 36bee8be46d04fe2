/**
 * OpenTimestamps benchmarks, each against a peer measured in the same run:
 * - verify: parse-and-verify proofs per second, Lightproof against python-opentimestamps on the same
 *   proofs (the reference's complete example proofs) and the same real mainnet headers;
 * - stamp: files stamped per second by `lightproof ots stamp` and the reference `ots stamp`, both
 *   against one Lightproof calendar on loopback;
 * - calendar: digests per second the calendar accepts over HTTP (POST /digest), loaded by wrk.
 * LIGHTPROOF_BENCH_SECONDS (5) sets each measurement's length. Figures are printed, never asserted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { headerSourceFromText } from '../src/bitcoin/index.js';
import { type Op, parseOts, type Timestamp } from '../src/ots/index.js';
import { otsPeer, runOts } from '../test/support/ots-peer.js';

const SECONDS = Number(process.env.LIGHTPROOF_BENCH_SECONDS ?? 5);
/** Files per stamp run, and wrk's connections against the calendar (each holds one digest waiting for its round). */
const STAMP_FILES = Number(process.env.LIGHTPROOF_BENCH_STAMP_FILES ?? 2000);
const CONNECTIONS = Number(process.env.LIGHTPROOF_BENCH_CONNECTIONS ?? 512);
const ROUND_MS = 20;
const HEADERS = new URL('../test/vectors/ots/mainnet-headers.txt', import.meta.url).pathname;

/** The reference's complete example proofs whose block header is in HEADERS (see its README); each must verify. */
const COMPLETE_PROOFS = ['hello-world.txt.ots'];

/**
 * The built package, as users run it (`npm run bench` builds first); tsx's per-function helpers would
 * otherwise cost about a tenth of the parse. The path is computed so typechecking needs no build.
 */
async function builtOts(): Promise<typeof import('../src/ots/index.js')> {
  const url = new URL(['..', 'dist', 'ots', 'index.js'].join('/'), import.meta.url);
  return (await import(url.href)) as typeof import('../src/ots/index.js');
}

/** Every op of the tree with the message it is applied to, to time the hashing alone. */
function opsOf(ts: Timestamp, out: [Op, Uint8Array][] = []): [Op, Uint8Array][] {
  for (const [op, child] of ts.ops) {
    out.push([op, ts.msg]);
    opsOf(child, out);
  }
  return out;
}

/** Microseconds per proof spent only applying its ops (mostly hashing): a floor no parser goes under. */
function opFloorMicros(
  proofs: readonly Timestamp[],
  applyOp: (op: Op, msg: Uint8Array) => Uint8Array,
): number {
  const work = proofs.flatMap((ts) => opsOf(ts));
  const pass = (): void => {
    for (const [op, msg] of work) applyOp(op, msg);
  };
  const warmUntil = performance.now() + 500;
  while (performance.now() < warmUntil) pass();
  let passes = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    pass();
    passes++;
  }
  return ((performance.now() - t0) * 1000) / (passes * proofs.length);
}

export async function benchOtsVerify(): Promise<void> {
  const built = await builtOts();
  const { verifyTimestamp } = built;
  const peer = otsPeer();
  const files = COMPLETE_PROOFS.map((f) => join(peer.examplesDir, f));
  const proofs = files.map((f) => new Uint8Array(readFileSync(f)));
  const source = headerSourceFromText(readFileSync(HEADERS, 'utf8'), HEADERS);

  const verifyAll = async (): Promise<number> => {
    let verified = 0;
    for (const bytes of proofs) {
      const report = await verifyTimestamp(built.parseOts(bytes).timestamp, source, {
        firstOnly: true,
      });
      if (report.verified) verified++;
    }
    return verified;
  };
  const once = await verifyAll();
  if (once !== proofs.length) {
    throw new Error(
      `only ${once} of ${proofs.length} proofs verified against ${HEADERS}; the figures would be void`,
    );
  }
  // Warm-up, then count whole passes over the proofs for SECONDS.
  const warmUntil = performance.now() + 1000;
  while (performance.now() < warmUntil) await verifyAll();
  let done = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    await verifyAll();
    done += proofs.length;
  }
  const ours = done / ((performance.now() - t0) / 1000);
  const floor = opFloorMicros(
    proofs.map((b) => built.parseOts(b).timestamp),
    built.applyOp,
  );

  const ref = JSON.parse(
    await run(peer.python, [
      new URL('./ots_reference.py', import.meta.url).pathname,
      'verify',
      String(SECONDS),
      HEADERS,
      ...files,
    ]),
  ) as { proofs: number; seconds: number; verified: number };
  if (ref.verified !== ref.proofs) {
    throw new Error(
      `python-opentimestamps verified ${ref.verified} of ${ref.proofs} proofs; the figures are void`,
    );
  }
  const theirs = ref.proofs / ref.seconds;
  console.log(
    `\nOpenTimestamps parse-and-verify, ${proofs.length} real proofs (${COMPLETE_PROOFS.join(', ')})`,
  );
  console.log(
    `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), node ${process.version}`,
  );
  console.log(`  lightproof              ${ours.toFixed(0).padStart(9)} proofs/s`);
  console.log(`  python-opentimestamps   ${theirs.toFixed(0).padStart(9)} proofs/s`);
  console.log(
    `  ratio                   ${(ours / theirs).toFixed(1).padStart(9)} x   (goal: at least 20 x)`,
  );
  console.log(
    `  op floor                ${floor.toFixed(1).padStart(9)} us/proof applying the ops alone (hashing), so at most ${(1e6 / floor).toFixed(0)} proofs/s = ${(1e6 / floor / theirs).toFixed(1)} x on one core`,
  );
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err.slice(-2000)}`)),
    );
  });
}

export async function benchOtsStampAndCalendar(): Promise<void> {
  const peer = otsPeer();
  const dir = mkdtempSync(join(tmpdir(), 'lp-bench-ots-'));
  const calendar = await startCalendarProcess(join(dir, 'calendar'));
  try {
    const stampDir = (who: string) => {
      const d = join(dir, who);
      for (let i = 0; i < STAMP_FILES; i++)
        writeFileSync(join(mkdirp(d), `f${i}.txt`), `file ${i} for ${who}\n`);
      return Array.from({ length: STAMP_FILES }, (_, i) => join(d, `f${i}.txt`));
    };
    const oursFiles = stampDir('ours');
    const theirFiles = stampDir('theirs');
    const cli = new URL('../src/cli/main.ts', import.meta.url).pathname;
    let t0 = performance.now();
    await run(process.execPath, [
      '--import',
      'tsx',
      cli,
      'ots',
      'stamp',
      '-q',
      '-c',
      calendar.url,
      '-m',
      '1',
      ...oursFiles,
    ]);
    const oursSeconds = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const ref = await runOts(['--no-cache', 'stamp', '-c', calendar.url, '-m', '1', ...theirFiles], {
      timeoutMs: 600_000,
    });
    const theirSeconds = (performance.now() - t0) / 1000;
    if (ref.code !== 0) throw new Error(`ots stamp failed (${ref.code}): ${ref.stderr.slice(-1000)}`);
    for (const f of [...oursFiles, ...theirFiles]) parseOts(readFileSync(`${f}.ots`));

    const wrkOut = await run('wrk', [
      '-t1',
      `-c${CONNECTIONS}`,
      `-d${SECONDS}s`,
      '--latency',
      '-s',
      writeLua(dir),
      calendar.url,
    ]);
    const rps = /Requests\/sec:\s+([\d.]+)/.exec(wrkOut);
    const p50 = /^\s+50%\s+(\S+)/m.exec(wrkOut);
    const p99 = /^\s+99%\s+(\S+)/m.exec(wrkOut);
    if (!rps) throw new Error(`no Requests/sec in wrk's output:\n${wrkOut}`);
    if (/Non-2xx/.test(wrkOut) || /Socket errors/.test(wrkOut))
      throw new Error(`wrk saw errors; the figures are void:\n${wrkOut}`);

    console.log(
      `\nOpenTimestamps stamping: ${STAMP_FILES} files in one call, one Lightproof calendar on loopback (${ROUND_MS} ms rounds), whole process timed`,
    );
    console.log(
      `  lightproof ots stamp    ${(STAMP_FILES / oursSeconds).toFixed(0).padStart(9)} files/s  (${oursSeconds.toFixed(2)} s)`,
    );
    console.log(
      `  ots stamp (reference)   ${(STAMP_FILES / theirSeconds).toFixed(0).padStart(9)} files/s  (${theirSeconds.toFixed(2)} s)`,
    );
    console.log(`  ratio                   ${(theirSeconds / oursSeconds).toFixed(1).padStart(9)} x`);
    console.log(
      `\nCalendar: POST /digest (32 random bytes), wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, ${ROUND_MS} ms rounds, each round one SQLite transaction (synchronous=FULL)`,
    );
    console.log(
      `  accepted                ${Number(rps[1]).toFixed(0).padStart(9)} digests/s   (goal: at least 20,000)`,
    );
    console.log(`  latency                 p50 ${p50?.[1] ?? '?'}  p99 ${p99?.[1] ?? '?'}`);
  } finally {
    calendar.child.kill('SIGTERM');
    await new Promise((resolve) => calendar.child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

function mkdirp(d: string): string {
  mkdirSync(d, { recursive: true });
  return d;
}

/** A wrk script posting one of 4096 random 32-byte digests per request. */
function writeLua(dir: string): string {
  const path = join(dir, 'digest.lua');
  writeFileSync(
    path,
    `local digests = {}
init = function(args)
  math.randomseed(os.time())
  for i = 1, 4096 do
    local t = {}
    for j = 1, 32 do t[j] = string.char(math.random(0, 255)) end
    digests[i] = table.concat(t)
  end
end
request = function()
  return wrk.format("POST", "/digest", {["Content-Type"] = "application/octet-stream"}, digests[math.random(1, #digests)])
end
`,
  );
  return path;
}

async function startCalendarProcess(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const runner = new URL('./calendar-runner.ts', import.meta.url).pathname;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', runner, JSON.stringify({ intervalMs: ROUND_MS, dataDir })],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c;
      if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0]!) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`the calendar exited (${code}) before listening`)));
  });
  return { url, child };
}
