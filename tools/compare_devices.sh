#!/usr/bin/env bash
# First-iteration losses of configs on two OpenCL devices (issue 4: PoCL vs the NVIDIA driver).
# Every random draw comes from the same Philox streams on every device, so iteration 1 of a config
# must give the same energies and losses up to float32 rounding (different reduction orders, fused
# multiply-adds). Runs `ebm train CONFIG --set run.iters=1` on each device and compares every number of
# the iteration-1 row of metrics.jsonl.
#
#   tools/compare_devices.sh pocl nvidia [CONFIG...]      (default: every configs/*.ini)
#
# EBM (default build/ebm); OUT_DIR (default /tmp/ebm-compare) keeps the runs and compare.txt.
# Pictures at the end of the one-iteration runs use eval.steps = 1 (they are not compared). Configs
# too slow for one CPU iteration at full size get a smaller batch, the same on both devices.
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 DEVICE_A DEVICE_B [CONFIG...]" >&2; exit 2; }
ebm=${EBM:-build/ebm} a=$1 b=$2
shift 2
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(configs/*.ini)
out=${OUT_DIR:-/tmp/ebm-compare}
mkdir -p "$out"
{
status=0
for cfg in "${configs[@]}"; do
    name=$(basename "$cfg" .ini)
    extra=(--set run.iters=1 --set run.log_every=1 --set run.sample_every=0 --set eval.steps=1 --set eval.n=16)
    case $name in fmnist-gpu|icd-*) extra+=(--set run.batch=16) ;; esac
    for d in "$a" "$b"; do
        rm -rf "$out/$name-$d"
        "$ebm" train "$cfg" --out "$out/$name-$d" --device "$d" "${extra[@]}" > "$out/$name-$d.log" 2>&1 ||
            { echo "$name on $d: failed (see $out/$name-$d.log)"; tail -3 "$out/$name-$d.log"; status=1; continue 2; }
    done
    python3 - "$name" "$out/$name-$a/metrics.jsonl" "$out/$name-$b/metrics.jsonl" "$a" "$b" <<'PY' || status=1
import json, sys
name, fa, fb, da, db = sys.argv[1:]
row = lambda f: next(json.loads(l) for l in open(f) if '"iter":1,' in l)
ra, rb = row(fa), row(fb)
skip = {"iter", "it_per_s", "elapsed_s", "lr"}
worst, parts = 0.0, []
for k in ra:
    if k in skip or not isinstance(ra[k], (int, float)): continue
    va, vb = ra[k], rb.get(k)
    rel = abs(va - vb) / max(abs(va), abs(vb), 1e-6)
    worst = max(worst, rel)
    parts.append(f"{k} {va:.7g} / {vb:.7g}")
# float32 rounding (2^-24 per operation) grows over the K Langevin steps and the batch reductions;
# 1e-3 relative is far above that for a correct kernel and far below a wrong one (O(1) differences)
ok = worst <= 1e-3
print(f"{name}: {'same' if ok else 'DIFFERENT'} (max relative difference {worst:.2e}; {da} / {db}: " + "; ".join(parts) + ")")
sys.exit(0 if ok else 1)
PY
done
exit $status
} | tee "$out/compare.txt"
exit "${PIPESTATUS[0]}"
