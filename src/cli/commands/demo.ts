import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { Command } from 'commander';
import { toJson } from '../../core/json.js';
import { msat, satToMsat } from '../../core/money.js';
import { EmbeddedLightning } from '../../lightning/index.js';
import { dataDir, print } from '../context.js';

const PRICE_SAT = 2_100n;

function sats(value: bigint): string {
  return `${(value / 1000n).toLocaleString('en-US')} sat${value % 1000n ? ` + ${value % 1000n} msat` : ''}`;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'A first run on the embedded node: bob invoices, alice pays, the proof of payment is checked',
    )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nRuns entirely offline on the embedded Lightning node (regtest invoices, SQLite in the data\ndirectory). Run it again and the balances carry over.\n\nExample:\n  $ lightproof demo\n  $ lightproof --data-dir /tmp/lp demo --json',
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const dir = dataDir(cmd, 'node');
      const node = EmbeddedLightning.open(dir);
      try {
        const alice = node.ensureAccount('alice');
        const bob = node.ensureAccount('bob');
        if ((await alice.balance()).spendableMsat < satToMsat(PRICE_SAT))
          node.deposit('alice', satToMsat(100_000n), 'demo');
        const invoice = await bob.createInvoice({
          amountMsat: satToMsat(PRICE_SAT),
          description: 'demo: one paid API call',
        });
        const paid = await alice.payInvoice(invoice.paymentRequest);
        const proofHolds = bytesToHex(sha256(hexToBytes(paid.preimage))) === invoice.paymentHash;
        const settled = await bob.lookupInvoice(invoice.paymentHash);
        const balances = {
          alice: (await alice.balance()).spendableMsat,
          bob: (await bob.balance()).spendableMsat,
        };
        const result = {
          data_dir: dir,
          node_pubkey: node.pubkey,
          invoice: invoice.paymentRequest,
          payment_hash: invoice.paymentHash,
          preimage: paid.preimage,
          proof_of_payment_valid: proofHolds,
          invoice_state: settled.state,
          amount_msat: paid.amountMsat,
          balances_msat: balances,
        };
        if (opts.json) return print(toJson(result));
        print(
          [
            'Lightproof demo: the embedded Lightning node (regtest invoices, nothing leaves this machine)',
            `  data          ${dir}`,
            `  node          ${node.pubkey}`,
            `  bob invoices  ${sats(msat(satToMsat(PRICE_SAT)))} for "demo: one paid API call"`,
            `                ${invoice.paymentRequest}`,
            `  alice pays    preimage ${paid.preimage}`,
            `  proof         sha256(preimage) ${proofHolds ? '==' : '!='} payment hash ${invoice.paymentHash}: ${proofHolds ? 'valid' : 'INVALID'}`,
            `  invoice       ${settled.state}`,
            `  balances      alice ${sats(balances.alice)}, bob ${sats(balances.bob)}`,
            '',
            'Next: `lightproof decode <invoice>` reads any BOLT 11 invoice; `lightproof regtest up` starts a real',
            'btcd + LND network on this machine; `lightproof node serve` serves this node over LND REST.',
          ].join('\n'),
        );
      } finally {
        node.close();
      }
    });
}
