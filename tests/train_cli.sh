#!/usr/bin/env bash
# train_cli.sh EBM CONFIGS WORKDIR — the `ebm` program end to end on the 8-gaussians config:
#   1. train, then `ebm eval` must cover 8 of 8 modes with >= 80% high-quality samples;
#   2. a run killed (SIGKILL) mid-training and resumed must end with a checkpoint byte-identical to
#      the uninterrupted run's (parameters, EMA, Adam state, replay buffer, counters); also with the
#      buffer in 8-bit storage;
#   3. an unstable learning rate must diverge, roll back with new RNG streams and a lower rate, and
#      finish; with no rollbacks allowed the same run must stop with a clear message;
#   4. sample, score and --print-config work; bad configs and checkpoints give clear errors;
#   5. MEG (generator-based) on 25 gaussians learns (>= 10 of 25 modes after 300 iterations, where
#      the untrained generator covers 1), resumes byte-identically, and reports latent MALA acceptance;
#   6. Dual-MCMC on 25 gaussians learns (>= 15 of 25 modes after 200 iterations with the config's 70
#      Langevin steps from G(z); untrained: 0 of 25) and resumes byte-identically (inference network and
#      its optimizer in the checkpoint); Kim & Bengio's batch-norm entropy has its known value at
#      initialisation and the trainer resumes byte-identically; eval --set changes the sampler only;
#   7. a Fashion-MNIST classifier (run.method = classify) beats chance by far after 60 iterations, and
#      `ebm eval --classifier` counts stacked Fashion-MNIST modes of an image MEG run and of as many real
#      triples (the floor), and `--fd` gives FD/KID above their data floor for untrained samples (when the Debian
#      package dataset-fashion-mnist is installed);
#   8. MEG's anomaly protocol: a run with data.anomaly_class trains on its split and `ebm eval` scores
#      the test split (19 600 examples, 7 000 anomalies for Fashion-MNIST) by AUPRC; `ebm eval --ood`
#      reports AUROC against noise, flipped, inverted images and an image folder.
set -u
EBM=$1 CONFIGS=$2 WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
. "$(dirname "$0")/cli_lib.sh"
# resumes_identically NAME CONFIG FULL_RUN HALF TOTAL [--set k=v]...: train CONFIG with the settings
# FULL_RUN had (the --set arguments; the saved config is part of the checkpoint) to HALF iterations,
# resume to TOTAL, and the checkpoint must equal FULL_RUN's (trained straight to TOTAL) byte for byte
resumes_identically() {
    local name=$1 config=$2 full=$3 half=$4 total=$5
    shift 5
    "$EBM" train "$config" --out "$WORK/$name-half" --set run.iters="$half" "$@" 2> /dev/null > /dev/null ||
        fail "$name: run to $half iterations"
    "$EBM" train --resume "$WORK/$name-half" --set run.iters="$total" 2> /dev/null > /dev/null || fail "$name: resume to $total"
    cmp "$full/checkpoint.safetensors" "$WORK/$name-half/checkpoint.safetensors" || fail "$name: resumed run differs"
}
cfg=$CONFIGS/toy-8gaussians.ini

echo "== 1. train + eval"
"$EBM" train "$cfg" --out "$WORK/full" 2> "$WORK/full.log" || { cat "$WORK/full.log"; fail "training"; }
grep -q "^it 600/600" "$WORK/full.log" || fail "no progress line for the last iteration"
[ -s "$WORK/full/metrics.jsonl" ] && [ -s "$WORK/full/samples/heatmap_000600.png" ] && [ -s "$WORK/full/config.ini" ] ||
    fail "run directory lacks metrics.jsonl, config.ini or the heat map"
covers "$WORK/full" 0.8

echo "== 2. kill -9 mid-run, resume, compare"
kill_and_resume "$WORK/full" "$WORK/killed" 200 300 600 "$cfg"   # after the checkpoint of iteration 200

