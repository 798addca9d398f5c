"""PyTorch baseline for bench/vilt-train.ts: the ViLT-shaped model of test/py/vilt_ref.py (same structure and names)
at the given sizes, timed over full training steps (forward, VQA soft-score BCE x labels, backward, AdamW).
Prints one JSON line: examples/s and peak RSS (MiB).
  /usr/bin/python3 bench/vilt_train.py HIDDEN HEADS LAYERS PATCH IMAGE LABELS BATCH TEXT STEPS THREADS
"""
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'py'))
import vilt_ref  # noqa: E402

h, heads, layers, patch, image, labels, b, t, steps, threads = map(int, sys.argv[1:11])
torch.set_num_threads(threads)
torch.manual_seed(0)
# The reference reads its sizes from module globals at construction and call time.
vilt_ref.D, vilt_ref.HEADS, vilt_ref.LAYERS, vilt_ref.P, vilt_ref.G, vilt_ref.T, vilt_ref.LABELS = h, heads, layers, patch, image // patch, t, labels
m = vilt_ref.Model().train()
opt = torch.optim.AdamW(m.parameters(), lr=1e-5, eps=1e-8, weight_decay=0.01)
ids = torch.randint(1000, 30000, (b, t))
mask = torch.ones(b, t, dtype=torch.long)
img = torch.randn(b, 3, image, image)
pix = torch.ones(b, image, image, dtype=torch.long)
target = torch.zeros(b, labels)
target[:, 0] = 1


def step():
    opt.zero_grad()
    _, _, _, vqa = m(ids, mask, img, pix)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(vqa, target) * labels
    loss.backward()
    opt.step()


step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
secs = time.perf_counter() - t0
print(json.dumps({"examples_per_s": b * steps / secs, "step_s": secs / steps, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
