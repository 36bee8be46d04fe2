import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isLightproofError } from '../core/errors.js';
import type { Msat } from '../core/money.js';
import {
  DEFAULT_POLICY,
  hostPatternProblem,
  loadPolicyFile,
  mergePolicy,
  type PolicyChanges,
  parsePolicy,
  policyFromJson,
  policyToDocument,
  policyToJson,
} from './policy-schema.js';
import type { Policy } from './types.js';

const sat = (n: bigint) => ({ unit: 'msat' as const, msat: (n * 1000n) as Msat });
const usd = (micros: bigint) => ({ unit: 'usd' as const, micros });

const EXAMPLE = `
perRequest: 1000 sat
budgets: { hour: 5000 sat, day: 2 usd, month: 50000 sat, total: 1000000 sat }
maxFee: 50 sat
approvalAbove: 2000 sat
allow: ["api.example.com", "*.openai.example"]
deny: ["evil.example"]
domains:
  "api.example.com": { perRequest: 100 sat, day: 1000 sat }
rate: { usdPerBtc: "100000" }
`;

function rejects(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isLightproofError(err), String(err));
    assert.equal(err.code, 'LP_WALLET_POLICY');
    for (const f of fragments) assert.ok(err.message.includes(f), `"${f}" missing from: ${err.message}`);
    return true;
  });
}

const tmp = () => mkdtempSync(join(tmpdir(), 'lp-policy-'));