echo "== 2a. Ctrl-C: the run finishes its iteration, writes its checkpoint and exits 130; resuming ends identical"
# run.iters out of reach: however late the polling sees iteration 100, the run is still going; resumed
# with the config's 600 it must equal the run of section 1 (resume_matches)
"$EBM" train "$cfg" --out "$WORK/int" --set run.iters=1000000000 2> "$WORK/int.log" > /dev/null &
pid=$!
for _ in $(seq 1 600); do
    grep -q '"iter":100' "$WORK/int/metrics.jsonl" 2>/dev/null && break
    sleep 0.1
done
kill -INT $pid
wait $pid
rc=$?
[ $rc = 130 ] || { cat "$WORK/int.log"; fail "interrupted run exited $rc, not 130"; }
grep -q "interrupted after" "$WORK/int.log" || fail "no 'interrupted' message"
resume_matches "$WORK/full" "$WORK/int" 600 "$cfg"

echo "== 2b. the same with 8-bit buffer storage: stop at 100, resume to 200, compare"
"$EBM" train "$cfg" --out "$WORK/u8full" --set buffer.uint8=true --set run.iters=200 2> /dev/null > /dev/null || fail "uint8 run"
resumes_identically "uint8 buffer" "$cfg" "$WORK/u8full" 100 200 --set buffer.uint8=true

echo "== 3. divergence: roll back and continue; stop when out of rollbacks"
"$EBM" train "$cfg" --out "$WORK/unstable" --set optim.lr=0.5 --set run.rollback_lr_scale=0.3 --set run.max_rollbacks=8 \
    --set run.iters=200 2> "$WORK/unstable.log" || { cat "$WORK/unstable.log"; fail "unstable run did not recover"; }
grep "divergence\|rolled back" "$WORK/unstable.log"
grep -q "rolled back to the checkpoint of iteration" "$WORK/unstable.log" || fail "no rollback reported"
grep -q '"event":"rollback"' "$WORK/unstable/metrics.jsonl" || fail "no rollback event in metrics.jsonl"
"$EBM" train "$cfg" --out "$WORK/stuck" --set optim.lr=0.5 --set run.max_rollbacks=0 --set run.iters=200 2> "$WORK/stuck.log" &&
    fail "a diverging run with run.max_rollbacks = 0 exited 0"
grep -q "stopping: 0 divergences rolled back" "$WORK/stuck.log" || { cat "$WORK/stuck.log"; fail "no clear stop message"; }
[ -s "$WORK/stuck/checkpoint.safetensors" ] || fail "the stopped run lost its last good checkpoint"

echo "== 4. sample, score, print-config, errors"
png=$("$EBM" sample "$WORK/full" --n 200 --steps 50 --out "$WORK/s.png") && [ -s "$png" ] || fail "sample"
printf 'x,y\n2,0\n0,0\n' > "$WORK/points.csv"
"$EBM" score "$WORK/full" "$WORK/points.csv" --out "$WORK/scores.csv" || fail "score"
cat "$WORK/scores.csv"
[ "$(wc -l < "$WORK/scores.csv")" = 3 ] || fail "score wrote $(wc -l < "$WORK/scores.csv") lines, not 3"
# a mode centre has lower energy than the empty centre of the ring
awk -F, 'NR==2 {a=$2} NR==3 {b=$2} END {exit !(a < b)}' "$WORK/scores.csv" || fail "E(mode) >= E(ring centre)"
"$EBM" train "$cfg" --print-config | grep -q "^step_size = 0.05" || fail "--print-config lacks the config's value"
"$EBM" train --print-config | grep -q "^# Langevin steps per iteration" || fail "--print-config lacks the help lines"
printf '[sampler]\nstepz = 3\n' > "$WORK/bad.ini"
"$EBM" train "$WORK/bad.ini" --out "$WORK/bad" 2> "$WORK/bad.log" && fail "unknown key accepted"
grep -q "bad.ini:2: unknown key \"stepz\" in section \[sampler\]" "$WORK/bad.log" || { cat "$WORK/bad.log"; fail "unclear INI error"; }
"$EBM" train "$cfg" --set sampler.steps=many 2> "$WORK/bad2.log" && fail "non-integer --set accepted"
grep -q "is not an integer" "$WORK/bad2.log" || fail "unclear --set error"
head -c 100 "$WORK/full/checkpoint.safetensors" > "$WORK/trunc.safetensors"
"$EBM" sample "$WORK/trunc.safetensors" 2> "$WORK/trunc.log" && fail "truncated checkpoint accepted"
grep -q "trunc.safetensors" "$WORK/trunc.log" || { cat "$WORK/trunc.log"; fail "truncated checkpoint error does not name the file"; }
echo "== 5. MEG on 25 gaussians: learns (the untrained generator sits on 1 mode), resumes identically, latent MALA"
meg=$CONFIGS/meg-25gaussians.ini
"$EBM" train "$meg" --out "$WORK/meg" --set run.iters=300 --set run.ckpt_every=150 2> "$WORK/meg.log" > /dev/null ||
    { cat "$WORK/meg.log"; fail "MEG training"; }
