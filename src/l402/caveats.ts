/**
 * First-party caveats in Aperture's conventions, plus Lightproof's credit caveat:
 *   services=<name>:<tier>[,...]         which services the token opens
 *   <service>_capabilities=a,b           which capabilities of a service (absent: all)
 *   <service>_valid_until=<unix seconds> when the token stops working for a service
 *   lightproof_credit_msat=<msat>        prepaid credit, drawn down per request by the server
 * A condition may repeat; each repetition must narrow the one before (attenuation), and the last one
 * is checked against the request. Conditions we do not know are skipped, as Aperture does.
 */
import { LightproofError } from '../core/errors.js';

export const CREDIT_CONDITION = 'lightproof_credit_msat';
export const KEY_CONDITION = 'lightproof_key';
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_CAVEATS = 64;

export interface ServiceGrant {
  name: string;
  tier: number;
}

export interface RequestTarget {
  service: string;
  /** A capability the request needs, if the route names one. */
  capability?: string;
  /** Seconds since 1970. */
  now: number;
}

export interface CaveatSummary {
  services: ServiceGrant[] | null;
  /** The last value of each condition, for display. */
  conditions: Record<string, string>;
  validUntil: number | null;
  creditMsat: bigint | null;
  keyIndex: number | null;
}

export function encodeCaveat(condition: string, value: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(condition) || /[\s=]/.test(condition)) {
    throw new LightproofError('LP_L402_BAD_CAVEAT', `'${condition}' is not a caveat condition name.`);
  }
  return `${condition}=${value}`;
}

export function servicesCaveat(services: ServiceGrant[]): string {
  for (const s of services) {
    if (!SERVICE_NAME.test(s.name) || !Number.isInteger(s.tier) || s.tier < 0 || s.tier > 255) {
      throw new LightproofError(
        'LP_L402_BAD_CAVEAT',
        `'${s.name}:${s.tier}' is not a service name with a tier 0-255.`,
      );
    }
  }
  return encodeCaveat('services', services.map((s) => `${s.name}:${s.tier}`).join(','));
}

function rejected(message: string): LightproofError {
  return new LightproofError('LP_L402_CAVEAT_FAILED', message, { status: 401 });
}

function malformed(condition: string, value: string): LightproofError {
  return new LightproofError(
    'LP_L402_BAD_CAVEAT',
    `The caveat '${condition}=${value.slice(0, 80)}' is malformed.`,
    {
      status: 401,
    },
  );
}

function parseServices(value: string): ServiceGrant[] {
  const grants = value.split(',').map((part) => {
    const m = /^([^:]+):(\d{1,3})$/.exec(part.trim());
    if (!m || !SERVICE_NAME.test(m[1]!) || Number(m[2]) > 255) throw malformed('services', value);
    return { name: m[1]!, tier: Number(m[2]) };
  });
  if (grants.length === 0) throw malformed('services', value);
  return grants;
}

function parseInteger(condition: string, value: string): bigint {
  if (!/^\d{1,19}$/.test(value)) throw malformed(condition, value);
  return BigInt(value);
}

function parseList(value: string): string[] {
  return value === '' ? [] : value.split(',').map((v) => v.trim());
}

function isSubset(next: string[], prev: string[]): boolean {
  return next.every((v) => prev.includes(v));
}

/**
 * Checks the caveats (in the order they were added) against a request. Throws LP_L402_CAVEAT_FAILED
 * or LP_L402_BAD_CAVEAT; returns what the caveats grant.
 */
export function checkCaveats(conditions: readonly string[], target: RequestTarget): CaveatSummary {
  if (conditions.length > MAX_CAVEATS) throw rejected(`A token may carry at most ${MAX_CAVEATS} caveats.`);
  const last: Record<string, string> = {};
  let services: ServiceGrant[] | null = null;
  let validUntil: bigint | null = null;
  let credit: bigint | null = null;
  let keyIndex: number | null = null;
  const capabilities = new Map<string, string[]>();
  for (const caveat of conditions) {
    const eq = caveat.indexOf('=');
    if (eq <= 0) continue; // not a condition=value caveat: not one of ours, skipped like any unknown one
    const condition = caveat.slice(0, eq).trim();
    const value = caveat.slice(eq + 1).trim();
    if (condition === 'services') {
      const next = parseServices(value);
      if (
        services &&
        !isSubset(
          next.map((s) => s.name),
          services.map((s) => s.name),
        )
      ) {
        throw rejected('A later services caveat widens an earlier one; the token was tampered with.');
      }
      services = next;
    } else if (condition.endsWith('_capabilities')) {
      const next = parseList(value);
      const prev = capabilities.get(condition);
      if (prev && !isSubset(next, prev)) throw rejected(`A later ${condition} caveat widens an earlier one.`);
      capabilities.set(condition, next);
    } else if (condition.endsWith('_valid_until')) {
      const next = parseInteger(condition, value);
      const prevValue = last[condition];
      if (prevValue !== undefined && next > BigInt(prevValue)) {
        throw rejected(`A later ${condition} caveat extends an earlier one.`);
      }
      if (condition === `${target.service}_valid_until`) validUntil = next;
    } else if (condition === CREDIT_CONDITION) {
      const next = parseInteger(condition, value);
      if (credit !== null && next > credit) throw rejected('A later credit caveat raises an earlier one.');
      credit = next;
    } else if (condition === KEY_CONDITION) {
      const next = Number(parseInteger(condition, value));
      if (keyIndex !== null && next !== keyIndex)
        throw rejected('The token names two different signing keys.');
      keyIndex = next;
    }
    last[condition] = value;
  }
  if (services && !services.some((s) => s.name === target.service)) {
    throw rejected(
      `This token was issued for ${services.map((s) => s.name).join(', ')}, not for '${target.service}'.`,
    );
  }
  const caps = capabilities.get(`${target.service}_capabilities`);
  if (target.capability && caps && !caps.includes(target.capability)) {
    throw rejected(`This token does not grant the '${target.capability}' capability of '${target.service}'.`);
  }
  if (validUntil !== null && BigInt(target.now) >= validUntil) {
    throw rejected(
      `This token expired at ${new Date(Number(validUntil) * 1000).toISOString()}; pay the new challenge for a fresh one.`,
    );
  }
  return {
    services,
    conditions: last,
    validUntil: validUntil === null ? null : Number(validUntil),
    creditMsat: credit,
    keyIndex,
  };
}
