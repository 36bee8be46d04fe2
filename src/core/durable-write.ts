/**
 * Writes a file whole or not at all: the bytes go to a temporary file beside it, are synced, then
 * moved into place. Without `replace`, a hard link puts them in place, so an existing file is never
 * overwritten and the call fails with the system's EEXIST; with it, a rename replaces the old file.
 * Errors are the system's own, for the caller to turn into its module's code.
 */
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeFileDurably(
  path: string,
  bytes: Uint8Array | string,
  opts: { replace: boolean; mode?: number },
): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
  try {
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.replace) await rename(tmp, path);
    else await link(tmp, path);
  } finally {
    await unlink(tmp).catch(() => {});
  }
}
