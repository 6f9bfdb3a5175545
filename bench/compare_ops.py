"""Joins bench/ops CSVs: engine (test_ops perf --csv) vs PyTorch (torch_ops.py) on the same machine.
Usage: python3 bench/compare_ops.py ENGINE.csv TORCH.csv  -> a markdown table on stdout."""
import csv, sys

eng = {(r["op"], r["shape"]): r for r in csv.DictReader(open(sys.argv[1]))}
tor = {(r["op"], r["shape"]): r for r in csv.DictReader(open(sys.argv[2]))}
print("| op | workload | x / w | engine ms | GFLOP/s | % peak | PyTorch ms | PyTorch / engine |")
print("|---|---|---|---:|---:|---:|---:|---:|")
for key, e in eng.items():
    t = tor.get(key)
    ratio = f"{float(t['ms']) / float(e['ms']):.2f}" if t else "-"
    print(f"| {e['op']} | {e['workload']} | {e['shape']} | {float(e['ms']):.2f} | {float(e['gflops']):.1f} | "
          f"{100 * float(e['fraction_of_peak']):.1f} | {t['ms'] if t else '-'} | {ratio} |")
