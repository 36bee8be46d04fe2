/**
 * One accounting for every schedule, planned or baseline: what mining and AI earn, what power and
 * peak charges cost, what demand response pays, and the energy each use took. The baselines are the
 * rules a site runs without a planner:
 * - mine-only: the whole fleet mines at all times (within the cap);
 * - ai-only: serve AI demand and the backlog as early as possible, never mine;
 * - threshold: AI's SLA floor first, then each use with a positive margin in order of margin
 *   (mine while power costs less than mining earns). Without ramp, up-time, peak or backlog
 *   coupling this is the optimum, which the tests use as an oracle.
 */

import type { Market } from './inputs.js';
import type { Problem } from './model.js';

export interface Schedule {
  mine: Float64Array;
  /** All AI MW: demand served plus backlog work. */
  ai: Float64Array;
}

export interface Outcome {
  miningUsd: number;
  aiUsd: number;
  demandResponseUsd: number;
  energyUsd: number;
  peakUsd: number;
  startupUsd: number;
  netUsd: number;
  miningMwh: number;
  aiMwh: number;
  /** Mining fleet energy left unused (fleet MW − mining MW). */
  curtailedMwh: number;
}

const EPS = 1e-6;

export function evaluate(p: Problem, m: Market, s: Schedule): Outcome {
  const dt = p.dtHours;
  const o: Outcome = {
    miningUsd: 0,
    aiUsd: 0,
    demandResponseUsd: 0,
    energyUsd: 0,
    peakUsd: 0,
    startupUsd: 0,
    netUsd: 0,
    miningMwh: 0,
    aiMwh: 0,
    curtailedMwh: 0,
  };
  for (let t = 0; t < p.n; t++) {
    const mine = s.mine[t]!;
    const ai = s.ai[t]!;
    o.miningUsd += dt * mine * p.mineUsdPerMwh[t]!;
    o.aiUsd += dt * ai * p.aiUsdPerMwh;
    o.energyUsd += dt * (mine + ai) * m.price[t]!;
    if (m.credit[t]! > 0) o.demandResponseUsd += dt * m.credit[t]! * Math.max(0, m.gridCapMw - mine - ai);
    o.miningMwh += dt * mine;
    o.aiMwh += dt * ai;
    o.curtailedMwh += dt * (p.mineMw - mine);
    if (p.minUpSteps !== null && t > 0 && mine > EPS && s.mine[t - 1]! <= EPS) o.startupUsd += p.startupUsd;
  }
  for (const w of p.peaks) {
    let max = 0;
    for (let t = w.first; t <= w.last; t++) max = Math.max(max, s.mine[t]! + s.ai[t]!);
    o.peakUsd += max * w.usdPerMw;
  }
  o.netUsd = o.miningUsd + o.aiUsd + o.demandResponseUsd - o.energyUsd - o.peakUsd - o.startupUsd;
  return o;
}

export function mineOnly(p: Problem): Schedule {
  return { mine: p.cap.map((c) => Math.min(c, p.mineMw)), ai: new Float64Array(p.n) };
}

export function aiOnly(p: Problem): Schedule {
  const ai = p.aiMax.map((a, t) => Math.min(a, p.cap[t]!));
  backlogAsap(p, ai, new Float64Array(p.n));
  return { mine: new Float64Array(p.n), ai };
}

export function threshold(p: Problem): Schedule {
  const ai = Float64Array.from(p.aiMin);
  const mine = new Float64Array(p.n);
  backlogAsap(p, ai, mine);
  for (let t = 0; t < p.n; t++) {
    let room = p.cap[t]! - ai[t]! - mine[t]!;
    const aiMargin = p.aiUsdPerMwh - p.price[t]!;
    const mineMargin = p.mineUsdPerMwh[t]! - p.price[t]!;
    const aiRoom = Math.max(0, p.aiMax[t]! - p.aiMin[t]!);
    const order = aiMargin >= mineMargin ? ['ai', 'mine'] : ['mine', 'ai'];
    for (const use of order) {
      if (use === 'ai' && aiMargin > 0) {
        const x = Math.min(aiRoom, room);
        ai[t]! += x;
        room -= x;
      } else if (use === 'mine' && mineMargin > 0) {
        const x = Math.min(p.mineMw, room);
        mine[t] = x;
        room -= x;
      }
    }
  }
  return { mine, ai };
}

/** Runs each backlog job as early as possible (earliest deadline first) in the room left. */
function backlogAsap(p: Problem, ai: Float64Array, mine: Float64Array): void {
  const jobs = [...p.jobs].sort((a, b) => a.last - b.last);
  for (const j of jobs) {
    let left = j.mwh;
    for (let t = j.first; t <= j.last && left > EPS; t++) {
      const room = Math.min(p.gpuMw - ai[t]!, p.cap[t]! - ai[t]! - mine[t]!);
      const x = Math.max(0, Math.min(room, left / p.dtHours));
      ai[t]! += x;
      left -= x * p.dtHours;
    }
  }
}
