# cli_lib.sh — what the shell tests of the `ebm` program share (sourced after EBM and fail() are set).

# kill_and_resume FULL KILLED CKPT WAIT LAST [train args...]: starts `ebm train ARGS --out KILLED`
# with run.iters out of reach (however late the polling sees iteration WAIT, the run is still going),
# kills it with SIGKILL once metrics.jsonl logs iteration WAIT (after the checkpoint of iteration
# CKPT), resumes it with run.iters=LAST, and requires its checkpoint to be byte-identical to FULL's
# (LAST iterations), the same training never stopped.
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
    "$EBM" train --resume "$killed" --set run.iters=$last 2> "$killed.resumed.log" > /dev/null || { cat "$killed.resumed.log"; fail "$killed: resume"; }
    grep "resumed" "$killed.resumed.log"
    cmp "$full/checkpoint.safetensors" "$killed/checkpoint.safetensors" ||
        fail "$killed: the killed and resumed run's checkpoint differs from the uninterrupted run's"
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
