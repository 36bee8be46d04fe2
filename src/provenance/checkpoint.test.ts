import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isLightproofError } from '../core/errors.js';
import { formatCheckpoint, openCheckpoint, parseCheckpoint } from './checkpoint.js';
import {
  type CheckpointSource,
  checkpointPath,
  listCheckpoints,
  loadOrCreateLogKey,
  readCheckpoint,
  readLogVerifier,
  writeCheckpoint,
} from './checkpoint-store.js';
import { consistencyProof, leafHash, rootOf } from './merkle.js';
import { generateNoteKey, noteSigner, noteVerifier, signNote } from './note.js';

const sumdb = JSON.parse(
  readFileSync(new URL('../../test/vectors/note/sum-golang-org-checkpoint.json', import.meta.url), 'utf8'),
);

async function rejects(p: Promise<unknown> | (() => unknown), expected: string): Promise<void> {
  await assert.rejects(
    async () => (typeof p === 'function' ? p() : p),
    (e: unknown) => {
      assert.ok(isLightproofError(e), String(e));
      assert.equal(e.code, expected, e.message);
      assert.match(e.message, /[;.] .+\.$/, `the message says what to do: ${e.message}`);
      return true;
    },
  );
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lp-'));
  dirs.push(d);
  return d;
}

/** An in-memory log with the interface writeCheckpoint needs; entries can be rewritten to test refusals. */
function memLog(
  dir: string,
  origin = 'example.com/log',
): CheckpointSource & { add(s: string): void; leaves: Uint8Array[] } {
  const leaves: Uint8Array[] = [];
  return {
    dir,
    origin,
    leaves,
    add: (s) => leaves.push(leafHash(new TextEncoder().encode(s))),
    size: () => leaves.length,
    root: (size = leaves.length) => rootOf(leaves.slice(0, size)),
    consistencyProof: (m, n = leaves.length) => consistencyProof(leaves, m, n),
  };
}

const root = new Uint8Array(32).fill(7);

describe('checkpoint text', () => {
  it('formats and parses origin, size, root and extension lines', () => {
    const cp = { origin: 'example.com/log', size: 12, root, extensions: ['ext one'] };
    const text = formatCheckpoint(cp);
    assert.equal(text, `example.com/log\n12\n${Buffer.from(root).toString('base64')}\next one\n`);
    assert.deepEqual(parseCheckpoint(text), cp);
  });

  it('opens a real sum.golang.org checkpoint', () => {
    const { checkpoint, verifiedBy } = openCheckpoint(sumdb.note, [noteVerifier(sumdb.verifierKey)]);
    assert.equal(checkpoint.origin, 'go.sum database tree');
    assert.equal(checkpoint.size, 49189689);
    assert.equal(Buffer.from(checkpoint.root).toString('base64'), sumdb.rootBase64);
    assert.deepEqual(verifiedBy, ['sum.golang.org+033de0ae']);
  });

  it('refuses every malformed, truncated and oversized text', async () => {
    const r = Buffer.from(root).toString('base64');
    const bad = [
      '',
      'o\n1\n',
      `o\n1\n${r}`,
      `o\n01\n${r}\n`,
      `o\n-1\n${r}\n`,
      `o\n+1\n${r}\n`,
      `o\n1.0\n${r}\n`,
      `o\n 1\n${r}\n`,
      `o\n9007199254740992\n${r}\n`,
      `o\n99999999999999999999\n${r}\n`,
      `o\n1\n${r.slice(0, -4)}\n`,
      `o\n1\n${Buffer.alloc(33).toString('base64')}\n`,
      `o\n1\n${r.replace('=', '')}\n`,
      `o\n1\n${r}\n\nextension after empty\n`,
      `\n1\n${r}\n`,
      `o\n1\n${r}\n\u0007\n`,
      `o\n1\n${r}\n${'x'.repeat(70_000)}\n`,
      undefined as unknown as string,
    ];
    for (const t of bad) await rejects(() => parseCheckpoint(t), 'LP_NOTE_BAD_CHECKPOINT');
    assert.equal(parseCheckpoint(`o\n9007199254740991\n${r}\n`).size, 2 ** 53 - 1);
    assert.equal(parseCheckpoint(`o\n0\n${r}\n`).size, 0);
  });

  it('refuses a checkpoint for another origin', async () => {
    const { signerKey, verifierKey } = generateNoteKey('example.com/log');
    const note = signNote(
      formatCheckpoint({ origin: 'example.com/other', size: 1, root, extensions: [] }),
      noteSigner(signerKey),
    );
    await rejects(
      () => openCheckpoint(note, [noteVerifier(verifierKey)], 'example.com/log'),
      'LP_NOTE_WRONG_ORIGIN',
    );
  });
});

