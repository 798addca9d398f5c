import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO, runCli } from './helpers.js';

test('cli: the bin file is executable, so `npx vlkit` runs it on a fresh install (npm ci → prepare → build)', () => {
  assert.doesNotThrow(() => accessSync(path.join(REPO, 'dist/bin/vlkit.js'), constants.X_OK));
});

test('cli: --help exits 0 and shows an example; unknown command exits 2', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Example:/);
  const bad = await runCli(['no-such-command']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /error/);
});
