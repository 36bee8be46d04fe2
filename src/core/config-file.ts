/**
 * Config files an operator writes by hand (YAML, or JSON, which YAML reads too): read with a size cap
 * and duplicate keys refused, and zod's complaints turned into one line per field.
 */
import { readFileSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { LightproofError } from './errors.js';

const MAX_CONFIG_BYTES = 1024 * 1024;

/** The file's YAML as plain data; errors carry `code` and name the file, line and column. */
export function readConfigFile(path: string, code: string, noun: string): unknown {
  let text: string;
  try {
    if (statSync(path).size > MAX_CONFIG_BYTES)
      throw new LightproofError(code, `${path} is larger than 1 MiB; a ${noun} is a few dozen lines.`);
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if (cause instanceof LightproofError) throw cause;
    throw new LightproofError(code, `Cannot read the ${noun} ${path}: ${(cause as Error).message}.`, {
      cause,
    });
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const where = e.linePos?.[0]
      ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}`
      : 'unknown position';
    throw new LightproofError(
      code,
      `${path}: not valid YAML at ${where}: ${e.message.split(' at line ')[0]}`,
    );
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    // e.g. an alias bomb: more alias expansions than any hand-written file needs
    throw new LightproofError(code, `${path}: ${(cause as Error).message}; write the values out instead.`, {
      cause,
    });
  }
}

/** At most ten issues, each as "field.path: what is wrong". */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const lines = issues.slice(0, 10).map((i) => describeIssue(i, []));
  if (issues.length > 10) lines.push(`(and ${issues.length - 10} more)`);
  return lines;
}

function describeIssue(i: z.core.$ZodIssue, prefix: readonly PropertyKey[]): string {
  const field = formatPath([...prefix, ...i.path]) || '(top level)';
  if (i.code === 'unrecognized_keys')
    return `${field}: unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
  if (i.code === 'invalid_union' && 'options' in i && i.options?.length)
    return `${field}: expected one of ${i.options.map((o) => JSON.stringify(o)).join(', ')}`;
  if (i.code === 'invalid_union' && i.errors.length > 0) {
    // A value that fits no form: report the form it came closest to (one that got past the type check).
    const branch = i.errors.find(
      (b) => b[0] && b[0].code !== 'invalid_type' && b[0].code !== 'invalid_union',
    );
    const first = (branch ?? i.errors.find((b) => b[0]?.code === 'invalid_union') ?? i.errors[0])?.[0];
    if (first) return describeIssue(first, [...prefix, ...i.path]);
  }
  return `${field}: ${i.message}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}
