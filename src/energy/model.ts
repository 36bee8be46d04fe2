/**
 * The optimisation model, built straight into the sparse arrays HiGHS loads (no LP text to write and
 * parse: see lp-text.ts for the text form and docs/energy.md for the measurements). Per interval t:
 * mining MW m_t, AI MW a_t serving demand, MW b_jt for each backlog job j in its window; a peak
 * variable P_w per peak window; with a minimum up time, on/off binaries y_t and starts s_t.
 *
 *   max Σ_t dt·[(r_mine_t − p_t)·m_t + (r_ai − p_t)·(a_t + Σ_j b_jt)] − Σ_w c_w·P_w − SU·Σ_t s_t
 *   cap_t:    m_t + a_t + Σ_j b_jt ≤ CAP_t          (grid cap, lowered by demand-response events)
 *   gpu_t:    a_t + Σ_j b_jt ≤ GPU                   (only when there is a backlog)
 *   job_j:    Σ_t dt·b_jt = E_j                      (the job's energy before its deadline)
 *   peak_wt:  m_t + a_t + Σ_j b_jt − P_w ≤ 0         (P_w is the draw billed for window w)
 *   ramp_t:   −R ≤ m_t − m_{t−1} ≤ R
 *   link_t:   0 ≤ m_t − f·M·y_t ≤ (1 − f)·M  (off draws nothing; on draws at least f·M)
 *   start_t:  s_t − y_t + y_{t−1} ≥ 0;  up_t: Σ_{τ=t−L+1..t} s_τ − y_t ≤ 0
 * with AI_min_t ≤ a_t ≤ AI_max_t (SLA floor and demand) and 0 ≤ m_t ≤ M.
 */

/** Everything the model needs, per interval, in MW, hours and $/MWh. */
export interface Problem {
  n: number;
  dtHours: number;
  /** Price the site pays, plus any demand-response credit forgone by drawing ($/MWh). */
  price: Float64Array;
  mineUsdPerMwh: Float64Array;
  aiUsdPerMwh: number;
  cap: Float64Array;
  mineMw: number;
  aiMin: Float64Array;
  aiMax: Float64Array;
  gpuMw: number;
  /** Backlog jobs: energy (MWh) to deliver within intervals first..last (inclusive). */
  jobs: { name: string; mwh: number; first: number; last: number }[];
  /** Peak windows: $ per MW of the highest draw within intervals first..last. */
  peaks: { name: string; first: number; last: number; usdPerMw: number }[];
  /** Largest change of mining MW from one interval to the next, or null. */
  rampMw: number | null;
  /** Minimum up time in intervals (adds binaries), or null. */
  minUpSteps: number | null;
  /** While on, mining draws at least this share of M. */
  minLoadFraction: number;
  startupUsd: number;
}

export interface Model {
  numCols: number;
  numRows: number;
  colCost: Float64Array;
  colLower: Float64Array;
  colUpper: Float64Array;
  rowLower: Float64Array;
  rowUpper: Float64Array;
  /** Row-wise (CSR) matrix. */
  starts: Int32Array;
  indices: Int32Array;
  values: Float64Array;
  /** Indices of integer (binary) columns; empty for a pure LP. */
  integers: Int32Array;
  colNames: string[];
  /** Where each family of columns and rows starts. */
  layout: Layout;
}

export interface Layout {
  mine: number;
  ai: number;
  /** Column of b_jt: jobCol[j] + (t − first_j). */
  jobCol: number[];
  peakCol: number[];
  on: number;
  start: number;
  capRow: number;
  /** Row of peak_wt: peakRow[w] + (t − first_w). */
  peakRow: number[];
}

const INF = Number.POSITIVE_INFINITY;

