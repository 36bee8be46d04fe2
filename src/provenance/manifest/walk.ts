/**
 * Lists the files of a model directory as OMS §6.1 asks: relative '/'-separated names, symlinks
 * refused unless allowed and then only to targets inside the root, ignored paths left out.
 */
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import { LightproofError } from '../../core/errors.js';
import { isSafeRelativePath } from './statement.js';

/** model_signing's default ignores; `.git` as a directory covers everything under it. */
export const GIT_PATHS = ['.git', '.gitattributes', '.github', '.gitignore'] as const;

export interface WalkedFile {
  /** Relative to the model root, '/'-separated; a symlink keeps its own name. */
  readonly name: string;
  /** What is read: the file itself, or a symlink's resolved target. */
  readonly path: string;
  readonly size: number;
  /** Compared after hashing to catch a file that changed meanwhile. */
  readonly mtimeNs: bigint;
}

export interface WalkOptions {
  readonly allowSymlinks: boolean;
  /** Relative paths; a directory's path covers everything below it. */
  readonly ignore: readonly string[];
}

export function isIgnored(name: string, ignore: readonly string[]): boolean {
  return ignore.some((p) => name === p || name.startsWith(`${p}/`));
}

/** Checks a user's ignore path and puts it in the form the manifest records (no trailing '/'). */
export function normalizeIgnorePath(p: string): string {
  const trimmed = p.replace(/\/+$/, '').replace(/^(\.\/)+/, '');
  if (!isSafeRelativePath(trimmed)) {
    throw new LightproofError(
      'LP_MANIFEST_BAD_IGNORE',
      `Ignore path '${p.slice(0, 200)}' must be a relative path inside the model directory, e.g. README.md or logs/.`,
    );
  }
  return trimmed;
}

export function manifestIoError(err: unknown, path: string): LightproofError {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ELOOP')
    return new LightproofError(
      'LP_MANIFEST_SYMLINK_LOOP',
      `${path} is a symlink loop; remove or fix the link.`,
      {
        details: { path },
      },
    );
  if (e.code === 'EACCES' || e.code === 'EPERM')
    return new LightproofError(
      'LP_MANIFEST_UNREADABLE',
      `Cannot read ${path}: permission denied. Fix its permissions or ignore it with --ignore.`,
      {
        details: { path },
      },
    );
  if (e.code === 'ENOENT')
    return new LightproofError(
      'LP_MANIFEST_CHANGED_WHILE_HASHING',
      `${path} disappeared while the model was read; hash it again once nothing writes to it.`,
      {
        details: { path },
      },
    );
  return new LightproofError('LP_MANIFEST_READ_FAILED', `Cannot read ${path}: ${e.message}.`, {
    details: { path },
    cause: err,
  });
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** OMS names are UTF-8; a name that is not could not be written into a manifest and read back. */
function utf8Name(bytes: Buffer, prefix: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    const shown = `${prefix ? `${prefix}/` : ''}${bytes.toString('utf8')}`;
    throw new LightproofError(
      'LP_MANIFEST_BAD_NAME',
      `The file name '${shown}' is not valid UTF-8; rename it or ignore its directory.`,
      { details: { name: shown } },
    );
  }
}

export async function walkModel(root: string, opts: WalkOptions): Promise<WalkedFile[]> {
  const top = await stat(root, { bigint: true }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
      throw new LightproofError(
        'LP_MANIFEST_NOT_A_DIRECTORY',
        `${root} does not exist; give the model's directory.`,
      );
    throw manifestIoError(err, root);
  });
  if (!top.isDirectory())
    throw new LightproofError(
      'LP_MANIFEST_NOT_A_DIRECTORY',
      `${root} is not a directory; give the model's directory.`,
    );
  const rootReal = await realpath(root);
  const inside = (p: string) =>
    p === rootReal || p.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
  const files: WalkedFile[] = [];

  const visit = async (dir: string, prefix: string, ancestors: ReadonlySet<string>): Promise<void> => {
    const raw = await readdir(dir, { encoding: 'buffer' }).catch((err: unknown) => {
      throw manifestIoError(err, dir);
    });
    for (const bytes of raw) {
      const entry = utf8Name(bytes, prefix);
      const name = prefix ? `${prefix}/${entry}` : entry;
      if (isIgnored(name, opts.ignore)) continue;
      const abs = `${dir}${sep}${entry}`;
      let st = await lstat(abs, { bigint: true }).catch((err: unknown) => {
        throw manifestIoError(err, abs);
      });
      let target = abs;
      if (st.isSymbolicLink()) {
        if (!opts.allowSymlinks) {
          throw new LightproofError(
            'LP_MANIFEST_SYMLINK',
            `${name} is a symlink; symlinks are refused unless --allow-symlinks (and then must point inside the model).`,
            { details: { name } },
          );
        }
        target = await realpath(abs).catch((err: unknown) => {
          throw (err as NodeJS.ErrnoException).code === 'ENOENT'
            ? new LightproofError(
                'LP_MANIFEST_SYMLINK_BROKEN',
                `${name} is a symlink to nothing; remove it or ignore it.`,
                {
                  details: { name },
                },
              )
            : manifestIoError(err, abs);
        });
        if (!inside(target)) {
          throw new LightproofError(
            'LP_MANIFEST_SYMLINK_OUTSIDE',
            `${name} points to ${target}, outside the model directory; only links inside it are followed.`,
            { details: { name, target } },
          );
        }
        st = await stat(target, { bigint: true }).catch((err: unknown) => {
          throw manifestIoError(err, target);
        });
      }
      if (st.isDirectory()) {
        const id = `${st.dev}:${st.ino}`;
        if (ancestors.has(id)) {
          throw new LightproofError(
            'LP_MANIFEST_SYMLINK_LOOP',
            `${name} leads back into a directory that contains it (a symlink loop); remove the link or ignore it.`,
            { details: { name } },
          );
        }
        await visit(target, name, new Set([...ancestors, id]));
      } else if (st.isFile()) {
        files.push({ name, path: target, size: Number(st.size), mtimeNs: st.mtimeNs });
      } else {
        throw new LightproofError(
          'LP_MANIFEST_NOT_REGULAR',
          `${name} is not a regular file, directory or symlink (a socket, pipe or device); remove it or ignore it.`,
          { details: { name } },
        );
      }
    }
  };
  await visit(rootReal, '', new Set([`${top.dev}:${top.ino}`]));
  return files;
}
