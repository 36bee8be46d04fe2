/**
 * Two gateway instances on one real PostgreSQL: a token minted by one is accepted by the other,
 * prepaid credit is debited exactly once under concurrent requests spread over both, revenue is
 * booked once, and a revocation made through one reaches the other.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { msat } from '../../src/core/money.js';
import { parseGatewayConfig, type RunningGateway, startGateway } from '../../src/gateway/index.js';
import { formatAuthorization, parseChallenges } from '../../src/l402/index.js';
import { EmbeddedLightning, type EmbeddedNode } from '../../src/lightning/index.js';
import { type PostgresCluster, startPostgres } from '../support/postgres.js';

describe('two gateways sharing PostgreSQL', { timeout: 120_000 }, () => {
  let pg: PostgresCluster;
  let dir: string;
  let host: EmbeddedLightning;
  let agent: EmbeddedNode;
  let upstream: http.Server;
  let served = 0;
  let a: RunningGateway;
  let b: RunningGateway;

  before(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'lightproof-gw-shared-'));
    host = EmbeddedLightning.open(join(dir, 'node'));
    const provider = host.ensureAccount('gateway');
    agent = host.ensureAccount('agent');
    host.deposit('agent', msat(10_000_000n));
    upstream = http.createServer((_req, res) => {
      served++;
      res.end('ok');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const config = parseGatewayConfig(
      {
        listen: '127.0.0.1:0',
        admin: { listen: '127.0.0.1:0' },
        logRequests: false,
        state: { kind: 'postgres', url: pg.url },
        services: [
          {
            name: 'shared',
            upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
            price: 20,
            credit: '20000 msat',
            perRequest: '1000 msat',
          },
        ],
      },
      'test config',
    );
    const start = (data: string) =>
      startGateway({
        config,
        dataDir: data,
        node: provider,
        logger: pino({ level: 'silent' }),
        revocationPollMs: 100,
      });
    a = await start(join(dir, 'a'));
    // The second instance gets the first one's key ring, as an operator copies it to a second host.
    mkdirSync(join(dir, 'b'), { mode: 0o700 });
    cpSync(join(dir, 'a', 'l402-keys.json'), join(dir, 'b', 'l402-keys.json'));
    b = await start(join(dir, 'b'));
  });

  after(async () => {
    await a?.close(1000);
    await b?.close(1000);
    upstream?.close();
    host?.close();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('accepts on one instance a token minted by the other, and debits its credit exactly once', async () => {
    const challenge = await fetch(`${a.url}/x`);
    assert.equal(challenge.status, 402);
    const [c] = parseChallenges(challenge.headers.get('www-authenticate'));
    assert.ok(c);
    const paid = await agent.payInvoice(c.invoice);
    const authorization = formatAuthorization([c.token], paid.preimage);

    const before = served;
    const statuses = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const r = await fetch(`${(i % 2 ? a : b).url}/x`, { headers: { authorization } });
        await r.arrayBuffer();
        return r.status;
      }),
    );
    assert.equal(
      statuses.filter((s) => s === 200).length,
      20,
      '20,000 msat of credit buys exactly 20 requests',
    );
    // The rest are asked to pay again (402), or, past the per-IP challenge limit, to wait (429).
    assert.ok(
      statuses.every((s) => s === 200 || s === 402 || s === 429),
      statuses.join(','),
    );
    assert.equal(served - before, 20, 'the upstream served exactly the paid requests');
    const token = (await a.state.listTokens({ limit: 100 })).find((t) => t.paymentHash === paid.paymentHash)!;
    assert.equal(token.remainingMsat, 0n);
    const revenue = (await b.state.revenue()).find((r) => r.service === 'shared')!;
    assert.equal(revenue.paid, 1, 'one token was paid; the 40 refusals minted unpaid challenges');
    assert.equal(revenue.revenueMsat, 20_000n, 'booked once although both instances served it');
  });

  it('refuses on one instance a token revoked through the other', async () => {
    const challenge = await fetch(`${b.url}/y`);
    const [c] = parseChallenges(challenge.headers.get('www-authenticate'));
    assert.ok(c);
    const paid = await agent.payInvoice(c.invoice);
    const authorization = formatAuthorization([c.token], paid.preimage);
    const ok = await fetch(`${a.url}/y`, { headers: { authorization } });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();

    const tokenId = (await b.state.listTokens({ limit: 100 })).find(
      (t) => t.paymentHash === paid.paymentHash,
    )!.tokenId;
    const credential = readFileSync(b.adminCredentialPath, 'utf8').trim();
    const revoked = await fetch(`${b.adminUrl}/v1/tokens/${tokenId}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}` },
    });
    assert.equal(revoked.status, 200);
    await revoked.arrayBuffer();
    let status = 200;
    for (let i = 0; i < 50 && status === 200; i++) {
      await sleep(50);
      const r = await fetch(`${a.url}/y`, { headers: { authorization } });
      status = r.status;
      await r.arrayBuffer();
    }
    assert.equal(status, 401, 'the other instance picked up the revocation');
  });
});