describe('parsePolicy / loadPolicyFile', () => {
  it('reads the documented example', () => {
    const path = join(tmp(), 'policy.yaml');
    writeFileSync(path, EXAMPLE);
    const p = loadPolicyFile(path);
    assert.deepEqual(p, {
      limits: {
        perRequest: sat(1000n),
        hour: sat(5000n),
        day: usd(2_000_000n),
        month: sat(50_000n),
        total: sat(1_000_000n),
      },
      maxFee: sat(50n),
      approvalAbove: sat(2000n),
      allow: ['api.example.com', '*.openai.example'],
      deny: ['evil.example'],
      domains: { 'api.example.com': { perRequest: sat(100n), day: sat(1000n) } },
      rate: { kind: 'fixed', usdPerBtc: '100000' },
    } satisfies Policy);
  });

  it('reads JSON and an http rate with its default max age', () => {
    const path = join(tmp(), 'policy.json');
    writeFileSync(
      path,
      JSON.stringify({
        budgets: { day: '1 usd' },
        rate: { url: 'https://price.example/btc', field: 'data.amount' },
      }),
    );
    const p = loadPolicyFile(path);
    assert.deepEqual(p.rate, {
      kind: 'http',
      url: 'https://price.example/btc',
      field: 'data.amount',
      maxAgeSeconds: 60,
    });
    assert.deepEqual(p.maxFee, sat(10n), 'maxFee defaults to 10 sat');
    assert.deepEqual(p.allow, []);
    assert.deepEqual(p.domains, {});
  });

  it('names the source, the field and what is allowed', () => {
    rejects(() => parsePolicy({ perRequest: '1000 sat', wat: 1 }, 'p.yaml'), 'p.yaml', 'unknown field "wat"');
    rejects(() => parsePolicy({ budgets: { dya: '1 sat' } }, 'p.yaml'), 'budgets', '"dya"');
    rejects(
      () => parsePolicy({ perRequest: '1 sat', domains: { 'a.example': { perReqest: '1 sat' } } }, 'p.yaml'),
      'domains.a.example',
      '"perReqest"',
    );
    rejects(() => parsePolicy({ budgets: { day: 5 } }, 'p.yaml'), 'budgets.day', '"1000 sat"', '"5 sat"');
    rejects(() => parsePolicy({ perRequest: '1.0001 sat' }, 'p.yaml'), 'perRequest', '"1000 sat"');
    rejects(() => parsePolicy({ maxFee: '-1 sat', perRequest: '1 sat' }, 'p.yaml'), 'maxFee');
    rejects(() => parsePolicy({ perRequest: '1 sat', allow: 'a.example' }, 'p.yaml'), 'allow');
    rejects(
      () => parsePolicy({ perRequest: '1 sat', rate: { usdPerBtc: '-5' } }, 'p.yaml'),
      'rate.usdPerBtc',
    );
    rejects(
      () => parsePolicy({ perRequest: '1 sat', rate: { usdPerBtc: '1', x: 1 } }, 'p.yaml'),
      'rate',
      '"x"',
    );
    rejects(
      () => parsePolicy({ perRequest: '1 sat', rate: 'coinbase' }, 'p.yaml'),
      'rate',
      'usdPerBtc',
      'url',
    );
    rejects(
      () => parsePolicy({ perRequest: '1 sat', rate: { url: 'file:///etc/passwd', field: 'a' } }, 'p.yaml'),
      'rate.url',
      'http',
    );
    rejects(
      () => parsePolicy({ perRequest: '1 sat', rate: { url: 'https://x.example', field: 'a..b' } }, 'p.yaml'),
      'rate.field',
    );
    rejects(
      () =>
        parsePolicy(
          { perRequest: '1 sat', rate: { url: 'https://x.example', field: 'a', maxAgeSeconds: 0 } },
          'p.yaml',
        ),
      'rate.maxAgeSeconds',
    );
  });

  it('refuses bad host patterns in allow, deny and domains', () => {
    const bad = [
      'https://api.example.com',
      'api.example.com/path',
      'api.example.com:443',
      'API.example.com',
      'a..example',
      '.example.com',
      'example.com.',
      '*',
      '*.',
      'a.*.example',
      '**.example',
      ' api.example.com',
      'api example.com',
      '',
      '-a.example',
      'bücher.example',
      '__proto__',
      `${'a'.repeat(64)}.example`,
    ];
    for (const h of bad) {
      assert.notEqual(hostPatternProblem(h), null, h);
      rejects(() => parsePolicy({ perRequest: '1 sat', allow: [h] }, 'p.yaml'), 'allow[0]');
      rejects(() => parsePolicy({ perRequest: '1 sat', deny: ['ok.example', h] }, 'p.yaml'), 'deny[1]');
      rejects(
        () => parsePolicy({ perRequest: '1 sat', domains: { [h]: { day: '1 sat' } } }, 'p.yaml'),
        'domains',
      );
    }
    for (const h of [
      'api.example.com',
      '*.example.com',
      '*.com',
      'localhost',
      '127.0.0.1',
      '[::1]',
      'xn--bcher-kva.example',
    ]) {
      assert.equal(hostPatternProblem(h), null, h);
    }
  });

  it('catches a "__proto__" domain that JSON.parse would otherwise smuggle past', () => {
    const raw = JSON.parse('{"perRequest":"1 sat","domains":{"__proto__":{"day":"1 sat"}}}');
    rejects(() => parsePolicy(raw, 'p.json'), 'domains.__proto__');
  });

  it('needs an explicit rate when any amount is in USD', () => {
    rejects(() => parsePolicy({ budgets: { day: '2 usd' } }, 'p.yaml'), 'budgets.day is in USD', 'rate');
    rejects(
      () => parsePolicy({ perRequest: '1 sat', domains: { 'a.example': { perRequest: '$1' } } }, 'p.yaml'),
      'USD',
    );
    assert.equal(
      parsePolicy({ budgets: { day: '2 usd' }, rate: { usdPerBtc: 90000 } }, 'p.yaml').rate.kind,
      'fixed',
    );
  });

  it('refuses an empty policy or one with no cap at all', () => {
    rejects(() => parsePolicy(null, 'p.yaml'), 'empty');
    rejects(() => parsePolicy({}, 'p.yaml'), 'spend everything');
    rejects(() => parsePolicy({ maxFee: '1 sat', allow: ['a.example'] }, 'p.yaml'), 'spend everything');
    rejects(() => parsePolicy([], 'p.yaml'), 'expected object');
    assert.ok(parsePolicy({ approvalAbove: '1 sat' }, 'p.yaml').approvalAbove);
  });

  it('refuses unreadable, garbled and oversized files', () => {
    const dir = tmp();
    rejects(() => loadPolicyFile(join(dir, 'missing.yaml')), 'missing.yaml');
    rejects(() => loadPolicyFile(dir), 'Cannot read');
    const garbled = join(dir, 'garbled.yaml');
    writeFileSync(garbled, 'perRequest: [1000 sat\n  budgets: {');
    rejects(() => loadPolicyFile(garbled), 'not valid YAML');
    const dup = join(dir, 'dup.yaml');
    writeFileSync(dup, 'perRequest: 1 sat\nperRequest: 1000000 sat\n');
    rejects(() => loadPolicyFile(dup), 'dup.yaml');
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `perRequest: 1 sat\n#${'x'.repeat(1024 * 1024)}\n`);
    rejects(() => loadPolicyFile(big), '1 MiB');
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, '');
    rejects(() => loadPolicyFile(empty), 'empty');
    const bomb = join(dir, 'bomb.yaml');
    writeFileSync(
      bomb,
      `a: &a ["x","x","x","x","x","x","x","x","x"]\n${Array.from(
        { length: 9 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(',')}]`,
      ).join('\n')}\n`,
    );
    rejects(() => loadPolicyFile(bomb), 'bomb.yaml');
  });
});

describe('DEFAULT_POLICY', () => {
  it('caps each payment, each day and fees, allows every host, and cannot be changed by accident', () => {
    assert.deepEqual(DEFAULT_POLICY, {
      limits: { perRequest: sat(1000n), day: sat(10_000n) },
      maxFee: sat(10n),
      allow: [],
      deny: [],
      domains: {},
      rate: { kind: 'fixed', usdPerBtc: '100000' },
    });
    assert.throws(() => {
      (DEFAULT_POLICY.limits as { day?: unknown }).day = sat(1n);
    }, TypeError);
    assert.throws(() => DEFAULT_POLICY.allow.push('x.example'), TypeError);
  });
});

describe('stored and printed forms', () => {
  const rich: Policy = {
    limits: {
      perRequest: { unit: 'msat', msat: 1234567n as Msat },
      hour: usd(1n),
      total: sat(21_000_000n * 100_000_000n),
    },
    maxFee: { unit: 'msat', msat: 1n as Msat },
    approvalAbove: usd(123_456_789n),
    allow: ['*.example.com', 'api.other.example'],
    deny: ['bad.example.com'],
    domains: {
      'api.other.example': { perRequest: sat(5n) },
      '*.example.com': {},
      constructor: { day: sat(1n) },
    },
    rate: { kind: 'http', url: 'https://price.example/btc?x=1', field: 'data.amount', maxAgeSeconds: 30 },
  };

  it('round-trips losslessly through JSON', () => {
    const json = policyToJson(rich);
    assert.deepEqual(policyFromJson(json), rich);
    assert.deepEqual(policyFromJson(policyToJson(DEFAULT_POLICY)), DEFAULT_POLICY);
    assert.match(json, /"1234567 msat"/);
    assert.match(json, /"version":1/);
  });

  it('prints the operator form that parsePolicy reads back', () => {
    const doc = policyToDocument(rich);
    assert.equal(doc.perRequest, '1234567 msat');
    assert.deepEqual(doc.budgets, { hour: '0.000001 usd', total: '2100000000000000 sat' });
    assert.equal(doc.approvalAbove, '123.456789 usd');
    assert.deepEqual(parsePolicy(doc, 'printed'), rich);
  });

  it('refuses a garbled or foreign stored policy', () => {
    rejects(() => policyFromJson('{not json'), 'not valid JSON');
    rejects(() => policyFromJson('null'), 'version');
    rejects(() => policyFromJson('{"version":2}'), 'version');
    rejects(
      () => policyFromJson(JSON.stringify({ version: 1, maxFee: '1 sat', deny: ['HTTP://x'] })),
      'deny[0]',
    );
    rejects(() => policyFromJson(JSON.stringify({ version: 1, perRequest: 1000 })), 'perRequest');
  });

  it('refuses to store a policy built in code that would not read back', () => {
    rejects(() => policyToJson({ ...DEFAULT_POLICY, deny: ['Evil.example'] }), 'deny[0]');
    rejects(() => policyToJson({ ...DEFAULT_POLICY, rate: { kind: 'fixed', usdPerBtc: '0' } }), 'rate');
  });
});

describe('mergePolicy', () => {
  it('applies CLI-style changes and removes limits set to "none"', () => {
    const base = parsePolicy(
      { perRequest: '1000 sat', approvalAbove: '2000 sat', budgets: { day: '10000 sat', hour: '3000 sat' } },
      'p',
    );
    const next = mergePolicy(base, {
      budgets: { day: '2 usd', hour: 'None' },
      perRequest: '500 sat',
      approvalAbove: 'none',
    });
    assert.deepEqual(next.limits, { perRequest: sat(500n), day: usd(2_000_000n) });
    assert.equal(next.approvalAbove, undefined);
    assert.ok(!('approvalAbove' in next));
    assert.deepEqual(next.rate, base.rate, 'the rate stays');
    assert.deepEqual(base.limits.day, sat(10_000n), 'the input is not changed');
  });

  it('merges domain allowances field by field and removes one set to "none"', () => {
    const base = parsePolicy(
      {
        perRequest: '1 sat',
        domains: { 'a.example': { perRequest: '1 sat', day: '5 sat' }, 'b.example': { day: '1 sat' } },
      },
      'p',
    );
    const next = mergePolicy(base, {
      domains: {
        'a.example': { day: 'none', month: '9 sat' },
        'b.example': 'none',
        '*.c.example': { total: '1 sat' },
      },
    });
    assert.deepEqual(next.domains, {
      'a.example': { perRequest: sat(1n), month: sat(9n) },
      '*.c.example': { total: sat(1n) },
    });
  });

  it('replaces allow, deny and rate', () => {
    const next = mergePolicy(DEFAULT_POLICY, {
      allow: ['x.example'],
      deny: ['y.example'],
      rate: { url: 'https://p.example', field: 'usd', maxAgeSeconds: 5 },
    });
    assert.deepEqual(next.allow, ['x.example']);
    assert.deepEqual(next.deny, ['y.example']);
    assert.deepEqual(next.rate, { kind: 'http', url: 'https://p.example', field: 'usd', maxAgeSeconds: 5 });
  });

  it('refuses changes that are malformed or would leave no cap', () => {
    rejects(
      () => mergePolicy(DEFAULT_POLICY, { budgets: { day: 'lots' } }),
      'the policy change',
      'budgets.day',
    );
    rejects(() => mergePolicy(DEFAULT_POLICY, { maxFee: 'none' }), 'maxFee', '0 sat');
    rejects(() => mergePolicy(DEFAULT_POLICY, { dayy: '1 sat' } as PolicyChanges), 'unknown field "dayy"');
    rejects(() => mergePolicy(DEFAULT_POLICY, { allow: ['https://x.example'] }), 'allow[0]');
    rejects(
      () => mergePolicy(DEFAULT_POLICY, { perRequest: 'none', budgets: { day: 'none' } }),
      'spend everything',
    );
    rejects(
      () => mergePolicy(DEFAULT_POLICY, { domains: { 'A.example': { day: '1 sat' } } }),
      'domains.A.example',
    );
    rejects(() => mergePolicy(DEFAULT_POLICY, { rate: { usdPerBtc: 'free' } }), 'rate.usdPerBtc');
  });
});