/** Builds the model in one pass; rows are appended in order, so the CSR arrays grow without sorting. */
export function buildModel(p: Problem): Model {
  const { n, dtHours: dt } = p;
  const cost: number[] = [];
  const lo: number[] = [];
  const up: number[] = [];
  const names: string[] = [];
  const col = (c: number, l: number, u: number, name: string) => {
    cost.push(c);
    lo.push(l);
    up.push(u);
    names.push(name);
    return cost.length - 1;
  };
  for (let t = 0; t < n; t++) col(dt * (p.mineUsdPerMwh[t]! - p.price[t]!), 0, p.mineMw, `m${t}`);
  for (let t = 0; t < n; t++) col(dt * (p.aiUsdPerMwh - p.price[t]!), p.aiMin[t]!, p.aiMax[t]!, `a${t}`);
  const jobCol = p.jobs.map((j, k) => {
    const first = cost.length;
    for (let t = j.first; t <= j.last; t++) col(dt * (p.aiUsdPerMwh - p.price[t]!), 0, p.gpuMw, `b${k}_${t}`);
    return first;
  });
  const peakCol = p.peaks.map((w, k) => col(-w.usdPerMw, 0, INF, `peak${k}`));
  const binary = p.minUpSteps !== null;
  const on = cost.length;
  const start = on + (binary ? n : 0);
  if (binary) {
    for (let t = 0; t < n; t++) col(0, 0, 1, `y${t}`);
    for (let t = 0; t < n; t++) col(-p.startupUsd, 0, 1, `s${t}`);
  }

  const rl: number[] = [];
  const ru: number[] = [];
  const starts: number[] = [0];
  const idx: number[] = [];
  const val: number[] = [];
  const row = (l: number, u: number) => {
    rl.push(l);
    ru.push(u);
    starts.push(idx.length);
  };
  const jobsAt = (t: number, add: (c: number) => void) => {
    p.jobs.forEach((j, k) => {
      if (t >= j.first && t <= j.last) add(jobCol[k]! + t - j.first);
    });
  };
  const loadTerms = (t: number) => {
    idx.push(t, n + t);
    val.push(1, 1);
    jobsAt(t, (c) => {
      idx.push(c);
      val.push(1);
    });
  };
  const capRow = 0;
  for (let t = 0; t < n; t++) {
    loadTerms(t);
    row(-INF, p.cap[t]!);
  }
  if (p.jobs.length > 0) {
    for (let t = 0; t < n; t++) {
      idx.push(n + t);
      val.push(1);
      jobsAt(t, (c) => {
        idx.push(c);
        val.push(1);
      });
      row(-INF, p.gpuMw);
    }
  }
  p.jobs.forEach((j, k) => {
    for (let t = j.first; t <= j.last; t++) {
      idx.push(jobCol[k]! + t - j.first);
      val.push(dt);
    }
    row(j.mwh, j.mwh);
  });
  const peakRow = p.peaks.map((w, k) => {
    const first = rl.length;
    for (let t = w.first; t <= w.last; t++) {
      loadTerms(t);
      idx.push(peakCol[k]!);
      val.push(-1);
      row(-INF, 0);
    }
    return first;
  });
  if (p.rampMw !== null) {
    for (let t = 1; t < n; t++) {
      idx.push(t - 1, t);
      val.push(-1, 1);
      row(-p.rampMw, p.rampMw);
    }
  }
  if (binary) addOnOff(p, { on, start, idx, val, row });

  // Only y_t is binary: with y integral, start_t forces s_t = 1 at each switch-on and the up rows
  // keep it at most 1, so s_t may stay continuous; this halves the binaries HiGHS branches on.
  const integers = binary ? Int32Array.from({ length: n }, (_, i) => on + i) : new Int32Array(0);
  return {
    numCols: cost.length,
    numRows: rl.length,
    colCost: Float64Array.from(cost),
    colLower: Float64Array.from(lo),
    colUpper: Float64Array.from(up),
    rowLower: Float64Array.from(rl),
    rowUpper: Float64Array.from(ru),
    starts: Int32Array.from(starts),
    indices: Int32Array.from(idx),
    values: Float64Array.from(val),
    integers,
    colNames: names,
    layout: { mine: 0, ai: n, jobCol, peakCol, on, start, capRow, peakRow },
  };
}

/** link, start and minimum-up rows; the fleet may already be on when the horizon opens. */
function addOnOff(
  p: Problem,
  b: { on: number; start: number; idx: number[]; val: number[]; row: (l: number, u: number) => void },
): void {
  const { n } = p;
  const L = p.minUpSteps!;
  const f = p.minLoadFraction;
  for (let t = 0; t < n; t++) {
    // m − f·M·y in [0, (1−f)·M]: y = 0 forces m = 0, y = 1 allows f·M ≤ m ≤ M.
    b.idx.push(t, b.on + t);
    b.val.push(1, -f * p.mineMw);
    b.row(0, (1 - f) * p.mineMw);
  }
  for (let t = 1; t < n; t++) {
    b.idx.push(b.on + t - 1, b.on + t, b.start + t);
    b.val.push(1, -1, 1);
    b.row(0, INF);
  }
  for (let t = 1; t < n; t++) {
    b.idx.push(b.on + t);
    b.val.push(-1);
    for (let tau = Math.max(1, t - L + 1); tau <= t; tau++) {
      b.idx.push(b.start + tau);
      b.val.push(1);
    }
    b.row(-INF, 0);
  }
}
