import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './helpers.js';

test('cli: --help exits 0 and shows an example; unknown command exits 2', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Example:/);
  const bad = await runCli(['no-such-command']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /error/);
});
