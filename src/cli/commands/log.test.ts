/** `lightproof log init|append|show|checkpoint|prove|verify` as real child processes, against a fake calendar. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bitcoinReply, type FakeCalendar, startFakeCalendar } from '../../ots/calendar.testkit.js';
import { formatCheckpoint } from '../../provenance/checkpoint.js';
import { upgradeOne } from '../../provenance/checkpoint-stamp.js';
import { loadOrCreateLogKey, writeCheckpoint } from '../../provenance/checkpoint-store.js';
import { openLog } from '../../provenance/log/index.js';
import { leafHash, verifyInclusion } from '../../provenance/merkle.js';
import { generateNoteKey, noteSigner, noteVerifier, openNote, signNote } from '../../provenance/note.js';
import { cli, type Run } from '../cli.testkit.js';
import { buildProgram } from '../program.js';

let dir: string;
let cal: FakeCalendar;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lp-log-cli-'));
  cal = await startFakeCalendar();
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cal.close();
});

function ok(r: Run): Run {
  assert.equal(r.status, 0, r.err);
  return r;
}

function fails(r: Run, status: number, code: string): void {
  assert.equal(r.status, status, `${r.out}\n${r.err}`);
  assert.match(r.err, new RegExp(`^error ${code}: `));
}

/** A log made in this process (the CLI takes the log's lock only while a command runs). */
async function makeLog(path: string, origin: string, entries: string[], checkpointSizes: number[] = []) {
  const log = await openLog(path, { create: true, origin });
  try {
    for (const e of entries) await log.append(Buffer.from(e));
    const { signer } = loadOrCreateLogKey(path, origin);
    for (const size of checkpointSizes) await writeCheckpoint(log, { signer, size });
  } finally {
    await log.close();
  }
}

