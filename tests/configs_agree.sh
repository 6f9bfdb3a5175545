#!/usr/bin/env bash
# configs_agree.sh COMPARE_METRICS TAG_A DIR_A TAG_B DIR_B — iteration 1 of every config agrees on two
# OpenCL devices: the `configs` test's runs (tests/configs_smoke.sh: every config shrunk, chains of 2
# steps, optimizer eps 1) on device A and device B, every number within 1e-4 relative
# (tools/compare_metrics.py; the tolerance and the settings are derived in tools/compare_devices.sh).
# Exits 77 (skipped) without python3.
set -u
CMP=$1 A=$2 DA=$3 B=$4 DB=$5
command -v python3 > /dev/null || { echo "configs_agree: SKIPPED, no python3"; exit 77; }
args=()
for run in "$DA"/*/; do
    name=$(basename "$run")
    [ -f "$run/metrics.jsonl" ] || continue
    [ -f "$DB/$name/metrics.jsonl" ] || { echo "FAIL: $name ran on $A but not on $B"; exit 1; }
    args+=("$name" "$run/metrics.jsonl" "$DB/$name/metrics.jsonl")
done
[ ${#args[@]} -ge 15 ] || { echo "FAIL: only $((${#args[@]} / 3)) configs ran on both devices"; exit 1; }
python3 "$CMP" --tol 1e-4 --devices "$A" "$B" "${args[@]}"
