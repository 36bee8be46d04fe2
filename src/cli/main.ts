#!/usr/bin/env node
import { type Command, CommanderError } from 'commander';
import { isLightproofError } from '../core/errors.js';
import { buildProgram } from './program.js';

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  throwOnUsageErrors(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (isLightproofError(err)) {
      process.stderr.write(`error ${err.code}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`error LP_INTERNAL: ${(err as Error)?.message ?? String(err)}\n`);
    if (process.env.LIGHTPROOF_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
    return 1;
  }
}

/**
 * Commander exits with 1 from any subcommand that has no override of its own; every command throws
 * instead, so a usage error anywhere exits 2 (docs/errors.md).
 */
function throwOnUsageErrors(cmd: Command): void {
  cmd.exitOverride();
  for (const sub of cmd.commands) throwOnUsageErrors(sub);
}

const code = await main(process.argv);
// An action may set its own exit code (fetch --fail exits 22); a failure here overrides it, success does not.
process.exitCode = code !== 0 ? code : (process.exitCode ?? 0);
