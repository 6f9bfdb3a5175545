#!/usr/bin/env bash
# untrusted_cli.sh EBM CONFIGS WORKDIR — the `ebm` program with shared run folders and bad input:
#   1. a run folder belongs to one training: a second training into it while the first runs is
#      refused (the lock), a new run over a finished one is refused (--resume or --overwrite), and
#      --overwrite starts again with nothing of the old run left in metrics.jsonl;
#   2. checkpoint metadata out of range (iter -1, optim_steps INT64_MAX, lr_scale 0) is refused on
#      resume with a message naming the counter (iter -1 used to index the data out of bounds);
#   3. a metrics row that cannot be written (metrics.jsonl on /dev/full) stops training with a
#      non-zero exit, as it stops `ebm eval`;
#   4. temporary files of killed processes are removed when a run starts; a resume drops the
#      metrics rows logged after the checkpoint (no duplicates) and a torn last line;
#   5. config values that would wrap or could not be read back, and a folder given as CONFIG, are
#      errors before anything runs.
set -u
EBM=$1 CONFIGS=$2 WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
cfg=$CONFIGS/toy-8gaussians.ini
quick=(--set run.log_every=10 --set run.ckpt_every=20 --set run.sample_every=0 --set eval.n=64 --set eval.steps=2)

echo "== 1. one training per run folder"
"$EBM" train "$cfg" --out "$WORK/a" --set run.iters=1000000000 "${quick[@]}" > /dev/null 2> "$WORK/a.log" &
pid=$!
for _ in $(seq 1 600); do [ -s "$WORK/a/metrics.jsonl" ] && break; sleep 0.1; done   # training, holding the lock
[ -s "$WORK/a/metrics.jsonl" ] || { kill $pid; cat "$WORK/a.log"; fail "the first training did not start"; }
"$EBM" train "$cfg" --out "$WORK/a" --overwrite --set run.iters=10 > /dev/null 2> "$WORK/b.log" && { kill $pid; fail "a second training into a busy folder ran"; }
grep -q "is in use: another \`ebm train\` (pid $pid)" "$WORK/b.log" || { kill $pid; cat "$WORK/b.log"; fail "no message naming the training that holds the folder"; }
kill -INT $pid
wait $pid
echo "ok   a second training into a folder being trained is refused, naming pid $pid"
cp "$WORK/a/checkpoint.safetensors" "$WORK/a.ckpt"
"$EBM" train "$cfg" --out "$WORK/a" --set run.iters=10 > /dev/null 2> "$WORK/c.log"
rc=$?
[ $rc = 2 ] || fail "a new run over a finished one: exit $rc, expected 2"
grep -q "already holds a run" "$WORK/c.log" && grep -q -- "--resume" "$WORK/c.log" && grep -q -- "--overwrite" "$WORK/c.log" ||
    { cat "$WORK/c.log"; fail "no message suggesting --resume or --overwrite"; }
cmp -s "$WORK/a.ckpt" "$WORK/a/checkpoint.safetensors" || fail "the refused run changed the checkpoint"
"$EBM" train "$cfg" --out "$WORK/a" --overwrite --set run.iters=20 "${quick[@]}" > /dev/null 2> "$WORK/d.log" || { cat "$WORK/d.log"; fail "--overwrite"; }
[ "$(grep -c '"iter"' "$WORK/a/metrics.jsonl")" = 2 ] || { cat "$WORK/a/metrics.jsonl"; fail "--overwrite kept the old run's metrics"; }
echo "ok   a new run over a finished one is refused (checkpoint untouched); --overwrite starts again"

