import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { LightproofError } from './errors.js';

/** Where a command keeps its state: the flag, else LIGHTPROOF_DATA_DIR, else a per-user default. */
export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.LIGHTPROOF_DATA_DIR) return resolve(env.LIGHTPROOF_DATA_DIR);
  if (platform() === 'darwin') return join(homedir(), 'Library', 'Application Support', 'lightproof');
  if (platform() === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'lightproof');
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'lightproof');
}

/** Creates DIR (and parents) with mode 0700, or tightens an existing one; refuses a non-directory. */
export function ensurePrivateDir(dir: string): string {
  try {
    makeDirs(resolve(dir));
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    chmodSync(dir, 0o700);
  } catch (cause) {
    throw new LightproofError(
      'LP_DATA_DIR_UNUSABLE',
      `Cannot use ${dir} as a data directory (${(cause as Error).message}). Pass --data-dir with a writable directory.`,
      { cause },
    );
  }
  return dir;
}

/**
 * mkdir -p one level at a time. Node's recursive mkdir can spin forever on pseudo file systems such
 * as /proc, where each level fails in a way it retries; here every failure surfaces as an error.
 */
function makeDirs(dir: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (parent !== dir) makeDirs(parent);
  mkdirSync(dir, { mode: 0o700 });
}
