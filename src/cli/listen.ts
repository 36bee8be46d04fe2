import { LightproofError } from '../core/errors.js';

/** Parses HOST:PORT (IPv6 as [::1]:PORT); port 0 means any free port. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new LightproofError(
      'LP_CLI_BAD_LISTEN',
      `'${value}' is not HOST:PORT (for example 127.0.0.1:8090).`,
    );
  }
  return { host: (m[1] ?? m[2])!, port };
}
