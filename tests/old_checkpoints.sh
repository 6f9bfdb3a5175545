#!/usr/bin/env bash
# old_checkpoints.sh EBM DIR WORK — checkpoints written before the method registry (tests/checkpoints/:
# cd on 8 gaussians, meg and dual on 25, two iterations each, by the `ebm` of commit 5ec59b8; their
# saved configs have every section, the generator runs [buffer] capacity = 0) still load: each
# resumes for two more iterations, samples and evaluates with finite numbers, and its config.ini is
# rewritten with the method's sections only. (On one device, checked by hand: the resumed tensors are
# bit-identical to those of the old program resuming the same checkpoint.)
set -u
EBM=$1 DIR=$2 WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
for m in cd meg dual; do
  mkdir -p "$WORK/$m" && cp "$DIR/$m-before-registry.safetensors" "$WORK/$m/checkpoint.safetensors"
  "$EBM" train --resume "$WORK/$m" --set run.iters=4 --set run.sample_every=0 > "$WORK/$m.out" 2> "$WORK/$m.log" ||
    { cat "$WORK/$m.log"; fail "$m: resume"; }
  grep -q "resumed .* at iteration 2" "$WORK/$m.log" || { cat "$WORK/$m.log"; fail "$m: not resumed at iteration 2"; }
  row=$(grep '"iter":4,' "$WORK/$m/metrics.jsonl") || fail "$m: no iteration-4 row"
  echo "$row" | grep -q 'null' && fail "$m: non-finite numbers: $row"
  "$EBM" sample "$WORK/$m" --n 16 --out "$WORK/$m.png" > /dev/null 2>> "$WORK/$m.log" && [ -s "$WORK/$m.png" ] || { cat "$WORK/$m.log"; fail "$m: sample"; }
  out=$("$EBM" eval "$WORK/$m" --n 64 --steps 2 2>> "$WORK/$m.log") || { cat "$WORK/$m.log"; fail "$m: eval"; }
  echo "$out" | grep -q '"mean_energy":-\?[0-9]' || fail "$m: eval row $out"
  grep -q "^method = $m$" "$WORK/$m/config.ini" || fail "$m: config.ini lost the method"
  if [ $m != cd ]; then grep -q '^\[buffer\]' "$WORK/$m/config.ini" && fail "$m: config.ini shows [buffer], which $m does not read"; fi
  echo "ok   $m: an old checkpoint resumes (iteration 4: $(echo "$row" | cut -c1-80)), samples and evaluates"
done
