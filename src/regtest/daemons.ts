/**
 * Finds btcd and lnd (and, for interop tests, Aperture) by running test/regtest/build-daemons.sh,
 * which builds them into the user's cache on first use and afterwards only prints the bin directories.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LightproofError } from '../core/index.js';

export interface DaemonBinaries {
  btcd: string;
  lnd: string;
}

/** The same relative path from src/regtest/ (tsx) and dist/regtest/ (compiled). */
const BUILD_SCRIPT = fileURLToPath(new URL('../../test/regtest/build-daemons.sh', import.meta.url));

/** A cold build downloads and compiles lnd: minutes on a small machine, well under CI's limit. */
const BUILD_TIMEOUT_MS = 45 * 60_000;

function requireBuildScript(): void {
  if (!existsSync(BUILD_SCRIPT)) {
    throw new LightproofError(
      'LP_REGTEST_NO_BUILD_SCRIPT',
      `${BUILD_SCRIPT} is missing. The regtest network runs from a clone of the lightproof repository; run it there.`,
    );
  }
}

export async function locateDaemons(log: (line: string) => void): Promise<DaemonBinaries> {
  requireBuildScript();
  const stdout = await runBuildScript(log, []);
  const [btcdBin, lndBin] = stdout.split('\n').filter((l) => l.trim() !== '');
  const found = btcdBin && lndBin ? { btcd: join(btcdBin, 'btcd'), lnd: join(lndBin, 'lnd') } : undefined;
  if (!found || !existsSync(found.btcd) || !existsSync(found.lnd)) {
    throw new LightproofError(
      'LP_REGTEST_DAEMON_MISSING',
      `build-daemons.sh did not yield btcd and lnd binaries (it printed: ${JSON.stringify(stdout)}). Delete the daemon cache (LIGHTPROOF_DAEMON_CACHE or ~/.cache/lightproof/daemons) and run it again.`,
    );
  }
  return found;
}

/** The aperture binary; `--peers` prints its bin directory third, after btcd's and lnd's. */
export async function locateAperture(log: (line: string) => void): Promise<string> {
  requireBuildScript();
  const stdout = await runBuildScript(log, ['--peers']);
  const binDir = stdout.split('\n').filter((l) => l.trim() !== '')[2];
  const bin = binDir ? join(binDir, 'aperture') : undefined;
  if (!bin || !existsSync(bin)) {
    throw new LightproofError(
      'LP_REGTEST_DAEMON_MISSING',
      `build-daemons.sh --peers did not yield an aperture binary (it printed: ${JSON.stringify(stdout)}). Run it by hand and fix what it reports.`,
    );
  }
  return bin;
}

function runBuildScript(log: (line: string) => void, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let partial = '';
    const stderrTail: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        log(line);
        stderrTail.push(line);
        if (stderrTail.length > 20) stderrTail.shift();
      }
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), BUILD_TIMEOUT_MS);
    child.on('error', (cause) => {
      clearTimeout(timer);
      reject(
        new LightproofError(
          'LP_REGTEST_BUILD_FAILED',
          `Could not run ${BUILD_SCRIPT}: install bash and Go.`,
          {
            cause,
          },
        ),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (partial) log(partial);
      if (code === 0) return resolve(stdout);
      const how = signal
        ? `was stopped by ${signal} (limit ${BUILD_TIMEOUT_MS / 60_000} min)`
        : `exited ${code}`;
      reject(
        new LightproofError(
          'LP_REGTEST_BUILD_FAILED',
          `build-daemons.sh ${how}. Fix the cause in its output and run it again:\n${stderrTail.join('\n')}`,
        ),
      );
    });
  });
}
