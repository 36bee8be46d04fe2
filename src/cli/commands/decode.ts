import type { Command } from 'commander';
import { toJson } from '../../core/json.js';
import { decodeInvoice, invoiceExpiresAt } from '../../lightning/index.js';
import { print } from '../context.js';

export function registerDecode(program: Command): void {
  program
    .command('decode')
    .description('Decode and verify a BOLT 11 invoice and print it as JSON')
    .argument('<invoice>', 'the invoice (lnbc…, lntb…, lnbcrt…; a lightning: prefix is fine)')
    .addHelpText(
      'after',
      '\nPrints network, amount_msat (null when amountless), payment_hash, description, expiry,\ntimestamp, payee and more. Exits 1 with an LP_BOLT11_* code when the invoice is invalid.\n\nExample:\n  $ lightproof decode lnbcrt10u1pj...  | jq .amount_msat',
    )
    .action((invoice: string) => {
      const d = decodeInvoice(invoice);
      print(
        toJson({
          network: d.network,
          amount_msat: d.amountMsat,
          payment_hash: d.paymentHash,
          description: d.description,
          description_hash: d.descriptionHash,
          expiry: d.expiry,
          timestamp: d.timestamp,
          expires_at: invoiceExpiresAt(d),
          expired: Date.now() / 1000 >= invoiceExpiresAt(d),
          payee: d.payee,
          payment_secret: d.paymentSecret,
          min_final_cltv_expiry: d.minFinalCltvExpiry,
          features: d.features.bits,
          unknown_required_features: d.features.unknownRequired,
          fallbacks: d.fallbacks,
          route_hints: d.routeHints,
          metadata: d.metadata,
          signature: d.signature,
          recovery_id: d.recoveryId,
        }),
      );
    });
}
