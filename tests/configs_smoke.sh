#!/usr/bin/env bash
# configs_smoke.sh EBM CONFIGS WORKDIR — every shipped config (configs/*.ini) parses, builds its networks
# and trains one iteration with finite losses, shrunk so that the whole set takes about a minute on a
# 2-core CPU: channel bases 4, batch 8, 2 sampler steps, 16 pictures. What the configs reach at full
# size is measured by hand (README, configs' headers); this only keeps every config runnable.
# Configs on Fashion-MNIST are skipped when the Debian package dataset-fashion-mnist is missing;
# icd-imagefolder.ini trains on a folder of PNGs this script writes. Optimizers run with eps = 1 and
# chains with 2 steps, so that the runs of two devices can be compared number by number
# (tests/configs_agree.sh; why in tools/compare_devices.sh).
set -u
EBM=$1 CONFIGS=$2 WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK/images"
fail() { echo "FAIL: $*"; exit 1; }
have_fmnist=0
[ -f "${EBM_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}/train-images-idx3-ubyte.gz" ] && have_fmnist=1
shrink=(--set run.iters=1 --set run.batch=8 --set run.log_every=1 --set model.base=4 --set generator.base=4 --set meg.stat_base=4
        --set sampler.steps=2 --set eval.steps=2 --set eval.n=16 --set generator.langevin_steps=2 --set dual.z_steps=2
        --set optim.eps=1)
n=0
for cfg in "$CONFIGS"/*.ini; do
    name=$(basename "$cfg" .ini)
    src=$(sed -n 's/^source *= *//p' "$cfg")
    extra=()
    case $src in
        fashion-mnist*) [ $have_fmnist = 1 ] || { echo "skip $name (no dataset-fashion-mnist)"; continue; } ;;
        toy:*|"") ;;
        *) # an image folder: the pictures of the runs before
           find "$WORK" -name 'samples_*.png' | head -8 | while read -r f; do cp "$f" "$WORK/images/$(echo "$f" | tr / _)"; done
           extra=(--set data.source="$WORK/images") ;;
    esac
    "$EBM" train "$cfg" --out "$WORK/$name" "${shrink[@]}" "${extra[@]}" > "$WORK/$name.out" 2> "$WORK/$name.log" ||
        { cat "$WORK/$name.log"; fail "$name: one iteration"; }
    row=$(grep -m1 '"iter":1,' "$WORK/$name/metrics.jsonl") || fail "$name: no iteration-1 row in metrics.jsonl"
    echo "$row" | grep -Eqi ':-?(nan|inf)[,}]' && fail "$name: non-finite numbers: $row"
    [ -f "$WORK/$name/checkpoint.safetensors" ] || fail "$name: no checkpoint"
    echo "ok   $name: $(echo "$row" | cut -c1-110)"
    n=$((n + 1))
done
[ $n -ge 5 ] || fail "only $n configs ran"
echo "$n configs ran one iteration"
