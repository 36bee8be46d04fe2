import { join } from 'node:path';
import type { Command } from 'commander';
import { ensurePrivateDir, resolveDataDir } from '../core/datadir.js';

/** The data directory chosen by --data-dir (on the root program), LIGHTPROOF_DATA_DIR or the default. */
export function dataDir(cmd: Command, ...sub: string[]): string {
  let root = cmd;
  while (root.parent) root = root.parent;
  const base = ensurePrivateDir(resolveDataDir(root.opts<{ dataDir?: string }>().dataDir));
  return sub.length ? ensurePrivateDir(join(base, ...sub)) : base;
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
