# cli_lib.sh — what the shell tests of the `ebm` program share (sourced after EBM and fail() are set).

# ckpt_iter CHECKPOINT: the iteration in its __metadata__
ckpt_iter() {
    python3 -c "import json,struct,sys; b=open(sys.argv[1],'rb').read(); print(json.loads(b[8:8+struct.unpack('<Q',b[:8])[0]])['__metadata__']['iter'])" "$1"
}

# resume_matches FULL STOPPED LAST [train args...]: STOPPED is a run of `ebm train ARGS` with run.iters
# out of reach, stopped (killed or interrupted) after a checkpoint; resumes it with run.iters=LAST and
# requires its checkpoint to be byte-identical to FULL's, the same training to LAST never stopped.
# Where the stop landed at or past LAST (on a busy machine, or with ranks that spin on every core, the
# polling sees the iteration it waits for late), the comparison is with a run trained straight to the
# checkpoint's iteration + 100 (STOPPED.straight) instead. ${LAUNCH[@]} (e.g. mpirun -np 2) prefixes
# every ebm command.
resume_matches() {
    local full=$1 stopped=$2 last=$3 at
    shift 3
    at=$(ckpt_iter "$stopped/checkpoint.safetensors") || fail "$stopped: no readable checkpoint"
    if [ "$at" -ge "$last" ]; then
        last=$((at + 100)) full=$stopped.straight
        echo "$stopped: stopped at the checkpoint of iteration $at; comparing with a run trained straight to $last"
        ${LAUNCH[@]+"${LAUNCH[@]}"} "$EBM" train "$@" --set run.iters=$last --out "$full" > "$full.log" 2>&1 ||
            { cat "$full.log"; fail "$full: training straight to $last"; }
    fi
    ${LAUNCH[@]+"${LAUNCH[@]}"} "$EBM" train --resume "$stopped" --set run.iters=$last > "$stopped.resumed.log" 2>&1 ||
        { cat "$stopped.resumed.log"; fail "$stopped: resume"; }
    grep "resumed" "$stopped.resumed.log"
    cmp "$full/checkpoint.safetensors" "$stopped/checkpoint.safetensors" ||
        fail "$stopped: the stopped and resumed run's checkpoint differs from $full's"
}

# kill_and_resume FULL KILLED CKPT WAIT LAST [train args...]: starts `ebm train ARGS --out KILLED`
# with run.iters out of reach, kills it with SIGKILL once metrics.jsonl logs iteration WAIT (after the
# checkpoint of iteration CKPT), and requires resume_matches FULL KILLED LAST
kill_and_resume() {
    local full=$1 killed=$2 ckpt=$3 wait=$4 last=$5 pid
    shift 5
    "$EBM" train "$@" --set run.iters=1000000000 --out "$killed" 2> "$killed.log" > /dev/null &
    pid=$!
    for _ in $(seq 1 2400); do   # at most 2 minutes
        grep -q "\"iter\":$wait[,}]" "$killed/metrics.jsonl" 2>/dev/null && break
        sleep 0.05
    done
    kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
    grep -q "\"iter\":$ckpt[,}]" "$killed/metrics.jsonl" || fail "$killed: the run was killed before its checkpoint of iteration $ckpt"
    resume_matches "$full" "$killed" "$last" "$@"
}

# covers RUN MIN_HQ [eval args...]: `ebm eval RUN` must cover 8 of 8 modes with at least MIN_HQ of the
# samples within 3 sd of a mode; prints the JSON
covers() {
    local run=$1 min=$2 out covered hq
    shift 2
    out=$("$EBM" eval "$run" "$@") || fail "eval $run"
    echo "$out"
    covered=$(echo "$out" | sed -n 's/.*"modes_covered":\([0-9]*\).*/\1/p')
    hq=$(echo "$out" | sed -n 's/.*"high_quality":\([0-9.]*\).*/\1/p')
    [ "$covered" = 8 ] || fail "$run: covered $covered of 8 modes"
    awk -v h="$hq" -v m="$min" 'BEGIN { exit !(h >= m) }' || fail "$run: high-quality fraction $hq < $min"
}

# labelled_idx DIR: 24 random 8x8 images in three classes (label i mod 3) as DIR/train-images-idx3-ubyte
# and DIR/train-labels-idx1-ubyte (MNIST's naming: the labels file beside the images)
labelled_idx() {
    python3 - "$1" <<'EOF'
import struct, sys, random
random.seed(1)
n, s = 24, 8
px = bytes(random.randrange(256) for _ in range(n * s * s))
open(sys.argv[1] + "/train-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, n, s, s) + px)
open(sys.argv[1] + "/train-labels-idx1-ubyte", "wb").write(struct.pack(">II", 0x801, n) + bytes(i % 3 for i in range(n)))
EOF
}
