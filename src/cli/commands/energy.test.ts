/** `lightproof energy sample|plan|signal|hashprice` as real child processes. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'lp-energy-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => join(dir, name);

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', entry, 'energy', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function cli(args: string[]): Promise<{ status: number | null; out: string; err: string }> {
  const child = start(args);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    err += c;
  });
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, out, err })));
}

describe('lightproof energy (CLI)', () => {
  it('makes the synthetic sample, plans it, and writes the plan, the chart and the LP', async () => {
    const sample = await cli(['sample', '--out-dir', at('s'), '--days', '3']);
    assert.equal(sample.status, 0, sample.err);
    assert.equal(JSON.parse(sample.out).synthetic, true);
    assert.match(readFileSync(at('s/prices.csv'), 'utf8'), /^# SYNTHETIC/);
    const again = await cli(['sample', '--out-dir', at('s')]);
    assert.equal(again.status, 1);
    assert.match(again.err, /^error LP_ENERGY_OUTPUT_EXISTS: .*site\.yaml already exists/);

    const args = ['plan', '--site', at('s/site.yaml'), '--prices', at('s/prices.csv')];
    const r = await cli([
      ...args,
      '--out',
      at('plan.json'),
      '--svg',
      at('plan.svg'),
      '--lp-out',
      at('plan.lp'),
    ]);
    assert.equal(r.status, 0, r.err);
    assert.match(r.out, /solver: HiGHS LP optimal/);
    assert.match(r.out, /^threshold /m);
    const plan = JSON.parse(readFileSync(at('plan.json'), 'utf8'));
    assert.equal(plan.intervals.length, 72);
    assert.ok(plan.outcomes.plan.net_msat >= plan.outcomes.threshold.net_msat);
    assert.match(
      readFileSync(at('plan.svg'), 'utf8'),
      /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<\/svg>\n$/,
    );
    assert.match(readFileSync(at('plan.lp'), 'utf8'), /^\\ lightproof energy plan\nMaximize\n/);
    const json = await cli([...args, '--json']);
    assert.equal(JSON.parse(json.out).intervals.length, 72);
  });

  it('exits 1 with the code and the line for bad input, and 2 for bad flags', async () => {
    writeFileSync(
      at('gap.csv'),
      'timestamp,price\n2026-06-01T00:00Z,1\n2026-06-01T01:00Z,1\n2026-06-01T03:00Z,1\n2026-06-01T04:00Z,1\n',
    );
    const site = at('s/site.yaml');
    const gap = await cli(['plan', '--site', site, '--prices', at('gap.csv'), '--out', at('half.json')]);
    assert.equal(gap.status, 1);
    assert.match(gap.err, /^error LP_ENERGY_CSV_GAP: .*line 3 .*line 4/);
    assert.ok(!existsSync(at('half.json')), 'a failed plan writes nothing');
    writeFileSync(at('bad.yaml'), 'gridCapMw: -3\n');
    const bad = await cli(['plan', '--site', at('bad.yaml'), '--prices', at('gap.csv')]);
    assert.equal(bad.status, 1);
    assert.match(bad.err, /^error LP_ENERGY_SITE: .*gridCapMw/);
    assert.equal((await cli(['plan', '--site', site])).status, 2);
    assert.equal(
      (await cli(['plan', '--site', site, '--prices', at('gap.csv'), '--time-limit', 'soon'])).status,
      2,
    );
    assert.equal((await cli(['signal', '--plan', at('plan.json'), '--port', 'http'])).status, 2);
    const missing = await cli(['signal', '--plan', at('none.json')]);
    assert.equal(missing.status, 1);
    assert.match(missing.err, /^error LP_ENERGY_PLAN_FILE/);
  });

  it('serves the plan as a price hook until stopped', async () => {
    const child = start(['signal', '--plan', at('plan.json'), '--port', '0']);
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout!.setEncoding('utf8').on('data', (c: string) => {
          buf += c;
          if (buf.includes('}')) resolve(buf);
        });
        child.on('close', () => reject(new Error(`signal exited early: ${buf}`)));
      });
      const { url } = JSON.parse(line) as { url: string };
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/price$/);
      // The sample plan is for June 2026; ask for an instant inside it.
      const r = await fetch(`${url}?at=2026-06-01T05:30:00Z&service=chat`);
      assert.equal(r.status, 200);
      const body = (await r.json()) as { price_msat: number; interval_start: string };
      assert.ok(Number.isSafeInteger(body.price_msat) && body.price_msat >= 0);
      assert.equal(body.interval_start, '2026-06-01T05:00:00.000Z');
    } finally {
      const closed = new Promise((r) => child.on('close', r));
      child.kill('SIGTERM');
      await closed;
    }
  });

  it('prints hashprice and the break-even power price', async () => {
    const r = await cli(['hashprice', '--btc-usd', '91000', '--difficulty', '152e12', '--fees', '0.02']);
    assert.equal(r.status, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), {
      hashprice_usd_per_ph_day: 37.88,
      network_eh_s: 1088.06,
      break_even_usd_per_mwh: 90.18,
      joules_per_th: 17.5,
    });
    assert.equal((await cli(['hashprice', '--btc-usd', '91000'])).status, 2);
  });
});
