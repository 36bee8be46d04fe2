/**
 * The calendar's two secrets, each 32 random bytes as hex in a 0600 file of its data directory:
 * `hmac.key` keys the commitment HMAC, `anchor.key` is the anchoring wallet's private key. They are
 * created on first start (exclusively, so two processes starting at once agree on one) and never logged.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { ensurePrivateDir } from '../core/datadir.js';
import { LightproofError } from '../core/errors.js';
import { readSecretFile, writeSecretFile } from '../core/secrets.js';

export interface CalendarKeys {
  readonly hmacKey: Uint8Array;
  readonly anchorKey: Uint8Array;
}

export function openCalendarKeys(dir: string): CalendarKeys {
  ensurePrivateDir(dir);
  return {
    hmacKey: secretFile(join(dir, 'hmac.key'), 'commitment HMAC key'),
    anchorKey: secretFile(join(dir, 'anchor.key'), 'anchoring wallet key'),
  };
}

function secretFile(path: string, what: string): Uint8Array {
  if (!existsSync(path)) create(path);
  const bad = (why: string) =>
    new LightproofError(
      'LP_CAL_BAD_KEY',
      `The ${what} ${path} ${why}. It was not changed; restore it from a backup (it must hold 64 hex characters).`,
    );
  let text: string;
  try {
    if (statSync(path).size > 1024) throw bad('is too large to be a key');
    text = readSecretFile(path).toString('utf8').trim();
  } catch (err) {
    if (err instanceof LightproofError) throw err;
    throw bad(`cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw bad('does not hold 64 hex characters');
  const key = hexToBytes(text);
  if (!secp256k1.utils.isValidSecretKey(key)) throw bad('is not a valid secp256k1 private key');
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return key;
}

/** Written aside, then hard-linked in: the file appears complete or not at all. */
function create(path: string): void {
  const aside = `${path}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeSecretFile(aside, `${Buffer.from(secp256k1.utils.randomSecretKey()).toString('hex')}\n`);
  try {
    linkSync(aside, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') {
      throw new LightproofError(
        'LP_CAL_BAD_KEY',
        `Cannot create ${path} (${code ?? (err as Error).message}); use a data directory on a local file system you can write to.`,
        { cause: err },
      );
    }
  } finally {
    try {
      unlinkSync(aside);
    } catch {}
  }
}
