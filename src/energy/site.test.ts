import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { isLightproofError } from '../core/errors.js';
import { sampleSiteYaml } from './sample.js';
import { loadSite, parseSite } from './site.js';

const dir = mkdtempSync(join(tmpdir(), 'lp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const base = () =>
  parse(sampleSiteYaml({ start: Date.UTC(2026, 5, 1), intervals: 336, stepMinutes: 60 })) as Record<
    string,
    unknown
  >;
const invalid = (raw: unknown, pattern: RegExp) =>
  assert.throws(
    () => parseSite(raw, 'site.yaml'),
    (e: unknown) =>
      isLightproofError(e, 'LP_ENERGY_SITE') && /^site\.yaml/.test(e.message) && pattern.test(e.message),
  );

describe('energy site.yaml', () => {
  it('reads the sample site and derives fleet power and what AI earns per MWh', () => {
    const s = parseSite(base(), 'site.yaml');
    assert.equal(s.asics.fleetMw, 28);
    assert.ok(Math.abs(s.gpus.fleetMw - 20.4) < 1e-9);
    // 2,209 tok/s at 1,275 W is 6.24e9 tokens per MWh; at $0.6 per million, $3,742/MWh.
    assert.equal(Math.round(s.ai.usdPerMwh), 3742);
    assert.equal(s.hashprice.kind, 'chain');
    assert.equal(s.peaks.length, 1);
    assert.equal(s.demandResponse[0]!.maxMw, 15);
    assert.equal(s.ai.backlog[0]!.name, 'nightly-batch');
    const perHour = parseSite({ ...base(), ai: { price: { usdPerGpuHour: 2.35 } } }, 'x');
    assert.equal(Math.round(perHour.ai.usdPerMwh), 1843);
  });

  it('names the field and what is allowed', () => {
    invalid({ ...base(), gridCapMw: -1 }, /gridCapMw/);
    invalid({ ...base(), gridCapMw: 'lots' }, /gridCapMw/);
    invalid({ ...base(), asics: undefined }, /asics/);
    invalid(
      { ...base(), asics: { count: 1, thPerSecond: 200, joulesPerTh: 17.5, startupUsd: 5 } },
      /asics.minUpHours.*need minUpHours/,
    );
    invalid({ ...base(), ai: { price: { usdPerToken: 1 } } }, /ai.price/);
    invalid(
      { ...base(), hashprice: { difficulty: 1, networkHashrateEhs: 2 } },
      /exactly one of difficulty or networkHashrateEhs/,
    );
    invalid({ ...base(), hashprice: { column: 'Hash Price' } }, /hashprice.column/);
    invalid(
      { ...base(), peaks: [{ from: '2026-06-01T20:00', to: '2026-06-01T21:00Z', usdPerKw: 1 }] },
      /peaks\[0\]\.from.*with Z or an offset/,
    );
    invalid(
      { ...base(), peaks: [{ from: '2026-06-01T21:00Z', to: '2026-06-01T20:00Z', usdPerKw: 1 }] },
      /peaks\[0\]\.to.*after/,
    );
    invalid(
      { ...base(), demandResponse: [{ from: '2026-06-01T21:00Z', to: '2026-06-01T22:00Z' }] },
      /maxMw, creditUsdPerMwh or both/,
    );
    invalid(
      {
        ...base(),
        ai: {
          price: { usdPerGpuHour: 2 },
          backlog: [{ name: 'j', gpuHours: 1, from: '2026-02-30T00:00Z', deadline: '2026-03-02T00:00Z' }],
        },
      },
      /backlog\[0\]\.from.*real ISO 8601/,
    );
    invalid({ ...base(), colour: 'red' }, /unknown field "colour"/);
    invalid(null, /gridCapMw/);
    invalid([1, 2], /expected object/);
  });

  it('reads files with a size cap, duplicate keys refused and aliases bounded', () => {
    const write = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const fails = (path: string, pattern: RegExp) =>
      assert.throws(
        () => loadSite(path),
        (e: unknown) => isLightproofError(e, 'LP_ENERGY_SITE') && pattern.test(e.message),
      );
    assert.equal(
      loadSite(write('ok.yaml', sampleSiteYaml({ start: 0, intervals: 48, stepMinutes: 60 }))).name,
      'sample-mullet',
    );
    fails(write('dup.yaml', 'gridCapMw: 1\ngridCapMw: 2\n'), /not valid YAML/);
    fails(write('big.yaml', `# ${'x'.repeat(1024 * 1024 + 10)}\n`), /larger than 1 MiB/);
    fails(
      write(
        'bomb.yaml',
        `a: &a [x,x,x,x,x,x,x,x,x]\n${Array.from({ length: 200 }, (_, i) => `k${i}: [*a,*a,*a]`).join('\n')}\n`,
      ),
      /write the values out|alias/i,
    );
    fails(write('cut.yaml', 'gridCapMw: 40\nasics:\n  count: [8000\n'), /not valid YAML/);
    fails(join(dir, 'missing.yaml'), /Cannot read the site description/);
  });
});
