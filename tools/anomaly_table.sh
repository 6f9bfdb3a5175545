#!/usr/bin/env bash
# MEG's anomaly-detection table on Fashion-MNIST: each of the ten classes in turn held out as the
# anomaly ([data] anomaly_class), a model trained on 80% of the other classes, the test split scored
# by E(x) and by |grad_x E(x)|^2, AUPRC per class (models/data.h has the split, ebm eval the scores).
#
#   tools/anomaly_table.sh CONFIG OUT_DIR [--set section.key=value]... [--device D]
#   tools/anomaly_table.sh configs/meg-anomaly-fmnist-laptop.ini runs/anomaly
#
# OUT_DIR/class-K is the run of class K; a run already there is resumed (finished runs are only
# evaluated again), so an interrupted table continues where it stopped. CLASSES (default "0 1 ... 9")
# picks the classes. Writes OUT_DIR/anomaly.jsonl (the eval lines) and OUT_DIR/anomaly.md (the table).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 CONFIG OUT_DIR [--set section.key=value]... [--device D]" >&2; exit 2; }
config=$1 out=$2
shift 2
[ -f "$config" ] || { echo "$0: $config: no such config" >&2; exit 2; }
ebm=${EBM:-$(dirname "$0")/../build/ebm}
device=()
sets=()
while [ $# -gt 0 ]; do
  case $1 in
    --set) sets+=(--set "$2"); shift 2 ;;
    --device) device=(--device "$2"); shift 2 ;;
    *) echo "$0: unexpected argument $1" >&2; exit 2 ;;
  esac
done
names=("T-shirt/top" "Trouser" "Pullover" "Dress" "Coat" "Sandal" "Shirt" "Sneaker" "Bag" "Ankle boot")
mkdir -p "$out"
: > "$out/anomaly.jsonl"
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<< "$2"; }
{
  echo "| held-out class | test examples (anomalies) | AUPRC, E(x) | AUPRC, \\|∇ₓE\\|² | chance | AUROC, E(x) | AUROC, \\|∇ₓE\\|² |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
} > "$out/anomaly.md.tmp"
sum_e=0 sum_g=0 n=0
for k in ${CLASSES:-0 1 2 3 4 5 6 7 8 9}; do
  run="$out/class-$k"
  echo "== class $k (${names[$k]}) held out: $run" >&2
  if [ -f "$run/checkpoint.safetensors" ]; then
    "$ebm" train --resume "$run" "${sets[@]}" "${device[@]}" >&2
  else
    "$ebm" train "$config" --set "data.anomaly_class=$k" "${sets[@]}" "${device[@]}" --out "$run" >&2
  fi
  line=$("$ebm" eval "$run" "${device[@]}")
  echo "$line" >> "$out/anomaly.jsonl"
  ae=$(field auprc_energy "$line") ag=$(field auprc_grad "$line")
  echo "| $k ${names[$k]} | $(field examples "$line") ($(field anomalies "$line")) | $ae | $ag | $(field auprc_chance "$line") | $(field auroc_energy "$line") | $(field auroc_grad "$line") |" >> "$out/anomaly.md.tmp"
  sum_e=$(awk "BEGIN { print $sum_e + $ae }") sum_g=$(awk "BEGIN { print $sum_g + $ag }") n=$((n + 1))
done
awk "BEGIN { printf \"| mean of %d | | %.4f | %.4f | | | |\n\", $n, $sum_e / $n, $sum_g / $n }" >> "$out/anomaly.md.tmp"
mv "$out/anomaly.md.tmp" "$out/anomaly.md"
cat "$out/anomaly.md"
