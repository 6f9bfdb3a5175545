#!/usr/bin/env bash
# Validates, then times conv2d forward / input-grad / weight-grad at the reference workload shapes.
# usage: bench/ops.sh [BUILD_DIR] [DEVICE]   -> bench/results/ops-<device>.csv
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
device=${2:-${EBM_DEVICE:-}}
mkdir -p bench/results
tag=$(printf '%s' "${device:-default}" | tr -c 'A-Za-z0-9_-' '_')
"$build/tests/test_ops" perf ${device:+-d "$device"} --csv "bench/results/ops-$tag.csv"
echo "wrote bench/results/ops-$tag.csv"
