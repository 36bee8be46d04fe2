import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isLightproofError } from '../core/errors.js';
import { loadPrices, parsePrices } from './prices.js';

const iso = (s: { starts: Float64Array }) => Array.from(s.starts, (t) => new Date(t).toISOString());
const rejects = (text: string, code: string, pattern: RegExp, o = {}) =>
  assert.throws(
    () => parsePrices(text, 'p.csv', o),
    (e: unknown) => isLightproofError(e, code) && pattern.test(e.message),
  );

describe('energy prices: layouts', () => {
  it('reads a generic file with an offset, comments, a BOM, CRLF, negative prices and extra columns', () => {
    const text =
      '\ufeff# synthetic\r\ntimestamp,price_usd_per_mwh,hashprice\r\n2026-01-01T00:00:00-06:00,-12.5,45\r\n2026-01-01T01:00:00-06:00,30,46.5\r\n';
    const s = parsePrices(text, 'p.csv', { columns: ['hashprice'] });
    assert.equal(s.layout, 'generic');
    assert.equal(s.stepMinutes, 60);
    assert.deepEqual(iso(s), ['2026-01-01T06:00:00.000Z', '2026-01-01T07:00:00.000Z']);
    assert.deepEqual(Array.from(s.prices), [-12.5, 30]);
    assert.deepEqual(Array.from(s.columns.hashprice!), [45, 46.5]);
  });

  it('reads ERCOT day-ahead prices across the fall-back repeated hour and the spring-forward gap', () => {
    const head =
      '"Delivery Date","Hour Ending","Repeated Hour Flag","Settlement Point","Settlement Point Price"';
    const fall = [
      head,
      ...['01:00,N', '02:00,N', '02:00,Y', '03:00,N'].map(
        (h, i) => `"11/01/2026","${h.split(',')[0]}","${h.split(',')[1]}","HB_WEST","${20 + i}"`,
      ),
    ];
    const s = parsePrices(fall.join('\n'), 'dam.csv');
    assert.equal(s.layout, 'ercot-dam');
    assert.equal(s.node, 'HB_WEST');
    assert.deepEqual(iso(s), [
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T06:00:00.000Z',
      '2026-11-01T07:00:00.000Z',
      '2026-11-01T08:00:00.000Z',
    ]);
    const spring = [head, ...['01', '02', '04'].map((h) => `03/08/2026,${h}:00,N,HB_WEST,25`)];
    assert.deepEqual(iso(parsePrices(spring.join('\n'), 'dam.csv')), [
      '2026-03-08T06:00:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-08T08:00:00.000Z',
    ]);
  });

  it('reads ERCOT real-time 15-minute prices for the node asked, and asks when there are several', () => {
    const lines = [
      'Delivery Date,Delivery Hour,Delivery Interval,Repeated Hour Flag,Settlement Point Name,Settlement Point Type,Settlement Point Price',
    ];
    for (const node of ['HB_WEST', 'HB_NORTH'])
      for (const q of [1, 2, 3, 4])
        lines.push(`06/01/2026,1,${q},N,${node},HU,${node === 'HB_WEST' ? q : -q}`);
    const text = lines.join('\n');
    rejects(text, 'LP_ENERGY_CSV_NODE', /2 nodes.*HB_WEST, HB_NORTH.*--node/);
    rejects(text, 'LP_ENERGY_CSV_NODE', /no prices for node "LZ_X"/, { node: 'LZ_X' });
    const s = parsePrices(text, 'rtm.csv', { node: 'HB_NORTH' });
    assert.equal(s.layout, 'ercot-rtm');
    assert.equal(s.stepMinutes, 15);
    assert.deepEqual(Array.from(s.prices), [-1, -2, -3, -4]);
    assert.equal(iso(s)[0], '2026-06-01T05:00:00.000Z');
  });

  it('reads CAISO OASIS, keeping the LMP rows of the node', () => {
    const head =
      'INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,OPR_INTERVAL,NODE_ID_XML,NODE_ID,NODE,MARKET_RUN_ID,LMP_TYPE,XML_DATA_ITEM,PNODE_RESMRID,GRP_TYPE,POS,MW,GROUP';
    const row = (h: number, type: string, mw: number) =>
      `2026-06-01T0${h}:00-00:00,2026-06-01T0${h + 1}:00-00:00,2026-06-01,${h + 1},0,TH_NP15,TH_NP15,TH_NP15,DAM,${type},LMP_PRC,TH_NP15,ALL,1,${mw},1`;
    const text = [head, row(0, 'MCC', 1), row(1, 'MCC', 2), row(0, 'LMP', 31.5), row(1, 'LMP', -4)].join(
      '\n',
    );
    const s = parsePrices(text, 'caiso.csv');
    assert.equal(s.layout, 'caiso');
    assert.deepEqual(Array.from(s.prices), [31.5, -4]);
    assert.deepEqual(iso(s), ['2026-06-01T00:00:00.000Z', '2026-06-01T01:00:00.000Z']);
  });

  it('reads PJM Data Miner times in UTC with AM/PM', () => {
    const head =
      'datetime_beginning_utc,datetime_beginning_ept,pnode_id,pnode_name,voltage,equipment,type,zone,system_energy_price_rt,total_lmp_rt,congestion_price_rt,marginal_loss_price_rt,row_is_current,version_nbr';
    const row = (t: string, p: number) => `${t},x,51291,AECO,,,ZONE,AECO,30,${p},0,0,TRUE,1`;
    const s = parsePrices(
      [
        head,
        row('1/1/2026 11:00:00 AM', 40),
        row('1/1/2026 12:00:00 PM', 41),
        row('1/1/2026 1:00:00 PM', 42),
      ].join('\n'),
      'pjm.csv',
    );
    assert.equal(s.layout, 'pjm');
    assert.deepEqual(iso(s), [
      '2026-01-01T11:00:00.000Z',
      '2026-01-01T12:00:00.000Z',
      '2026-01-01T13:00:00.000Z',
    ]);
  });
});

