#!/usr/bin/env python3
"""mpi_compare.py A B INIT STEPS: the parameters of checkpoints A and B (two runs of the same training
from the same initial checkpoint INIT, e.g. 1 rank x batch B and 2 ranks x B/2) must agree up to the
order of their float32 sums; exit 1 naming the first tensor that does not.

Where the difference comes from, and the tolerance it allows (per tensor, max over its elements):
 - each run's gradient is a sum over the batch's rows; reordering a float32 sum of n terms changes it
   by at most about n u sum|terms| (u = 2^-24). With n = 128 rows that is 7.6e-6 of the sum of the
   terms' magnitudes; the terms of a gradient partly cancel, and we allow the sum of magnitudes to be
   up to ~130 times the sum itself: a relative gradient error of 1e-3. With SGD (the comparisons use
   optim.kind = sgd) a parameter's change over the run is lr times the summed gradients, so the two
   changes may differ by 1e-3 of the change itself (|A - INIT|);
 - each update rounds the parameter to float32: at most u |theta| per step and per run, so
   2 STEPS u max|theta| more.
(Adam is not used for this comparison: for a gradient component that is zero up to rounding, its
first steps move by +-lr whatever the rounding's sign, an O(lr) difference that says nothing about
the data-parallel arithmetic. Adam's state is compared exactly by the resume tests.)
A rank whose gradient is not averaged with the others', or whose random draws or data rows are not
its slice of the global batch's, moves its parameters by a different batch's gradient: O(1) of the
change, far above 1e-3.
"""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402

np = clitest.need("numpy", "python3-numpy", "mpi_compare")


def load(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    base = 8 + n
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(b[base + s:base + e], dtype=np.float32).reshape(v["shape"]).astype(np.float64)
    return out


def main():
    a, b, init = (load(p) for p in sys.argv[1:4])
    steps = int(sys.argv[4])
    u = 2.0 ** -24
    worst, bad = 0.0, None
    for k in sorted(a):
        if k.startswith(("ema.", "optim", "replay")) or "exp_avg" in k or a[k].size == 0:
            continue   # the parameters of every network (energy, generator, critic)
        if k not in b:
            print(f"{k}: missing in {sys.argv[2]}")
            return 1
        d = np.abs(a[k] - b[k]).max()
        moved = np.abs(a[k] - init[k]).max()
        tol = 1e-3 * moved + 2 * steps * u * np.abs(a[k]).max()
        print(f"{k:32s} max|A-B| {d:.3e}  moved {moved:.3e}  tolerance {tol:.3e}")
        if d > tol and bad is None:
            bad = k
        worst = max(worst, d / tol if tol > 0 else (0 if d == 0 else np.inf))
    print(f"largest difference / tolerance: {worst:.3g}")
    if bad:
        print(f"{bad}: the runs differ by more than float32 summation order allows")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
