import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { loadConfig, writeResolvedConfig } from '../common/config.js';
import { InputError, UsageError } from '../common/errors.js';
import { tempDir } from './helpers.js';

test('config: _base_ chain, then overrides with YAML-typed values', () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'base.yaml'), 'train:\n  epochs: 4\n  lr: 0.001\n  sizes: [1, 2]\nmodel:\n  hidden: 768\n  name: base\n');
  writeFileSync(path.join(dir, 'tiny.yaml'), '_base_: base.yaml\nmodel:\n  hidden: 128\n');
  const cfg = loadConfig({
    file: path.join(dir, 'tiny.yaml'),
    overrides: ['train.epochs=3', 'train.lr=1e-4', 'train.sizes=[3,4,5]', 'model.name=null'],
  });
  assert.deepEqual(cfg, { train: { epochs: 3, lr: 1e-4, sizes: [3, 4, 5] }, model: { hidden: 128, name: null } });
});

test('config: unknown override key is a usage error that lists the known keys', () => {
  assert.throws(
    () => loadConfig({ defaults: { train: { epochs: 1 } }, overrides: ['trian.epochs=3'] }),
    (err: unknown) => err instanceof UsageError && /unknown config key 'trian'/.test(err.message) && /train\.epochs/.test(err.message),
  );
  assert.throws(() => loadConfig({ defaults: { train: { epochs: 1 } }, overrides: ['train.epochs.x=3'] }), UsageError);
});

test('config: invalid YAML names the file and line', () => {
  const dir = tempDir();
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, 'a: 1\nb: [1, 2\nc: 3\n');
  assert.throws(
    () => loadConfig({ file: bad }),
    (err: unknown) => err instanceof InputError && err.message.startsWith(`${bad}:`) && /invalid YAML/.test(err.message),
  );
});

test('config: _base_ cycles are refused', () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'a.yaml'), '_base_: b.yaml\nx: 1\n');
  writeFileSync(path.join(dir, 'b.yaml'), '_base_: a.yaml\ny: 1\n');
  assert.throws(() => loadConfig({ file: path.join(dir, 'a.yaml') }), /_base_ cycle/);
});

test('config: the resolved tree is written and reads back equal', async () => {
  const dir = tempDir();
  const cfg = loadConfig({ defaults: { a: { b: 1, c: 'x' } }, overrides: ['a.c=hello world'] });
  await writeResolvedConfig(path.join(dir, 'config.yaml'), cfg);
  assert.deepEqual(YAML.parse(readFileSync(path.join(dir, 'config.yaml'), 'utf8')), { a: { b: 1, c: 'hello world' } });
});
