"""Reference optimal-transport distance for vlkit's WPA test, in float64 numpy, one example at a time.

Each example keeps only its valid text rows and image columns and runs the textbook IPOT on that sub-problem
(uniform marginals, kernel exp(-C/beta), `iterations` proximal steps of `k` Sinkhorn updates, the image-side scaling
updated first); the plan is written back into the padded [M, N] frame. An example with no valid row or column has an
all-zero plan.

Usage: wpa_ref.py < input.json > output.json
input:  {"B","M","N","D","beta","iterations","k","text":[B*M*D],"image":[B*N*D],"text_valid":[B*M],"image_valid":[B*N]}
output: {"cost":[B*M*N],"plan":[B*M*N],"distance":[B]}
"""
import json
import sys

import numpy as np


def cosine_cost(x, y):
    xn = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-5)
    yn = y / np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-5)
    return 1.0 - xn @ yn.T


def ipot(c, beta, iterations, k):
    m, n = c.shape
    kernel = np.exp(-c / beta)
    plan = np.ones((m, n))
    a = np.full(m, 1.0 / m)
    for _ in range(iterations):
        q = kernel * plan
        for _ in range(k):
            b = (1.0 / n) / (q.T @ a)
            a = (1.0 / m) / (q @ b)
        plan = a[:, None] * q * b[None, :]
    return plan


def main():
    inp = json.load(sys.stdin)
    B, M, N, D = inp["B"], inp["M"], inp["N"], inp["D"]
    text = np.array(inp["text"], dtype=np.float64).reshape(B, M, D)
    image = np.array(inp["image"], dtype=np.float64).reshape(B, N, D)
    tv = np.array(inp["text_valid"]).reshape(B, M) > 0.5
    iv = np.array(inp["image_valid"]).reshape(B, N) > 0.5
    costs = np.zeros((B, M, N))
    plans = np.zeros((B, M, N))
    dist = np.zeros(B)
    for e in range(B):
        costs[e] = cosine_cost(text[e], image[e])
        rows, cols = np.nonzero(tv[e])[0], np.nonzero(iv[e])[0]
        if len(rows) == 0 or len(cols) == 0:
            continue
        sub = costs[e][np.ix_(rows, cols)]
        p = ipot(sub, inp["beta"], inp["iterations"], inp["k"])
        plans[e][np.ix_(rows, cols)] = p
        dist[e] = float((sub * p).sum())
    json.dump({"cost": costs.ravel().tolist(), "plan": plans.ravel().tolist(), "distance": dist.tolist()}, sys.stdout)


main()