describe('log keys', () => {
  it('makes log.key (0600) and log.pub once, then loads them', () => {
    const dir = tempDir();
    const a = loadOrCreateLogKey(dir, 'example.com/log');
    assert.equal(statSync(join(dir, 'log.key')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(dir, 'log.pub'), 'utf8'), `${a.verifierKey}\n`);
    const b = loadOrCreateLogKey(dir, 'example.com/log');
    assert.equal(b.verifierKey, a.verifierKey);
    assert.equal(readLogVerifier(dir).verifierKey, a.verifierKey);
    assert.deepEqual(readdirSync(dir).sort(), ['log.key', 'log.pub'], 'no temporary files are left');
  });

  it("refuses a readable key, another log's key, a mismatched log.pub and a bad origin", async () => {
    const dir = tempDir();
    loadOrCreateLogKey(dir, 'example.com/log');
    chmodSync(join(dir, 'log.key'), 0o644);
    await rejects(() => loadOrCreateLogKey(dir, 'example.com/log'), 'LP_NOTE_KEY_EXPOSED');
    chmodSync(join(dir, 'log.key'), 0o600);
    await rejects(() => loadOrCreateLogKey(dir, 'example.com/other'), 'LP_NOTE_BAD_KEY');
    writeFileSync(join(dir, 'log.pub'), `${generateNoteKey('example.com/log').verifierKey}\n`);
    await rejects(() => loadOrCreateLogKey(dir, 'example.com/log'), 'LP_NOTE_BAD_KEY');
    await rejects(() => loadOrCreateLogKey(tempDir(), 'has space'), 'LP_NOTE_BAD_NAME');
    await rejects(() => readLogVerifier(tempDir()), 'LP_NOTE_NO_KEY');
    const verifierCopy = tempDir();
    writeFileSync(join(verifierCopy, 'log.pub'), readFileSync(join(dir, 'log.pub')));
    await rejects(() => loadOrCreateLogKey(verifierCopy, 'example.com/log'), 'LP_NOTE_NO_KEY');
    assert.deepEqual(readdirSync(verifierCopy), ['log.pub'], 'no key is made that could not match log.pub');
    const garbage = tempDir();
    writeFileSync(join(garbage, 'log.key'), 'PRIVATE+KEY+junk\n', { mode: 0o600 });
    await rejects(() => loadOrCreateLogKey(garbage, 'example.com/log'), 'LP_NOTE_BAD_KEY');
    writeFileSync(join(garbage, 'log.key'), Buffer.alloc(10_000), { mode: 0o600 });
    await rejects(() => loadOrCreateLogKey(garbage, 'example.com/log'), 'LP_NOTE_BAD_FILE');
  });
});

