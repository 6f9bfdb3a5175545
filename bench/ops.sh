#!/usr/bin/env bash
# Validates, then times conv2d forward / input-grad / weight-grad at the reference workload shapes.
# usage: bench/ops.sh [BUILD_DIR] [DEVICE]   -> bench/results/ops-<device>.csv
# On a CPU device the fraction of peak is of this host's measured FP32 peak (build/bench_cpu_peak),
# unless EBM_PEAK_GFLOPS is set.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/peak.sh
build=${1:-build}
device=${2:-${EBM_DEVICE:-}}
mkdir -p bench/results
tag=$(printf '%s' "${device:-default}" | tr -c 'A-Za-z0-9_-' '_')
list=$(EBM_DEVICE=$device "$build/ebm" devices)
id=$(awk '/^selected: / {print $2}' <<< "$list")
pk=$(measured_peak "$build" "$id" "$list")
if [ -n "$pk" ]; then export EBM_PEAK_GFLOPS=$pk; fi
"$build/tests/test_ops" perf ${device:+-d "$device"} --csv "bench/results/ops-$tag.csv"
echo "wrote bench/results/ops-$tag.csv"