out=$("$EBM" eval "$WORK/meg" --steps 0) || fail "MEG eval"   # the generator alone
echo "$out"
covered=$(echo "$out" | sed -n 's/.*"modes_covered":\([0-9]*\).*/\1/p')
[ "$covered" -ge 10 ] || fail "MEG covers $covered of 25 modes after 300 iterations (expected >= 10)"
resumes_identically MEG "$meg" "$WORK/meg" 150 300 --set run.ckpt_every=150
out=$("$EBM" eval "$WORK/meg" --mala 5 --steps 0 2> /dev/null) || fail "MEG eval with latent MALA"
echo "$out" | grep -q '"mala_accept":0\.[0-9]' || fail "no latent MALA acceptance rate in: $out"

echo "== 6. Dual-MCMC and Kim & Bengio on 25 gaussians"
dual=$CONFIGS/dual-25gaussians.ini
"$EBM" train "$dual" --out "$WORK/dual" --set run.iters=200 --set run.ckpt_every=100 2> "$WORK/dual.log" > /dev/null ||
    { cat "$WORK/dual.log"; fail "Dual-MCMC training"; }
out=$("$EBM" eval "$WORK/dual") || fail "Dual-MCMC eval"
echo "$out"
covered=$(echo "$out" | sed -n 's/.*"modes_covered":\([0-9]*\).*/\1/p')
[ "$covered" -ge 15 ] || fail "Dual-MCMC covers $covered of 25 modes after 200 iterations (expected >= 15)"
resumes_identically Dual-MCMC "$dual" "$WORK/dual" 100 200 --set run.ckpt_every=100
ddgm=$CONFIGS/ddgm-25gaussians.ini
"$EBM" train "$ddgm" --out "$WORK/ddgm" --set run.iters=100 --set run.ckpt_every=50 2> "$WORK/ddgm.log" > /dev/null ||
    { cat "$WORK/ddgm.log"; fail "Kim & Bengio training"; }
# known answer: at initialisation every batch-norm scale is 1, so the entropy term is 256 units (two
# hidden layers of 128) x log(2 pi e)/2 = 363.2483; float32 summing 256 terms of <= 363 rounds by at
# most 256 x 2^-24 x 363 = 5.5e-3
"$EBM" train "$ddgm" --out "$WORK/ddgm1" --set run.iters=1 --set run.log_every=1 2> /dev/null > /dev/null || fail "DDGM 1 iteration"
ent=$(sed -n 's/.*"bn_entropy":\([0-9.]*\).*/\1/p' "$WORK/ddgm1/metrics.jsonl" | head -1)
awk -v e="$ent" 'BEGIN { x = 256 * 0.5 * log(2 * 3.14159265358979 * exp(1)); d = e - x; exit !(d < 6e-3 && d > -6e-3) }' ||
    fail "Kim & Bengio entropy at initialisation: $ent, expected 363.2483"
