"""PyTorch baseline for bench/vilt-train.ts: the ViLT-shaped model of test/py/vilt_ref.py (same structure and names)
at the given sizes, timed over full training steps (forward, VQA soft-score BCE x labels, backward, AdamW) on
pre-made tensors (no data loading, as the vlkit side's model-only figure).

  /usr/bin/python3 bench/vilt_train.py --hidden 64 --heads 2 --layers 2 --patch 16 --pos-grid 4 \
      --height 64 --width 80 --labels 3129 --batch 16 --text 16 --steps 10 --warmup 2 --threads 1

Prints one JSON line: the BLAS library actually mapped into the process, torch's thread count and OpenMP wait policy,
steady-state step time (mean and median over --steps after --warmup untimed steps), its forward+backward and
optimizer parts, examples/s, peak RSS (MiB).

OpenMP wait policy: libgomp's default is to spin ~300k iterations at every barrier. On a machine whose cores are
shared with other processes a spinning thread holds a core the other thread needs, and a step of thousands of small
parallel regions (this model) then ran 10x slower at 2 threads than at 1 (11 vs 158 examples/s, tiny shape).
PASSIVE (sleep at barriers) is set here before torch loads libgomp unless the caller chose a policy.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "py"))
import vilt_ref  # noqa: E402

ap = argparse.ArgumentParser()
for name, default in [("hidden", 64), ("heads", 2), ("layers", 2), ("patch", 16), ("pos-grid", 4), ("height", 64), ("width", 64),
                      ("labels", 3129), ("batch", 16), ("text", 16), ("steps", 10), ("warmup", 2), ("threads", 1)]:
    ap.add_argument(f"--{name}", type=int, default=default)
a = ap.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(0)
# The reference reads its sizes from module globals at construction and call time.
vilt_ref.D, vilt_ref.HEADS, vilt_ref.LAYERS, vilt_ref.P, vilt_ref.G, vilt_ref.T, vilt_ref.LABELS = (
    a.hidden, a.heads, a.layers, a.patch, a.pos_grid, a.text, a.labels)
m = vilt_ref.Model().train()
opt = torch.optim.AdamW(m.parameters(), lr=1e-5, eps=1e-8, weight_decay=0.01)
b = a.batch
ids = torch.randint(1000, 30000, (b, a.text))
mask = torch.ones(b, a.text, dtype=torch.long)
img = torch.randn(b, 3, a.height, a.width)
pix = torch.ones(b, a.height, a.width, dtype=torch.long)
target = torch.zeros(b, a.labels)
target[:, 0] = 1


def step():
    t0 = time.perf_counter()
    opt.zero_grad()
    _, _, _, vqa = m(ids, mask, img, pix)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(vqa, target) * a.labels
    loss.backward()
    t1 = time.perf_counter()
    opt.step()
    t2 = time.perf_counter()
    return t2 - t0, t1 - t0, t2 - t1


for _ in range(a.warmup):
    step()
times = [step() for _ in range(a.steps)]


def blas_library():
    """The BLAS shared object the process really mapped (libblas.so.3 is a Debian alternative)."""
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    return sorted(os.path.realpath(p) for p in libs)


build = torch.__config__.show()
step_s = statistics.mean(t[0] for t in times)
print(json.dumps({
    "torch": torch.__version__,
    "blas_info": next((tok.rstrip(",") for tok in build.split() if tok.startswith("BLAS_INFO=")), None),
    "blas_library": blas_library(),
    "threads": torch.get_num_threads(),
    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    "tokens": a.text + 1 + (a.height // a.patch) * (a.width // a.patch),
    "params": sum(p.numel() for p in m.parameters()),
    "step_s": step_s,
    "step_s_median": statistics.median(t[0] for t in times),
    "fwd_bwd_s": statistics.mean(t[1] for t in times),
    "optimizer_s": statistics.mean(t[2] for t in times),
    "examples_per_s": b / step_s,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
