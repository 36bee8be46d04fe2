import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import { isLightproofError } from '../../core/errors.js';
import { calendarConfigFrom, registerCalendar } from './calendar.js';

const root = mkdtempSync(join(tmpdir(), 'lightproof-calendar-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Runs `lightproof calendar …` in-process; returns what it printed. */
async function run(...args: string[]): Promise<string> {
  const program = new Command().name('lightproof').option('--data-dir <dir>').exitOverride();
  registerCalendar(program);
  let out = '';
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'lightproof', '--data-dir', root, 'calendar', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out;
}

describe('lightproof calendar', () => {
  it('lays flags over the YAML file', () => {
    const file = join(root, 'calendar.yaml');
    writeFileSync(
      file,
      'listen: 127.0.0.1:9000\nnetwork: regtest\nbitcoin:\n  rpc: https://127.0.0.1:18334\n  rpcCert: /tmp/rpc.cert\n  feeRate: 3\n',
    );
    const c = calendarConfigFrom({
      config: file,
      intervalMs: '50',
      rpcUser: 'u',
      rpcPass: 'p',
      minConfirmations: '1',
    });
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 9000 });
    assert.equal(c.intervalMs, 50);
    assert.equal(c.minConfirmations, 1);
    assert.equal(c.network, 'regtest');
    assert.deepEqual(
      [c.bitcoin?.rpcUrl, c.bitcoin?.rpcUser, c.bitcoin?.rpcPass, c.bitcoin?.rpcCertPath, c.bitcoin?.feeRate],
      ['https://127.0.0.1:18334', 'u', 'p', '/tmp/rpc.cert', 3],
    );
    assert.equal(calendarConfigFrom({}).bitcoin, null, 'no node: rounds wait');
  });

  it('names the field and what is allowed when a value is wrong', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ intervalMs: '5' }, /intervalMs/],
      [{ intervalMs: 'soon' }, /intervalMs/],
      [{ network: 'moonnet' }, /network/],
      [{ publicUrl: 'https://x.org/?q=1' }, /publicUrl/],
      [{ feeRate: '2' }, /bitcoin\.rpc/],
      [{ store: 'mysql://x' }, /sqlite:PATH/],
    ];
    for (const [flags, field] of cases) {
      assert.throws(
        () => calendarConfigFrom(flags),
        (e: unknown) => isLightproofError(e, 'LP_CAL_CONFIG') && field.test(e.message),
        JSON.stringify(flags),
      );
    }
  });

  it('prints the same wallet address every time, for the network asked', async () => {
    const first = JSON.parse(await run('address', '--network', 'regtest')) as { address: string };
    const again = JSON.parse(await run('address', '--network', 'regtest')) as { address: string };
    assert.match(first.address, /^bcrt1q/);
    assert.equal(again.address, first.address);
    const main = JSON.parse(await run('address')) as { address: string; network: string };
    assert.match(main.address, /^bc1q/);
    assert.equal(main.network, 'mainnet');
  });

  it('checks a configuration without starting anything', async () => {
    const out = JSON.parse(
      await run(
        'serve',
        '--check',
        '--listen',
        '127.0.0.1:0',
        '--bitcoin-rpc',
        'http://u:secret@127.0.0.1:8332',
      ),
    ) as {
      ok: boolean;
      bitcoin: { rpc: string };
    };
    assert.equal(out.ok, true);
    assert.equal(out.bitcoin.rpc, 'http://127.0.0.1:8332', 'credentials are not printed');
  });

  it('reports an unreachable calendar with LP_CAL_UNREACHABLE', async () => {
    await assert.rejects(run('status', '--url', 'http://127.0.0.1:1'), (e: unknown) =>
      isLightproofError(e, 'LP_CAL_UNREACHABLE'),
    );
  });
});
