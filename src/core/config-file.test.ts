import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readConfigFile } from './config-file.js';
import { isLightproofError } from './errors.js';

const dir = mkdtempSync(join(tmpdir(), 'lightproof-config-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function read(name: string, text: string | Buffer): unknown {
  const path = join(dir, name);
  writeFileSync(path, text);
  return readConfigFile(path, 'LP_TEST_CONFIG', 'test config');
}

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e) => isLightproofError(e, 'LP_TEST_CONFIG') && pattern.test(e.message));
}

describe('readConfigFile', () => {
  it('reads YAML and JSON', () => {
    assert.deepEqual(read('a.yaml', 'a: 1\nb: [x, y]\n'), { a: 1, b: ['x', 'y'] });
    assert.deepEqual(read('a.json', '{"a": {"b": true}}'), { a: { b: true } });
  });

  it('refuses missing, oversized, garbled, duplicate-key and alias-bomb files with the code', () => {
    refused(() => readConfigFile(join(dir, 'none.yaml'), 'LP_TEST_CONFIG', 'test config'), /Cannot read/);
    refused(() => read('big.yaml', Buffer.alloc(1024 * 1024 + 1, 0x61)), /larger than 1 MiB/);
    refused(() => read('bad.yaml', 'a: [1, 2\n'), /not valid YAML at line/);
    refused(() => read('dup.yaml', 'a: 1\na: 2\n'), /not valid YAML/);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 12; i++)
      bomb.push(
        `${'b'.repeat(i + 1)}: &${'b'.repeat(i + 1)} [*${i ? 'b'.repeat(i) : 'a'}, *${i ? 'b'.repeat(i) : 'a'}, *${i ? 'b'.repeat(i) : 'a'}, *${i ? 'b'.repeat(i) : 'a'}, *${i ? 'b'.repeat(i) : 'a'}, *${i ? 'b'.repeat(i) : 'a'}, *${i ? 'b'.repeat(i) : 'a'}, *${i ? 'b'.repeat(i) : 'a'}, *${i ? 'b'.repeat(i) : 'a'}]`,
      );
    refused(() => read('bomb.yaml', `${bomb.join('\n')}\n`), /alias|write the values out/i);
  });
});
