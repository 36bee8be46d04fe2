/**
 * A one-line progress bar on stderr for long batches (hashing gigabytes, upgrading many proofs).
 * It draws only on a terminal and never with --quiet, so pipes, logs and tests see nothing of it.
 */

export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export interface ProgressBar {
  /** Redraws at most ten times a second, and always when done reaches total. */
  update(done: number, total: number): void;
  /** Clears the line. */
  finish(): void;
}

export interface ProgressOptions {
  label: string;
  /** bytes are shown as KB/MB/GB; items as plain counts. */
  unit?: 'bytes' | 'items';
  quiet?: boolean;
  stream?: ProgressStream;
}

const SILENT: ProgressBar = { update() {}, finish() {} };

export function progressBar(opts: ProgressOptions): ProgressBar {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet || !stream.isTTY) return SILENT;
  const label = opts.label;
  let last = 0;
  let drawn = false;
  const show = opts.unit === 'bytes' ? formatBytes : String;
  return {
    update(done, total) {
      const now = Date.now();
      if (done < total && now - last < 100) return;
      last = now;
      const fraction = total > 0 ? Math.min(1, done / total) : 1;
      const tail = ` ${Math.floor(fraction * 100)
        .toString()
        .padStart(3)}% ${show(done)}/${show(total)}`;
      const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - label.length - tail.length - 4));
      const filled = Math.round(fraction * width);
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${tail}\u001b[K`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\u001b[K');
      drawn = false;
    },
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}
