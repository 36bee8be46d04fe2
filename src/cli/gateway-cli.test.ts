import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { msat } from '../core/money.js';
import { formatAuthorization, parseChallenges } from '../l402/index.js';
import { EmbeddedLightning } from '../lightning/index.js';

const entry = fileURLToPath(new URL('./main.ts', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'lightproof-gwcli-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

describe('lightproof gateway (CLI)', () => {
  it('runs the one-line quick start on the embedded node, is paid, and stops cleanly on SIGTERM', async () => {
    const upstream = http.createServer((_req, res) => res.end('hello from upstream'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        entry,
        '--data-dir',
        dataDir,
        'gateway',
        '--upstream',
        upstreamUrl,
        '--price',
        '10',
        '--listen',
        '127.0.0.1:0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const started = await firstJson(child.stdout!);
      const url = started.url as string;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(started.receipt_key as string, /^[0-9a-f]{64}$/);

      const challenge = await fetch(`${url}/hello`);
      assert.equal(challenge.status, 402);
      const [c] = parseChallenges(challenge.headers.get('www-authenticate'));
      assert.ok(c);
      // The agent pays from another account of the same embedded node, in this process.
      const host = EmbeddedLightning.open(join(dataDir, 'node'));
      try {
        const agent = host.ensureAccount('agent');
        host.deposit('agent', msat(1_000_000n));
        const paid = await agent.payInvoice(c.invoice);
        assert.equal(paid.amountMsat, 10_000n);
        const ok = await fetch(`${url}/hello`, {
          headers: { authorization: formatAuthorization([c.token], paid.preimage) },
        });
        assert.equal(ok.status, 200);
        assert.equal(await ok.text(), 'hello from upstream');
        assert.ok(ok.headers.get('lightproof-receipt'));
      } finally {
        host.close();
      }
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      assert.equal(code, 0);
    } finally {
      child.kill('SIGKILL');
      upstream.close();
    }
  });

  it('checks a config file and names the file, the field and what is allowed', () => {
    const bad = join(dataDir, 'gateway.yaml');
    writeFileSync(bad, 'services:\n  - name: chat\n    upstream: http://127.0.0.1:9\n    price: free\n');
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', entry, '--data-dir', dataDir, 'gateway', '--config', bad, '--check'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /LP_GATEWAY_CONFIG: .*gateway\.yaml is not a valid gateway config: services\[0\]\.price: expected an amount/,
    );
    const usage = spawnSync(
      process.execPath,
      ['--import', 'tsx', entry, '--data-dir', dataDir, 'gateway', '--price', '5'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(usage.status, 1);
    assert.match(usage.stderr, /LP_CLI_USAGE: .*--upstream/);
  });
});

function firstJson(stream: NodeJS.ReadableStream): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      try {
        const value = JSON.parse(text) as Record<string, unknown>;
        stream.off('data', onData);
        resolve(value);
      } catch {
        // Not complete yet.
      }
    };
    stream.on('data', onData);
    stream.once('end', () => reject(new Error(`the gateway exited before printing its address: ${text}`)));
  });
}
