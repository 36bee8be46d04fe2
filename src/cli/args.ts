import { LightproofError } from '../core/errors.js';

/** A whole number of satoshis given to `flag`. */
export function parseSats(value: string, flag: string): bigint {
  if (!/^\d{1,16}$/.test(value)) {
    throw new LightproofError('LP_CLI_BAD_AMOUNT', `${flag} '${value}' is not a whole number of satoshis.`);
  }
  return BigInt(value);
}

/** A positive whole number (an id, a count) given to `what`. */
export function parseCount(value: string, what: string, max = 1_000_000_000): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) > max) {
    throw new LightproofError('LP_CLI_BAD_NUMBER', `${what} '${value}' is not a whole number up to ${max}.`);
  }
  return Number(value);
}
