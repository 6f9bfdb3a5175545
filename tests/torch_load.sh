#!/usr/bin/env bash
# torch_load.sh EBM NET_OUTPUTS SOURCE_DIR WORKDIR — every network kind the engine builds loads into
# PyTorch with tools/torch_load.py and computes what the engine computes. Each case trains two
# iterations of a shipped config, shrunk (16x16 images written here, bases 4, batch 8, 2 sampler steps),
# then NET_OUTPUTS (tests/net_outputs.c) writes the engine's outputs of every network of the run on
# inputs it draws, and torch_load.py --compare holds each against the same module in float64 (the
# tolerance is derived in torch_load.py's compare()). Energies also go through `ebm score` and
# torch_load.py --scores, and one network is picked by --prefix. Cases: mlp (toy), convnet,
# multiscale, resnet with instance norm on 1x1 maps and with group norm (256 channels) on 1x1 maps,
# self-attention, two scales; poe with a batch-norm MLP generator on vectors and on images (tanh); MEG on
# vectors (statistics MLP) and on images (dcgan energy, dcgan generator, statistics trunk + head);
# Dual-MCMC on vectors (inference MLP) and on images (inference trunk); a dcgan energy with leaky ReLU;
# classifiers (dcgan, mlp); class-conditional convnet, multiscale and resnet energies (FiLM: the
# marginal, E(x | y), and E(x | another label) far from it); RBM free energies (Bernoulli, Gaussian with learnt and with fixed sigma).
# Exits 77 (skipped) when python3 cannot import torch (Debian: python3-torch).
set -u
EBM=$1 NETOUT=$2 SRC=$3 WORK=$4
TL=$SRC/tools/torch_load.py C=$SRC/configs
PY=
for p in python3 /usr/bin/python3; do   # a pyenv or virtualenv python3 first on PATH may lack Debian's torch
    "$p" -c 'import torch' 2> /dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || { echo "torch_load: SKIPPED, python3 cannot import torch (apt-get install python3-torch)"; exit 77; }
rm -rf "$WORK" && mkdir -p "$WORK/data"
fail() { echo "FAIL: $*"; exit 1; }
# 64 images 16x16 with labels 0..9, MNIST's IDX naming (the labels file beside the images)
"$PY" - "$WORK/data" << 'EOF' || fail "writing the IDX files"
import random, struct, sys
random.seed(1)
n, s = 64, 16
with open(f"{sys.argv[1]}/train-images-idx3-ubyte", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, n, s, s) + bytes(random.randrange(256) for _ in range(n * s * s)))
with open(f"{sys.argv[1]}/train-labels-idx1-ubyte", "wb") as f:
    f.write(struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))
EOF
IDX=$WORK/data/train-images-idx3-ubyte
printf 'x,y\n0.5,-1\n2,3\n-2.5,0.25\n0,0\n' > "$WORK/points.csv"
shrink=(--set run.iters=2 --set run.batch=8 --set run.log_every=1 --set run.sample_every=0 --set eval.n=16 --set eval.steps=2
        --set sampler.steps=2 --set generator.langevin_steps=2 --set dual.z_steps=2 --set buffer.capacity=64 --set buffer.uint8=false)
small=(--set data.source="$IDX" --set model.base=4 --set generator.base=4 --set meg.stat_base=4 --set meg.stat_features=16
       --set meg.stat_hidden=16 --set dual.inf_hidden=16)
cases=()
run() {   # NAME CONFIG [--set ...]: train, and the engine's outputs of every network of the run
    local name=$1 cfg=$2
    shift 2
    "$EBM" train "$C/$cfg.ini" --out "$WORK/$name" "${shrink[@]}" "$@" > "$WORK/$name.out" 2>&1 ||
        { tail -20 "$WORK/$name.out"; fail "$name: training"; }
    "$NETOUT" "$WORK/$name/checkpoint.safetensors" "$WORK/$name.outputs.safetensors" 16 || fail "$name: the engine's outputs"
    cases+=("$name" "$cfg")
}
run mlp toy-8gaussians
run convnet fmnist-laptop "${small[@]}"
run multiscale fmnist-laptop "${small[@]}" --set model.net=multiscale --set model.scales=2 --set model.activation=swish
# 16 -> 8 -> 4 -> 2 -> 1: the last stage's instance norms on 1x1 maps; attention after stage 2
run resnet-instance fmnist-gpu "${small[@]}" --set model.stages=5 --set model.scales=2
# base 32, 5 stages: the last stage has 256 channels (group norm) at 1x1
run resnet-group icd-imagefolder "${small[@]}" --set model.base=32 --set model.stages=5 --set model.scales=1 --set data.size=0 \
    --set augment.enable=false
