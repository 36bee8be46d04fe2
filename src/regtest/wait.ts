/**
 * Every startup step polls until a condition holds, within a deadline. A timeout names what did not
 * happen and quotes the logs of the daemons involved; a daemon that died ends the wait at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LightproofError } from '../core/index.js';
import { type Daemon, describeLog } from './processes.js';

export interface WaitOptions {
  /** What we wait for, phrased to follow "timed out waiting for". */
  what: string;
  timeoutMs: number;
  /** The daemons whose death ends the wait early and whose logs a failure quotes. */
  daemons: readonly Daemon[];
  intervalMs?: number;
}

/** Polls CHECK until it returns a value other than undefined; a thrown error counts as "not yet". */
export async function waitFor<T>(opts: WaitOptions, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    for (const d of opts.daemons) {
      const status = d.exitStatus();
      if (status !== undefined) {
        throw new LightproofError(
          'LP_REGTEST_DAEMON_EXITED',
          `${d.name} exited (${status}) while waiting for ${opts.what}. Read its log below for the cause.${describeLog(d)}`,
        );
      }
    }
    try {
      const value = await check();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(opts.intervalMs ?? 200);
  }
  const why = lastError instanceof Error ? ` The last attempt failed with: ${lastError.message}` : '';
  throw new LightproofError(
    'LP_REGTEST_TIMEOUT',
    `Timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for ${opts.what}.${why} Check the daemon logs below; a slow machine may need a retry.${opts.daemons.map(describeLog).join('')}`,
    { cause: lastError },
  );
}
