#!/usr/bin/env bash
# oclgrind_train.sh EBM CONFIG WORK [--set k=v]... — two training iterations of CONFIG under Oclgrind
# (tests/oclgrind.sh), shrunk to what a simulator runs in about a minute: 16 8x8 images (an IDX file
# this script writes), batch 2, channel base 4, one Langevin step, a replay buffer of 8, and one
# Langevin step for the end-of-run picture. Oclgrind's race detector clears its record of every
# byte of every live buffer after each kernel, so its time grows with launches x device memory:
# a 28x28 ResNet iteration took 8 minutes. Each tensor gets a buffer of its exact size, released
# with it (EBM_EXACT_BUFFERS=1), so that one element past a tensor is out of bounds for Oclgrind
# too: the shrunk ResNet run took 26 s this way, 19 s with pooled buffers (EBM_EXACT_BUFFERS=0).
set -u
EBM=$1 CONFIG=$2 WORK=$3
shift 3
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$WORK" && mkdir -p "$WORK"
idx=$WORK/tiny-images-idx3-ubyte
{
    printf '\x00\x00\x08\x03\x00\x00\x00\x10\x00\x00\x00\x08\x00\x00\x00\x08'   # 16 images of 8 x 8
    LC_ALL=C awk 'BEGIN { for (i = 0; i < 16 * 64; i++) printf "%c", (73 * i + 7 * i * i) % 256 }'
} > "$idx"
EBM_EXACT_BUFFERS=1 exec bash "$HERE/oclgrind.sh" "$WORK/oclgrind.log" "$EBM" train "$CONFIG" --out "$WORK/run" \
    --set data.source="$idx" --set run.iters=2 --set run.batch=2 --set run.log_every=1 --set model.base=4 \
    --set sampler.steps=1 --set eval.n=4 --set eval.steps=1 --set optim.eps=1 --set buffer.capacity=8 "$@"
