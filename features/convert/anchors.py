"""Region proposal anchors exactly as py-faster-rcnn's generate_anchors (numpy only)."""
from __future__ import annotations

import numpy as np


def _whctrs(a):
    w = a[2] - a[0] + 1
    h = a[3] - a[1] + 1
    return w, h, a[0] + 0.5 * (w - 1), a[1] + 0.5 * (h - 1)


def _boxes_around(ws, hs, cx, cy):
    ws = np.asarray(ws, dtype=np.float64)[:, None]
    hs = np.asarray(hs, dtype=np.float64)[:, None]
    return np.hstack([cx - 0.5 * (ws - 1), cy - 0.5 * (hs - 1), cx + 0.5 * (ws - 1), cy + 0.5 * (hs - 1)])


def generate_anchors(base_size: int, ratios, scales) -> np.ndarray:
    base = np.array([0, 0, base_size - 1, base_size - 1], dtype=np.float64)
    w, h, cx, cy = _whctrs(base)
    area = w * h
    ws = np.round(np.sqrt(area / np.asarray(ratios, dtype=np.float64)))  # numpy rounds halves to even, as BUTD did
    hs = np.round(ws * np.asarray(ratios, dtype=np.float64))
    per_ratio = _boxes_around(ws, hs, cx, cy)
    out = []
    for anchor in per_ratio:
        w, h, cx, cy = _whctrs(anchor)
        scales_arr = np.asarray(scales, dtype=np.float64)
        out.append(_boxes_around(w * scales_arr, h * scales_arr, cx, cy))
    return np.vstack(out)
