/**
 * The schedule as an SVG: AI and mining MW stacked under the grid cap, and the power price on its
 * own axis. Hand-written SVG because it is a few polygons and a polyline; a plotting library
 * would be the largest dependency in the package. Long horizons are averaged into at most
 * WIDTH buckets so a year stays a small file.
 */
import type { Plan } from './plan.js';

const WIDTH = 960;
const HEIGHT = 360;
const M = { left: 56, right: 64, top: 28, bottom: 36 };

export function scheduleSvg(plan: Plan, gridCapMw: number): string {
  const rows = plan.intervals;
  const w = WIDTH - M.left - M.right;
  const h = HEIGHT - M.top - M.bottom;
  const buckets = Math.min(rows.length, w);
  const avg = (pick: (r: (typeof rows)[number]) => number) =>
    Array.from({ length: buckets }, (_, b) => {
      const from = Math.floor((b * rows.length) / buckets);
      const to = Math.max(from + 1, Math.floor(((b + 1) * rows.length) / buckets));
      let s = 0;
      for (let i = from; i < to; i++) s += pick(rows[i]!);
      return s / (to - from);
    });
  const ai = avg((r) => r.ai_mw);
  const mine = avg((r) => r.mining_mw);
  const price = avg((r) => r.price_usd_per_mwh);
  const mwTop = Math.max(gridCapMw, ...ai.map((a, i) => a + mine[i]!)) * 1.05 || 1;
  // Scarcity spikes would flatten the rest of the price line: the axis stops at the 99th percentile.
  const sorted = [...price].sort((a, b) => a - b);
  const pTop = Math.max(1, sorted[Math.floor(0.99 * (sorted.length - 1))]! * 1.1);
  const pBottom = Math.min(0, sorted[0]!);
  const x = (i: number) => M.left + (buckets === 1 ? w / 2 : (i * w) / (buckets - 1));
  const yMw = (v: number) => M.top + h - (v / mwTop) * h;
  const yP = (v: number) => M.top + h - ((Math.min(v, pTop) - pBottom) / (pTop - pBottom)) * h;
  const pts = (ys: number[]) => ys.map((y, i) => `${f(x(i))},${f(y)}`).join(' ');
  const area = (lower: number[], upper: number[], fill: string, label: string) =>
    `<polygon fill="${fill}" fill-opacity="0.85" points="${pts(upper)} ${pts(lower).split(' ').reverse().join(' ')}"><title>${label}</title></polygon>`;
  const zero = ai.map(() => yMw(0));
  const aiTop = ai.map(yMw);
  const stackTop = ai.map((a, i) => yMw(a + mine[i]!));
  const first = rows[0]?.start ?? '';
  const last = rows[rows.length - 1]?.start ?? '';
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(plan.site)}: schedule from ${first} to ${last}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    ...ticks.map(
      (t) =>
        `<line x1="${M.left}" x2="${M.left + w}" y1="${f(yMw(t * mwTop))}" y2="${f(yMw(t * mwTop))}" stroke="#ddd"/><text x="${M.left - 6}" y="${f(yMw(t * mwTop) + 4)}" text-anchor="end">${round(t * mwTop)}</text><text x="${M.left + w + 6}" y="${f(yP(pBottom + t * (pTop - pBottom)) + 4)}" fill="#c0392b">${round(pBottom + t * (pTop - pBottom))}</text>`,
    ),
    area(zero, aiTop, '#2e86de', 'AI MW'),
    area(aiTop, stackTop, '#f39c12', 'mining MW'),
    `<line x1="${M.left}" x2="${M.left + w}" y1="${f(yMw(gridCapMw))}" y2="${f(yMw(gridCapMw))}" stroke="#333" stroke-dasharray="4 3"><title>grid cap ${gridCapMw} MW</title></line>`,
    `<polyline fill="none" stroke="#c0392b" stroke-width="1" points="${pts(price.map(yP))}"><title>power price $/MWh</title></polyline>`,
    `<text x="${M.left}" y="16" font-weight="bold">${esc(plan.site)}: AI (blue) and mining (orange) MW under the grid cap (dashed); power price $/MWh (red, right axis)</text>`,
    `<text x="${M.left}" y="${HEIGHT - 12}">${esc(first)}</text>`,
    `<text x="${M.left + w}" y="${HEIGHT - 12}" text-anchor="end">${esc(last)}</text>`,
    `<text x="14" y="${M.top + h / 2}" transform="rotate(-90 14 ${M.top + h / 2})" text-anchor="middle">MW</text>`,
    '</svg>',
    '',
  ].join('\n');
}

const f = (v: number) => (Math.round(v * 10) / 10).toString();
const round = (v: number) => (Math.abs(v) >= 10 ? Math.round(v) : Math.round(v * 10) / 10).toString();
const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
