/**
 * The model as CPLEX LP text, for `lightproof energy plan --lp-out` (to read it, or to solve it
 * with another solver) and for the benchmark that compares loading text with loading arrays.
 * Lines are collected in an array and joined once; numbers use JavaScript's shortest round-trip
 * form, which HiGHS reads back exactly. A ranged row (the ramp) is written as two rows, since the
 * LP format has no `lo <= expr <= hi` constraint.
 */
import type { Model } from './model.js';

export function toLpText(m: Model): string {
  const name = m.colNames;
  const out: string[] = [
    '\\ lightproof energy plan',
    'Maximize',
    ` obj:${terms(m.colCost, null, name)}`,
    'Subject To',
  ];
  for (let r = 0; r < m.numRows; r++) {
    const from = m.starts[r]!;
    const to = m.starts[r + 1]!;
    const lhs = terms(m.values.subarray(from, to), m.indices.subarray(from, to), name);
    const lo = m.rowLower[r]!;
    const up = m.rowUpper[r]!;
    if (lo === up) out.push(` r${r}:${lhs} = ${lo}`);
    else if (lo === Number.NEGATIVE_INFINITY) out.push(` r${r}:${lhs} <= ${up}`);
    else if (up === Number.POSITIVE_INFINITY) out.push(` r${r}:${lhs} >= ${lo}`);
    else out.push(` r${r}:${lhs} >= ${lo}`, ` r${r}_up:${lhs} <= ${up}`);
  }
  out.push('Bounds');
  for (let c = 0; c < m.numCols; c++) {
    const up = m.colUpper[c]!;
    out.push(` ${m.colLower[c]} <= ${name[c]} <= ${up === Number.POSITIVE_INFINITY ? '+inf' : up}`);
  }
  if (m.integers.length > 0) {
    out.push('Binaries');
    for (const c of m.integers) out.push(` ${name[c]}`);
  }
  out.push('End', '');
  return out.join('\n');
}

function terms(values: ArrayLike<number>, cols: ArrayLike<number> | null, name: string[]): string {
  let s = '';
  for (let k = 0; k < values.length; k++) {
    const v = values[k]!;
    if (v === 0 && cols === null) continue;
    s += `${v < 0 ? ' -' : ' +'} ${Math.abs(v)} ${name[cols === null ? k : cols[k]!]}`;
  }
  return s === '' ? ` 0 ${name[0]}` : s;
}
