/**
 * L402 gateway overhead: requests carrying a valid L402 token, loaded with wrk on loopback, straight to
 * an upstream, through Lightproof's gateway (receipts on and off) and through Aperture, all selling on
 * carol's LND in front of the same upstream. Upstream, gateways and wrk are separate processes.
 *   npm run bench -- gateway
 * LIGHTPROOF_BENCH_SECONDS (10), _CONNECTIONS (32), _THREADS (1) and _ROUNDS (3) set wrk's load;
 * LIGHTPROOF_BENCH_CPU_PROF=DIR runs the Lightproof gateways under `node --cpu-prof` into DIR;
 * LIGHTPROOF_BENCH_LOG_REQUESTS=1 has them log every request to a file, as Aperture does.
 */
import { type ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { msat } from '../src/core/money.js';
import { createL402Fetch, formatAuthorization, payerFromNode } from '../src/l402/index.js';
import {
  lndNodeClient,
  type RegtestNetwork,
  startAperture,
  startRegtestNetwork,
} from '../src/regtest/index.js';

const env = process.env;
const THREADS = Number(env.LIGHTPROOF_BENCH_THREADS ?? '1');
const CONNECTIONS = Number(env.LIGHTPROOF_BENCH_CONNECTIONS ?? '32');
const SECONDS = Number(env.LIGHTPROOF_BENCH_SECONDS ?? '10');
const ROUNDS = Number(env.LIGHTPROOF_BENCH_ROUNDS ?? '3');
const LOG_REQUESTS = env.LIGHTPROOF_BENCH_LOG_REQUESTS === '1';
const WARMUP_SECONDS = 3;
const PRICE_SAT = 10;
const PATH = '/v1/completions';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

interface Child {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

interface Target {
  name: string;
  url: string;
  authorization: string;
  /** The proxy's process, for its CPU time; null for the upstream itself. */
  proxyPid: number | null;
}

interface WrkRun {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU seconds per wall second (1.0 = one core busy) of the proxy and the upstream, and the machine's busy share. */
  proxyCores: number | null;
  upstreamCores: number;
  machineBusy: number;
}

export async function benchGateway(): Promise<void> {
  const wrkVersion = wrkVersionLine();
  const loadBefore = loadavg()[0]!;
  const profileDir = env.LIGHTPROOF_BENCH_CPU_PROF ? resolve(env.LIGHTPROOF_BENCH_CPU_PROF) : null;
  const dir = mkdtempSync(join(tmpdir(), 'lightproof-bench-gateway-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    console.log('\nL402 gateway: starting the regtest network, upstream, gateways and Aperture…');
    const network = await startRegtestNetwork({ dir: join(dir, 'regtest') });
    stops.push(() => network.stop());
    const carol = network.nodes.carol;
    const upstream = await startChild(dir, 'upstream', 'bench/upstream.ts', []);
    stops.push(upstream.stop);
    /** off: no receipts; signed: receipts without the receipt log; logged: the default, each receipt logged. */
    const gateway = async (name: string, receipts: 'off' | 'signed' | 'logged'): Promise<Child> => {
      const config = {
        listen: '127.0.0.1:0',
        logRequests: LOG_REQUESTS,
        receipts:
          receipts === 'off'
            ? { enabled: false }
            : { enabled: true, log: receipts === 'signed' ? false : { calendars: [] } },
        lightning: {
          kind: 'lnd',
          restUrl: carol.restUrl,
          macaroonPath: carol.adminMacaroonPath,
          tlsCertPath: carol.tlsCertPath,
        },
        services: [{ name: 'infer', upstream: upstream.url, price: PRICE_SAT, tokenTimeout: '1h' }],
      };
      const child = await startChild(
        dir,
        name,
        'bench/gateway-runner.ts',
        [JSON.stringify({ config, dataDir: join(dir, name) })],
        profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
      );
      stops.push(child.stop);
      return child;
    };
    const withReceipts = await gateway('lightproof-receipts', 'logged');
    const unlogged = await gateway('lightproof-receipts-unlogged', 'signed');
    const noReceipts = await gateway('lightproof-no-receipts', 'off');
    const aperture = await startAperture({
      dir: join(dir, 'aperture'),
      lnd: carol,
      services: [
        {
          name: 'infer',
          pathRegexp: '^/.*$',
          address: new URL(upstream.url).host,
          priceSat: PRICE_SAT,
          timeoutSeconds: 3600,
        },
      ],
    });
    stops.push(aperture.stop);

    const [withReceiptsAuth, unloggedAuth, noReceiptsAuth, apertureAuth] = await buyTokens(network, [
      withReceipts.url,
      unlogged.url,
      noReceipts.url,
      aperture.url,
    ]);
    const targets: Target[] = [
      // The upstream ignores the credential; it is sent so every target gets the same request.
      { name: 'direct to upstream', url: upstream.url, authorization: withReceiptsAuth!, proxyPid: null },
      {
        name: 'Lightproof, receipts on + logged',
        url: withReceipts.url,
        authorization: withReceiptsAuth!,
        proxyPid: withReceipts.pid,
      },
      {
        name: 'Lightproof, receipts, no log',
        url: unlogged.url,
        authorization: unloggedAuth!,
        proxyPid: unlogged.pid,
      },
      {
        name: 'Lightproof, receipts off',
        url: noReceipts.url,
        authorization: noReceiptsAuth!,
        proxyPid: noReceipts.pid,
      },
      { name: 'Aperture v0.5.0', url: aperture.url, authorization: apertureAuth!, proxyPid: aperture.pid },
    ];
    for (const t of targets) await checkTarget(t);

    for (const t of targets) await wrk(t, WARMUP_SECONDS, upstream.pid);
    const apertureLogBefore = logSize(aperture.logPath);
    const runs = new Map<Target, WrkRun[]>(targets.map((t) => [t, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) runs.get(t)!.push(await wrk(t, SECONDS, upstream.pid));
    }
    const apertureLog = logSize(aperture.logPath);

    printReport(targets, runs, { wrkVersion, loadBefore, profileDir });
    const served = runs
      .get(targets.find((t) => t.name.startsWith('Aperture'))!)!
      .reduce((n, r) => n + r.requests, 0);
    console.log(
      `Aperture (debuglevel info) logged ${apertureLog.lines - apertureLogBefore.lines} lines (${((apertureLog.bytes - apertureLogBefore.bytes) / 1024).toFixed(0)} KiB, to a file) ` +
        `for the ${served} requests of its measured runs, e.g.: ${apertureLog.last.trim()}`,
    );
  } finally {
    for (const stop of stops.reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Pays each gateway's 402 from alice (through bob to carol) and returns the Authorization headers. */
async function buyTokens(network: RegtestNetwork, urls: string[]): Promise<string[]> {
  const alice = lndNodeClient(network.nodes.alice);
  try {
    const pay = createL402Fetch({
      payer: payerFromNode(alice),
      maxPriceMsat: msat(BigInt(PRICE_SAT) * 1000n),
    });
    const out: string[] = [];
    for (const url of urls) {
      const res = await pay(`${url}${PATH}`);
      await res.arrayBuffer();
      const [cached] = await pay.cache.list(new URL(url).origin);
      if (res.status !== 200 || !cached) throw new Error(`paying the 402 of ${url} gave HTTP ${res.status}`);
      out.push(formatAuthorization([cached.token], cached.preimage));
    }
    return out;
  } finally {
    await alice.close();
  }
}

/** wrk's version line; exits with a clear message when wrk is not installed. */
function wrkVersionLine(): string {
  const out = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  if (out.error) {
    console.error(
      'The gateway benchmark needs wrk, the HTTP load generator: run `apt-get install wrk` (or .ci/run, which installs it).',
    );
    process.exit(1);
  }
  return `${out.stdout}${out.stderr}`.split('\n')[0]!.trim();
}

/**
 * Starts `node --import tsx SCRIPT ARGS` with its stderr in DIR/NAME.log and waits for the {"url"}
 * line it prints when listening.
 */
function startChild(
  dir: string,
  name: string,
  script: string,
  args: string[],
  nodeArgs: string[] = [],
): Promise<Child> {
  const logPath = join(dir, `${name}.log`);
  const log = openSync(logPath, 'a');
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', log],
  });
  closeSync(log);
  const stop = () => stopChild(child);
  return new Promise((resolvePromise, reject) => {
    let stdout = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      void stop();
      const tail = readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n');
      reject(new Error(`${name} (${script}) ${why}; the end of ${logPath}:\n${tail}`));
    };
    const timer = setTimeout(() => fail('did not print its URL within 30 s'), 30_000);
    child.once('exit', (code) => fail(`exited with ${code} before listening`));
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        const { url } = JSON.parse(line) as { url: string };
        resolvePromise({ url, pid: child.pid!, stop });
      }
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    child.kill('SIGTERM');
  });
}

/** A benchmark of 402s is worthless: the token must earn a 200, and no token must earn a 402. */
async function checkTarget(t: Target): Promise<void> {
  const paid = await fetch(`${t.url}${PATH}`, { headers: { authorization: t.authorization } });
  const body = await paid.text();
  if (paid.status !== 200)
    throw new Error(`${t.name}: a request with a valid token got HTTP ${paid.status}: ${body}`);
  if (t.proxyPid === null) return;
  const unpaid = await fetch(`${t.url}${PATH}`);
  await unpaid.arrayBuffer();
  if (unpaid.status !== 402)
    throw new Error(`${t.name}: a request without a token got HTTP ${unpaid.status}, expected 402`);
}

async function wrk(t: Target, seconds: number, upstreamPid: number): Promise<WrkRun> {
  const args = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency'];
  const before = {
    proxy: t.proxyPid ? cpuSeconds(t.proxyPid) : 0,
    up: cpuSeconds(upstreamPid),
    machine: machineTicks(),
  };
  const t0 = performance.now();
  const { stdout } = await run('wrk', [
    ...args,
    '-H',
    `Authorization: ${t.authorization}`,
    `${t.url}${PATH}`,
  ]);
  const wall = (performance.now() - t0) / 1000;
  const machine = machineTicks();
  const parsed = parseWrk(stdout, t.name);
  return {
    ...parsed,
    proxyCores: t.proxyPid ? (cpuSeconds(t.proxyPid) - before.proxy) / wall : null,
    upstreamCores: (cpuSeconds(upstreamPid) - before.up) / wall,
    machineBusy: (machine.busy - before.machine.busy) / (machine.total - before.machine.total),
  };
}

/** Requests/sec and the 50% and 99% latency lines; throws on any error response or socket error. */
function parseWrk(out: string, name: string): Pick<WrkRun, 'requests' | 'rps' | 'p50Ms' | 'p99Ms'> {
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  if (non2xx) throw new Error(`${name}: wrk saw ${non2xx[1]} error responses; the numbers are void.\n${out}`);
  const socket = /Socket errors:.*/.exec(out);
  if (socket) throw new Error(`${name}: wrk reports ${socket[0]}; the numbers are void.\n${out}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const requests = /(\d+) requests in /.exec(out);
  const latency = (pct: string) => {
    const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    if (!m) throw new Error(`${name}: no ${pct}% latency line in wrk's output:\n${out}`);
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as 'us' | 'ms' | 's' | 'm'];
  };
  if (!rps || !requests)
    throw new Error(`${name}: no request count or Requests/sec in wrk's output:\n${out}`);
  return { requests: Number(requests[1]), rps: Number(rps[1]), p50Ms: latency('50'), p99Ms: latency('99') };
}

let ticksPerSecond = 0;

/** User + system CPU seconds a process has used, from /proc/PID/stat. */
function cpuSeconds(pid: number): number {
  ticksPerSecond ||= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

function machineTicks(): { busy: number; total: number } {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: total - ticks[3]! - ticks[4]!, total };
}

function logSize(path: string): { lines: number; bytes: number; last: string } {
  const lines = readFileSync(path, 'utf8').split('\n');
  return { lines: lines.length - 1, bytes: statSync(path).size, last: lines.at(-2) ?? '' };
}

/** The run with the median throughput, so one run's p50 and p99 go together. */
function medianRun(runs: WrkRun[]): WrkRun {
  return [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]!;
}

function printReport(
  targets: Target[],
  runs: Map<Target, WrkRun[]>,
  facts: { wrkVersion: string; loadBefore: number; profileDir: string | null },
): void {
  const cores = availableParallelism();
  console.log(
    `\nL402 gateway overhead: GET ${PATH} with a valid L402 token, loopback, same upstream (node:http, own process)`,
  );
  console.log(
    `machine: ${cores} cores (${cpus()[0]?.model ?? 'unknown CPU'}), load average ${facts.loadBefore.toFixed(2)} before the run, node ${process.version}, ${facts.wrkVersion}`,
  );
  console.log(
    `load: wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s --latency, ${WARMUP_SECONDS} s warm-up per target, ${ROUNDS} rounds interleaved, median run by req/s shown`,
  );
  console.log(
    `Lightproof: own process (tsx), logRequests: ${LOG_REQUESTS}${LOG_REQUESTS ? ' (to a file)' : ''}, SQLite state; Aperture v0.5.0: sqlite, debuglevel info (a line per request, to a file)`,
  );
  if (facts.profileDir)
    console.log(
      `NOTE: Lightproof gateways run under --cpu-prof (profiles in ${facts.profileDir}); numbers are skewed`,
    );
  const direct = medianRun(runs.get(targets[0]!)!);
  const ms = (x: number) => x.toFixed(2).padStart(8);
  const cpu = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(0)}%`).padStart(6);
  console.log(
    `\n${'target'.padEnd(32)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'+p50 ms'.padStart(8)} ${'+p99 ms'.padStart(8)}  ${'proxy'.padStart(6)} ${'upstr'.padStart(6)} ${'machine'.padStart(7)}  req/s of each run`,
  );
  for (const t of targets) {
    const all = runs.get(t)!;
    const m = medianRun(all);
    const added =
      t.proxyPid === null
        ? ['-'.padStart(8), '-'.padStart(8)]
        : [ms(m.p50Ms - direct.p50Ms), ms(m.p99Ms - direct.p99Ms)];
    console.log(
      `${t.name.padEnd(32)} ${m.rps.toFixed(0).padStart(9)} ${ms(m.p50Ms)} ${ms(m.p99Ms)} ${added.join(' ')}  ${cpu(m.proxyCores)} ${cpu(m.upstreamCores)} ${`${(m.machineBusy * 100).toFixed(0)}%`.padStart(7)}  ${all.map((r) => r.rps.toFixed(0)).join(', ')}`,
    );
  }
  console.log(
    '(+p50/+p99: proxy minus direct; proxy/upstr: CPU of that process, 100% = one core; machine: all cores busy)',
  );
  const apertureTarget = targets.find((t) => t.name.startsWith('Aperture'))!;
  const aperture = medianRun(runs.get(apertureTarget)!);
  for (const t of targets.filter((x) => x.proxyPid !== null && x !== apertureTarget)) {
    const m = medianRun(runs.get(t)!);
    const tput = m.rps / aperture.rps;
    const p99 = m.p99Ms / aperture.p99Ms;
    const met = tput >= 2 && p99 < 1 ? 'met' : 'NOT met';
    console.log(
      `${t.name} / Aperture: throughput ${tput.toFixed(2)}x, p99 ${p99.toFixed(2)}x  (goal >= 2x throughput at a lower p99: ${met})`,
    );
  }
  const fastestProxy = Math.max(...targets.slice(1).map((t) => medianRun(runs.get(t)!).rps));
  if (direct.rps < 1.5 * fastestProxy)
    console.log(
      `NOTE: direct (${direct.rps.toFixed(0)} req/s) is less than 1.5x the fastest proxy (${fastestProxy.toFixed(0)}): the upstream or wrk, sharing ${cores} cores, may be the bottleneck.`,
    );
}
