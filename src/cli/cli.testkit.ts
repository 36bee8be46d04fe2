/** Child processes for tests: the lightproof CLI from source, or any other program, with its output collected. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Run {
  status: number | null;
  out: string;
  err: string;
}

const entry = fileURLToPath(new URL('./main.ts', import.meta.url));

/**
 * Runs `command args` with `stdin` (or an empty one) and resolves with its exit status and output.
 * Async on purpose: the calling test's event loop often serves the calendar or gateway the child talks to.
 */
export function run(command: string, args: readonly string[], stdin?: Uint8Array): Promise<Run> {
  const child = spawn(command, args);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    err += c;
  });
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, out, err })));
}

/** `lightproof args` as `node --import tsx src/cli/main.ts args`. */
export function cli(args: readonly string[], stdin?: Uint8Array): Promise<Run> {
  return run(process.execPath, ['--import', 'tsx', entry, ...args], stdin);
}

/** A run's status and output, for an assertion's message. */
export const show = (r: Run) => `exit ${r.status}\nstdout: ${r.out}\nstderr: ${r.err}`;
