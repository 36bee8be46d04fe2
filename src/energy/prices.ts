/**
 * Power prices from a CSV in the layouts ISOs publish: ERCOT settlement point prices (DAM hourly or
 * RTM 15-minute, Central Prevailing Time), CAISO OASIS (PRC_LMP, GMT), PJM Data Miner (UTC), or a
 * generic `timestamp,price` file with any extra numeric columns (hashprice, AI demand). Any interval
 * length; the series must be regular: gaps, duplicates and (unless asked to sort) disorder are
 * errors that name the lines. Negative prices are valid.
 */
import { readFileSync, statSync } from 'node:fs';
import { LightproofError } from '../core/errors.js';
import { MAX_CSV_BYTES, readCsv } from './csv.js';
import {
  detect,
  key,
  number,
  PRICE_NAMES,
  type PriceLayout,
  type Row,
  rowReader,
  TIME_NAMES,
} from './layouts.js';

export type { PriceLayout } from './layouts.js';

export interface PriceSeries {
  source: string;
  layout: PriceLayout;
  node: string | null;
  /** Interval starts, UTC epoch ms, regular and increasing. */
  starts: Float64Array;
  stepMinutes: number;
  /** $/MWh; may be negative. */
  prices: Float64Array;
  /** Extra numeric columns (generic layout), by lower-case name. */
  columns: Record<string, Float64Array>;
}

export interface PriceOptions {
  /** Settlement point / node to keep when the file holds several. */
  node?: string;
  /** Sort rows by time instead of refusing a file whose rows are out of order. */
  sort?: boolean;
  /** Extra columns the site reads (hashprice, AI demand); each must be present and numeric. */
  columns?: readonly string[];
}
export const MAX_INTERVALS = 200_000;

