#!/usr/bin/env bash
# mpi_cli.sh EBM CONFIGS WORKDIR — data-parallel training under mpirun (2 ranks; --oversubscribe lets
# them share a 2-core machine), on the device of $EBM_DEVICE:
#   1. 2 ranks x batch/2 compute what 1 rank x batch computes, up to the order of float32 sums
#      (tests/mpi_compare.py derives the tolerance): 5 iterations of CD on 8 gaussians (chains from
#      noise: per-rank replay buffers are per-rank chains, not the same ones) and of MEG on 25
#      gaussians (energy, generator and critic; 30 optimizer steps); every metrics row says "ranks";
#      a 1-rank mpirun equals a plain run byte for byte;
#   2. a 2-rank CD run with replay buffers killed (SIGKILL to mpirun and its ranks) after a checkpoint
#      and resumed with 2 ranks ends byte-identical to the uninterrupted 2-rank run (every rank's buffer
#      is in the checkpoint; ordered all-reduce); resuming it with 1 rank is refused with a message;
#      SIGTERM to the job checkpoints once and exits cleanly (resumable); a rank killed by SIGKILL ends
#      the job with a message naming it and the last checkpoint resumes; a diverging job rolls back on
#      every rank together and finishes;
#   2d. class-conditional CD (model.classes): 2 ranks x batch/2 = 1 rank x batch with chains from noise
#      (uniform labels drawn as one rank would); with replay buffers every rank's buffer labels are in
#      the checkpoint (replay.labels.rank1) and a resumed 2-rank run ends byte-identical;
#   2e. the toy configs of ddgm, dual, sm, nce, jem, rbm and CD-k train 4 iterations with 2 ranks and
#      end with the same state on both (no "states differ" at the checkpoint);
#   3. a heterogeneous job, rank 0 on PoCL and rank 1 on Intel's CPU runtime (--device pocl,intel),
#      matches the PoCL-only 2-rank run within the same tolerance (skipped without both runtimes).
# Exits 77 (skipped) when mpirun is missing or ebm is built without MPI.
set -u
EBM=$1 CONFIGS=$2 WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
HERE=$(dirname "$0")
. "$HERE/cli_lib.sh"
command -v mpirun > /dev/null || { echo "SKIP: mpirun not found (Debian: openmpi-bin)"; exit 77; }
ldd "$EBM" 2> /dev/null | grep -q libmpi || { echo "SKIP: $EBM is built without MPI (cmake -DEBM_MPI=ON, libopenmpi-dev)"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
MPI=(mpirun --oversubscribe -np 2)

# compare A B INIT STEPS: tests/mpi_compare.py (numpy: Debian's python3 when the first python3 on PATH
# lacks it); exit status 1 when they differ, and this whole test skips (77) when no python3 has numpy
compare() {
    python3 "$HERE/mpi_compare.py" "$@"
    local rc=$?
    [ $rc -eq 77 ] && exit 77
    return $rc
}

# equal NAME CONFIG STEPS [--set k=v]...: 1 rank vs 2 ranks from the same initial checkpoint
equal() {
    local name=$1 cfg=$2 steps=$3
    shift 3
    local d="$WORK/$name"
    "$EBM" train "$cfg" --out "$d-init" "$@" --set run.iters=0 2> /dev/null > /dev/null || fail "$name: initial checkpoint"
    "$EBM" train "$cfg" --out "$d-1" "$@" 2> "$d-1.log" > /dev/null || { cat "$d-1.log"; fail "$name: 1 rank"; }
    "${MPI[@]}" "$EBM" train "$cfg" --out "$d-2" "$@" > "$d-2.log" 2>&1 || { cat "$d-2.log"; fail "$name: 2 ranks"; }
    grep -q "with 2 ranks" "$d-2.log" || fail "$name: the first progress line does not say 2 ranks"
    [ "$(grep -c '"ranks":2' "$d-2/metrics.jsonl")" = "$(wc -l < "$d-2/metrics.jsonl")" ] || fail "$name: a metrics row lacks \"ranks\":2"
    grep -q '"ranks":1' "$d-1/metrics.jsonl" || fail "$name: a 1-rank row lacks \"ranks\":1"
    compare "$d-1/checkpoint.safetensors" "$d-2/checkpoint.safetensors" "$d-init/checkpoint.safetensors" "$steps" ||
        fail "$name: 2 ranks x batch/2 differ from 1 rank x batch"
}

echo "== 1. 2 ranks x B/2 = 1 rank x B (CD, MEG), 1-rank mpirun = plain run"
SGD=(--set optim.kind=sgd --set optim.lr=0.01 --set run.sample_every=0 --set run.log_every=1 --set run.iters=5)
equal cd "$CONFIGS/toy-8gaussians.ini" 5 "${SGD[@]}" --set buffer.capacity=0
equal meg "$CONFIGS/meg-25gaussians.ini" 30 "${SGD[@]}"
mpirun -np 1 "$EBM" train "$CONFIGS/toy-8gaussians.ini" --out "$WORK/np1" "${SGD[@]}" --set buffer.capacity=0 2> /dev/null > /dev/null ||
    fail "mpirun -np 1"
cmp "$WORK/cd-1/checkpoint.safetensors" "$WORK/np1/checkpoint.safetensors" || fail "a 1-rank mpirun differs from a plain run"

echo "== 2. 2 ranks with replay buffers: kill -9 and resume = uninterrupted; 1-rank resume refused; SIGTERM"
# the killed run's run.iters is out of reach, so however late the polling sees iteration 30 (the ranks
# spin on both cores) the kill lands before its end; resumed with run.iters=1000 it must equal the
# uninterrupted 1000-iteration run (where the kill landed past 1000, resume_matches compares with a run
# straight to the checkpoint's iteration + 100)
RUN=(train "$CONFIGS/toy-8gaussians.ini" --set run.iters=1000 --set run.ckpt_every=20 --set run.log_every=10 --set run.sample_every=0)
"${MPI[@]}" "$EBM" "${RUN[@]}" --out "$WORK/full" > "$WORK/full.log" 2>&1 || { cat "$WORK/full.log"; fail "2-rank run"; }
setsid "${MPI[@]}" "$EBM" "${RUN[@]}" --set run.iters=1000000000 --out "$WORK/killed" > "$WORK/killed.log" 2>&1 &
pid=$!
for _ in $(seq 1 2400); do   # at most 2 minutes: after the checkpoint of iteration 20
    grep -q '"iter":30[,}]' "$WORK/killed/metrics.jsonl" 2> /dev/null && break
    sleep 0.05
done
kill -9 $(pgrep -P $pid) $pid 2> /dev/null
wait $pid 2> /dev/null
sleep 0.5
left=$(pgrep -f -- "--out $WORK/killed")   # a rank outside mpirun's children would train on
[ -z "$left" ] || { kill -9 $left; fail "processes of the killed job outlived SIGKILL to mpirun and its children: $left"; }
grep -q '"iter":20[,}]' "$WORK/killed/metrics.jsonl" || fail "the run was killed before its checkpoint of iteration 20"
python3 - "$WORK/killed/checkpoint.safetensors" <<'EOF' || fail "the checkpoint lacks rank 1's replay buffer"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
assert "replay.buffer" in h and "replay.buffer.rank1" in h and h["__metadata__"]["ranks"] == "2", sorted(h)
print("checkpoint of iteration", h["__metadata__"]["iter"], "holds replay.buffer and replay.buffer.rank1")
EOF
"$EBM" train --resume "$WORK/killed" > "$WORK/one.log" 2>&1 && fail "a 2-rank checkpoint with buffers resumed with 1 rank"
grep -q "resume it with 2 ranks" "$WORK/one.log" || { cat "$WORK/one.log"; fail "no clear message resuming with 1 rank"; }
LAUNCH=("${MPI[@]}")
resume_matches "$WORK/full" "$WORK/killed" 1000 "${RUN[@]:1}"
unset LAUNCH
# SIGTERM to mpirun: Open MPI passes SIGTERM to the ranks odls_base_sigkill_timeout seconds later and
# SIGKILL as long again after that (its stderr forwarding already closed); the ranks agree on an
# iteration, checkpoint once (ckpt_every is out of reach: only a checkpoint taken on the signal is past
# iteration 0) and exit
setsid "${MPI[@]}" --mca odls_base_sigkill_timeout 5 "$EBM" "${RUN[@]}" --set run.iters=1000000000 --set run.ckpt_every=1000000000 \
    --out "$WORK/term" > "$WORK/term.log" 2>&1 &
pid=$!
for _ in $(seq 1 2400); do
    grep -q '"iter":20[,}]' "$WORK/term/metrics.jsonl" 2> /dev/null && break
    sleep 0.05
done
kill -TERM $pid
wait $pid
it=$(ckpt_iter "$WORK/term/checkpoint.safetensors")
echo "SIGTERM: checkpoint of iteration $it"
[ "${it:-0}" -ge 20 ] || { cat "$WORK/term.log"; fail "SIGTERM: no checkpoint of the iteration the job stopped at"; }
"${MPI[@]}" "$EBM" train --resume "$WORK/term" --set run.iters=$((it + 10)) > "$WORK/term2.log" 2>&1 ||
    { cat "$WORK/term2.log"; fail "resume after SIGTERM"; }

echo "== 2b. a rank killed (SIGKILL): the job ends with mpirun's message, the last checkpoint resumes"
setsid "${MPI[@]}" "$EBM" "${RUN[@]}" --set run.iters=1000000000 --out "$WORK/dead" > "$WORK/dead.log" 2>&1 &
pid=$!
for _ in $(seq 1 2400); do
    grep -q '"iter":30[,}]' "$WORK/dead/metrics.jsonl" 2> /dev/null && break
    sleep 0.05
done
for p in $(pgrep -P $pid); do   # the process of rank 1
    tr '\0' '\n' < /proc/$p/environ | grep -qx "OMPI_COMM_WORLD_RANK=1" && kill -9 $p && echo "killed rank 1 (pid $p)"
done
for _ in $(seq 1 600); do kill -0 $pid 2> /dev/null || break; sleep 0.1; done   # the job must end by itself
kill -0 $pid 2> /dev/null && { kill -9 $(pgrep -P $pid) $pid; fail "the job did not end when a rank died"; }
wait $pid && fail "the job exited 0 after a rank died"
grep -i "rank 1" "$WORK/dead.log" | grep -i "signal 9\|killed" | head -2
grep -qi "rank 1.*\(signal 9\|killed\)" "$WORK/dead.log" || { cat "$WORK/dead.log"; fail "no message naming the dead rank"; }
it_dead=$(ckpt_iter "$WORK/dead/checkpoint.safetensors")
echo "the last checkpoint: iteration $it_dead"
[ "${it_dead:-0}" -ge 20 ] || fail "no checkpoint past iteration 0 before the rank was killed"
"${MPI[@]}" "$EBM" train --resume "$WORK/dead" --set run.iters=$((it_dead + 10)) > "$WORK/dead2.log" 2>&1 || { cat "$WORK/dead2.log"; fail "resume after a rank died"; }
grep "resumed" "$WORK/dead2.log"

echo "== 2c. divergence on one rank: every rank rolls back together and the job finishes"
# |mean E(x+)| over each rank's 64 rows against a tight bound: at some iterations one rank's half-batch
# exceeds it and the other's does not (the ranks then skip the rest of the iteration's all-reduces and
# both reload the checkpoint; ranks that disagreed would wait on each other or differ in state)
"${MPI[@]}" "$EBM" train "$CONFIGS/toy-8gaussians.ini" --out "$WORK/unstable" --set run.diverge_bound=0.03 --set run.max_rollbacks=100 \
    --set run.iters=12 --set run.ckpt_every=5 --set run.sample_every=0 > "$WORK/unstable.log" 2>&1 ||
    { cat "$WORK/unstable.log"; fail "the 2-rank run with divergences did not finish"; }
grep "diverged on" "$WORK/unstable.log" | sort | uniq -c
grep -q "iteration [0-9]* diverged on 1 of 2 ranks" "$WORK/unstable.log" || fail "no divergence of one rank of two"
grep -q "rolled back to the checkpoint of iteration" "$WORK/unstable.log" || fail "no rollback reported"
grep '"event":"rollback"' "$WORK/unstable/metrics.jsonl" | grep -q '"ranks":2' || fail "no rollback event of 2 ranks in metrics.jsonl"
grep -q "states differ" "$WORK/unstable.log" && fail "the ranks' states drifted apart on one device"
[ "$(ckpt_iter "$WORK/unstable/checkpoint.safetensors")" = 12 ] || fail "the job did not reach iteration 12"

echo "== 2d. class-conditional CD: 2 ranks x B/2 = 1 rank x B; with buffers, every rank's labels in the checkpoint"
# 24 labelled 8x8 images (3 classes); chains from noise draw uniform labels: the two ranks' draws together
# must be the labels one rank draws for the whole batch
labelled_idx "$WORK" || fail "writing the labelled images"
COND=(--set data.source="$WORK/train-images-idx3-ubyte" --set data.label_channel=-1 --set model.classes=3 --set model.base=2
      --set model.scales=1 --set run.batch=8 --set sampler.steps=2 --set eval.n=8 --set eval.steps=2)
equal cond "$CONFIGS/cond-stacked-fmnist-laptop.ini" 5 "${SGD[@]}" "${COND[@]}" --set buffer.capacity=0
CB=(train "$CONFIGS/cond-stacked-fmnist-laptop.ini" "${COND[@]}" --set buffer.capacity=16 --set run.sample_every=0 --set run.log_every=1
    --set run.ckpt_every=4)
"${MPI[@]}" "$EBM" "${CB[@]}" --set run.iters=8 --out "$WORK/cb-full" > "$WORK/cb-full.log" 2>&1 ||
    { cat "$WORK/cb-full.log"; fail "conditioned 2-rank run"; }
"${MPI[@]}" "$EBM" "${CB[@]}" --set run.iters=4 --out "$WORK/cb-half" > "$WORK/cb-half.log" 2>&1 ||
    { cat "$WORK/cb-half.log"; fail "conditioned 2-rank run, 4 iterations"; }
python3 - "$WORK/cb-half/checkpoint.safetensors" <<'EOF' || fail "the conditioned checkpoint lacks a rank's labels"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
for name in ("replay.labels", "replay.labels.rank1"):
    a, e = h[name]["data_offsets"]
    v = struct.unpack(f"<{(e - a) // 4}f", b[8 + n + a:8 + n + e])
    assert len(v) == 16 and all(x in (0.0, 1.0, 2.0) for x in v) and len(set(v)) > 1, (name, v)
print("ok   the checkpoint holds replay.labels and replay.labels.rank1 (16 classes each, not all the same)")
EOF
"${MPI[@]}" "$EBM" train --resume "$WORK/cb-half" --set run.iters=8 > "$WORK/cb-resumed.log" 2>&1 ||
    { cat "$WORK/cb-resumed.log"; fail "conditioned 2-rank resume"; }
grep -q "states differ" "$WORK/cb-full.log" "$WORK/cb-resumed.log" && fail "the conditioned ranks' states differ"
cmp "$WORK/cb-full/checkpoint.safetensors" "$WORK/cb-half/checkpoint.safetensors" ||
    fail "a conditioned 2-rank run resumed at iteration 4 differs from the uninterrupted one"
echo "ok   a conditioned 2-rank run resumed at iteration 4 ends byte-identical to the uninterrupted one"

echo "== 2e. every other method's toy config trains with 2 ranks and the ranks end in the same state"
# At each checkpoint the ranks compare a hash of their parameters and optimizer state and print "states
# differ" when they do (on one device that is a bug: a rank-local quantity that was not reduced, as NCE's
# c once was, initialised from each rank's half of the first batch).
for c in ddgm-25gaussians dual-25gaussians sm-8gaussians nce-8gaussians jem-8gaussians rbm-bars4 cdk-8gaussians; do
    "${MPI[@]}" "$EBM" train "$CONFIGS/$c.ini" --out "$WORK/m-$c" --set run.iters=4 --set run.log_every=2 --set run.sample_every=0 \
        > "$WORK/m-$c.log" 2>&1 || { cat "$WORK/m-$c.log"; fail "$c with 2 ranks"; }
    grep -q "states differ" "$WORK/m-$c.log" && { cat "$WORK/m-$c.log"; fail "$c: the ranks' states differ"; }
    [ "$(grep -c '"ranks":2' "$WORK/m-$c/metrics.jsonl")" -ge 2 ] || fail "$c: metrics rows without \"ranks\":2"
    echo "ok   $c: 2 ranks, the same state on both"
done

echo "== 3. heterogeneous job: rank 0 on PoCL, rank 1 on Intel's CPU runtime"
if "$EBM" devices 2> /dev/null | grep -qi "intel" && "$EBM" devices 2> /dev/null | grep -qi "pocl"; then
    H=(--set buffer.capacity=0 "${SGD[@]}")
    "${MPI[@]}" "$EBM" train "$CONFIGS/toy-8gaussians.ini" --out "$WORK/homo" --device pocl "${H[@]}" > "$WORK/homo.log" 2>&1 ||
        { cat "$WORK/homo.log"; fail "PoCL 2-rank run"; }
    "${MPI[@]}" "$EBM" train "$CONFIGS/toy-8gaussians.ini" --out "$WORK/hetero" --device pocl,intel "${H[@]}" > "$WORK/hetero.log" 2>&1 ||
        { cat "$WORK/hetero.log"; fail "heterogeneous run"; }
    grep "rank [01] of 2" "$WORK/hetero.log"
    grep -q "rank 1 of 2: .*(intel)" "$WORK/hetero.log" || fail "rank 1 is not on Intel's runtime"
    grep -q "rank 0 of 2: .*(pocl)" "$WORK/hetero.log" || fail "rank 0 is not on PoCL"
    compare "$WORK/homo/checkpoint.safetensors" "$WORK/hetero/checkpoint.safetensors" \
        "$WORK/cd-init/checkpoint.safetensors" 5 || fail "the heterogeneous job differs from the PoCL-only one"
else
    echo "(skipped: needs both PoCL and Intel's runtime; eval \"\$(tools/opencl_vendors.sh)\" registers Intel's)"
fi
echo "PASS"
