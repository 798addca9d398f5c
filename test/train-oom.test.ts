import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../common/errors.js';
import { explainOutOfMemory, selectBackend } from '../train/engine/backend.js';

// A real out-of-memory needs a ~4 GiB model (measured by hand: `vlkit train --config configs/lxmert/vqa.yaml
// --backend wasm` on synthetic data aborts with 4.04 GiB allocated and exits 2 with this message); here the
// translation itself is checked on the errors wasm really throws.
test('wasm out-of-memory aborts become a usage error naming the cause and the fix; other errors pass through', async () => {
  await selectBackend({ force: 'wasm', log: () => {} });
  const held = tf.zeros([1024, 256]); // 1 MiB of tensors, reported in the message
  for (const raw of ['Aborted(). Build with -sASSERTIONS for more info.', 'memory access out of bounds']) {
    const e = explainOutOfMemory(new Error(raw));
    assert.ok(e instanceof UsageError, raw);
    assert.match(e.message, /wasm backend ran out of memory/);
    assert.match(e.message, /0\.00 GiB of tensors allocated/);
    assert.match(e.message, /@tensorflow\/tfjs-node/);
  }
  const other = new Error('shapes do not match');
  assert.equal(explainOutOfMemory(other), other);
  held.dispose();
  await tf.setBackend('cpu');
  const onCpu = new Error('Aborted()');
  assert.equal(explainOutOfMemory(onCpu), onCpu, 'only the wasm backend has the 4 GiB heap');
});
