#!/usr/bin/env bash
# Improved CD's ablation on Fashion-MNIST (the counterpart of Du et al. 2021's Table 2): the full
# config, then the same config without the KL term, without the augmentation transitions and with a
# single scale instead of the multi-scale ResNet. Each run is trained (or resumed, so an interrupted
# table continues), then evaluated the same way:
#   - sample quality: `ebm eval RUN --classifier CLS --fd --n N`: Fréchet distance and KID on the
#     classifier's penultimate features (not Inception: not comparable with papers' FID), with the
#     data floor (the same statistic between two disjoint sets of N test images),
#   - OOD: `ebm eval RUN --ood`: AUROC of -E against uniform noise, upside-down and inverted test
#     images, and scikit-learn's 8x8 digits upscaled to the image size (tools/digits_npy.py) when
#     python3-sklearn is installed (else that column says "skipped" and a message says why),
#   - a sample grid: `ebm sample RUN --n 64` into OUT_DIR/VARIANT.png.
#
#   tools/icd_ablation.sh CONFIG CLASSIFIER_RUN OUT_DIR [--n N] [--set section.key=value]... [--device D]
#   tools/icd_ablation.sh configs/icd-fmnist-laptop.ini runs/fmnist-classifier runs/icd-ablation
#
# VARIANTS (default "full no-kl no-augment single-scale") picks the rows. Writes OUT_DIR/VARIANT (the
# runs), OUT_DIR/ablation.jsonl (every eval line, with "variant") and OUT_DIR/ablation.md (the table).
set -euo pipefail
usage="usage: $0 CONFIG CLASSIFIER_RUN OUT_DIR [--n N] [--set section.key=value]... [--device D]"
[ $# -ge 3 ] || { echo "$usage" >&2; exit 2; }
config=$1 cls=$2 out=$3
shift 3
[ -f "$config" ] || { echo "$0: $config: no such config" >&2; exit 2; }
[ -f "$cls/checkpoint.safetensors" ] || { echo "$0: $cls: no classifier run there (train configs/fmnist-classifier.ini first)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
ebm=${EBM:-$here/../build/ebm}
n=2000 device=() sets=()
while [ $# -gt 0 ]; do
  case $1 in
    --n) n=$2; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    --device) device=(--device "$2"); shift 2 ;;
    *) echo "$0: unexpected argument $1" >&2; echo "$usage" >&2; exit 2 ;;
  esac
done
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "$0: --n $n: expected a positive whole number" >&2; exit 2; }
mkdir -p "$out"

# the real "other data set": scikit-learn's digits at the config's image size (28 for Fashion-MNIST)
digits=() digits_note="skipped: python3-sklearn is not installed"
for py in python3 /usr/bin/python3; do
  command -v "$py" > /dev/null || continue
  rc=0
  "$py" "$here/digits_npy.py" "$out/digits.npy" >&2 || rc=$?
  if [ $rc -eq 0 ]; then digits=(--ood-folder "$out/digits.npy"); digits_note=""; break; fi
  [ $rc -eq 77 ] || { echo "$0: tools/digits_npy.py failed (status $rc)" >&2; exit 1; }
done
[ -z "$digits_note" ] || echo "$0: the sklearn digits OOD column is $digits_note (Debian: apt-get install python3-sklearn)" >&2

variant_sets() {
  case $1 in
    full) ;;
    no-kl) echo "loss.kl=false" ;;
    no-augment) echo "augment.enable=false" ;;
    single-scale) echo "model.scales=1" ;;
    *) echo "$0: unknown variant $1 (full, no-kl, no-augment, single-scale)" >&2; return 1 ;;
  esac
}
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<< "$2"; }
: > "$out/ablation.jsonl"
{
  echo "| variant | train time (s) | FD (floor) | KID (floor) | AUROC noise | AUROC upside-down | AUROC inverted | AUROC sklearn digits | samples |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
} > "$out/ablation.md.tmp"
for v in ${VARIANTS:-full no-kl no-augment single-scale}; do
  vs=$(variant_sets "$v")
  run="$out/$v"
  extra=()
  [ -n "$vs" ] && extra=(--set "$vs")
  echo "== $v${vs:+ ($vs)}: $run" >&2
  if [ -f "$run/checkpoint.safetensors" ]; then
    "$ebm" train --resume "$run" "${device[@]}" >&2
  else
    "$ebm" train "$config" "${extra[@]}" "${sets[@]}" "${device[@]}" --out "$run" >&2
  fi
  secs=$(sed -n 's/.*"elapsed_s":\([0-9.]*\).*/\1/p' "$run/metrics.jsonl" | tail -1)
  fd=$("$ebm" eval "$run" --classifier "$cls" --fd --n "$n" "${device[@]}")
  ood=$("$ebm" eval "$run" --ood "${digits[@]}" "${device[@]}")
  "$ebm" sample "$run" --n 64 "${device[@]}" --out "$out/$v.png" >&2
  for line in "$fd" "$ood"; do echo "{\"variant\":\"$v\",${line#\{}" >> "$out/ablation.jsonl"; done
  dcol=${digits_note:-$(field auroc_folder "$ood")}
  printf '| %s | %s | %s (%s) | %s (%s) | %s | %s | %s | %s | %s.png |\n' "$v${vs:+ ($vs)}" "${secs:-?}" \
    "$(field fd "$fd")" "$(field fd_floor "$fd")" "$(field kid "$fd")" "$(field kid_floor "$fd")" \
    "$(field auroc_uniform "$ood")" "$(field auroc_vflip "$ood")" "$(field auroc_inverted "$ood")" "$dcol" "$v" >> "$out/ablation.md.tmp"
done
mv "$out/ablation.md.tmp" "$out/ablation.md"
cat "$out/ablation.md"