describe('writing checkpoints', () => {
  it('signs the current tree, stores it once, and reads it back', async () => {
    const dir = tempDir();
    const log = memLog(dir);
    const { signer, verifier } = loadOrCreateLogKey(dir, log.origin);
    const empty = await writeCheckpoint(log, { signer });
    assert.equal(empty.checkpoint.size, 0);
    for (const s of ['a', 'b', 'c']) log.add(s);
    const w = await writeCheckpoint(log, { signer });
    assert.equal(w.created, true);
    assert.equal(w.path, checkpointPath(dir, 3));
    assert.equal(readFileSync(w.path, 'utf8'), w.note);
    assert.deepEqual(readCheckpoint(dir, 3, verifier, log.origin).checkpoint, w.checkpoint);
    const again = await writeCheckpoint(log, { signer });
    assert.equal(again.created, false);
    assert.equal(again.note, w.note);
    log.add('d');
    log.add('e');
    await writeCheckpoint(log, { signer, size: 1 });
    await writeCheckpoint(log, { signer });
    assert.deepEqual(listCheckpoints(dir), [0, 1, 3, 5]);
    assert.ok(!readdirSync(join(dir, 'checkpoints')).some((n) => n.endsWith('.tmp')));
  });

  it('never signs a second root for one size, nor a tree inconsistent with an earlier checkpoint', async () => {
    const dir = tempDir();
    const log = memLog(dir);
    const { signer } = loadOrCreateLogKey(dir, log.origin);
    for (const s of ['a', 'b', 'c', 'd']) log.add(s);
    await writeCheckpoint(log, { signer, size: 2 });
    await writeCheckpoint(log, { signer, size: 4 });
    log.leaves[3] = leafHash(new Uint8Array([9]));
    await rejects(writeCheckpoint(log, { signer, size: 4 }), 'LP_NOTE_SPLIT_VIEW');
    log.add('e');
    await rejects(writeCheckpoint(log, { signer }), 'LP_NOTE_SPLIT_VIEW');
    log.leaves[0] = leafHash(new Uint8Array([8]));
    await rejects(writeCheckpoint(log, { signer, size: 3 }), 'LP_NOTE_SPLIT_VIEW');
    assert.deepEqual(listCheckpoints(dir), [2, 4]);
  });

  it("refuses another key's checkpoint, a renamed checkpoint, a bad size and another log's key", async () => {
    const dir = tempDir();
    const log = memLog(dir);
    const { signer, verifier } = loadOrCreateLogKey(dir, log.origin);
    log.add('a');
    log.add('b');
    await writeCheckpoint(log, { signer, size: 1 });
    await rejects(writeCheckpoint(log, { signer, size: 3 }), 'LP_NOTE_BAD_SIZE');
    await rejects(writeCheckpoint(log, { signer, size: -1 }), 'LP_NOTE_BAD_SIZE');
    await rejects(writeCheckpoint(log, { signer, size: 0.5 }), 'LP_NOTE_BAD_SIZE');
    const stranger = noteSigner(generateNoteKey('example.com/log').signerKey);
    const forged = signNote(
      formatCheckpoint({ origin: log.origin, size: 1, root: log.root(1), extensions: [] }),
      stranger,
    );
    writeFileSync(checkpointPath(dir, 1), forged);
    await rejects(writeCheckpoint(log, { signer }), 'LP_NOTE_UNVERIFIED');
    await rejects(writeCheckpoint(log, { signer: stranger }), 'LP_NOTE_BAD_KEY');
    await rejects(
      writeCheckpoint(log, { signer: noteSigner(generateNoteKey('x.example').signerKey) }),
      'LP_NOTE_BAD_KEY',
    );
    writeFileSync(checkpointPath(dir, 1), readFileSync(join(dir, 'log.pub')));
    await rejects(() => readCheckpoint(dir, 1, verifier, log.origin), 'LP_NOTE_MALFORMED');
    writeFileSync(checkpointPath(dir, 1), 'x'.repeat(100_000));
    await rejects(() => readCheckpoint(dir, 1, verifier, log.origin), 'LP_NOTE_BAD_FILE');
  });

  it('names the file when a checkpoint file was renamed', async () => {
    const dir = tempDir();
    const log = memLogWith(dir, ['a', 'b']);
    const { signer, verifier } = loadOrCreateLogKey(dir, log.origin);
    const w = await writeCheckpoint(log, { signer });
    writeFileSync(checkpointPath(dir, 1), w.note);
    await rejects(() => readCheckpoint(dir, 1, verifier, log.origin), 'LP_NOTE_BAD_CHECKPOINT');
    await rejects(() => readCheckpoint(dir, 7, verifier, log.origin), 'LP_NOTE_NO_CHECKPOINT');
  });
});

function memLogWith(dir: string, entries: string[]) {
  const log = memLog(dir);
  for (const e of entries) log.add(e);
  return log;
}