echo "== 2. checkpoint counters out of range"
# set_meta CKPT KEY VALUE: rewrite one __metadata__ entry of a safetensors file
set_meta() {
    python3 - "$@" <<'PY'
import json, struct, sys
path, key, value = sys.argv[1:]
data = open(path, "rb").read()
n = struct.unpack("<Q", data[:8])[0]
head = json.loads(data[8:8 + n])
head["__metadata__"][key] = value
h = json.dumps(head, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(path, "wb").write(struct.pack("<Q", len(h)) + h + data[8 + n:])
PY
}
for kv in "iter -1" "iter -100000000" "optim_steps 9223372036854775807" "lr_scale 0" "rollbacks x"; do
    set -- $kv
    rm -rf "$WORK/m" && mkdir "$WORK/m" && cp "$WORK/a/checkpoint.safetensors" "$WORK/m/"
    set_meta "$WORK/m/checkpoint.safetensors" "$1" "$2" || fail "rewriting the checkpoint's metadata (python3)"
    "$EBM" train --resume "$WORK/m" --set run.iters=40 > /dev/null 2> "$WORK/m.log" && fail "resumed a checkpoint with $1 = $2"
    grep -q "__metadata__ $1 = \"$2\"" "$WORK/m.log" || { cat "$WORK/m.log"; fail "no message naming $1 = $2"; }
    echo "ok   checkpoint with $1 = $2 refused: $(grep -m1 __metadata__ "$WORK/m.log" | cut -c1-120)"
done

echo "== 3. a metrics row that cannot be written stops the command"
mkdir -p "$WORK/full" && ln -s /dev/full "$WORK/full/metrics.jsonl"
"$EBM" train "$cfg" --out "$WORK/full" --set run.iters=40 "${quick[@]}" > /dev/null 2> "$WORK/full.log" && fail "training went on with a full disk"
grep -q "metrics.jsonl: writing a row failed: No space left on device" "$WORK/full.log" || { cat "$WORK/full.log"; fail "no message about the failed write"; }
grep -q "done after" "$WORK/full.log" && fail "training finished although no metrics were written"
echo "ok   training stops at the first row it cannot write"
rm "$WORK/a/metrics.jsonl" && ln -s /dev/full "$WORK/a/metrics.jsonl"
"$EBM" eval "$WORK/a" > /dev/null 2> "$WORK/eval.log" && fail "ebm eval exited 0 after a failed write"
grep -q "No space left on device" "$WORK/eval.log" || { cat "$WORK/eval.log"; fail "ebm eval: no message about the failed write"; }
rm "$WORK/a/metrics.jsonl"
echo "ok   ebm eval exits 1 when its row cannot be written"

echo "== 4. stale temporary files, rows past the checkpoint"
dead=$(sh -c 'echo $$')   # a process id that has ended
touch "$WORK/a/checkpoint.safetensors.tmp.$dead" "$WORK/a/samples/heatmap_000020.png.tmp.$dead" "$WORK/a/keep.tmp.$$"
printf '{"iter":30,"e_pos":1}\n{"iter":40,"e_p' >> "$WORK/a/metrics.jsonl"   # logged after the checkpoint of 20, then killed
"$EBM" train --resume "$WORK/a" --set run.iters=40 > /dev/null 2> "$WORK/r.log" || { cat "$WORK/r.log"; fail "resume"; }
[ ! -e "$WORK/a/checkpoint.safetensors.tmp.$dead" ] && [ ! -e "$WORK/a/samples/heatmap_000020.png.tmp.$dead" ] ||
    fail "temporary files of an ended process were left"
[ -e "$WORK/a/keep.tmp.$$" ] || fail "a temporary file of a running process was removed"
python3 -c "import json, sys; rows = [json.loads(l) for l in open(sys.argv[1])]; its = [r['iter'] for r in rows if 'event' not in r]; \
sys.exit(0 if its == [30, 40] else 1)" "$WORK/a/metrics.jsonl" || { cat "$WORK/a/metrics.jsonl"; fail "metrics after resume: expected iterations 30, 40 once each"; }
echo "ok   temporary files of ended processes removed; metrics rows past the checkpoint and a torn line dropped"

echo "== 5. bad configs before anything runs"
expect_refused() {   # what the message must contain, then the ebm arguments
    local want=$1
    shift
    "$EBM" "$@" > /dev/null 2> "$WORK/e.log" && fail "ebm $* ran"
    grep -qF -- "$want" "$WORK/e.log" || { cat "$WORK/e.log"; fail "ebm $*: no message \"$want\""; }
    echo "ok   refused: $(head -1 "$WORK/e.log" | cut -c1-140)"
}
expect_refused "out of range: an integer in [1, 65536]" train "$cfg" --out "$WORK/x" --set run.batch=4294967297
expect_refused "out of range: an integer in [0, 1000000]" train "$cfg" --out "$WORK/x" --set sampler.steps=-2147483649
expect_refused "out of range: a number in [0, 0.999999]" train "$cfg" --out "$WORK/x" --set optim.ema=2
expect_refused "does not fit an INI line" train "$cfg" --out "$WORK/x" --set "data.source=$(printf '/data/%0230d' 0)"
expect_refused "is a folder, not a config file" train "$CONFIGS" --out "$WORK/x"
[ ! -e "$WORK/x" ] || fail "a refused run created its folder"
echo "all untrusted-input checks passed"
