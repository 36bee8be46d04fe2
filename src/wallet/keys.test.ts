import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { sha256 } from '@noble/hashes/sha2.js';
import { createBase58check } from '@scure/base';
import { validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { isLightproofError } from '../core/errors.js';
import { WalletKeys } from './keys.js';

const ABANDON =
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
// BIP84's account key for ABANDON, in its zpub form.
const BIP84_ZPUB =
  'zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs';

const tmp = () => mkdtempSync(join(tmpdir(), 'lp-keys-'));

function badSeed(fn: () => unknown, secret?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isLightproofError(err), String(err));
    assert.equal(err.code, 'LP_WALLET_BAD_SEED');
    if (secret) {
      for (const word of secret.split(/\s+/).filter((w) => w.length > 3)) {
        assert.ok(!err.message.includes(word), `the message echoes "${word}": ${err.message}`);
        assert.ok(!JSON.stringify(err.toJSON()).includes(word));
      }
    }
    return true;
  });
}

describe('WalletKeys', () => {
  it('derives the BIP84 test vectors', () => {
    const k = WalletKeys.fromMnemonic(ABANDON, 'mainnet');
    assert.equal(k.address(0), 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu');
    assert.equal(k.address(1), 'bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g');
    assert.equal(k.address(), k.address(0));
  });

  it('gives the BIP84 account key as an xpub', () => {
    // The same key as the BIP84 zpub, re-serialized with the xpub version bytes.
    const b58 = createBase58check(sha256);
    const raw = b58.decode(BIP84_ZPUB);
    const xpub = b58.encode(Uint8Array.from([0x04, 0x88, 0xb2, 0x1e, ...raw.slice(4)]));
    const k = WalletKeys.fromMnemonic(ABANDON, 'mainnet');
    assert.equal(k.accountXpub(), xpub);
    assert.match(WalletKeys.fromMnemonic(ABANDON, 'testnet').accountXpub(), /^tpub/);
  });

  it('uses coin type 1 and the network prefix off mainnet', () => {
    const main = WalletKeys.fromMnemonic(ABANDON, 'mainnet').address(0);
    const test = WalletKeys.fromMnemonic(ABANDON, 'testnet').address(0);
    const signet = WalletKeys.fromMnemonic(ABANDON, 'signet').address(0);
    const regtest = WalletKeys.fromMnemonic(ABANDON, 'regtest').address(0);
    // BIP84 m/84'/1'/0'/0/0 for ABANDON on testnet
    assert.equal(test, 'tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl');
    assert.equal(signet, test);
    assert.match(regtest, /^bcrt1q/);
    assert.equal(regtest.slice(6, -6), test.slice(4, -6), 'same key, different prefix');
    assert.notEqual(main.slice(4), test.slice(4));
  });

  it('refuses bad indices and networks', () => {
    const k = WalletKeys.fromMnemonic(ABANDON, 'regtest');
    for (const i of [-1, 1.5, 2 ** 31, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => k.address(i),
        (e: unknown) => isLightproofError(e, 'LP_WALLET_BAD_INDEX'),
      );
    }
    assert.ok(k.address(2 ** 31 - 1).startsWith('bcrt1q'));
    assert.throws(
      () => WalletKeys.fromMnemonic(ABANDON, 'simnet' as 'regtest'),
      (e: unknown) => isLightproofError(e, 'LP_WALLET_BAD_NETWORK'),
    );
  });

  it('refuses words that are not a mnemonic without repeating them', () => {
    const wrongChecksum =
      'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon';
    badSeed(() => WalletKeys.fromMnemonic(wrongChecksum, 'mainnet'), wrongChecksum);
    badSeed(
      () => WalletKeys.fromMnemonic('correct horse battery staple', 'mainnet'),
      'correct horse battery staple',
    );
    badSeed(() => WalletKeys.fromMnemonic('', 'mainnet'));
  });

  it('creates a 24-word seed file with mode 0600 on first use and reads it back later', () => {
    const dir = join(tmp(), 'wallet');
    const first = WalletKeys.open(dir, 'regtest');
    const path = join(dir, 'seed');
    const words = readFileSync(path, 'utf8').trim();
    assert.equal(words.split(' ').length, 24);
    assert.ok(validateMnemonic(words, wordlist));
    if (process.platform !== 'win32') {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(dir).mode & 0o777, 0o700);
    }
    assert.deepEqual(readdirSync(dir), ['seed'], 'no temporary files are left behind');
    const again = WalletKeys.open(dir, 'regtest');
    assert.equal(again.address(3), first.address(3));
    assert.equal(again.address(0), WalletKeys.fromMnemonic(words, 'regtest').address(0));
    assert.notEqual(WalletKeys.open(join(tmp(), 'other'), 'regtest').address(0), first.address(0));
  });

  it('reads a hand-copied seed with odd spacing and case, and tightens its mode', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'seed'), `  ${ABANDON.toUpperCase().replace(/ /g, ' \n\t')}\r\n`);
    chmodSync(join(dir, 'seed'), 0o644);
    assert.equal(WalletKeys.open(dir, 'mainnet').address(0), 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu');
    if (process.platform !== 'win32') assert.equal(statSync(join(dir, 'seed')).mode & 0o777, 0o600);
  });

  it('refuses a garbled seed file without echoing it, and leaves it alone', () => {
    const cases = [
      'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon zoo',
      'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor',
      '\u0000\u0001binary\u00ff',
      '',
      `${ABANDON} extra`,
      'x'.repeat(10_000),
    ];
    for (const text of cases) {
      const dir = tmp();
      writeFileSync(join(dir, 'seed'), text);
      badSeed(() => WalletKeys.open(dir, 'mainnet'), text.slice(0, 200));
      assert.equal(readFileSync(join(dir, 'seed'), 'utf8'), text, 'the seed file is not replaced');
    }
    const dir = tmp();
    writeFileSync(join(dir, 'seed'), 'lorem ipsum');
    assert.throws(
      () => WalletKeys.open(dir, 'mainnet'),
      (err: unknown) =>
        isLightproofError(err) && err.message.includes(join(dir, 'seed')) && /backup/.test(err.message),
    );
  });

  it('keeps private keys out of JSON and inspect', () => {
    const k = WalletKeys.fromMnemonic(ABANDON, 'mainnet');
    const shown = `${JSON.stringify(k)} ${inspect(k, { depth: 10, showHidden: true })}`;
    assert.ok(!shown.includes('xprv'), shown);
    assert.ok(!shown.includes('abandon'), shown);
    assert.match(JSON.stringify(k), /xpub/);
  });
});
