"""Baseline for bench/validate.ts: the plain sequential PIL loop (VLC's check_valid_images.py style), full decode.

Usage: python3 bench/validate_pil.py LIST.txt  -> prints one JSON line {"images", "seconds", "ok", "bad", "peak_rss_mb"}
"""
import json
import resource
import sys
import time

from PIL import Image

paths = [line.strip() for line in open(sys.argv[1]) if line.strip()]
ok = bad = 0
start = time.perf_counter()
for p in paths:
    try:
        with Image.open(p) as im:
            im.load()  # full decode: Image.open alone reads only the header
        ok += 1
    except Exception:
        bad += 1
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"images": len(paths), "seconds": seconds, "ok": ok, "bad": bad, "peak_rss_mb": round(peak_mb, 1)}))