run poe-toy ddgm-25gaussians
run poe-images ddgm-fmnist-laptop "${small[@]}" --set model.hidden=32,16 --set generator.hidden=32,16
run meg-toy meg-25gaussians
run meg-images meg-stacked-fmnist-laptop "${small[@]}"
run dual-toy dual-25gaussians
run dual-images dual-fmnist-laptop "${small[@]}"
run dcgan-lrelu fmnist-laptop "${small[@]}" --set model.net=dcgan --set model.activation=lrelu
run classify-dcgan fmnist-classifier "${small[@]}"
run rbm-bernoulli rbm-bars4 --set model.hidden=8
run rbm-gaussian rbm-bars4 --set data.source=toy:8gaussians --set model.rbm_visible=gaussian --set model.rbm_learn_sigma=true --set model.hidden=5
run rbm-fixed-sigma rbm-bars4 --set data.source=toy:8gaussians --set model.rbm_visible=gaussian --set model.rbm_sigma=0.5 --set model.hidden=5
# class-conditional energies (FiLM); lr 0.05 and no EMA (whose weights would hold 1% of the steps) so that two
# Adam steps move every class's embedding far from 0
cond=("${small[@]}" --set data.label_channel=-1 --set model.classes=10 --set optim.lr=0.05 --set optim.ema=0)
run cond-convnet cond-stacked-fmnist-laptop "${cond[@]}"
run cond-multiscale cond-stacked-fmnist-laptop "${cond[@]}" --set model.net=multiscale --set model.scales=2
run cond-resnet fmnist-gpu "${cond[@]}" --set model.stages=3 --set model.scales=2
run classify-mlp fmnist-classifier "${small[@]}" --set model.net=mlp --set model.hidden=32,16 --set model.activation=elu
"$EBM" score "$WORK/mlp" "$WORK/points.csv" --out "$WORK/mlp.scores.csv" > /dev/null || fail "mlp: ebm score"
"$EBM" score "$WORK/convnet" "$IDX" --out "$WORK/convnet.scores.csv" > /dev/null || fail "convnet: ebm score"
# one python process for every comparison (importing torch takes seconds)
"$PY" - "$SRC/tools" "$WORK" "${cases[@]}" << 'EOF' || fail "PyTorch and the engine differ (above)"
import sys
sys.path.insert(0, sys.argv[1])
import torch_load as tl
work, ok = sys.argv[2], True
for name, cfg in zip(sys.argv[3::2], sys.argv[4::2]):
    print(f"== {name} ({cfg})")
    ok &= tl.compare_outputs(f"{work}/{name}/checkpoint.safetensors", f"{work}/{name}.outputs.safetensors")
for name, data in (("mlp", dict(data=f"{work}/points.csv")), ("convnet", dict(idx=f"{work}/data/train-images-idx3-ubyte"))):
    print(f"== {name}: against ebm score")
    model, cfg, shape = tl.load(f"{work}/{name}/checkpoint.safetensors")
    ok &= tl.compare_scores(model, shape, tl.read_inputs(shape, **data), f"{work}/{name}.scores.csv")
model, _, _ = tl.load(f"{work}/meg-images/checkpoint.safetensors", which=tl.prefix_net("stats."))
ok &= isinstance(model, tl.Stats) and isinstance(model.trunk, tl.DCGANTrunk)
print("--prefix stats.:", "MEG's statistics network" if ok else "not MEG's statistics network")
sys.exit(0 if ok else 1)
EOF
echo "$((${#cases[@]} / 2)) runs: every network computes in PyTorch what it computes in the engine"
