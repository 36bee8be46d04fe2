import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isLightproofError } from '../core/errors.js';
import { loadGatewayConfig, parseGatewayConfig } from './config.js';

const base = { services: [{ name: 'chat', upstream: 'http://127.0.0.1:8080', price: 10 }] };

function rejects(raw: unknown, ...fragments: string[]): void {
  assert.throws(
    () => parseGatewayConfig(raw, 'gw.yaml', {}),
    (err: unknown) => {
      assert.ok(isLightproofError(err), String(err));
      assert.equal(err.code, 'LP_GATEWAY_CONFIG');
      assert.match(err.message, /^gw\.yaml/);
      for (const f of fragments) assert.ok(err.message.includes(f), `"${f}" missing from: ${err.message}`);
      return true;
    },
  );
}

describe('gateway config', () => {
  it('fills embedded defaults for a one-service config', () => {
    const c = parseGatewayConfig(base, 'gw.yaml', {});
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 8402 });
    assert.equal(c.lightning.kind, 'embedded');
    assert.equal(c.state.kind, 'sqlite');
    assert.equal(c.receipts.enabled, true);
    assert.deepEqual(c.services[0]!.price, { kind: 'static', msat: 10_000n });
    assert.ok(c.services[0]!.path.test('/anything'));
    assert.ok(c.challengeLimits.length > 0, 'challenge minting is rate limited by default');
  });

  it('reads amounts in sats or msat and durations with units', () => {
    const c = parseGatewayConfig(
      {
        services: [
          {
            name: 'a',
            upstream: 'http://x',
            price: '1500 msat',
            credit: '100 sat',
            perRequest: '250 msat',
            tokenTimeout: '2h',
            rateLimits: [{ requests: 5, per: '1m' }],
          },
        ],
      },
      'gw.yaml',
      {},
    );
    const s = c.services[0]!;
    assert.deepEqual(s.price, { kind: 'static', msat: 1500n });
    assert.equal(s.creditMsat, 100_000n);
    assert.equal(s.perRequestMsat, 250n);
    assert.equal(s.tokenTimeoutSeconds, 7200);
    assert.deepEqual(s.rateLimits, [{ requests: 5, perSeconds: 60, burst: 5 }]);
  });

  it('expands environment variables in upstream headers and refuses an unset variable', () => {
    const raw = { services: [{ ...base.services[0], headers: { 'X-Api-Key': `Bearer $${'{'}KEY}` } }] };
    assert.equal(
      parseGatewayConfig(raw, 'gw.yaml', { KEY: 's3' }).services[0]!.headers['x-api-key'],
      'Bearer s3',
    );
    rejects(raw, 'services[0].headers.X-Api-Key', 'KEY is not set');
  });

  it('names the file, the field and what is allowed', () => {
    rejects(
      { services: [{ ...base.services[0], price: 10.5 }] },
      'services[0].price',
      'whole number of sats',
    );
    rejects({ services: [{ ...base.services[0], price: '3 btc' }] }, 'services[0].price', '"1500 msat"');
    rejects({ services: [{ ...base.services[0], name: 'Chat!' }] }, 'services[0].name', 'lower-case');
    rejects({ services: [{ ...base.services[0], upstream: 'ftp://x' }] }, 'services[0].upstream', 'http://');
    rejects({ services: [{ ...base.services[0], colour: 'red' }] }, 'services[0]', 'unknown field "colour"');
    rejects({ ...base, lightning: { kind: 'cln' } }, 'lightning.kind', '"embedded", "lnd"');
    rejects({ ...base, listen: 'localhost' }, 'listen', 'HOST:PORT');
    rejects({ ...base, listen: '127.0.0.1:70000' }, 'listen');
    rejects({ services: [] }, 'services', 'at least one service');
    rejects({ services: [{ ...base.services[0], path: '([' }] }, 'services[0].path', 'regular expression');
    rejects({ services: [base.services[0], base.services[0]] }, 'services[1].name', 'unique');
    rejects(
      { services: [{ ...base.services[0], price: { hook: { url: 'http://h', timeout: 'soon' } } }] },
      'services[0].price.hook.timeout',
      'duration',
    );
    rejects('just a string', '(top level)');
    rejects(null, '(top level)');
  });

  it('refuses credit settings that cannot work together', () => {
    const s = base.services[0];
    rejects({ services: [{ ...s, perRequest: 1 }] }, 'services[0].perRequest', 'set "credit"');
    rejects(
      { services: [{ ...s, usage: { inputPerMillion: 1, outputPerMillion: 1, reserve: 1 } }] },
      'services[0].usage',
      'credit',
    );
    rejects({ services: [{ ...s, credit: 100 }] }, 'services[0].credit', '"perRequest" or "usage"');
  });

  it('loads YAML files and reports YAML errors with a position', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lp-gwcfg-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(
      good,
      'listen: 127.0.0.1:0\nservices:\n  - name: chat\n    upstream: http://127.0.0.1:9\n    price: 21\n    freePaths: ["^/health$"]\n',
    );
    const c = loadGatewayConfig(good, {});
    assert.equal(c.source, good);
    assert.ok(c.services[0]!.freePaths[0]!.test('/health'));

    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'services:\n  - name: chat\n    price: [1,\n');
    assert.throws(() => loadGatewayConfig(bad, {}), /bad\.yaml: not valid YAML at line \d+, column \d+/);

    const dup = join(dir, 'dup.yaml');
    writeFileSync(dup, 'listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\nservices: []\n');
    assert.throws(() => loadGatewayConfig(dup, {}), /dup\.yaml: not valid YAML/);

    assert.throws(() => loadGatewayConfig(join(dir, 'missing.yaml'), {}), /Cannot read the gateway config/);
    const huge = join(dir, 'huge.yaml');
    writeFileSync(huge, `# ${'x'.repeat(1024 * 1024 + 10)}\n`);
    assert.throws(() => loadGatewayConfig(huge, {}), /larger than 1 MiB/);
  });
});
