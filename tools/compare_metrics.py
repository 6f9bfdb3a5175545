#!/usr/bin/env python3
"""Compares the iteration-1 rows of metrics.jsonl files of the same configs run on two devices.

    compare_metrics.py [--tol T] [--devices A B] NAME METRICS_A METRICS_B [NAME METRICS_A METRICS_B ...]

Every number of the row (energies, losses, gradient norm; not timings or the learning rate) must
agree within T relative (default 1e-4), the loss within T * kappa, kappa = (|E+| + |E-|) / |E+ - E-|:
the loss is a difference of energies, so an absolute error of d * (|E+| + |E-|) is a relative error
d * kappa of it. Why 1e-4, and which settings make iteration 1 comparable at all (short chains, a
smooth first optimizer step), is in tools/compare_devices.sh and bench/results/device-rounding.md.
Prints one line per config ("same" / "DIFFERENT" with every number); exits 1 when any differs.
"""
import argparse
import json
import sys

SKIP = {"iter", "it_per_s", "elapsed_s", "lr"}


def first_row(path):
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            if row.get("iter") == 1 and "event" not in row:
                return row
    raise ValueError(f"{path}: no iteration-1 row")


def compare(name, fa, fb, da, db, tol):
    ra, rb = first_row(fa), first_row(fb)
    kappa = 1.0
    if all(isinstance(ra.get(k), (int, float)) for k in ("e_pos", "e_neg")):
        kappa = max(1.0, (abs(ra["e_pos"]) + abs(ra["e_neg"])) / max(abs(ra["e_pos"] - ra["e_neg"]), 1e-30))
    worst, parts, missing = 0.0, [], []
    for k, va in ra.items():
        if k in SKIP or isinstance(va, bool) or not isinstance(va, (int, float)):
            continue
        vb = rb.get(k)
        if not isinstance(vb, (int, float)):
            missing.append(k)
            continue
        rel = abs(va - vb) / max(abs(va), abs(vb), 1e-6)
        worst = max(worst, rel / (kappa if k == "loss" else 1.0))
        parts.append(f"{k} {va:.7g} / {vb:.7g}")
    ok = worst <= tol and not missing
    print(f"{name}: {'same' if ok else 'DIFFERENT'} (max relative difference {worst:.2e}, loss's over kappa {kappa:.3g}; "
          f"tolerance {tol:g}; {da} / {db}: " + "; ".join(parts) + (f"; missing on {db}: {', '.join(missing)}" if missing else "") + ")")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--devices", nargs=2, default=["A", "B"])
    ap.add_argument("triples", nargs="+", metavar="NAME METRICS_A METRICS_B")
    args = ap.parse_args()
    if len(args.triples) % 3:
        ap.error("give NAME METRICS_A METRICS_B triples")
    ok = True
    for i in range(0, len(args.triples), 3):
        name, fa, fb = args.triples[i:i + 3]
        try:
            ok &= compare(name, fa, fb, *args.devices, args.tol)
        except (OSError, ValueError) as e:
            print(f"{name}: cannot compare: {e}")
            ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