describe('energy prices: bad input', () => {
  const ok =
    'timestamp,price\n2026-01-01T00:00Z,1\n2026-01-01T01:00Z,2\n2026-01-01T02:00Z,3\n2026-01-01T03:00Z,4\n';

  it('names missing columns and the header it found', () => {
    rejects(
      'time_of_day,price\n1,2\n',
      'LP_ENERGY_CSV_COLUMNS',
      /missing column "timestamp".*time_of_day,price/,
    );
    rejects('timestamp,cost\n2026-01-01T00:00Z,1\n', 'LP_ENERGY_CSV_COLUMNS', /"price"/);
    rejects(ok, 'LP_ENERGY_CSV_COLUMNS', /"ai_gpus"/, { columns: ['ai_gpus'] });
    rejects(
      '"Delivery Date","Settlement Point Price"\n01/01/2026,3\n',
      'LP_ENERGY_CSV_COLUMNS',
      /ercot-dam.*"hourending"/,
    );
  });

  it('finds gaps, duplicates and disorder, with line numbers', () => {
    rejects(
      ok.replace('2026-01-01T01:00Z,2\n', ''),
      'LP_ENERGY_CSV_GAP',
      /line 2 .* line 3 .*60 minutes of prices are missing/,
    );
    rejects(ok.replace('01:00Z', '00:00Z'), 'LP_ENERGY_CSV_DUPLICATE', /lines 2 and 3/);
    const swapped =
      'timestamp,price\n2026-01-01T01:00Z,2\n2026-01-01T00:00Z,1\n2026-01-01T02:00Z,3\n2026-01-01T03:00Z,4\n';
    rejects(swapped, 'LP_ENERGY_CSV_UNSORTED', /line 3 .*--sort/);
    assert.deepEqual(Array.from(parsePrices(swapped, 'p.csv', { sort: true }).prices), [1, 2, 3, 4]);
    rejects(ok.replace('02:00Z', '01:30Z'), 'LP_ENERGY_CSV_GAP', /every interval must be/);
    rejects(
      'timestamp,price\n2026-01-01T00:00:00Z,1\n2026-01-01T00:00:30Z,2\n',
      'LP_ENERGY_CSV_GAP',
      /whole minutes/,
    );
  });

  it('refuses values that are not times or prices, naming the line', () => {
    rejects(ok.replace(',2\n', ',two\n'), 'LP_ENERGY_CSV_VALUE', /line 3: 'two' is not price/);
    rejects(ok.replace(',2\n', ',1e400\n'), 'LP_ENERGY_CSV_VALUE', /line 3/);
    rejects(ok.replace(',2\n', ',5000000\n'), 'LP_ENERGY_CSV_VALUE', /line 3/);
    rejects(
      ok.replace('2026-01-01T01:00Z', '2026-01-01T01:00'),
      'LP_ENERGY_CSV_VALUE',
      /line 3.*with Z or an offset/,
    );
    rejects(ok.replace('2026-01-01T01:00Z', '2026-02-30T01:00Z'), 'LP_ENERGY_CSV_VALUE', /line 3/);
    rejects(`${ok}2026-01-01T04:00Z,`, 'LP_ENERGY_CSV_VALUE', /line 6: '' is not price/);
  });

  it('refuses empty, tiny, malformed and hostile files', () => {
    rejects('', 'LP_ENERGY_CSV_FORMAT', /no header/);
    rejects('timestamp,price\n', 'LP_ENERGY_CSV_FORMAT', /no header and data rows/);
    rejects('timestamp,price\n2026-01-01T00:00Z,1\n', 'LP_ENERGY_CSV_FORMAT', /at least two/);
    rejects(
      'timestamp,price\n"2026-01-01T00:00Z,1\n',
      'LP_ENERGY_CSV_FORMAT',
      /line 2: a quoted field is never closed/,
    );
    rejects(`timestamp,price\n${'x'.repeat(5000)},1\n`, 'LP_ENERGY_CSV_FORMAT', /longer than 4096/);
    rejects(
      `${Array.from({ length: 300 }, (_, i) => `c${i}`).join(',')}\n`,
      'LP_ENERGY_CSV_FORMAT',
      /more than 256 columns/,
    );
    rejects('\u0000\u0001\u00ff,\u0000\n\u0002,\u0003\n', 'LP_ENERGY_CSV_COLUMNS', /missing columns/);
  });

  it('reads files from disk and names unreadable ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lp-'));
    try {
      writeFileSync(join(dir, 'p.csv'), ok);
      assert.equal(loadPrices(join(dir, 'p.csv')).prices.length, 4);
      assert.throws(
        () => loadPrices(join(dir, 'none.csv')),
        (e: unknown) => isLightproofError(e, 'LP_ENERGY_CSV_FORMAT') && /none\.csv/.test(e.message),
      );
      // A sparse file: refused by its size before a byte is read.
      writeFileSync(join(dir, 'huge.csv'), '');
      truncateSync(join(dir, 'huge.csv'), 129 * 1024 * 1024);
      assert.throws(
        () => loadPrices(join(dir, 'huge.csv')),
        (e: unknown) => isLightproofError(e, 'LP_ENERGY_CSV_FORMAT') && /larger than 128 MiB/.test(e.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
