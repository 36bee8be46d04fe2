/**
 * What the wallet's policy would say about paying AMOUNT to URL right now, without journaling
 * anything: the same `decide` the wallet runs under its budget lock, on the budgets counted so far.
 * A preview only; the real decision is made again when paying.
 */
import { LightproofError } from '../core/errors.js';
import type { Msat } from '../core/money.js';
import { toMsat } from '../wallet/amount.js';
import { allowanceFor, decide, windowStarts } from '../wallet/policy.js';
import type { Decision } from '../wallet/types.js';
import type { Wallet } from '../wallet/wallet.js';

export async function policyVerdict(
  wallet: Wallet,
  url: URL,
  amountMsat: Msat,
  at: number,
): Promise<Decision> {
  try {
    const policy = await wallet.policy();
    const usdPerBtc = await wallet.usdPerBtc(policy);
    const host = url.hostname;
    const allowanceKey = allowanceFor(policy, host);
    const snapshot = await wallet.store.spent(windowStarts(at), allowanceKey);
    const feeReserveMsat = toMsat(policy.maxFee, usdPerBtc);
    return decide(policy, { amountMsat, feeReserveMsat, host, allowanceKey, usdPerBtc }, snapshot, {
      approved: false,
      at,
    });
  } catch (err) {
    if (!(err instanceof LightproofError)) throw err;
    return { action: 'reject', code: err.code, message: err.message };
  }
}
