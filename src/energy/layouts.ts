/**
 * The layouts ISOs publish, recognised from the header: which columns hold the time, the price and
 * the node, and how each layout writes its time. Each reader turns one CSV record into a row, or
 * null for a row that is not a price (CAISO's congestion and loss components).
 */
import { LightproofError } from '../core/errors.js';
import type { CsvRecord } from './csv.js';
import { centralToUtc, parseDay, parseHourEnding, parseIsoInstant, parsePjmTime } from './iso-time.js';

export type PriceLayout = 'ercot-dam' | 'ercot-rtm' | 'caiso' | 'pjm' | 'generic';

/** Above this a "price" is a unit mistake (cents, $/kWh·1000) rather than a market price. */
const MAX_ABS_PRICE = 1_000_000;

/** Header names compared without case, spaces or punctuation. */
export const key = (h: string) => h.toLowerCase().replace(/[^a-z0-9]/g, '');
export const TIME_NAMES = [
  'timestamp',
  'time',
  'datetime',
  'intervalstart',
  'start',
  'intervalstartutc',
  'timeutc',
];
export const PRICE_NAMES = ['price', 'priceusdpermwh', 'usdpermwh', 'lmp', 'spp'];

export interface Row {
  line: number;
  t: number;
  price: number;
  node: string | null;
  extra: number[];
}

export function detect(cols: string[]): PriceLayout {
  const has = (c: string) => cols.includes(c);
  if (has('deliverydate') && has('settlementpointprice')) {
    return has('deliveryinterval') ? 'ercot-rtm' : 'ercot-dam';
  }
  if (has('intervalstarttimegmt')) return 'caiso';
  if (has('datetimebeginningutc')) return 'pjm';
  return 'generic';
}

export type Reader = (r: CsvRecord) => Row | null;

export function rowReader(
  layout: PriceLayout,
  cols: string[],
  find: (n: readonly string[]) => number,
  source: string,
): Reader {
  const at = (name: string) => cols.indexOf(name);
  const need = (names: string[]): number[] => {
    const idx = names.map(at);
    const missing = names.filter((_, i) => idx[i]! < 0);
    if (missing.length) {
      throw new LightproofError(
        'LP_ENERGY_CSV_COLUMNS',
        `${source} looks like a ${layout} file but lacks ${missing.map((m) => `"${m}"`).join(', ')} (names compared without case, spaces or punctuation).`,
        { details: { missing } },
      );
    }
    return idx;
  };
  const nodeAt = (...names: string[]) => names.map(at).find((i) => i >= 0) ?? -1;
  const nodeOf = (r: CsvRecord, i: number) => (i >= 0 ? (r.fields[i] ?? '') : null);
  if (layout === 'ercot-dam' || layout === 'ercot-rtm') {
    const rtm = layout === 'ercot-rtm';
    const [day, hour, price] = need([
      'deliverydate',
      rtm ? 'deliveryhour' : 'hourending',
      'settlementpointprice',
    ]);
    const interval = rtm ? need(['deliveryinterval'])[0]! : -1;
    const repeated = nodeAt('repeatedhourflag', 'dstflag');
    const nodeIdx = nodeAt('settlementpointname', 'settlementpoint');
    return (r) => {
      const d = parseDay(r.fields[day!] ?? '');
      const h = parseHourEnding(r.fields[hour!] ?? '');
      const q = rtm ? Number(r.fields[interval]) : 1;
      if (Number.isNaN(d) || Number.isNaN(h) || !(q >= 1 && q <= 4 && Number.isInteger(q))) {
        throw badValue(
          r,
          source,
          'the delivery date, hour or interval',
          `${r.fields[day!]} ${r.fields[hour!]}`,
        );
      }
      const local = d + (h - 1) * 3_600_000 + (q - 1) * 900_000;
      const t = centralToUtc(local, (r.fields[repeated] ?? 'N').toUpperCase() === 'Y');
      return {
        line: r.line,
        t,
        price: number(r, price!, 'Settlement Point Price', source),
        node: nodeOf(r, nodeIdx),
        extra: [],
      };
    };
  }
  if (layout === 'caiso') {
    const [start, mw] = need(['intervalstarttimegmt', 'mw']);
    const type = at('lmptype');
    const nodeIdx = nodeAt('node', 'nodeid');
    return (r) => {
      // OASIS lists the LMP and its parts (congestion, loss, energy, GHG) as separate rows.
      if (type >= 0 && r.fields[type] !== 'LMP') return null;
      return {
        line: r.line,
        t: instant(r, start!, source, false, parseIsoInstant),
        price: number(r, mw!, 'MW (the LMP)', source),
        node: nodeOf(r, nodeIdx),
        extra: [],
      };
    };
  }
  if (layout === 'pjm') {
    const [start] = need(['datetimebeginningutc']);
    const price = ['totallmprt', 'totallmpda', 'lmp'].map(at).find((i) => i >= 0);
    if (price === undefined) need(['totallmprt']);
    const nodeIdx = nodeAt('pnodename', 'pnodeid');
    return (r) => ({
      line: r.line,
      t: instant(r, start!, source, true, parsePjmTime),
      price: number(r, price!, 'total_lmp', source),
      node: nodeOf(r, nodeIdx),
      extra: [],
    });
  }
  const time = find(TIME_NAMES);
  const price = find(PRICE_NAMES);
  const utc = cols[time]!.endsWith('utc');
  const nodeIdx = nodeAt('node', 'settlementpoint');
  return (r) => ({
    line: r.line,
    t: instant(r, time, source, utc, parseIsoInstant),
    price: number(r, price, 'price', source),
    node: nodeOf(r, nodeIdx),
    extra: [],
  });
}

function instant(
  r: CsvRecord,
  i: number,
  source: string,
  utc: boolean,
  parse: (s: string, utc: boolean) => number,
): number {
  const t = parse(r.fields[i] ?? '', utc);
  if (Number.isNaN(t))
    throw badValue(
      r,
      source,
      'the time (ISO 8601 with Z or an offset, such as 2026-06-01T15:00:00Z)',
      r.fields[i] ?? '',
    );
  return t;
}

export function number(r: CsvRecord, i: number, what: string, source: string): number {
  const text = r.fields[i] ?? '';
  const v = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(v) || Math.abs(v) > MAX_ABS_PRICE) throw badValue(r, source, what, text);
  return v;
}

function badValue(r: CsvRecord, source: string, what: string, text: string): LightproofError {
  return new LightproofError(
    'LP_ENERGY_CSV_VALUE',
    `${source}: line ${r.line}: '${text.slice(0, 60)}' is not ${what}.`,
    {
      details: { line: r.line },
    },
  );
}