describe('lightproof log', () => {
  test('init, append, show, checkpoint --stamp, prove and verify a log', async () => {
    const log = join(dir, 'agent');
    const init = ok(await cli(['log', 'init', log, '--origin', 'example.com/agent', '--json']));
    const { verifierKey } = JSON.parse(init.out);
    assert.equal(readFileSync(join(log, 'log.pub'), 'utf8').trim(), verifierKey);

    assert.equal(ok(await cli(['log', 'append', log, '{"decision":"buy"}'])).out, '0\n');
    const piped = ok(await cli(['log', 'append', log, '-', '--json'], new Uint8Array([0, 1, 2, 255])));
    assert.equal(JSON.parse(piped.out).index, 1);

    const shown = ok(await cli(['log', 'show', log])).out.split('\n');
    assert.match(shown[0]!, /^# example\.com\/agent: 2 entries, root [0-9a-f]{64}, latest checkpoint none$/);
    assert.match(shown[1]!, /^0 [0-9a-f]{64} "\{\\"decision\\":\\"buy\\"\}"$/);
    assert.match(shown[2]!, /^1 [0-9a-f]{64} base64:AAEC\/w==$/);

    const cp = JSON.parse(
      ok(await cli(['log', 'checkpoint', log, '--stamp', '-c', cal.url, '-m', '1', '--json'])).out,
    );
    assert.equal(cp.size, 2);
    assert.equal(cp.created, true);
    assert.equal(cp.ots.created, true);
    assert.deepEqual(openNote(cp.note, [noteVerifier(verifierKey)]).verifiedBy, [
      verifierKey.split('+').slice(0, 2).join('+'),
    ]);
    const again = ok(await cli(['log', 'checkpoint', log]));
    assert.match(again.err, /Already signed/);
    assert.equal(again.out, cp.note);

    cal.complete(bitcoinReply(500));
    const otsPath = join(log, 'checkpoints', '2.txt.ots');
    assert.deepEqual(await upgradeOne(otsPath, { calendars: [cal.url] }), { changed: true, complete: true });

    const out = join(dir, 'entry1.proof.json');
    ok(await cli(['log', 'prove', log, '1', '--out', out]));
    const bundle = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(bundle.type, 'lightproof.log-proof/v1');
    assert.equal(bundle.treeSize, 2);
    assert.equal(bundle.verifierKey, verifierKey);
    assert.equal(
      bundle.ots,
      readFileSync(otsPath).toString('base64'),
      'the anchored checkpoint comes with its proof',
    );
    verifyInclusion(
      leafHash(Buffer.from(bundle.entry, 'base64')),
      1,
      2,
      bundle.inclusion.map((h: string) => Buffer.from(h, 'hex')),
      Buffer.from(bundle.checkpoint.split('\n')[2], 'base64'),
    );

    await makeLog(log, 'example.com/agent', ['three']);
    const proveNew = JSON.parse(ok(await cli(['log', 'prove', log, '2'])).out);
    assert.equal(proveNew.treeSize, 3, 'a checkpoint is signed when none covers the entry');

    const verified = ok(await cli(['log', 'verify', log]));
    assert.match(
      verified.out,
      /^OK: 3 entries re-hashed; 2 checkpoints .* \(1 stamped, 1 anchored in Bitcoin\)\.\n$/,
    );
  });

  test('verify names the checkpoint whose entries were rewritten; checkpoint refuses to sign', async () => {
    const log = join(dir, 'rewritten');
    const copy = join(dir, 'rewritten-copy');
    await makeLog(log, 'example.com/rewritten', ['a', 'b', 'c'], [1, 3]);
    // A rewritten history under the same key: entry 2 differs, the old checkpoint of size 3 kept.
    await makeLog(copy, 'example.com/rewritten', ['a', 'b', 'X']);
    for (const f of ['log.key', 'log.pub'])
      writeFileSync(join(copy, f), readFileSync(join(log, f)), { mode: 0o600 });
    await makeLog(copy, 'example.com/rewritten', [], [1]);
    writeFileSync(join(copy, 'checkpoints', '3.txt'), readFileSync(join(log, 'checkpoints', '3.txt')));
    const r = await cli(['log', 'verify', copy]);
    fails(r, 1, 'LP_NOTE_SPLIT_VIEW');
    assert.match(r.err, /checkpoint 3: .*entries 1 to 2/);
    fails(await cli(['log', 'checkpoint', copy]), 1, 'LP_NOTE_SPLIT_VIEW');
  });

  test("verify refuses another key's checkpoint", async () => {
    const log = join(dir, 'stranger');
    await makeLog(log, 'example.com/stranger', ['a'], [1]);
    const other = noteSigner(generateNoteKey('example.com/stranger').signerKey);
    const root = Buffer.from(
      readFileSync(join(log, 'checkpoints', '1.txt'), 'utf8').split('\n')[2]!,
      'base64',
    );
    const forged = signNote(
      formatCheckpoint({ origin: 'example.com/stranger', size: 1, root, extensions: [] }),
      other,
    );
    writeFileSync(join(log, 'checkpoints', '1.txt'), forged);
    const r = await cli(['log', 'verify', log]);
    fails(r, 1, 'LP_NOTE_UNVERIFIED');
    assert.match(r.err, /checkpoint 1: /);
  });

  test('show, prove --size and verify read the log while a writer holds it open', async () => {
    const path = join(dir, 'busy');
    const writer = await openLog(path, { create: true, origin: 'example.com/busy' });
    try {
      await writer.appendMany([Buffer.from('a'), Buffer.from('b')]);
      const { signer } = loadOrCreateLogKey(path, writer.origin);
      await writeCheckpoint(writer, { signer, size: 2 });
      await writer.append(Buffer.from('c'));
      assert.ok(existsSync(join(path, 'log.lock')));
      const before = readFileSync(join(path, 'entries.dat'));

      assert.match(ok(await cli(['log', 'show', path])).out, /^# example\.com\/busy: 3 entries, /);
      assert.equal(JSON.parse(ok(await cli(['log', 'prove', path, '1', '--size', '2'])).out).treeSize, 2);
      assert.equal(JSON.parse(ok(await cli(['log', 'prove', path, '0'])).out).treeSize, 2);
      assert.match(ok(await cli(['log', 'verify', path])).out, /^OK: 3 entries re-hashed; 1 checkpoint /);

      const signing = await cli(['log', 'prove', path, '2']);
      fails(signing, 1, 'LP_LOG_LOCKED');
      assert.match(
        signing.err,
        /lock, which process \d+ holds to write the log\. Sign a checkpoint where the log is written/,
      );
      const sized = await cli(['log', 'prove', path, '0', '--size', '3']);
      fails(sized, 1, 'LP_LOG_LOCKED');
      assert.match(
        sized.err,
        /There is no checkpoint of size 3.*--size with an existing checkpoint covering the entry: 2/,
      );
      fails(await cli(['log', 'append', path, 'd']), 1, 'LP_LOG_LOCKED');
      assert.deepEqual(readFileSync(join(path, 'entries.dat')), before, 'readers wrote nothing');
      assert.equal((await writer.append(Buffer.from('d'))).index, 3);
    } finally {
      await writer.close();
    }
  });

  test('bad input: typed errors, usage exits 2, nothing written', async () => {
    const log = join(dir, 'bad');
    fails(await cli(['log', 'show', join(dir, 'missing')]), 1, 'LP_LOG_NOT_FOUND');
    assert.ok(!existsSync(join(dir, 'missing')));
    fails(await cli(['log', 'init', log, '--origin', 'has space']), 2, 'LP_NOTE_BAD_NAME');
    assert.ok(!existsSync(log));
    await makeLog(log, 'example.com/bad', ['x']);
    fails(await cli(['log', 'append', log]), 2, 'LP_CLI_USAGE');
    fails(await cli(['log', 'prove', log, 'x']), 2, 'LP_CLI_BAD_NUMBER');
    fails(await cli(['log', 'prove', log, '1']), 1, 'LP_LOG_INDEX_OUT_OF_RANGE');
    fails(await cli(['log', 'checkpoint', log, '-m', '1']), 2, 'LP_CLI_USAGE');
    fails(await cli(['log', 'checkpoint', log, '--size', '9']), 1, 'LP_NOTE_BAD_SIZE');
    assert.ok(!existsSync(join(log, 'checkpoints', '9.txt')));
  });

  test('every subcommand has help with an example', () => {
    const log = buildProgram().commands.find((c) => c.name() === 'log')!;
    for (const sub of ['init', 'append', 'show', 'checkpoint', 'prove', 'verify']) {
      const cmd = log.commands.find((c) => c.name() === sub)!;
      let text = '';
      cmd.configureOutput({ writeOut: (s) => (text += s) });
      cmd.outputHelp();
      assert.match(text, new RegExp(`Usage: lightproof log ${sub} `));
      assert.match(text, /Example:\n {2}\$ lightproof log /, sub);
    }
  });
});
