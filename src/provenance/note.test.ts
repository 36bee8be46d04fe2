import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { isLightproofError } from '../core/errors.js';
import {
  generateNoteKey,
  MAX_NOTE_BYTES,
  noteKeyId,
  noteSigner,
  noteVerifier,
  openNote,
  signNote,
} from './note.js';

const go = JSON.parse(
  readFileSync(new URL('../../test/vectors/note/go-sumdb-note.json', import.meta.url), 'utf8'),
);
const sumdb = JSON.parse(
  readFileSync(new URL('../../test/vectors/note/sum-golang-org-checkpoint.json', import.meta.url), 'utf8'),
);

function code(fn: () => unknown, expected: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isLightproofError(e), String(e));
    assert.equal(e.code, expected, e.message);
    assert.match(e.message, /[;.] .+\.$/, `the message says what to do: ${e.message}`);
    return true;
  });
}

const peter = noteVerifier(go.peter.verifierKey);
const enoch = noteVerifier(go.enoch.verifierKey);

describe('signed notes: Go sumdb/note vectors', () => {
  it('reads the published keys and their IDs', () => {
    assert.equal(peter.name, 'PeterNeumann');
    assert.equal(peter.keyId, 0xc74f20a3);
    assert.equal(enoch.keyId, 0xaf0cfe78);
    const signer = noteSigner(go.peter.signerKey);
    assert.equal(signer.keyId, 0xc74f20a3);
    assert.equal(signer.verifierKey, go.peter.verifierKey);
  });

  it('signs the example text to the published bytes (Ed25519 is deterministic)', () => {
    assert.equal(signNote(go.text, noteSigner(go.peter.signerKey)), go.signedByPeter);
  });

  it('opens the example note, ignoring a signature by a key it was not given', () => {
    const one = openNote(go.signedByBoth, [peter]);
    assert.equal(one.text, go.text);
    assert.deepEqual(one.verifiedBy, ['PeterNeumann+c74f20a3']);
    assert.deepEqual(
      one.unverified.map((s) => [s.name, s.keyId]),
      [['EnochRoot', 0xaf0cfe78]],
    );
    const both = openNote(go.signedByBoth, [peter, enoch]);
    assert.deepEqual(both.verifiedBy, ['PeterNeumann+c74f20a3', 'EnochRoot+af0cfe78']);
    assert.equal(both.unverified.length, 0);
  });

  it('refuses a note no trusted key signed', () => {
    code(() => openNote(go.signedByBoth, []), 'LP_NOTE_UNVERIFIED');
    code(() => openNote(go.signedByPeter, [enoch]), 'LP_NOTE_UNVERIFIED');
    // Same name, another key ID: an unknown key, so ignored, so nothing verified.
    code(() => openNote(go.signedByPeter.replace('x08g', 'xxxx'), [peter]), 'LP_NOTE_UNVERIFIED');
  });

  it('refuses the published malformed notes', () => {
    for (const msg of go.malformedNotes as string[]) code(() => openNote(msg, [peter]), 'LP_NOTE_MALFORMED');
    const invalidUtf8 = new Uint8Array([0xff, ...Buffer.from(go.signedByPeter)]);
    code(() => openNote(invalidUtf8, [peter]), 'LP_NOTE_MALFORMED');
  });

  it('refuses a trusted key whose signature does not verify', () => {
    const sig: string = go.peterSignatureLine;
    const longer = `${go.text}\n${sig.slice(0, 60)}ABCD${sig.slice(60)}`;
    code(() => openNote(longer, [peter]), 'LP_NOTE_BAD_SIGNATURE');
    const otherText = go.signedByPeter.replace('cryptography', 'cryptographx');
    code(() => openNote(otherText, [peter]), 'LP_NOTE_BAD_SIGNATURE');
  });

  it('keeps one copy of repeated lines and refuses more than 100 signatures', () => {
    const enochLine: string = go.enochSignatureLine;
    const dup = `${go.text}\n${go.peterSignatureLine}${go.peterSignatureLine}${enochLine}${enochLine}`;
    const n = openNote(dup, [peter]);
    assert.deepEqual(n.verifiedBy, ['PeterNeumann+c74f20a3']);
    assert.equal(n.unverified.length, 1);
    code(() => openNote(`${go.text}\n${go.peterSignatureLine.repeat(101)}`, [peter]), 'LP_NOTE_TOO_LARGE');
  });

  it('refuses two different trusted keys with the same name and ID', () => {
    const fake = {
      ...peter,
      verifierKey: `${go.peter.verifierKey}x`,
      verify: () => true,
    };
    code(() => openNote(go.signedByPeter, [peter, fake]), 'LP_NOTE_BAD_KEY');
    assert.equal(openNote(go.signedByPeter, [peter, peter]).verifiedBy.length, 1);
  });

  it('accepts the verifier key and no substring or one-byte change of it', () => {
    const vkey: string = go.peter.verifierKey;
    for (let i = 0; i <= vkey.length; i++) {
      for (let j = i + 1; j <= vkey.length; j++) {
        if (i === 0 && j === vkey.length) continue;
        assert.throws(() => noteVerifier(vkey.slice(i, j)), /LP_NOTE|key/, vkey.slice(i, j));
      }
    }
    for (let i = 0; i < vkey.length; i++) {
      const mangled = vkey.slice(0, i) + String.fromCharCode(vkey.charCodeAt(i) + 1) + vkey.slice(i + 1);
      code(() => noteVerifier(mangled), 'LP_NOTE_BAD_KEY');
    }
    for (const bad of go.badVerifierKeys as string[]) code(() => noteVerifier(bad), 'LP_NOTE_BAD_KEY');
  });

  it('accepts the signer key and no substring or one-byte change of it, never echoing it', () => {
    const skey: string = go.peter.signerKey;
    for (let i = 0; i <= skey.length; i++) {
      for (let j = i + 1; j <= skey.length; j++) {
        if (i === 0 && j === skey.length) continue;
        assert.throws(
          () => noteSigner(skey.slice(i, j)),
          (e: unknown) => {
            assert.ok(isLightproofError(e));
            assert.ok(!e.message.includes('AYEKFALV'), 'the secret is not in the message');
            return true;
          },
        );
      }
    }
    for (let i = 0; i < skey.length; i++) {
      const mangled = skey.slice(0, i) + String.fromCharCode(skey.charCodeAt(i) + 1) + skey.slice(i + 1);
      code(() => noteSigner(mangled), 'LP_NOTE_BAD_KEY');
    }
  });
});

