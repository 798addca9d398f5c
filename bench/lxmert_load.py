#!/usr/bin/python3
"""Baseline for bench/feature-store.ts: load a feature TSV the way LXMERT's load_obj_tsv does (csv.DictReader,
base64, numpy.frombuffer; every image kept in memory). Prints {"seconds", "rows", "max_rss_mb"} as JSON."""
import base64
import csv
import json
import resource
import sys
import time

import numpy as np

csv.field_size_limit(sys.maxsize)
FIELDS = ["img_id", "img_h", "img_w", "objects_id", "objects_conf", "attrs_id", "attrs_conf", "num_boxes", "boxes", "features"]
TYPES = [("objects_id", np.int64, False), ("objects_conf", np.float32, False), ("attrs_id", np.int64, False),
         ("attrs_conf", np.float32, False), ("boxes", np.float32, True), ("features", np.float32, True)]

start = time.time()
data = []
with open(sys.argv[1]) as f:
    for item in csv.DictReader(f, FIELDS, delimiter="\t"):
        for k in ("img_h", "img_w", "num_boxes"):
            item[k] = int(item[k])
        n = item["num_boxes"]
        for key, dtype, matrix in TYPES:
            arr = np.frombuffer(base64.b64decode(item[key]), dtype=dtype)
            item[key] = arr.reshape((n, -1)) if matrix else arr.reshape((n,))
        data.append(item)
print(json.dumps({"seconds": time.time() - start, "rows": len(data),
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
