#!/usr/bin/env bash
# reduce_lanes.sh REDUCE_BITS — runs tests/reduce_bits.c with the long reduction's 1 and 16 items per
# work item (EBM_REDUCE_LANES) on the device EBM_DEVICE names and compares the bits of every output.
set -u
bits=${1:?usage: reduce_lanes.sh REDUCE_BITS}
one=$(EBM_REDUCE_LANES=1 "$bits") || { echo "reduce_bits failed with 1 item per work item:"; echo "$one"; exit 1; }
sixteen=$(EBM_REDUCE_LANES=16 "$bits") || { echo "reduce_bits failed with 16 items per work item:"; echo "$sixteen"; exit 1; }
if [ "$one" != "$sixteen" ]; then
    echo "FAIL: the bits differ between 1 and 16 items per work item"
    diff <(echo "$one") <(echo "$sixteen")
    exit 1
fi
echo "$one"
echo "ok: $(echo "$one" | wc -l) cases, the same bits with 1 and 16 items per work item"
