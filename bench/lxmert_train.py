"""PyTorch baseline for bench/lxmert-train.ts: the same LXMERT-shaped VQA model (test/py/lxmert_ref.py, LXMERT's
layer structure and names), same batch/sequence/box sizes, timed over full training steps (MODE train: forward, BCE
soft-score loss x answers, backward, global-norm clip 5, AdamW) or gradients only (MODE grad: forward + backward, no
optimizer state). Prints one JSON line: examples/s, peak RSS (MiB), the thread count and the BLAS actually loaded
(torch's build line says BLAS_INFO=generic: Debian links libblas.so.3, which the alternatives system points at
OpenBLAS or the slow reference BLAS — the runtime library decides). OpenMP's wait policy is PASSIVE (threads sleep
at barriers) unless the caller set one: libgomp's default spin-wait competes with the other jobs on a shared 2-core
machine and made 2 threads slower than 1 here.
  /usr/bin/python3 bench/lxmert_train.py HIDDEN HEADS INTER L R X FEAT ANSWERS BATCH SEQ BOXES STEPS THREADS MODE
"""
import json
import os
import re
import resource
import sys
import time

os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # before torch loads libgomp

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'py'))
from lxmert_ref import VQA  # noqa: E402

h, heads, inter, l, r, x, feat, answers, b, t, o, steps, threads = map(int, sys.argv[1:14])
mode = sys.argv[14] if len(sys.argv) > 14 else 'train'
torch.set_num_threads(threads)
torch.manual_seed(0)
m = VQA(dict(vocab=30522, hidden=h, heads=heads, inter=inter, l=l, r=r, x=x, feat=feat, pos=4, answers=answers, max_pos=512)).train()
opt = torch.optim.AdamW(m.parameters(), lr=1e-5, eps=1e-6, weight_decay=0.01)
bce = torch.nn.BCEWithLogitsLoss()
case = (torch.randint(0, 30522, (b, t)), torch.ones(b, t), torch.zeros(b, t, dtype=torch.long), torch.randn(b, o, feat), torch.rand(b, o, 4), torch.ones(b, o))
target = torch.zeros(b, answers)
target[:, 0] = 1


def step():
    opt.zero_grad(set_to_none=True)
    logits = m(case)
    loss = bce(logits, target) * logits.shape[1]
    loss.backward()
    if mode == 'train':
        torch.nn.utils.clip_grad_norm_(m.parameters(), 5.0)
        opt.step()


step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
dt = time.perf_counter() - t0
blas_build = next(iter(re.findall(r'BLAS_INFO=[^,\s]+', torch.__config__.show())), '?')
with open('/proc/self/maps') as maps:
    blas_loaded = sorted({line.split()[-1] for line in maps if 'blas' in line.lower() and line.split()[-1].startswith('/')})
print(json.dumps({'examples_per_s': b * steps / dt, 'ms_per_step': 1000 * dt / steps, 'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  'threads': torch.get_num_threads(), 'omp_wait_policy': os.environ['OMP_WAIT_POLICY'], 'blas_build': blas_build, 'blas_loaded': blas_loaded}))