export function loadPrices(path: string, options: PriceOptions = {}): PriceSeries {
  let text: string;
  try {
    if (statSync(path).size > MAX_CSV_BYTES) {
      throw new LightproofError(
        'LP_ENERGY_CSV_FORMAT',
        `${path} is larger than 128 MiB; keep one node's prices.`,
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if (cause instanceof LightproofError) throw cause;
    throw new LightproofError('LP_ENERGY_CSV_FORMAT', `Cannot read ${path}: ${(cause as Error).message}.`, {
      cause,
    });
  }
  return parsePrices(text, path, options);
}

export function parsePrices(text: string, source: string, options: PriceOptions = {}): PriceSeries {
  const records = readCsv(text, source);
  const header = records.shift();
  if (!header || records.length === 0) {
    throw new LightproofError(
      'LP_ENERGY_CSV_FORMAT',
      `${source} has no header and data rows; see docs/energy.md for the layouts.`,
    );
  }
  if (records.length > MAX_INTERVALS * 20) {
    throw new LightproofError(
      'LP_ENERGY_CSV_FORMAT',
      `${source} has more than ${MAX_INTERVALS * 20} rows; keep one node's prices.`,
    );
  }
  const cols = header.fields.map(key);
  const find = (names: readonly string[]) => cols.findIndex((c) => names.includes(c));
  const layout = detect(cols);
  const extraNames = options.columns ?? [];
  if (layout !== 'generic' && extraNames.length > 0) {
    throw new LightproofError(
      'LP_ENERGY_CSV_COLUMNS',
      `${source} is an ISO ${layout} file, so it has no ${extraNames.join(', ')} column; put those in a generic timestamp,price,... file.`,
    );
  }
  const extraIdx = extraNames.map((n) => cols.indexOf(key(n)));
  const missing = extraNames.filter((_, i) => extraIdx[i]! < 0);
  if (layout === 'generic' && (find(TIME_NAMES) < 0 || find(PRICE_NAMES) < 0)) {
    missing.unshift(
      ...(find(TIME_NAMES) < 0 ? ['timestamp'] : []),
      ...(find(PRICE_NAMES) < 0 ? ['price'] : []),
    );
  }
  if (missing.length > 0) {
    throw new LightproofError(
      'LP_ENERGY_CSV_COLUMNS',
      `${source}: missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')}; the header is ${header.fields.join(',')}. See docs/energy.md for the layouts.`,
      { details: { missing, header: header.fields } },
    );
  }
  const read = rowReader(layout, cols, find, source);
  let rows: Row[] = [];
  for (const r of records) {
    const row = read(r);
    if (row === null) continue;
    row.extra = extraIdx.map((i, j) => number(r, i, extraNames[j]!, source));
    rows.push(row);
  }
  const node = pickNode(rows, options.node, source);
  if (node !== null) rows = rows.filter((r) => r.node === node);
  return regular(rows, { source, layout, node, sort: options.sort ?? false, extraNames });
}
function pickNode(rows: Row[], wanted: string | undefined, source: string): string | null {
  const nodes = [...new Set(rows.map((r) => r.node).filter((n): n is string => n !== null))];
  if (wanted !== undefined) {
    if (!nodes.includes(wanted)) {
      throw new LightproofError(
        'LP_ENERGY_CSV_NODE',
        `${source} has no prices for node "${wanted}"; it has ${nodes.slice(0, 20).join(', ') || 'no node column'}.`,
      );
    }
    return wanted;
  }
  if (nodes.length > 1) {
    throw new LightproofError(
      'LP_ENERGY_CSV_NODE',
      `${source} holds prices for ${nodes.length} nodes (${nodes.slice(0, 10).join(', ')}${nodes.length > 10 ? ', …' : ''}); choose one with --node.`,
      { details: { nodes: nodes.slice(0, 100) } },
    );
  }
  return nodes[0] ?? null;
}

function regular(
  rows: Row[],
  o: {
    source: string;
    layout: PriceLayout;
    node: string | null;
    sort: boolean;
    extraNames: readonly string[];
  },
): PriceSeries {
  const { source } = o;
  if (o.sort) rows.sort((a, b) => a.t - b.t);
  for (let i = 1; i < rows.length; i++) {
    const [a, b] = [rows[i - 1]!, rows[i]!];
    if (b.t === a.t) {
      throw new LightproofError(
        'LP_ENERGY_CSV_DUPLICATE',
        `${source}: lines ${a.line} and ${b.line} are both for ${iso(a.t)}; keep one.`,
        {
          details: { lines: [a.line, b.line] },
        },
      );
    }
    if (b.t < a.t) {
      throw new LightproofError(
        'LP_ENERGY_CSV_UNSORTED',
        `${source}: line ${b.line} (${iso(b.t)}) comes after line ${a.line} (${iso(a.t)}); sort the file by time or pass --sort.`,
        {
          details: { line: b.line },
        },
      );
    }
  }
  if (rows.length < 2)
    throw new LightproofError(
      'LP_ENERGY_CSV_FORMAT',
      `${source} has ${rows.length} price row; a plan needs at least two intervals.`,
    );
  if (rows.length > MAX_INTERVALS)
    throw new LightproofError(
      'LP_ENERGY_CSV_FORMAT',
      `${source} has ${rows.length} intervals; plan at most ${MAX_INTERVALS} at a time.`,
    );
  const step = commonStep(rows);
  if (step % 60_000 !== 0 || step > 86_400_000) {
    throw new LightproofError(
      'LP_ENERGY_CSV_GAP',
      `${source}: most rows are ${step / 60_000} minutes apart; intervals must be whole minutes, at most a day.`,
    );
  }
  for (let i = 1; i < rows.length; i++) {
    const [a, b] = [rows[i - 1]!, rows[i]!];
    if (b.t - a.t !== step) {
      const what =
        b.t - a.t > step
          ? `a gap: ${(b.t - a.t - step) / 60_000} minutes of prices are missing`
          : 'a shorter interval';
      throw new LightproofError(
        'LP_ENERGY_CSV_GAP',
        `${source}: between line ${a.line} (${iso(a.t)}) and line ${b.line} (${iso(b.t)}) there is ${what}; every interval must be ${step / 60_000} minutes. Fill the gap or plan the parts separately.`,
        {
          details: { lines: [a.line, b.line] },
        },
      );
    }
  }
  const columns: Record<string, Float64Array> = {};
  o.extraNames.forEach((n, j) => {
    columns[n] = Float64Array.from(rows, (r) => r.extra[j]!);
  });
  return {
    source,
    layout: o.layout,
    node: o.node,
    starts: Float64Array.from(rows, (r) => r.t),
    stepMinutes: step / 60_000,
    prices: Float64Array.from(rows, (r) => r.price),
    columns,
  };
}

/** The interval length: the most common step between rows (the smaller on a tie), so a gap shows as a gap. */
function commonStep(rows: Row[]): number {
  const counts = new Map<number, number>();
  for (let i = 1; i < rows.length; i++) {
    const d = rows[i]!.t - rows[i - 1]!.t;
    counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  let best = 0;
  let bestCount = 0;
  for (const [d, c] of counts) {
    if (c > bestCount || (c === bestCount && d < best)) [best, bestCount] = [d, c];
  }
  return best;
}

const iso = (t: number) => new Date(t).toISOString();
