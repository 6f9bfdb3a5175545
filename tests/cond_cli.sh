#!/usr/bin/env bash
# cond_cli.sh EBM CONFIGS WORKDIR — class-conditional CD (run.method = cd, [model] classes) through the
# `ebm` program, on 24 labelled 8x8 IDX images this script writes (3 classes):
#   1. a conditioned run killed with SIGKILL and resumed ends with a checkpoint byte-identical to the
#      uninterrupted run's: the buffer rows' labels (replay.labels) and the label draws resume too;
#   2. the checkpoint holds replay.labels, one class per buffer row, not all the same;
#   3. `ebm sample --class K` draws on E(x | K) and `--compose RUN:class=K` alone draws the very same
#      chains (byte-identical .npy); another class gives other chains; without --class the marginal
#      -log sum_k exp(-E(x | k)) samples; --class 3 of 3 classes and :class=3 are refused;
#   4. --print-config shows [model] classes and [data] label_channel; configs/cond-stacked-fmnist-laptop.ini
#      parses; label_channel on one-channel data, classes on an MLP are refused with messages.
set -u
EBM=$1 CONFIGS=$2 WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/cli_lib.sh"

labelled_idx "$WORK" || fail "writing the labelled images"
sets=(--set data.source="$WORK/train-images-idx3-ubyte" --set model.net=convnet --set model.base=2 --set model.scales=1
      --set model.classes=3 --set data.label_channel=-1 --set buffer.capacity=16 --set run.batch=4 --set sampler.steps=2 --set run.log_every=1
      --set run.sample_every=0 --set run.ckpt_every=200 --set eval.n=8 --set eval.steps=2)
cfg=$CONFIGS/cond-stacked-fmnist-laptop.ini

echo "== 1. kill -9 mid-run, resume, compare"
"$EBM" train "$cfg" --out "$WORK/full" "${sets[@]}" --set run.iters=600 2> "$WORK/full.log" > /dev/null ||
    { cat "$WORK/full.log"; fail "training"; }
kill_and_resume "$WORK/full" "$WORK/killed" 200 300 600 "$cfg" "${sets[@]}" --set run.iters=600

echo "== 2. replay.labels in the checkpoint"
python3 - "$WORK/full/checkpoint.safetensors" <<'EOF' || fail "replay.labels"
import json, struct, sys
blob = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", blob[:8])
h = json.loads(blob[8:8 + n])
t = h.get("replay.labels")
assert t and t["shape"] == [16], f"replay.labels: {t}"
a, b = t["data_offsets"]
v = struct.unpack(f"<{(b - a) // 4}f", blob[8 + n + a:8 + n + b])
assert all(x in (0.0, 1.0, 2.0) for x in v) and len(set(v)) > 1, f"labels {v}"
assert "cond.0.scale" in h and "ema.cond.3.shift" in h, "FiLM embeddings missing"
print("ok   replay.labels", [int(x) for x in v])
EOF

echo "== 3. sample --class, --compose with a class, the marginal"
common=(--n 16 --steps 20 --seed 5)
"$EBM" sample "$WORK/full" --class 1 --init noise "${common[@]}" --out "$WORK/c1.npy" > /dev/null || fail "sample --class 1"
"$EBM" sample --compose "$WORK/full:class=1" "${common[@]}" --out "$WORK/k1.npy" > /dev/null || fail "--compose RUN:class=1"
cmp "$WORK/c1.npy" "$WORK/k1.npy" || fail "--compose RUN:class=1 differs from sample --class 1 --init noise"
"$EBM" sample --compose "$WORK/full:class=2" "${common[@]}" --out "$WORK/k2.npy" > /dev/null || fail "--compose RUN:class=2"
cmp -s "$WORK/k1.npy" "$WORK/k2.npy" && fail "class 1 and class 2 chains are identical: the class is ignored"
"$EBM" sample "$WORK/full" --init noise "${common[@]}" --out "$WORK/m.npy" > /dev/null || fail "marginal sample"
cmp -s "$WORK/m.npy" "$WORK/c1.npy" && fail "the marginal chains equal class 1's"
"$EBM" sample "$WORK/full" --class all --n 4 --steps 2 --out "$WORK/all.png" > /dev/null && [ -s "$WORK/all.png" ] || fail "--class all"
"$EBM" sample "$WORK/full" --class 3 2> "$WORK/c3.log" && fail "--class 3 of 3 classes accepted"
grep -q "has classes 0 .. 2" "$WORK/c3.log" || fail "unclear --class range error: $(cat "$WORK/c3.log")"
"$EBM" sample --compose "$WORK/full:class=3" 2> "$WORK/k3.log" && fail ":class=3 of 3 classes accepted"
grep -q "the run has classes 0 .. 2" "$WORK/k3.log" || fail "unclear :class range error: $(cat "$WORK/k3.log")"
echo "ok   sample and compose"

echo "== 4. config keys and refusals"
pc=$("$EBM" train "$cfg" --print-config) || fail "--print-config"
echo "$pc" | grep -q "^classes = 10" && echo "$pc" | grep -q "^label_channel = 0" || fail "--print-config lacks classes, label_channel"
"$EBM" train "$cfg" --out "$WORK/bad1" "${sets[@]}" --set data.label_channel=1 --set run.iters=1 2> "$WORK/bad1.log" && fail "label_channel on one channel"
grep -q "label_channel = 1: only stacked three-channel images" "$WORK/bad1.log" || fail "unclear label_channel error: $(cat "$WORK/bad1.log")"
"$EBM" train "$cfg" --out "$WORK/bad2" "${sets[@]}" --set model.net=mlp --set run.iters=1 2> "$WORK/bad2.log" && fail "classes on an mlp"
grep -q "class conditioning needs \[model\] net = convnet, multiscale or resnet" "$WORK/bad2.log" || fail "unclear mlp error: $(cat "$WORK/bad2.log")"
echo "ok   all"