resumes_identically "Kim & Bengio" "$ddgm" "$WORK/ddgm" 50 100 --set run.ckpt_every=50
# eval --set changes how a trained model samples: zero step and noise leave G(z) where it is (the
# clamp to [-3, 3] moves no point near a mode), so the numbers equal those of --steps 0
a=$("$EBM" eval "$WORK/ddgm" --steps 0 2> /dev/null | sed 's/.*"mean_energy":[^,]*//') || fail "eval --steps 0"
b=$("$EBM" eval "$WORK/ddgm" --set sampler.step_size=0 --set sampler.noise=0 2> /dev/null | sed 's/.*"mean_energy":[^,]*//') ||
    fail "eval --set sampler.step_size=0"
[ -n "$a" ] && [ "$a" = "$b" ] || fail "eval --set sampler.step_size=0 --set sampler.noise=0 differs from --steps 0: $a vs $b"
"$EBM" eval "$WORK/ddgm" --set model.experts=3 2> "$WORK/setbad.log" && fail "eval --set of a model key accepted"
grep -q "the rest is the trained model" "$WORK/setbad.log" || fail "eval --set model.experts: unclear error: $(cat "$WORK/setbad.log")"
"$EBM" train "$ddgm" --out "$WORK/ddgmbad" --set generator.batch_norm=false 2> "$WORK/ddgmbad.log" && fail "DDGM without batch norm accepted"
grep -q "batch_norm = true" "$WORK/ddgmbad.log" || fail "DDGM without batch norm: unclear error: $(cat "$WORK/ddgmbad.log")"

