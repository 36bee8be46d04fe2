/**
 * Spawning and stopping the daemons. Each one writes stdout and stderr to a log file, so a failed
 * wait can quote the daemon's last words, and so a detached daemon survives the CLI that started it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LightproofError } from '../core/index.js';

export interface Daemon {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Set once the process has exited, with its exit code or the signal that ended it. */
  exitStatus(): string | undefined;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  logPath: string;
  /** Detached daemons get their own process group and can outlive this process (see releaseDaemons). */
  detached: boolean;
}

/**
 * Children killed when this process exits, so a crashed test or an interrupted `regtest up` leaves
 * nothing behind. Every daemon starts here; a detached one leaves once its network is up.
 */
const attached = new Map<number, ChildProcess>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function killAttachedSync(): void {
  for (const child of attached.values()) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone; nothing to clean up.
    }
  }
  attached.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAttachedSync();
  uninstallHandlers();
  // Our listener replaced the default action; with no other listener left, die of the signal as usual.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHandlers(): void {
  if (attached.size > 0) return;
  process.on('exit', killAttachedSync);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHandlers(): void {
  process.off('exit', killAttachedSync);
  for (const s of SIGNALS) process.off(s, onSignal);
}

export function spawnDaemon(opts: SpawnOptions): Daemon {
  const fd = openSync(opts.logPath, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(opts.command, opts.args, {
      env: opts.env,
      stdio: ['ignore', fd, fd],
      detached: opts.detached,
    });
  } finally {
    closeSync(fd);
  }
  // An unref'd child never holds the event loop open: a test that forgets stop() still ends, and
  // the exit handler then kills it.
  child.unref();
  child.on('error', () => {
    // Spawn failures surface through the missing pid below, or as an exit status.
  });
  const pid = child.pid;
  if (pid === undefined) {
    throw new LightproofError(
      'LP_REGTEST_SPAWN_FAILED',
      `Could not start ${opts.name} (${opts.command}). Run test/regtest/build-daemons.sh and check that it prints the bin directories.`,
    );
  }
  let status: string | undefined;
  child.on('exit', (code, signal) => {
    status = signal ? `killed by ${signal}` : `exit code ${code}`;
    attached.delete(pid);
    if (attached.size === 0) uninstallHandlers();
  });
  installHandlers();
  attached.set(pid, child);
  return { name: opts.name, pid, logPath: opts.logPath, exitStatus: () => status };
}

/** Lets detached daemons outlive this process: they are no longer killed when it exits. */
export function releaseDaemons(daemons: readonly Daemon[]): void {
  for (const d of daemons) attached.delete(d.pid);
  if (attached.size === 0) uninstallHandlers();
}

/** The last lines of a log file, for error messages; empty when the file is missing. */
export function tailLog(path: string, lines = 25): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export function describeLog(daemon: { name: string; logPath: string }): string {
  const tail = tailLog(daemon.logPath);
  return tail ? `\n--- last lines of ${daemon.logPath} ---\n${tail}` : `\n(${daemon.logPath} is empty)`;
}

/** True when PID runs and, where /proc exists, its command line mentions MARKER (guards reused pids). */
export function isDaemonAlive(pid: number, marker?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone. EPERM: the pid was reused by another user's process, so not one of ours.
    return false;
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true; // No /proc (macOS): the signal probe is all we have.
  }
  // A zombie has exited and only waits for its parent to reap it.
  if (/^\d+ \(.*\) Z/.test(stat)) return false;
  if (!marker) return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL for whatever still runs after graceMs; resolves once all are gone. */
export async function stopPids(pids: readonly number[], marker: string, graceMs = 8_000): Promise<void> {
  const signal = (sig: NodeJS.Signals, pid: number): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // Exited in the meantime.
    }
  };
  const ours = pids.filter((pid) => isDaemonAlive(pid, marker));
  let alive = ours;
  for (const pid of alive) signal('SIGTERM', pid);
  const deadline = Date.now() + graceMs;
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(100);
    alive = alive.filter((pid) => isDaemonAlive(pid, marker));
  }
  for (const pid of alive) signal('SIGKILL', pid);
  const killDeadline = Date.now() + 3_000;
  while (alive.length > 0 && Date.now() < killDeadline) {
    await sleep(50);
    alive = alive.filter((pid) => isDaemonAlive(pid, marker));
  }
  if (alive.length > 0) {
    throw new LightproofError(
      'LP_REGTEST_STOP_FAILED',
      `Processes ${alive.join(', ')} survived SIGKILL. Check them with ps and end them by hand.`,
    );
  }
  // A dead child stays a zombie until its parent (we, or init for detached ones) reaps it; give
  // that a moment so callers may rely on the pids being gone.
  const reapDeadline = Date.now() + 2_000;
  while (ours.some(exists) && Date.now() < reapDeadline) await sleep(20);
}

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
