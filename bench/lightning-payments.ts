/**
 * Payment latency: the embedded node (in process and over its LND REST API), and one payment
 * alice -> bob -> carol on real LND with Lightproof's REST client, beside LND's own client
 * (lncli over gRPC) paying the same route in the same run.
 *   npm run bench -- payments        (LIGHTPROOF_BENCH_N scales the sample counts)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { msat } from '../src/core/money.js';
import {
  type CreatedInvoice,
  EmbeddedLightning,
  EmbeddedRestServer,
  type LightningNode,
  LndNode,
} from '../src/lightning/index.js';
import { lndNodeClient, locateDaemons, startRegtestNetwork } from '../src/regtest/index.js';
import { row, summarize, timeEach } from './stats.js';

const scale = Number(process.env.LIGHTPROOF_BENCH_N ?? '1');

async function payLoop(payer: LightningNode, payee: LightningNode, n: number): Promise<number[]> {
  const invoices: CreatedInvoice[] = [];
  for (let i = 0; i < n; i++)
    invoices.push(await payee.createInvoice({ amountMsat: msat(1_000n), description: `bench ${i}` }));
  return timeEach(n, (i) => payer.payInvoice(invoices[i]!.paymentRequest));
}

export async function benchPayments(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lightproof-bench-'));
  try {
    const host = EmbeddedLightning.open(join(dir, 'embedded'));
    host.ensureAccount('payer');
    host.ensureAccount('payee');
    host.deposit('payer', msat(10_000_000_000n));
    await payLoop(host.account('payer'), host.account('payee'), 50); // warm-up
    const embedded = await payLoop(host.account('payer'), host.account('payee'), 500 * scale);
    const server = new EmbeddedRestServer(host);
    const url = await server.listen();
    const overRest = await payLoop(
      new LndNode({ restUrl: url, macaroonPath: host.credentialPath('payer') }),
      new LndNode({ restUrl: url, macaroonPath: host.credentialPath('payee') }),
      200 * scale,
    );
    await server.close();
    host.close();

    const net = await startRegtestNetwork({ dir: join(dir, 'regtest') });
    try {
      const alice = lndNodeClient(net.nodes.alice);
      const carol = lndNodeClient(net.nodes.carol);
      await payLoop(alice, carol, 3); // warm-up: first payments find the route
      const lnd = await payLoop(alice, carol, 30 * scale);
      const a = net.nodes.alice;
      const bin = join(dirname((await locateDaemons(() => {})).lnd), 'lncli');
      const lncliArgs = [
        `--rpcserver=${a.grpcHost}`,
        `--macaroonpath=${a.adminMacaroonPath}`,
        `--tlscertpath=${a.tlsCertPath}`,
        '--network=regtest',
      ];
      const startup = await timeEach(10, async () =>
        execFileSync(bin, [...lncliArgs, 'getinfo'], { stdio: 'pipe' }),
      );
      const peerInvoices: CreatedInvoice[] = [];
      for (let i = 0; i < 30 * scale; i++)
        peerInvoices.push(await carol.createInvoice({ amountMsat: msat(1_000n) }));
      const peer = await timeEach(peerInvoices.length, async (i) =>
        execFileSync(
          bin,
          [...lncliArgs, 'payinvoice', '--force', '--fee_limit', '10', peerInvoices[i]!.paymentRequest],
          {
            stdio: 'pipe',
          },
        ),
      );
      const ours = summarize(lnd).medianMs;
      const theirs = summarize(peer).medianMs;
      const spawn = summarize(startup).medianMs;
      console.log('\nPayments (1 sat each, sequential)');
      console.log(row('embedded node, in process', embedded));
      console.log(row('embedded node over LND REST (lnd client -> lightproof node)', overRest));
      console.log(row('real LND alice->bob->carol, Lightproof REST client', lnd));
      console.log(row('real LND alice->bob->carol, lncli payinvoice (peer)', peer));
      console.log(row('  lncli getinfo (process start + one gRPC call)', startup));
      console.log(
        `ratio: lncli / Lightproof median = ${(theirs / ours).toFixed(2)}x; with lncli's start-up removed ${((theirs - spawn) / ours).toFixed(2)}x`,
      );
    } finally {
      await net.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