echo "== 7. classifier and stacked Fashion-MNIST modes"
if [ -f "${EBM_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}/train-labels-idx1-ubyte.gz" ]; then
    "$EBM" train "$CONFIGS/fmnist-classifier.ini" --out "$WORK/cls" --set run.iters=60 2> "$WORK/cls.log" > /dev/null ||
        { cat "$WORK/cls.log"; fail "classifier training"; }
    out=$("$EBM" eval "$WORK/cls") || fail "classifier eval"
    echo "$out"
    acc=$(echo "$out" | sed -n 's/.*"accuracy":\([0-9.]*\).*/\1/p')
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.5) }' || fail "test accuracy $acc after 60 iterations (chance 0.1, expected >= 0.5)"
    "$EBM" train "$CONFIGS/meg-stacked-fmnist-laptop.ini" --out "$WORK/stacked" --set run.iters=1 --set model.base=4 \
        --set generator.base=4 --set meg.stat_base=4 --set generator.z_dim=8 2> "$WORK/stacked.log" > /dev/null ||
        { cat "$WORK/stacked.log"; fail "stacked Fashion-MNIST MEG"; }
    out=$("$EBM" eval "$WORK/stacked" --classifier "$WORK/cls" --n 1500) || fail "stacked mode count"
    echo "$out"
    echo "$out" | grep -q '"modes":1000,"modes_covered":[1-9]' || fail "stacked mode count: $out"
    # the floor: 1500 real stacked triples through the same classifier cover most of the 1000 modes
    # (uniform triples: 1000 (1 - e^-1.5) = 777 expected; a 60-iteration classifier confuses some classes)
    real=$(echo "$out" | sed -n 's/.*"real_examples":1500,"modes_covered_real":\([0-9]*\).*/\1/p')
    [ -n "$real" ] && [ "$real" -gt 400 ] || fail "stacked mode count floor (real images): $out"
    "$EBM" eval "$WORK/stacked" --classifier "$WORK/dual" 2> "$WORK/evalbad.log" && fail "a non-classifier accepted as --classifier"
    grep -q "classifier run" "$WORK/evalbad.log" || fail "unclear --classifier error: $(cat "$WORK/evalbad.log")"

    echo "== 8. anomaly detection (MEG protocol) and out-of-distribution AUROC"
    "$EBM" train "$CONFIGS/meg-anomaly-fmnist-laptop.ini" --out "$WORK/anom" --set data.anomaly_class=3 --set run.iters=2 \
        --set model.base=4 --set generator.base=4 --set meg.stat_base=4 --set generator.z_dim=8 2> "$WORK/anom.log" > /dev/null ||
        { cat "$WORK/anom.log"; fail "anomaly-split MEG training"; }
    grep -q "50400 examples" "$WORK/anom.log" || fail "anomaly training split is not 80% of 63 000 normal images: $(cat "$WORK/anom.log")"
    out=$("$EBM" eval "$WORK/anom") || fail "anomaly eval"
    echo "$out"
    echo "$out" | grep -q '"anomaly_class":3,"examples":19600,"anomalies":7000,"auprc_energy":[01]\.[0-9]*,"auprc_grad":[01]\.' ||
        fail "anomaly eval: $out"
    # Fréchet distance / KID on the classifier's 512 penultimate features: 2-iteration MEG samples are
    # much farther from the test images than 600 other test images are
    out=$("$EBM" eval "$WORK/anom" --classifier "$WORK/cls" --fd --n 600 2> "$WORK/fd.log") || { cat "$WORK/fd.log"; fail "FD eval"; }
    echo "$out"
    grep -q "NOT the Inception FID" "$WORK/fd.log" || fail "FD eval does not say it is not Inception's: $(cat "$WORK/fd.log")"
    fd=$(echo "$out" | sed -n 's/.*"fd":\([-0-9.e+]*\),"fd_floor":\([-0-9.e+]*\),"kid":\([-0-9.e+]*\),"kid_floor":\([-0-9.e+]*\).*/\1 \2 \3 \4/p')
    echo "$out" | grep -q '"feature_dim":512,"samples":600,"real_source":"fashion-mnist:test"' || fail "FD eval row: $out"
    awk -v v="$fd" 'BEGIN { split(v, a, " "); exit !(a[2] >= 0 && a[1] > 2 * a[2] && a[3] > a[4] + 1e-6) }' ||
        fail "FD/KID of untrained samples not above the data floor: $out"
    "$EBM" eval "$WORK/anom" --fd 2> "$WORK/fdbad.log" && fail "--fd without --classifier accepted"
    grep -q "needs --classifier" "$WORK/fdbad.log" || fail "unclear --fd error: $(cat "$WORK/fdbad.log")"
    mkdir -p "$WORK/oodimg"
    "$EBM" sample "$WORK/stacked" --n 4 --out "$WORK/oodimg/a.png" > /dev/null || fail "sample for the OOD folder"
    "$EBM" sample "$WORK/stacked" --n 9 --seed 3 --out "$WORK/oodimg/b.png" > /dev/null || fail "sample for the OOD folder"
    "$EBM" eval "$WORK/cls" --ood 2>&1 | grep -q "is a classifier" || fail "--ood on a classifier not refused"
    out=$("$EBM" eval "$WORK/anom" --ood-folder "$WORK/oodimg" --n 500) || fail "OOD eval"
    echo "$out"
    echo "$out" | grep -q '"examples":500,.*"auroc_uniform":[01]\.[0-9]*,.*"auroc_vflip":[01]\..*"auroc_inverted":[01]\..*"auroc_folder":[01]\..*"folder_examples":2}' ||
        fail "OOD eval: $out"
    "$EBM" eval "$WORK/full" --ood 2> "$WORK/oodbad.log" && fail "--ood accepted for a 2-D model"
    grep -q "models vectors" "$WORK/oodbad.log" || fail "unclear --ood error: $(cat "$WORK/oodbad.log")"
else
    echo "note: dataset-fashion-mnist not installed; classifier, anomaly and OOD checks not run"
fi

echo "all train_cli checks passed"
