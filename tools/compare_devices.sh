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
#
# What is compared, and why not the iteration exactly as configured (bench/results/device-rounding.md):
# on identical inputs PoCL and Intel's CPU runtime agree to ~4e-7 relative on E (~6 units of
# float32 roundoff u = 2^-24) and ~4e-6 on grad_x E (~60 u: the ResNet's ~40 layers, forward and
# backward), but two parts of an iteration amplify such differences without bound:
#  - Langevin chains: one step multiplies a difference in x by G ~ 1.4-1.6 (fmnist-gpu: step 100, no
#    gradient clip; the same growth follows a 1-ulp change of x0 on one device), so after K steps
#    E(x-) differs by ~1e-7 * G^K relative: 1e-6 at K = 5, 1e-4 at K = 20, and at K = 40 the chains
#    have decorrelated (fmnist-gpu: E(x-) 1.5% apart, the same size as the 1-ulp change gives).
#  - The first Adam / AdaGrad step, lr * g / (|g| + eps), is lr * sign(g) for eps -> 0: a gradient
#    component whose size is below its rounding error changes sign and its parameter by 2 lr. Kinks
#    (ReLU) make such components: a pre-activation within rounding of 0 switches its derivative, and
#    batch norm spreads that to the whole batch (dual-stacked-fmnist-gpu: 0.8% of the generator's
#    parameters moved 2 lr apart, E(x-) 4.6e-4 and the loss 1.1e-3 apart).
# So the chains are cut to KMAX (default 2) steps (sampler.steps and dual.z_steps; with [loss] kl the
# last is the KL step, so both kinds of step still run) and the optimizers get eps = EPS (default 1),
# which makes the first step Lipschitz in g (constant lr / eps). Every kernel of the iteration still
# runs. Then every number is expected within ~1e-6 relative, and TOL (default 1e-4) leaves a factor
# 100 for deeper networks and longer reductions, while a 1% error in a single op shows: with the
# derivative of swish or leaky ReLU 1% off on one device, grad_norm moved 1-3% and E(x-) 1e-4-2e-3.
# The loss is a difference of energies: an absolute error of d * (|E+| + |E-|) is a relative error
# d * kappa of the loss, kappa = (|E+| + |E-|) / |E+ - E-| (up to 332: ddgm-fmnist-gpu), so the
# loss is held to TOL * kappa. Measured PoCL vs Intel, every config: <= 2.3e-6 (the loss over kappa).
# KMAX=1000 EPS=0 compares the iterations as configured.
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 DEVICE_A DEVICE_B [CONFIG...]" >&2; exit 2; }
ebm=${EBM:-build/ebm} a=$1 b=$2
shift 2
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(configs/*.ini)
out=${OUT_DIR:-/tmp/ebm-compare}
kmax=${KMAX:-2} eps=${EPS:-1} tol=${TOL:-1e-4}
mkdir -p "$out"
{
status=0
for cfg in "${configs[@]}"; do
    name=$(basename "$cfg" .ini)
    extra=(--set run.iters=1 --set run.log_every=1 --set run.sample_every=0 --set eval.steps=1 --set eval.n=16)
    case $name in fmnist-gpu|icd-*) extra+=(--set run.batch=16) ;; esac
    read -r ks kz < <("$ebm" train "$cfg" --print-config 2>/dev/null | awk '/^\[/ {s = $1}
        s == "[sampler]" && $1 == "steps" {k = $3} s == "[dual]" && $1 == "z_steps" {z = $3} END {print k + 0, z + 0}')
    extra+=(--set sampler.steps=$((ks < kmax ? ks : kmax)) --set dual.z_steps=$((kz < kmax ? kz : kmax)))
    [ "$eps" = 0 ] || extra+=(--set optim.eps="$eps")
    for d in "$a" "$b"; do
        rm -rf "$out/$name-$d"
        "$ebm" train "$cfg" --out "$out/$name-$d" --device "$d" "${extra[@]}" > "$out/$name-$d.log" 2>&1 ||
            { echo "$name on $d: failed (see $out/$name-$d.log)"; tail -3 "$out/$name-$d.log"; status=1; continue 2; }
    done
    python3 tools/compare_metrics.py --tol "$tol" --devices "$a" "$b" "$name" "$out/$name-$a/metrics.jsonl" \
        "$out/$name-$b/metrics.jsonl" || status=1
done
exit $status
} | tee "$out/compare.txt"
exit "${PIPESTATUS[0]}"
