#!/usr/bin/env node
import { CommanderError } from 'commander';
import { isLightproofError } from '../core/errors.js';
import { buildProgram } from './program.js';

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
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

const code = await main(process.argv);
process.exitCode = code;
