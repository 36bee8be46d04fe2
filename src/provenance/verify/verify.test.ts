import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isLightproofError } from '../../core/errors.js';
import { hashModel, serializeManifest } from '../manifest/index.js';
import { generateNoteKey } from '../note.js';
import { ReceiptSigner } from '../receipt.js';
import {
  canonicalJson,
  detectKind,
  formatReport,
  LOG_PROOF_TYPE,
  type ProvenanceReport,
  readEntry,
  receiptEntry,
  verifyAny,
  walletEventEntry,
} from './index.js';
import { anchored, bundle, checkpointNote, enc, HEX, header, key, ORIGIN, signer } from './verify.testkit.js';

function failed(r: ProvenanceReport, code: string): void {
  assert.equal(r.ok, false, formatReport(r));
  assert.ok(
    r.failures.some((f) => f.code === code),
    `expected ${code}, got ${r.failures.map((f) => f.code).join(', ')}`,
  );
}

describe('verifyAny: receipts', () => {
  it('verifies a header value against a trusted key and says what it did not prove', async () => {
    const r = await verifyAny(enc(`${header}\n`), { keys: [signer.publicKeyHex] });
    assert.equal(r.kind, 'receipt');
    assert.equal(r.ok, true, formatReport(r));
    assert.match(
      r.proved[0]!,
      new RegExp(`signed by receipt key ${signer.publicKeyHex}.*2023-11-14T22:13:20Z`),
    );
    assert.ok(r.notProved.some((s) => s.includes('true or correct')));
  });

  it("checks a receipt against its own key when none is given, and says the key's owner is not proved", async () => {
    const r = await verifyAny(enc(JSON.stringify({ header, key: signer.publicKeyHex })));
    assert.equal(r.ok, true, formatReport(r));
    assert.ok(r.notProved.some((s) => s.includes("is the provider's")));
  });

  it('fails on another key, a key in the file that is not the signer, extra fields and a changed payload', async () => {
    const other = ReceiptSigner.generate().publicKeyHex;
    failed(await verifyAny(enc(header), { keys: [other] }), 'LP_RECEIPT_WRONG_KEY');
    failed(await verifyAny(enc(JSON.stringify({ header, key: other }))), 'LP_RECEIPT_WRONG_KEY');
    failed(await verifyAny(enc(JSON.stringify({ header, note: 1 }))), 'LP_VERIFY_MALFORMED');
    const [payload, sig] = header.split('.');
    const changed = `${payload!.slice(0, 10)}${payload![10] === 'A' ? 'B' : 'A'}${payload!.slice(11)}.${sig}`;
    assert.equal((await verifyAny(enc(changed))).ok, false);
  });
});

describe('verifyAny: log proof bundles', () => {
  it('proves inclusion, the signer, the receipt inside and the Bitcoin block', async () => {
    const { bytes, headers } = bundle();
    const r = await verifyAny(bytes, { headers, keys: [key.verifierKey, signer.publicKeyHex] });
    assert.equal(r.kind, 'log-proof');
    assert.equal(r.ok, true, formatReport(r));
    assert.equal(r.facts.blockHeight, 3);
    const text = formatReport(r);
    assert.match(text, /entry 1 of log example\.com\/log \(size 5\)/);
    assert.match(text, /existed no later than Bitcoin block 3/);
    assert.match(text, /signed by receipt key/);
    assert.match(text, /nothing was left out of the log before entry 1/);
  });

  it('without headers, reports the time as not proved; with another trusted key, fails', async () => {
    const { bytes } = bundle(2);
    const r = await verifyAny(bytes);
    assert.equal(r.ok, true, formatReport(r));
    assert.ok(r.notProved.some((s) => s.includes('no block headers')));
    assert.ok(r.notProved.some((s) => s.includes("operator's")));
    const stranger = generateNoteKey(ORIGIN).verifierKey;
    failed(await verifyAny(bytes, { keys: [stranger] }), 'LP_VERIFY_UNTRUSTED_KEY');
  });

  it('fails for a proof of another tree size, an index past the end and uppercase hex', async () => {
    const { bytes, headers } = bundle();
    const json = JSON.parse(new TextDecoder().decode(bytes));
    const again = (patch: object) => verifyAny(enc(JSON.stringify({ ...json, ...patch })), { headers });
    failed(await again({ treeSize: 4 }), 'LP_VERIFY_MISMATCH');
    failed(await again({ index: 5 }), 'LP_LOG_PROOF_INVALID');
    failed(
      await again({ inclusion: json.inclusion.map((h: string) => h.toUpperCase()) }),
      'LP_VERIFY_MALFORMED',
    );
    failed(await again({ checkpoint: checkpointNote(4) }), 'LP_VERIFY_MISMATCH');
    failed(await again({ extra: true }), 'LP_VERIFY_MALFORMED');
  });

  it('never verifies a bundle with any one bit flipped, and says where', async () => {
    const { bytes, headers } = bundle(0);
    const where = new Set<string>();
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = Uint8Array.from(bytes);
        flipped[i]! ^= 1 << bit;
        try {
          const r = await verifyAny(flipped, { headers });
          assert.equal(r.ok, false, `byte ${i} bit ${bit} still verifies`);
          assert.ok(r.failures[0]!.message.length > 0);
          where.add(r.failures[0]!.code);
        } catch (err) {
          assert.ok(isLightproofError(err), String(err));
          where.add(err.code);
        }
      }
    }
    assert.ok(where.size >= 4, [...where].join(', '));
  });
});

