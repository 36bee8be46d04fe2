import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

const entry = fileURLToPath(new URL('./main.ts', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'lightproof-cli-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', entry, '--data-dir', dataDir, ...args], {
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const COFFEE =
  'lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpuaztrnwngzn3kdzw5hydlzf03qdgm2hdq27cqv3agm2awhz5se903vruatfhq77w3ls4evs3ch9zw97j25emudupq63nyw24cg27h2rspfj9srp';

describe('lightproof CLI', () => {
  it('decode prints the invoice as JSON with exact integers', () => {
    const r = run('decode', COFFEE);
    assert.equal(r.code, 0, r.err);
    const json = JSON.parse(r.out) as Record<string, unknown>;
    assert.equal(json.network, 'mainnet');
    assert.equal(json.amount_msat, 250000000);
    assert.equal(json.payment_hash, '0001020304050607080900010203040506070809000102030405060708090102');
    assert.equal(json.description, '1 cup coffee');
    assert.equal(json.expiry, 60);
    assert.equal(json.timestamp, 1496314658);
    assert.equal(json.payee, '03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad');
  });

  it('decode of a bad invoice exits 1 with a code and no stack trace', () => {
    for (const bad of [COFFEE.slice(0, -1), 'garbage', `${COFFEE}q`, 'x'.repeat(20_000)]) {
      const r = run('decode', bad);
      assert.equal(r.code, 1);
      assert.match(r.err, /^error LP_BOLT11_[A-Z_]+: .+/);
      assert.doesNotMatch(r.err, /\bat .+\.ts:\d+/);
    }
  });

  it('demo pays on the embedded node and keeps its state under the data directory, mode 0700', () => {
    const first = JSON.parse(run('demo', '--json').out) as {
      proof_of_payment_valid: boolean;
      balances_msat: { bob: number };
    };
    const second = JSON.parse(run('demo', '--json').out) as { balances_msat: { bob: number } };
    assert.equal(first.proof_of_payment_valid, true);
    assert.equal(second.balances_msat.bob, first.balances_msat.bob * 2);
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dataDir, 'node')).mode & 0o777, 0o700);
  });

  it('refuses bad arguments with typed errors', () => {
    assert.match(run('node', 'add-account', 'Bad Name').err, /LP_LN_BAD_ACCOUNT_NAME/);
    assert.match(run('node', 'add-account', 'x', '--deposit-sat', '-1').err, /LP_CLI_BAD_AMOUNT/);
    assert.match(run('node', 'serve', '--listen', '127.0.0.1:99999').err, /LP_CLI_BAD_LISTEN/);
    assert.match(run('regtest', 'status').err, /LP_REGTEST_NOT_RUNNING/);
    assert.equal(run('no-such-command').code, 2);
    const missing = run('wallet', 'approve');
    assert.equal(missing.code, 2, 'a usage error in a subcommand exits 2, as at the top level');
    assert.match(missing.err, /missing required argument 'id'/);
  });

  it('every command has --help with an example', async () => {
    process.argv = ['node', 'lightproof', '--help'];
    const { buildProgram } = await import('./program.js');
    const walk = (cmd: Command): Command[] => [cmd, ...cmd.commands.flatMap(walk)];
    const all = walk(buildProgram());
    assert.ok(all.length >= 9);
    for (const cmd of all) {
      const help = run(...commandPath(cmd), '--help');
      assert.equal(help.code, 0, `${commandPath(cmd).join(' ')} --help`);
      assert.match(
        help.out,
        /Example:\n\s+\$ lightproof /,
        `${commandPath(cmd).join(' ')} --help shows an example`,
      );
    }
  });
});

function commandPath(cmd: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names;
}
