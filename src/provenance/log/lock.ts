/**
 * One writer per log directory: `log.lock` is created with O_EXCL and holds the writer's pid.
 * A lock whose pid is no longer running (the writer was killed) is stale and is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { LightproofError } from '../../core/errors.js';

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireLock(path: string): () => void {
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          unlinkSync(path);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw lockError(path, err);
    }
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    const pid = Number(text.trim());
    if (Number.isSafeInteger(pid) && pid > 0 && running(pid)) {
      throw new LightproofError(
        'LP_LOG_LOCKED',
        `the log is open in process ${pid} (${path}); close it there first, or delete the lock file if that process is not a Lightproof writer`,
        { status: 409, details: { path, pid } },
      );
    }
    // A stale or unreadable lock: the writer died without removing it.
    unlinkSync(path);
  }
}

function lockError(path: string, err: unknown): LightproofError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EEXIST') {
    return new LightproofError(
      'LP_LOG_LOCKED',
      `another process took the log lock ${path} at the same moment`,
      {
        status: 409,
        details: { path },
      },
    );
  }
  return new LightproofError('LP_LOG_IO', `cannot create the lock file ${path}: ${String(err)}`, {
    status: 500,
    details: { path, code },
    cause: err,
  });
}
