#!/usr/bin/env bash
# bench/mpi.sh [-b BUILD] [-n ITERS] [-r "1 2"] CONFIG [--set k=v]... — data-parallel training speed:
# trains CONFIG for 2 x ITERS iterations with each rank count of -r (mpirun; 1 rank: a plain run) and
# prints a markdown row per rank count from the second half's metrics.jsonl row (the first half holds
# kernel builds and warm-up): milliseconds per iteration on rank 0, of them transfers (the gradient
# all-reduces with their device-host copies), waiting for the slowest rank (the header exchanges that
# open each all-reduce and end each iteration), and the rest (compute), and the gradients' size (every
# network's parameters). Needs a build with MPI (EBM_MPI) and mpirun.
set -eu
BUILD=build ITERS=50 RANKS="1 2"
while getopts "b:n:r:" o; do
    case $o in
    b) BUILD=$OPTARG ;;
    n) ITERS=$OPTARG ;;
    r) RANKS=$OPTARG ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
CONFIG=$1
shift
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "| config | ranks | batch per rank | parameters (all networks) | ms / iteration | transfers | waiting | compute |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for n in $RANKS; do
    args=(train "$CONFIG" --out "$WORK/r$n" --set run.iters=$((2 * ITERS)) --set run.log_every="$ITERS" --set run.sample_every=0
          --set run.ckpt_every=$((2 * ITERS)) "$@")
    if [ "$n" = 1 ]; then "$BUILD/ebm" "${args[@]}" > /dev/null 2> "$WORK/r$n.log"
    else mpirun --oversubscribe -np "$n" "$BUILD/ebm" "${args[@]}" > /dev/null 2> "$WORK/r$n.log"; fi || { cat "$WORK/r$n.log"; exit 1; }
    python3 - "$WORK/r$n" "$CONFIG" "$n" <<'EOF'
import json, struct, sys
run, config, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [json.loads(l) for l in open(run + "/metrics.jsonl") if '"event"' not in l]
last = rows[-1]
b = open(run + "/checkpoint.safetensors", "rb").read()
h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
meta = h.pop("__metadata__")
params = 0
for k, v in h.items():
    if not k.startswith(("ema.", "optim", "replay")) and "exp_avg" not in k:
        p = 1
        for d in v["shape"]:
            p *= d
        params += p
batch = int([l.split("=")[1] for l in meta["config"].splitlines() if l.startswith("batch")][0])
ms = 1e3 / last["it_per_s"]
comm = 1e3 * last.get("comm_s_per_it", 0.0)
wait = 1e3 * last.get("wait_s_per_it", 0.0)
print(f"| {config.split('/')[-1]} | {n} | {batch // n} | {params} ({4 * params / 1e6:.2f} MB) | {ms:.1f} | {comm:.1f} | {wait:.1f} | {ms - comm - wait:.1f} |")
EOF
done