describe('verifyAny: checkpoints, .ots files and bad input', () => {
  it('verifies a checkpoint note with its .ots, using log.pub only when no key is given', async () => {
    const note = checkpointNote();
    const { ots, headers } = anchored(enc(note));
    const r = await verifyAny(enc(note), { ots, headers, keys: [key.verifierKey] });
    assert.equal(r.kind, 'checkpoint');
    assert.equal(r.ok, true, formatReport(r));
    assert.equal(r.facts.treeSize, 5);
    assert.equal(r.facts.blockHeight, 3);
    const nearby = await verifyAny(enc(note), { nearbyKey: key.verifierKey });
    assert.equal(nearby.ok, true);
    assert.ok(nearby.notProved.some((s) => s.includes('log.pub')));
    failed(await verifyAny(enc(note)), 'LP_VERIFY_NO_KEY');
    failed(
      await verifyAny(enc(note.replace('\n5\n', '\n6\n')), { nearbyKey: key.verifierKey }),
      'LP_NOTE_BAD_SIGNATURE',
    );
  });

  it('verifies an .ots file against the file it stamps and the headers, and needs both', async () => {
    const file = enc('hello\n');
    const { ots, headers } = anchored(file);
    const r = await verifyAny(ots, { target: file, targetName: 'hello.txt', headers });
    assert.equal(r.kind, 'ots');
    assert.equal(r.ok, true, formatReport(r));
    assert.match(r.proved[0]!, /hello\.txt existed no later than Bitcoin block 3/);
    failed(await verifyAny(ots, { headers }), 'LP_VERIFY_NO_TARGET');
    failed(await verifyAny(ots, { target: file }), 'LP_OTS_NO_HEADER_SOURCE');
    failed(await verifyAny(ots, { target: enc('other'), headers }), 'LP_OTS_DIGEST_MISMATCH');
  });

  it('verifies a manifest, its .ots and the model directory, naming changed files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lp-verify-model-'));
    try {
      const model = join(dir, 'tiny');
      mkdirSync(model);
      writeFileSync(join(model, 'weights.bin'), 'weights');
      writeFileSync(join(model, 'config.json'), '{}');
      const bytes = serializeManifest(await hashModel(model));
      const { ots, headers } = anchored(bytes);
      const r = await verifyAny(bytes, { ots, headers, dir: model });
      assert.equal(r.kind, 'manifest');
      assert.equal(r.ok, true, formatReport(r));
      assert.equal(r.facts.blockHeight, 3);
      assert.ok(r.proved.some((s) => s.includes('every file in')));
      writeFileSync(join(model, 'weights.bin'), 'weightz');
      const changed = await verifyAny(bytes, { ots, headers, dir: model });
      failed(changed, 'LP_MANIFEST_MODEL_CHANGED');
      assert.match(changed.failures[0]!.message, /changed: weights\.bin/);
      const edited = enc(new TextDecoder().decode(bytes).replace('config.json', 'config.jsom'));
      assert.equal((await verifyAny(edited, { ots, headers })).ok, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses unknown, truncated, oversized and hostile input with typed errors', async () => {
    const code = async (bytes: Uint8Array) => {
      try {
        const r = await verifyAny(bytes);
        return r.ok ? 'ok' : r.failures[0]!.code;
      } catch (err) {
        assert.ok(isLightproofError(err), String(err));
        return err.code;
      }
    };
    assert.equal(await code(new Uint8Array([0xff, 0xfe, 0x00])), 'LP_VERIFY_UNKNOWN_KIND');
    assert.equal(await code(enc('hello world')), 'LP_VERIFY_UNKNOWN_KIND');
    assert.equal(await code(enc('{"type":"lightproof.other/v1"}')), 'LP_VERIFY_UNKNOWN_KIND');
    const { bytes } = bundle();
    assert.equal(await code(bytes.subarray(0, bytes.length / 2)), 'LP_VERIFY_MALFORMED');
    assert.equal(await code(new Uint8Array(16 * 1024 * 1024 + 1)), 'LP_VERIFY_TOO_LARGE');
    assert.equal(
      await code(enc(`{"type":"${LOG_PROOF_TYPE}","inclusion":${'['.repeat(5000)}`)),
      'LP_VERIFY_MALFORMED',
    );
    assert.equal(await code(enc(JSON.stringify({ header: 'x'.repeat(5000) }))), 'LP_RECEIPT_TOO_LARGE');
    assert.equal(detectKind(enc(`${header}\r\n`)).kind, 'receipt');
    for (let i = 0; i < 8; i++) {
      assert.notEqual(await code(enc(`${header}${String.fromCharCode(0x0a ^ (1 << i))}`)), 'ok');
    }
  });
});

describe('log entries', () => {
  it('are canonical JSON that reads back as what it was', () => {
    assert.equal(
      canonicalJson({ b: [1, { d: null, c: 'x' }], a: true }),
      '{"a":true,"b":[1,{"c":"x","d":null}]}',
    );
    assert.deepEqual(readEntry(receiptEntry(header)), { type: 'receipt', header });
    const event = {
      seq: 3,
      paymentId: 1,
      paymentHash: HEX('e'),
      from: 'reserved',
      to: 'paying',
      at: 5,
      detail: { z: 1, a: 2 },
    };
    assert.deepEqual(readEntry(walletEventEntry(event)), { type: 'wallet-event', ...event });
    assert.deepEqual(readEntry(enc('{ "type": "lightproof.receipt/v1", "header": "x" }')), { type: 'other' });
    assert.deepEqual(readEntry(new Uint8Array([0xff])), { type: 'other' });
  });
});
