import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Msat } from '../core/money.js';
import {
  allowanceFor,
  budgetStatus,
  type DecideInput,
  decide,
  hostAllowed,
  matchHost,
  parsePolicy,
  renewsAt,
  windowStarts,
} from './policy.js';
import type { Decision, Policy, SpendSnapshot, Spent } from './types.js';

const m = (n: bigint | number) => BigInt(n) as Msat;
const spent = (p: Partial<Record<keyof Spent, number>> = {}): Spent => ({
  hour: m(p.hour ?? 0),
  day: m(p.day ?? 0),
  month: m(p.month ?? 0),
  total: m(p.total ?? 0),
});
const snap = (wallet: Spent = spent(), allowance: Spent | null = null, frozen = false): SpendSnapshot => ({
  wallet,
  allowance,
  frozen,
});
const input = (o: Partial<DecideInput> = {}): DecideInput => ({
  amountMsat: m(100_000),
  feeReserveMsat: m(0),
  host: null,
  allowanceKey: null,
  usdPerBtc: null,
  ...o,
});
// 2024-02-29T13:45:10Z
const AT = Date.UTC(2024, 1, 29, 13, 45, 10) / 1000;

function rejected(d: Decision, code: string): Extract<Decision, { action: 'reject' }> {
  assert.equal(
    d.action,
    'reject',
    JSON.stringify(d, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
  );
  assert.ok(d.action === 'reject');
  assert.equal(d.code, code, d.message);
  return d;
}

describe('host matching', () => {
  it('matches exact hosts and strict subdomains of wildcards', () => {
    const cases: [string, string, boolean][] = [
      ['api.example.com', 'api.example.com', true],
      ['api.example.com', 'API.Example.COM', true],
      ['api.example.com', 'api.example.com.', true],
      ['api.example.com', 'x.api.example.com', false],
      ['api.example.com', 'example.com', false],
      ['*.example.com', 'a.example.com', true],
      ['*.example.com', 'a.b.example.com', true],
      ['*.example.com', 'example.com', false],
      ['*.example.com', 'evilexample.com', false],
      ['*.example.com', '.example.com', false],
      ['*.example.com', 'example.com.evil.net', false],
      ['*.example.com', 'a.example.com.', true],
      ['example.com', '', false],
    ];
    for (const [p, h, want] of cases) assert.equal(matchHost(p, h), want, `${p} ~ ${h}`);
  });

  it('lets deny win and a non-empty allow list admit only matches', () => {
    const p = parsePolicy(
      { perRequest: '1 sat', allow: ['*.example.com', 'ok.net'], deny: ['bad.example.com'] },
      't',
    );
    assert.deepEqual(hostAllowed(p, 'a.example.com'), { ok: true });
    assert.deepEqual(hostAllowed(p, 'ok.net'), { ok: true });
    const denied = hostAllowed(p, 'bad.example.com');
    assert.equal(denied.ok, false);
    assert.ok(
      !denied.ok && denied.code === 'LP_WALLET_DOMAIN_DENIED' && denied.message.includes('deny list'),
    );
    const trailing = hostAllowed(p, 'BAD.example.com.');
    assert.equal(trailing.ok, false, 'a trailing dot or upper case does not slip past deny');
    const outside = hostAllowed(p, 'other.org');
    assert.ok(!outside.ok && outside.message.includes('allow list'));
    const open = parsePolicy({ perRequest: '1 sat', deny: ['*.evil.example'] }, 't');
    assert.deepEqual(hostAllowed(open, 'anything.org'), { ok: true });
    assert.equal(hostAllowed(open, 'x.evil.example').ok, false);
  });

  it('picks the most specific allowance', () => {
    const p = parsePolicy(
      {
        perRequest: '1 sat',
        domains: { '*.example.com': {}, '*.api.example.com': {}, 'v1.api.example.com': {}, constructor: {} },
      },
      't',
    );
    assert.equal(allowanceFor(p, 'v1.api.example.com'), 'v1.api.example.com');
    assert.equal(allowanceFor(p, 'v2.api.example.com'), '*.api.example.com');
    assert.equal(allowanceFor(p, 'www.example.com'), '*.example.com');
    assert.equal(allowanceFor(p, 'example.com'), null);
    assert.equal(allowanceFor(p, 'constructor'), 'constructor');
    assert.equal(allowanceFor(parsePolicy({ perRequest: '1 sat' }, 't'), 'constructor'), null);
    assert.equal(allowanceFor(parsePolicy({ perRequest: '1 sat' }, 't'), '__proto__'), null);
  });
});

describe('budget windows', () => {
  it('start at the UTC hour, day and calendar month', () => {
    assert.deepEqual(windowStarts(AT), {
      hour: Date.UTC(2024, 1, 29, 13) / 1000,
      day: Date.UTC(2024, 1, 29) / 1000,
      month: Date.UTC(2024, 1, 1) / 1000,
    });
    const edge = Date.UTC(2024, 2, 1) / 1000;
    assert.deepEqual(windowStarts(edge), { hour: edge, day: edge, month: edge });
    assert.deepEqual(windowStarts(edge - 1).month, Date.UTC(2024, 1, 1) / 1000);
  });

  it('renew at the next boundary, and never for total', () => {
    assert.equal(renewsAt('hour', AT), Date.UTC(2024, 1, 29, 14) / 1000);
    assert.equal(renewsAt('day', AT), Date.UTC(2024, 2, 1) / 1000);
    assert.equal(renewsAt('month', AT), Date.UTC(2024, 2, 1) / 1000);
    assert.equal(renewsAt('month', Date.UTC(2023, 11, 31, 23, 59, 59) / 1000), Date.UTC(2024, 0, 1) / 1000);
    assert.equal(renewsAt('total', AT), null);
  });
});

describe('decide', () => {
  const policy: Policy = parsePolicy(
    {
      perRequest: '1000 sat',
      budgets: { hour: '5000 sat', day: '2 usd', total: '1000000 sat' },
      maxFee: '50 sat',
      approvalAbove: '500 sat',
      deny: ['evil.example'],
      domains: { 'api.example.com': { perRequest: '100 sat', day: '1000 sat' } },
      rate: { usdPerBtc: '100000' }, // 2 usd = 2000 sat
    },
    't',
  );
  const rate = { usdPerBtc: '100000' };
  const go = (i: Partial<DecideInput>, s = snap(), approved = false) =>
    decide(policy, input({ ...rate, ...i }), s, { approved, at: AT });

  it('reserves a payment inside every limit', () => {
    assert.deepEqual(go({ amountMsat: m(400_000), feeReserveMsat: m(50_000) }), { action: 'reserve' });
  });

  it('refuses everything while frozen, before anything else', () => {
    const d = rejected(
      go({ amountMsat: m(10n ** 12n), host: 'evil.example' }, snap(spent(), null, true)),
      'LP_WALLET_FROZEN',
    );
    assert.match(d.message, /unfreeze/);
  });

  it('refuses a denied host, but only when there is a host', () => {
    rejected(go({ host: 'evil.example', amountMsat: m(10n ** 12n) }), 'LP_WALLET_DOMAIN_DENIED');
    rejected(go({ host: null, amountMsat: m(10n ** 12n) }), 'LP_WALLET_OVER_REQUEST_CAP');
  });

  it('checks the wallet per-request cap, then the allowance one', () => {
    const w = rejected(go({ amountMsat: m(1_000_001) }), 'LP_WALLET_OVER_REQUEST_CAP');
    assert.equal(w.details?.scope, 'wallet');
    assert.match(w.message, /--per-request/);
    assert.equal(go({ amountMsat: m(1_000_000) }).action, 'approval', 'exactly the cap is allowed');
    const a = rejected(
      go(
        { amountMsat: m(100_001), host: 'api.example.com', allowanceKey: 'api.example.com' },
        snap(spent(), spent()),
      ),
      'LP_WALLET_OVER_REQUEST_CAP',
    );
    assert.deepEqual(a.details, {
      scope: 'allowance',
      allowance: 'api.example.com',
      limitMsat: 100_000n,
      requestMsat: 100_001n,
    });
  });

  it('counts held and spent amounts plus the fee reserve against each budget', () => {
    const d = rejected(
      go(
        { amountMsat: m(400_000), feeReserveMsat: m(50_000) },
        snap(spent({ hour: 4_550_001, day: 4_550_001 })),
      ),
      'LP_WALLET_BUDGET_EXCEEDED',
    );
    assert.deepEqual(d.details, {
      scope: 'wallet',
      period: 'hour',
      limitMsat: 5_000_000n,
      spentMsat: 4_550_001n,
      requestMsat: 400_000n,
      feeReserveMsat: 50_000n,
      renewsAt: Date.UTC(2024, 1, 29, 14) / 1000,
    });
    assert.match(d.message, /lightproof wallet budget --hour/);
    assert.match(d.message, /2024-02-29T14:00:00\.000Z/);
    assert.deepEqual(
      go({ amountMsat: m(400_000), feeReserveMsat: m(50_000) }, snap(spent({ hour: 4_550_000, day: 0 }))),
      { action: 'reserve' },
      'landing exactly on the limit is allowed',
    );
  });

  it('converts USD budgets at the rate, rounding the limit down', () => {
    const d = rejected(
      go({ amountMsat: m(300_000) }, snap(spent({ day: 1_700_001 }))),
      'LP_WALLET_BUDGET_EXCEEDED',
    );
    assert.equal(d.details?.period, 'day');
    assert.equal(d.details?.limitMsat, 2_000_000n);
    assert.match(d.message, /2 usd \(2000 sat at 100000 USD\/BTC\)/);
    // at a higher price the same $2 buys fewer sats
    const dear = decide(
      policy,
      input({ amountMsat: m(300_000), usdPerBtc: '300000' }),
      snap(spent({ day: 400_000 })),
      {
        approved: false,
        at: AT,
      },
    );
    assert.equal(rejected(dear, 'LP_WALLET_BUDGET_EXCEEDED').details?.limitMsat, 666_666n);
  });

  it('refuses (and journals) a USD budget with no rate instead of guessing', () => {
    const d = rejected(
      decide(policy, input({ usdPerBtc: null }), snap(), { approved: false, at: AT }),
      'LP_WALLET_NO_RATE',
    );
    assert.match(d.message, /Nothing was paid/);
  });

  it('checks a total budget that never renews', () => {
    const d = rejected(
      go({ amountMsat: m(1000) }, snap(spent({ total: 999_999_500 }))),
      'LP_WALLET_BUDGET_EXCEEDED',
    );
    assert.equal(d.details?.period, 'total');
    assert.equal(d.details?.renewsAt, null);
    assert.doesNotMatch(d.message, /wait until/);
  });

  it('checks the allowance budgets after the wallet ones', () => {
    const base = { amountMsat: m(50_000), host: 'api.example.com', allowanceKey: 'api.example.com' };
    const d = rejected(go(base, snap(spent(), spent({ day: 950_001 }))), 'LP_WALLET_BUDGET_EXCEEDED');
    assert.equal(d.details?.scope, 'allowance');
    assert.equal(d.details?.allowance, 'api.example.com');
    assert.match(d.message, /api\.example\.com/);
    const walletFirst = rejected(
      go(base, snap(spent({ hour: 5_000_000 }), spent({ day: 950_001 }))),
      'LP_WALLET_BUDGET_EXCEEDED',
    );
    assert.equal(walletFirst.details?.scope, 'wallet');
    assert.deepEqual(
      go(base, snap(spent(), null)),
      { action: 'reserve' },
      'a missing allowance count is zero',
    );
    assert.deepEqual(
      go({ ...base, allowanceKey: 'gone.example' }),
      { action: 'reserve' },
      'an unknown key is no allowance',
    );
  });

  it('asks a person above the approval threshold, unless approved', () => {
    const d = go({ amountMsat: m(500_001) });
    assert.equal(d.action, 'approval');
    assert.ok(d.action === 'approval' && d.reason.includes('500 sat'));
    assert.deepEqual(go({ amountMsat: m(500_000) }), { action: 'reserve' });
    assert.deepEqual(go({ amountMsat: m(500_001) }, snap(), true), { action: 'reserve' });
    rejected(
      go({ amountMsat: m(500_001) }, snap(spent({ hour: 4_999_999 })), true),
      'LP_WALLET_BUDGET_EXCEEDED',
    );
  });
});

describe('budgetStatus', () => {
  it('reports limit, spent, remaining and renewal per window', () => {
    const p = parsePolicy(
      {
        perRequest: '1000 sat',
        budgets: { day: '2 usd', total: '5000 sat' },
        domains: { '*.example.com': { hour: '10 sat' } },
        rate: { usdPerBtc: '100000' },
      },
      't',
    );
    const s = budgetStatus(
      p,
      snap(spent({ day: 2_500_000, total: 3_000_000 }), spent({ hour: 4000 })),
      '100000',
      AT,
      '*.example.com',
    );
    assert.equal(s.frozen, false);
    assert.equal(s.wallet.perRequestMsat, 1_000_000n);
    assert.deepEqual(s.wallet.periods.day, {
      limit: '2 usd',
      limitMsat: 2_000_000n,
      spentMsat: 2_500_000n,
      remainingMsat: 0n,
      renewsAt: Date.UTC(2024, 2, 1) / 1000,
    });
    assert.deepEqual(s.wallet.periods.total, {
      limit: '5000 sat',
      limitMsat: 5_000_000n,
      spentMsat: 3_000_000n,
      remainingMsat: 2_000_000n,
      renewsAt: null,
    });
    assert.equal(s.wallet.periods.hour.limitMsat, null);
    assert.equal(s.wallet.periods.hour.remainingMsat, null);
    assert.equal(s.allowance?.key, '*.example.com');
    assert.equal(s.allowance?.periods.hour.remainingMsat, 6000n);
    assert.equal(budgetStatus(p, snap(), '100000', AT).allowance, null);
    const noRate = budgetStatus(p, snap(spent({ day: 7 })), null, AT);
    assert.deepEqual(
      noRate.wallet.periods.day,
      {
        limit: '2 usd',
        limitMsat: null,
        spentMsat: 7n,
        remainingMsat: null,
        renewsAt: Date.UTC(2024, 2, 1) / 1000,
      },
      'without a rate a USD limit shows as written, unconverted',
    );
    assert.equal(noRate.wallet.periods.total.limitMsat, 5_000_000n);
  });
});