describe('signed notes: a real sum.golang.org checkpoint', () => {
  it('verifies with the key built into the go command', () => {
    const v = noteVerifier(sumdb.verifierKey);
    const opened = openNote(sumdb.note, [v]);
    assert.deepEqual(opened.verifiedBy, ['sum.golang.org+033de0ae']);
    assert.equal(opened.text, `${sumdb.origin}\n${sumdb.size}\n${sumdb.rootBase64}\n`);
  });

  it('fails when any one character of the text changes', () => {
    const v = noteVerifier(sumdb.verifierKey);
    const note: string = sumdb.note;
    const textEnd = note.indexOf('\n\n');
    for (let i = 0; i < textEnd; i++) {
      if (note[i] === '\n') continue;
      const c = note[i] === 'A' ? 'B' : 'A';
      assert.throws(() => openNote(note.slice(0, i) + c + note.slice(i + 1), [v]), /LP_NOTE|signature/);
    }
  });
});

describe('signed notes: keys made here', () => {
  it('round-trips a generated key, and the signature is over the text only', () => {
    const { signerKey, verifierKey } = generateNoteKey('example.com/log');
    assert.match(signerKey, /^PRIVATE\+KEY\+example\.com\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    assert.match(verifierKey, /^example\.com\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    const s = noteSigner(signerKey);
    const v = noteVerifier(verifierKey);
    assert.equal(s.keyId, v.keyId);
    const text = 'line one\n\nline three after an empty line\n';
    const note = signNote(text, s);
    assert.equal(openNote(note, [v]).text, text);
    assert.equal(openNote(new TextEncoder().encode(note), [v]).text, text);
    const cosigned = signNote(text, [s, noteSigner(generateNoteKey('witness.example').signerKey)]);
    assert.equal(openNote(cosigned, [v]).unverified.length, 1);
  });

  it('computes key IDs as SHA-256(name || 0x0A || 0x01 || key)[:4]', () => {
    const pub = Buffer.from(go.peter.verifierKey.split('+')[2], 'base64').subarray(1);
    assert.equal(noteKeyId('PeterNeumann', pub), 0xc74f20a3);
  });

  it('never shows the private key when a signer is logged or serialised', () => {
    const { signerKey } = generateNoteKey('example.com/log');
    const s = noteSigner(signerKey);
    const secret = signerKey.split('+').slice(4).join('+');
    assert.ok(!inspect(s, { showHidden: true, depth: 5 }).includes(secret.slice(4, 20)));
    assert.ok(!JSON.stringify(s).includes(secret.slice(4, 20)));
  });

  it('refuses bad names, texts and hostile input', () => {
    for (const name of ['', 'a b', 'a+b', 'tab\there', 'nbsp\u00a0x', 'nl\nx', 'ideographic\u3000space']) {
      code(() => generateNoteKey(name), 'LP_NOTE_BAD_NAME');
    }
    const s = noteSigner(generateNoteKey('example.com/log').signerKey);
    code(() => signNote('no newline', s), 'LP_NOTE_MALFORMED');
    code(() => signNote('bell\u0007\n', s), 'LP_NOTE_MALFORMED');
    code(() => signNote('cr\r\n', s), 'LP_NOTE_MALFORMED');
    code(() => signNote('lone \ud800 surrogate\n', s), 'LP_NOTE_MALFORMED');
    code(() => signNote('text\n', []), 'LP_NOTE_NO_SIGNER');
    code(() => signNote(`${'x'.repeat(MAX_NOTE_BYTES)}\n`, s), 'LP_NOTE_TOO_LARGE');
    code(() => openNote('x'.repeat(MAX_NOTE_BYTES + 1), [peter]), 'LP_NOTE_TOO_LARGE');
    code(() => openNote(undefined as unknown as string, [peter]), 'LP_NOTE_MALFORMED');
    code(() => noteVerifier(undefined as unknown as string), 'LP_NOTE_BAD_KEY');
    code(() => noteVerifier('x'.repeat(5000)), 'LP_NOTE_BAD_KEY');
    const line: string = go.peterSignatureLine;
    for (const bad of [
      line.replace('\u2014 ', '- '),
      line.replace('PeterNeumann ', 'PeterNeumann'),
      line.replace('M=\n', 'M\n'),
      line.replace(/ [^ ]+\n$/, ' AAAA\n'),
      line.replace(/ [^ ]+\n$/, ' \n'),
      line.replace('x08go', 'x08g\u00e9'),
    ]) {
      code(() => openNote(`${go.text}\n${bad}`, [peter]), 'LP_NOTE_MALFORMED');
    }
    // Truncated anywhere: never opens.
    const note: string = go.signedByPeter;
    for (let i = 0; i < note.length; i++) assert.throws(() => openNote(note.slice(0, i), [peter]));
  });
});
