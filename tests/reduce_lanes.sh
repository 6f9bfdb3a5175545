#!/usr/bin/env bash
# reduce_lanes.sh REDUCE_BITS [DEVICE_A DEVICE_B] — runs tests/reduce_bits.c (the bits of sums and
# maxima over short and long, contiguous and strided axes) and compares the bits of every output:
# on the device EBM_DEVICE names, with 1 and with 16 items per work item of the long reduction
# (EBM_REDUCE_LANES); with two device selectors, those two devices with their own defaults (every
# device adds in the same order).
set -u
bits=${1:?usage: reduce_lanes.sh REDUCE_BITS [DEVICE_A DEVICE_B]}
if [ $# -ge 3 ]; then
    names=("$2" "$3") envs=("EBM_DEVICE=$2" "EBM_DEVICE=$3")
else
    names=("1 item per work item" "16 items per work item") envs=("EBM_REDUCE_LANES=1" "EBM_REDUCE_LANES=16")
fi
for i in 0 1; do
    out[$i]=$(env "${envs[$i]}" "$bits") || { echo "reduce_bits failed (${names[$i]}):"; echo "${out[$i]}"; exit 1; }
done
if [ "${out[0]}" != "${out[1]}" ]; then
    echo "FAIL: the bits differ between ${names[0]} and ${names[1]}"
    diff <(echo "${out[0]}") <(echo "${out[1]}")
    exit 1
fi
echo "${out[0]}"
echo "ok: $(echo "${out[0]}" | wc -l) cases, the same bits with ${names[0]} and ${names[1]}"
