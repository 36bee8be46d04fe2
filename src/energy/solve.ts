/**
 * Runs the model in HiGHS (the npm `highs` WASM build, one instance per process) and reads back the
 * schedule and the duals. A MILP has no duals, so after it is solved its binaries are fixed at their
 * values and the LP that remains is solved again: its duals price power given those on/off choices.
 */
import type { Highs } from 'highs';
import { LightproofError } from '../core/errors.js';
import type { Model } from './model.js';

let loading: Promise<Highs> | null = null;

/** The HiGHS runtime, loaded once (about 0.2 s to compile the WASM). */
export function loadHighs(): Promise<Highs> {
  loading ??= import('highs').then((m) => {
    // The package's types describe its CommonJS build; under `import` Node loads the ES build,
    // whose default export is the loader itself.
    const d = m.default as unknown;
    const load = (typeof d === 'function' ? d : (d as { default: unknown }).default) as () => Promise<Highs>;
    return load();
  });
  return loading;
}

export interface Solved {
  status: 'optimal' | 'time-limit';
  objective: number;
  colValue: Float64Array;
  rowDual: Float64Array;
  /** Relative MIP gap at the end; 0 for an LP. */
  mipGap: number;
  solveMs: number;
}

export interface SolveOptions {
  timeLimitSeconds?: number;
  mipRelGap?: number;
}

const OPTIMAL = 7;
const INFEASIBLE = 8;
const UNBOUNDED_OR_INFEASIBLE = 9;
const TIME_LIMIT = 13;

export async function solveModel(m: Model, o: SolveOptions = {}): Promise<Solved> {
  const highs = await loadHighs();
  const t0 = performance.now();
  const model = highs.createModel();
  try {
    const mip = m.integers.length > 0;
    model.options.set({
      output_flag: false,
      time_limit: o.timeLimitSeconds ?? 60,
      mip_rel_gap: o.mipRelGap ?? 1e-4,
      // The LP is bounds plus one row per interval: presolve spent more time than the dual simplex
      // on a year of hours (docs/energy.md). The MILP needs it for its cuts and probing.
      presolve: mip ? 'choose' : 'off',
    });
    const integrality = new Int32Array(m.numCols);
    for (const c of m.integers) integrality[c] = 1;
    model.passModel({
      numCols: m.numCols,
      numRows: m.numRows,
      sense: highs.constants.objectiveSense.maximize,
      colCost: m.colCost,
      colLower: m.colLower,
      colUpper: m.colUpper,
      rowLower: m.rowLower,
      rowUpper: m.rowUpper,
      matrix: {
        format: 'csr',
        numRows: m.numRows,
        numCols: m.numCols,
        starts: m.starts,
        indices: m.indices,
        values: m.values,
      },
      ...(m.integers.length > 0 ? { integrality } : {}),
    });
    model.run();
    let status = model.getModelStatus();
    const hasSolution = Number(model.info.get('primal_solution_status')) === 2;
    if (
      status === INFEASIBLE ||
      status === UNBOUNDED_OR_INFEASIBLE ||
      (status === TIME_LIMIT && !hasSolution)
    ) {
      throw new LightproofError(
        status === TIME_LIMIT ? 'LP_ENERGY_SOLVER' : 'LP_ENERGY_INFEASIBLE',
        status === TIME_LIMIT
          ? `HiGHS found no schedule within ${o.timeLimitSeconds ?? 60} s; plan a shorter horizon or drop minUpHours.`
          : 'No schedule fits the site: the AI SLA floors, backlog deadlines and demand-response caps cannot all be met within the grid cap and the fleets. Lower the SLA, widen the deadlines or raise the cap.',
        { status: 422 },
      );
    }
    if (status !== OPTIMAL && status !== TIME_LIMIT) {
      throw new LightproofError(
        'LP_ENERGY_SOLVER',
        `HiGHS stopped with model status ${status}; the model is malformed, which is a bug: report it with the site file.`,
        { status: 500 },
      );
    }
    const mipGap = mip ? Number(model.info.get('mip_gap')) : 0;
    const first = model.getSolution();
    const objective = model.getObjectiveValue();
    let rowDual = first.rowDual;
    if (mip) {
      // Fix the binaries where the MILP left them; the LP left has the same optimum and real duals.
      model.clearIntegrality();
      const values = Float64Array.from(m.integers, (c) => Math.round(first.colValue[c]!));
      model.changeColsBounds({ kind: 'set', indices: m.integers }, values, values);
      model.run();
      status = model.getModelStatus();
      rowDual = status === OPTIMAL ? model.getSolution().rowDual : new Float64Array(m.numRows);
    }
    return {
      status: status === TIME_LIMIT ? 'time-limit' : 'optimal',
      objective,
      colValue: first.colValue,
      rowDual,
      mipGap,
      solveMs: performance.now() - t0,
    };
  } finally {
    model.dispose();
  }
}
