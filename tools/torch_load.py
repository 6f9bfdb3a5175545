#!/usr/bin/env python3
"""Load the networks of an ebm-cl checkpoint into matching PyTorch nn.Modules and compare outputs.

    python3 tools/torch_load.py CKPT                                   # prints every network of the run
    python3 tools/torch_load.py CKPT --net generator                   # one: energy (default), generator,
                                                                       #   stats (MEG), inference (Dual-MCMC)
    python3 tools/torch_load.py CKPT --prefix generator.               # the same, by its tensors' prefix
    python3 tools/torch_load.py CKPT --data points.csv --scores s.csv  # energies against `ebm score`
    python3 tools/torch_load.py CKPT --idx t10k-images-idx3-ubyte.gz --scores s.csv --limit 512
    python3 tools/torch_load.py CKPT --compare outputs.safetensors     # every network against the engine's
                                                                       #   outputs (build/tests/net_outputs)

Every network the engine builds has a module here ([model] net = mlp, convnet, multiscale, resnet,
poe, dcgan, quadratic, rbm_free_energy; convnet, multiscale and resnet with [model] classes (FiLM class
conditioning: model(x, y) is E(x | y), model(x) the marginal -log sum_k exp(-E(x | k))); a classifier's mlp or dcgan; [generator] net = mlp with or without batch norm, or dcgan;
MEG's statistics network; Dual-MCMC's inference network), with the parameter names of the checkpoint:
the energy's tensors have no prefix ("ema.<name>": its EMA weights, loaded by default as `ebm score`
does; --raw for the trained ones), the generator's start with "generator.", MEG's statistics network's
with "stats." and Dual-MCMC's inference network's with "inference."; optimizer moments and the replay
buffer are not loaded. Each module is loaded with load_state_dict(strict=True).

What the engine computes and PyTorch's stock modules do not:
  - instance norm (improved CD's ResNet) on a 1x1 map: the variance is 0 and the output is the norm's
    bias; nn.InstanceNorm2d refuses 1x1 inputs, so InstanceNorm below computes what the engine does;
  - batch norm (generators) always uses the batch's statistics, when sampling too, and keeps no running
    averages: nn.BatchNorm*(track_running_stats=False);
  - the activation between layers is the one the run used: [model] activation for the energy (or a
    classifier), as saved with the checkpoint; where that is not a name (e.g. empty or "auto"), each
    network's own default: leaky ReLU 0.2 for dcgan, swish for the others. Generators use ReLU and the
    statistics and inference networks leaky ReLU 0.2, unless their config sections name another.

Needs only torch (no safetensors package): the format is an 8-byte header length, a JSON header and raw
little-endian float32 data. --compare exits 1 when an output differs by more than float32 rounding
explains (see compare()).
"""
import argparse, configparser, gzip, json, math, struct, sys
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        assert info["dtype"] == "F32", name
        tensors[name] = torch.frombuffer(bytearray(blob[base + a:base + b]), dtype=torch.float32).reshape(info["shape"])
    return tensors, meta


ACT = {"swish": nn.SiLU, "lrelu": lambda: nn.LeakyReLU(0.2), "relu": nn.ReLU, "elu": nn.ELU, "softplus": nn.Softplus}


def widths(s):
    return [int(w) for w in s.replace(" ", "").split(",") if w]


class FlatSequential(nn.Sequential):
    """an MLP on flattened inputs (images into an MLP, as the engine does)"""
    def forward(self, x):
        return super().forward(x.flatten(1))


def mlp(n_in, hidden, n_out, act, batch_norm=False, tanh=False):
    """nn.Sequential(Linear, [BatchNorm1d,] act, ..., Linear[, Tanh]): names 0.*, 2.*, ... (3i and 3i + 1 with batch norm)"""
    layers, prev = [], n_in
    for w in hidden:
        layers.append(nn.Linear(prev, w))
        if batch_norm:
            layers.append(nn.BatchNorm1d(w, track_running_stats=False))
        layers.append(act())
        prev = w
    layers.append(nn.Linear(prev, n_out))
    if tanh:
        layers.append(nn.Tanh())
    return FlatSequential(*layers)


class FiLM(nn.Module):
    """class conditioning of one block ([model] classes): h (1 + y S) + y T per channel, y the one-hot
    labels (B, K), S = scale and T = shift (K, C), both starting at 0 (models/nn/nets.c film())"""
    def __init__(self, classes, c):
        super().__init__()
        self.scale, self.shift = nn.Parameter(torch.zeros(classes, c)), nn.Parameter(torch.zeros(classes, c))

    def forward(self, h, y):
        B, C = h.shape[:2]
        return h * (1 + (y @ self.scale).view(B, C, 1, 1)) + (y @ self.shift).view(B, C, 1, 1)


class Conditioned(nn.Module):
    """an energy that may be class-conditional (self.classes > 0): forward(x, y) is E(x | y) with y the
    labels (B,) (integers), forward(x) the marginal -log sum_k exp(-E(x | k)), as `ebm score` and
    `--compose RUN` compute it; with classes = 0, forward(x) is energy(x, None)"""
    classes = 0

    def energy(self, x, onehot):
        raise NotImplementedError

    def forward(self, x, y=None):
        if not self.classes:
            return self.energy(x, None)
        K, B = self.classes, x.shape[0]
        if y is not None:
            return self.energy(x, F.one_hot(y.long().view(-1), K).to(x.dtype))
        terms = [-self.energy(x, F.one_hot(torch.full((B,), k, dtype=torch.long), K).to(x.dtype)).view(B) for k in range(K)]
        return -torch.logsumexp(torch.stack(terms, 1), 1)


class CondConvNet(Conditioned):
    """convnet() with FiLM after each conv (before the activation): the same tensor names (0, 2, 4, 6, 10)
    and cond.<l>.scale / cond.<l>.shift"""
    def __init__(self, cin, base, act, classes):
        super().__init__()
        self.classes, self.act = classes, act()
        chans = [(cin, base, 1), (base, 2 * base, 2), (2 * base, 4 * base, 2), (4 * base, 4 * base, 2)]
        for l, (ci, co, st) in enumerate(chans):
            self.add_module(str(2 * l), nn.Conv2d(ci, co, 3, st, 1))
        self.add_module("10", nn.Linear(4 * base, 1))
        self.cond = nn.ModuleList([FiLM(classes, co) for _, co, _ in chans])

    def energy(self, x, onehot):
        h = x
        for l in range(4):
            h = self.act(self.cond[l](getattr(self, str(2 * l))(h), onehot))
        return getattr(self, "10")(h.mean(dim=(2, 3)))


def convnet(cin, base, act):
    return nn.Sequential(nn.Conv2d(cin, base, 3, 1, 1), act(), nn.Conv2d(base, 2 * base, 3, 2, 1), act(),
                         nn.Conv2d(2 * base, 4 * base, 3, 2, 1), act(), nn.Conv2d(4 * base, 4 * base, 3, 2, 1), act(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * base, 1))


class WSConv2d(nn.Conv2d):
    """improved CD's weight-standardised conv: (w - mean) / (unbiased std + 1e-5) per output filter"""
    def forward(self, x):
        w = self.weight - self.weight.mean(dim=(1, 2, 3), keepdim=True)
        w = w / (w.view(w.size(0), -1).std(dim=1).view(-1, 1, 1, 1) + 1e-5)
        return F.conv2d(x, w, self.bias, 1, 1)


class InstanceNorm(nn.Module):
    """the engine's instance norm: per example and channel over H, W, biased variance, eps 1e-5, then
    weight and bias per channel. On a 1x1 map the variance is 0 and the output is the bias (the engine
    computes 0 * rsqrt(0 + eps)); nn.InstanceNorm2d raises on 1x1 maps, in training and eval mode."""
    def __init__(self, c, eps=1e-5):
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c)), eps

    def forward(self, x):
        d = x - x.mean(dim=(2, 3), keepdim=True)
        y = d * torch.rsqrt(d.square().mean(dim=(2, 3), keepdim=True) + self.eps)
        return y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class SelfAttn(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.query, self.key = nn.Conv2d(c, max(c // 8, 1), 1), nn.Conv2d(c, max(c // 8, 1), 1)
        self.value, self.gamma = nn.Conv2d(c, c, 1), nn.Parameter(torch.zeros(1))

    def forward(self, x):
        B, C, H, W = x.shape
        q, k, v = self.query(x).view(B, -1, H * W), self.key(x).view(B, -1, H * W), self.value(x).view(B, C, H * W)
        attn = torch.softmax(torch.bmm(q.permute(0, 2, 1), k), dim=-1)
        return self.gamma * torch.bmm(v, attn.permute(0, 2, 1)).view(B, C, H, W) + x


class ResBlock(nn.Module):
    def __init__(self, cin, cout, down, act):
        super().__init__()
        norm = (lambda: InstanceNorm(cin)) if cin <= 128 else (lambda: nn.GroupNorm(32, cin))
        self.conv1, self.norm1, self.conv2, self.norm2 = WSConv2d(cin, cin, 3, padding=1), norm(), WSConv2d(cin, cin, 3, padding=1), norm()
        self.conv_down = nn.Conv2d(cin, cout, 3, padding=1) if down else None
        self.act = act()

    def forward(self, x, film=None):
        h = self.act(self.norm1(self.conv1(x)))
        h = x + self.act(self.norm2(self.conv2(h)))
        if film is not None:   # a conditioned energy: FiLM after the residual sum, before the downsampling
            h = film(h)
        if self.conv_down is not None:
            h = self.act(F.avg_pool2d(self.conv_down(h), 3, 2, 1))
        return h


class ResNetEnergy(Conditioned):
    """improved CD's ResNet energy (models/nets.h ebm_net_resnet); with classes > 0 a FiLM per block
    (cond.<i>.scale / cond.<i>.shift, i the block)"""
    def __init__(self, cin, f, stages, attention, act, classes=0):
        super().__init__()
        self.conv_in, self.act, self.classes = nn.Conv2d(cin, f, 3, padding=1), act(), classes
        blocks, c, self.attn_after = [], f, -1
        for s in range(stages):
            cout = c if s == 0 else 2 * c
            blocks += [ResBlock(c, c, False, act), ResBlock(c, cout, True, act)]
            c = cout
            if attention and s == 1 and stages > 2:
                self.attn_after, self.attn = len(blocks) - 1, SelfAttn(c)
        self.blocks, self.fc = nn.ModuleList(blocks), nn.Linear(c, 1)
        if classes:
            self.cond = nn.ModuleList([FiLM(classes, b.conv1.in_channels) for b in blocks])

    def energy(self, x, onehot):
        h = self.act(self.conv_in(x))
        for i, b in enumerate(self.blocks):
            h = b(h, None if onehot is None else (lambda t, i=i: self.cond[i](t, onehot)))
            if i == self.attn_after:
                h = self.attn(h)
        return self.fc(self.act(h).mean(dim=(2, 3)))


class MultiScale(Conditioned):
    """E(x) = sum_s E_s(pool^s(x)): names nets.<s>.*; conditioned nets take the same labels at every
    scale, and the marginal is over the sum"""
    def __init__(self, nets, pool, classes=0):
        super().__init__()
        self.nets, self.pool, self.classes = nn.ModuleList(nets), pool, classes

    def energy(self, x, onehot):
        e = 0
        for s, net in enumerate(self.nets):
            if s:
                x = self.pool(x)
            e = e + (net(x) if onehot is None else net.energy(x, onehot)).view(-1)
        return e


class PoE(nn.Module):
    """Kim & Bengio's product of experts: E(x) = |x|^2 / sigma^2 - b.x - sum_k softplus(w_k.f(x) + c_k),
    f = features (Linear, act after every layer), experts (K x last width), visible_bias (D)"""
    def __init__(self, d, hidden, experts, sigma, act):
        super().__init__()
        layers, prev = [], d
        for w in hidden:
            layers += [nn.Linear(prev, w), act()]
            prev = w
        self.features, self.experts = nn.Sequential(*layers), nn.Linear(prev, experts)
        self.visible_bias = nn.Parameter(torch.zeros(d))
        self.inv_s2 = 1.0 / (sigma * sigma)

    def forward(self, x):
        x = x.flatten(1)
        quad = x.square().sum(1) * self.inv_s2
        return quad - x @ self.visible_bias - F.softplus(self.experts(self.features(x))).sum(1)


class Quadratic(nn.Module):
    """E(x) = |(x - mean) factor|^2 / 2: a Gaussian energy of precision factor factor^T"""
    def __init__(self, d):
        super().__init__()
        self.factor, self.mean = nn.Parameter(torch.eye(d)), nn.Parameter(torch.zeros(d))

    def forward(self, x):
        return 0.5 * ((x.flatten(1) - self.mean) @ self.factor).square().sum(1)


class RBMFreeEnergy(nn.Module):
    """a restricted Boltzmann machine's free energy (models/nn/nets.h): Bernoulli visible units
    F(v) = -b.v - sum_j softplus(c_j + W_j.v); Gaussian F(v) = |(v - b) / sigma|^2 / 2 - sum_j softplus(c_j +
    W_j.(v / sigma)), sigma = exp(log_sigma) when learnt, else fixed"""
    def __init__(self, d, hidden, gaussian, sigma, learn_sigma):
        super().__init__()
        self.weight, self.hidden_bias = nn.Parameter(torch.zeros(hidden, d)), nn.Parameter(torch.zeros(hidden))
        self.visible_bias, self.gaussian, self.sigma = nn.Parameter(torch.zeros(d)), gaussian, sigma
        if gaussian and learn_sigma:
            self.log_sigma = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        v = x.flatten(1)
        if not self.gaussian:
            return -(v @ self.visible_bias) - F.softplus(F.linear(v, self.weight, self.hidden_bias)).sum(1)
        s = self.log_sigma.exp() if hasattr(self, "log_sigma") else torch.full_like(self.visible_bias, self.sigma)
        return ((v - self.visible_bias) / s).square().sum(1) / 2 - F.softplus(F.linear(v / s, self.weight, self.hidden_bias)).sum(1)


def dcgan_sizes(size):
    """the DCGAN ladder ending at size: s[4] = size, s[i] = ceil(s[i + 1] / 2)"""
    s = [0, 0, 0, 0, size]
    for i in range(3, -1, -1):
        s[i] = (s[i + 1] + 1) // 2
    return s


class DCGANTrunk(nn.Module):
    """MEG's conv trunk: four Conv5x5 stride 2 pad 2 (cin -> b -> 2b -> 4b -> 8b), act, flatten, fc -> out
    (an energy: out = 1; a classifier: the classes; MEG's statistics trunk; Dual-MCMC's inference net)"""
    def __init__(self, cin, base, size, out, act):
        super().__init__()
        ch, s = [cin, base, 2 * base, 4 * base, 8 * base], dcgan_sizes(size)
        for l in range(4):
            setattr(self, f"conv{l + 1}", nn.Conv2d(ch[l], ch[l + 1], 5, 2, 2))
        self.fc, self.act = nn.Linear(ch[4] * s[0] * s[0], out), act()

    def forward(self, x):
        h = x
        for l in range(4):
            h = self.act(getattr(self, f"conv{l + 1}")(h))
        return self.fc(h.flatten(1))


class DCGANGenerator(nn.Module):
    """MEG's StackedMNIST generator: fc (z -> 8b x s0 x s0), BatchNorm2d, act, four ConvTranspose5x5
    stride 2 pad 2 (output padding to reach size) with BN + act between, tanh"""
    def __init__(self, z_dim, base, cout, size, act):
        super().__init__()
        ch, s = [8 * base, 4 * base, 2 * base, base, cout], dcgan_sizes(size)
        self.c0, self.s0 = ch[0], s[0]
        self.fc = nn.Linear(z_dim, ch[0] * s[0] * s[0])
        for l in range(4):
            setattr(self, f"norm{l}", nn.BatchNorm2d(ch[l], track_running_stats=False))
            setattr(self, f"deconv{l + 1}", nn.ConvTranspose2d(ch[l], ch[l + 1], 5, 2, 2, output_padding=s[l + 1] - (2 * s[l] - 1)))
        self.act = act()

    def forward(self, z):
        h = self.act(self.norm0(self.fc(z).view(-1, self.c0, self.s0, self.s0)))
        for l in range(1, 5):
            h = getattr(self, f"deconv{l}")(h)
            h = self.act(getattr(self, f"norm{l}")(h)) if l < 4 else torch.tanh(h)
        return h


class Stats(nn.Module):
    """MEG's statistics network T(x, z) on images: head(cat(trunk(x), z)), names trunk.*, head.*"""
    def __init__(self, trunk, head):
        super().__init__()
        self.trunk, self.head = trunk, head

    def forward(self, x, z):
        return self.head(torch.cat([self.trunk(x), z], 1))


class StatsMLP(nn.Sequential):
    """MEG's statistics network T(x, z) on vectors: an MLP on cat(x, z), names 0.*, 2.*, ..."""
    def forward(self, x, z):
        return super().forward(torch.cat([x.flatten(1), z], 1))


def activation(cfg, meta, section, default):
    """the activation a network ran with: [section] activation (or the checkpoint's own record of it)
    when it names one, else the network's default"""
    for v in (meta.get(f"{section}.activation"), cfg.get(section, "activation", fallback=None)):
        if v in ACT:
            return v
    return default


PREFIX = {"energy": "", "generator": "generator.", "stats": "stats.", "inference": "inference."}


def build(cfg, shape, meta=None, which="energy"):
    """the nn.Module of one network of a run ("energy" — a classifier's too —, "generator", "stats",
    "inference"), or None where the run has none"""
    meta, m, method = meta or {}, cfg["model"], cfg.get("run", "method", fallback="cd")
    D, img = math.prod(shape), len(shape) == 3
    n_out = int(cfg[method]["classes"]) if method in ("classify", "jem") else 1   # a classifier's logits (JEM: E = -logsumexp)
    if which == "energy":
        net = m["net"]
        act = ACT[activation(cfg, meta, "model", "lrelu" if net == "dcgan" else "swish")]
        base, scales = int(m["base"]), int(m["scales"])
        K = int(m.get("classes", "0")) if method == "cd" else 0   # a class-conditional energy (FiLM)
        if net == "mlp":
            return mlp(D, widths(m["hidden"]), n_out, act)
        if net == "convnet":
            return CondConvNet(shape[0], base, act, K) if K else convnet(shape[0], base, act)
        if net == "multiscale":
            return MultiScale([CondConvNet(shape[0], base, act, K) if K else convnet(shape[0], base, act) for _ in range(scales)],
                              lambda x: F.avg_pool2d(x, 2), K)
        if net == "resnet":
            stages, att = int(m["stages"]), m["attention"].lower() in ("true", "1", "yes", "on")
            if scales <= 1:
                return ResNetEnergy(shape[0], base, stages, att, act, K)
            return MultiScale([ResNetEnergy(shape[0], base, max(stages - s, 1), att, act, K) for s in range(scales)],
                              lambda x: F.avg_pool2d(x, 3, 2, 1), K)
        if net == "poe":
            return PoE(D, widths(m["hidden"]), int(m["experts"]), float(m["poe_sigma"]), act)
        if net == "dcgan":
            return DCGANTrunk(shape[0], base, shape[1], n_out, act)
        if net == "quadratic":
            return Quadratic(D)
        if net == "rbm_free_energy":
            return RBMFreeEnergy(D, widths(m["hidden"])[0], m["rbm_visible"] == "gaussian", float(m["rbm_sigma"]),
                                 m["rbm_learn_sigma"].lower() in ("true", "1", "yes", "on"))
        raise SystemExit(f"unknown [model] net = {net}")
    if method not in ("meg", "ddgm", "dual"):
        return None
    g, z_dim = cfg["generator"], int(cfg["generator"]["z_dim"])
    if which == "generator":
        act = ACT[activation(cfg, meta, "generator", "relu")]
        if g["net"] == "dcgan":
            return DCGANGenerator(z_dim, int(g["base"]), shape[0], shape[1], act)
        return mlp(z_dim, widths(g["hidden"]), D, act, g["batch_norm"].lower() in ("true", "1", "yes", "on"), tanh=img)
    if which == "stats" and method == "meg":
        act = ACT[activation(cfg, meta, "meg", "lrelu")]
        mg = cfg["meg"]
        if img:
            f = int(mg["stat_features"])
            return Stats(DCGANTrunk(shape[0], int(mg["stat_base"]), shape[1], f, act), mlp(f + z_dim, widths(mg["stat_hidden"]), 1, act))
        return StatsMLP(*mlp(D + z_dim, widths(mg["stat_hidden"]), 1, act))
    if which == "inference" and method == "dual":
        act = ACT[activation(cfg, meta, "dual", "lrelu")]
        if img:
            return DCGANTrunk(shape[0], int(m["base"]), shape[1], 2 * z_dim, act)
        return mlp(D, widths(cfg["dual"]["inf_hidden"]), 2 * z_dim, act)
    return None


def open_checkpoint(path):
    tensors, meta = read_safetensors(path)
    cfg = configparser.ConfigParser(inline_comment_prefixes=None, interpolation=None)
    cfg.read_string(meta["config"])
    return tensors, meta, cfg, [int(s) for s in meta["sample_shape"].split(",")]


def load(path, ema=True, which="energy"):
    """(module, config, sample shape) of one network of a checkpoint, its weights loaded strictly"""
    tensors, meta, cfg, shape = open_checkpoint(path)
    return load_from(tensors, meta, cfg, shape, ema, which), cfg, shape


def load_from(tensors, meta, cfg, shape, ema, which):
    model = build(cfg, shape, meta, which)
    if model is None:
        raise SystemExit(f"this run ([run] method = {cfg.get('run', 'method', fallback='cd')}) has no {which} network")
    if which == "energy":
        prefix = "ema." if ema and any(k.startswith("ema.") for k in tensors) else ""
        others = tuple(p for p in PREFIX.values() if p) + ("optim", "replay.", "ema.", "nce.")
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        state = {k: v for k, v in state.items() if not k.startswith(others)}
    else:
        state = {k[len(PREFIX[which]):]: v for k, v in tensors.items() if k.startswith(PREFIX[which])}
    model.load_state_dict(state, strict=True)
    return model.eval()


def networks(tensors, meta, cfg, shape, ema=True):
    return {w: load_from(tensors, meta, cfg, shape, ema, w) for w in PREFIX if build(cfg, shape, meta, w) is not None}


def read_idx(path, limit):
    data = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    nd = data[3]
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    x = torch.frombuffer(bytearray(data[4 + 4 * nd:]), dtype=torch.uint8).float().div(255).reshape(dims)
    return (x.unsqueeze(1) if nd == 3 else x)[:limit]


def compare(name, got, f32, f64):
    """the engine's float32 output `got` against the same module in float64 (`f64`, the exact result of
    these weights and inputs up to 1e-16) and in float32 (`f32`). Float32 rounding of this computation
    shows as |f32 - f64|; the engine sums in other orders (its own GEMM and convolution kernels, FFT
    convolutions), which rounds differently but by the same order, so the engine may differ from f64 by
    up to 16x PyTorch's float32 error, plus 64 units of float32 rounding (2^-24) of the output's scale
    (max |f64|), so that a PyTorch result that happens to round exactly leaves some room. An
    error in what is computed (a wrong activation, norm, padding or weight layout) shows as a relative
    difference of 1e-3 and more."""
    got, f32, f64 = got.double().reshape(f64.shape), f32.double().reshape(f64.shape), f64.reshape(f64.shape)
    scale = max(f64.abs().max().item(), 1e-30)
    err, err32 = (got - f64).abs().max().item(), (f32 - f64).abs().max().item()
    tol = 16 * err32 + 64 * 2.0 ** -24 * scale
    ok = err <= tol
    print(f"{'ok  ' if ok else 'FAIL'} {name:10s} {tuple(f64.shape)}: engine max |diff| {err:.3g} (relative to max |out| "
          f"{err / scale:.3g}), PyTorch float32 {err32:.3g}, tolerance {tol:.3g}")
    return ok


def compare_outputs(checkpoint, outputs, which=None, ema=True):
    """every network of the checkpoint (or `which`) against the engine's outputs in `outputs`
    (tests/net_outputs): True when all agree (compare())"""
    tensors, meta, cfg, shape = open_checkpoint(checkpoint)
    out, _ = read_safetensors(outputs)
    ok, n = True, 0
    for w, model in networks(tensors, meta, cfg, shape, ema).items():
        key = "classify" if w == "energy" and "classify.out" in out else w
        if (which and w != which) or f"{key}.out" not in out:
            continue
        ins = [out[f"{key}.{i}"] for i in ("x", "z") if f"{key}.{i}" in out]
        with torch.no_grad():
            f32 = model(*ins)
            f64 = model.double()(*[t.double() for t in ins])
        ok &= compare(key, out[f"{key}.out"], f32, f64)
        n += 1
        if f"{key}.y" in out:   # a conditioned energy: E(x | y) too, and E(x | another label) must differ from it
            x, y = out[f"{key}.x"], out[f"{key}.y"].long()
            with torch.no_grad():
                f64 = model(x.double(), y)
                ok &= compare(f"{key}|y", out[f"{key}.cout"], model.float()(x, y), f64)
                other = model.double()(x.double(), (y + 1) % model.classes)
            d = (other.view(-1) - f64.view(-1)).abs().max().item() / max(f64.abs().max().item(), 1e-30)
            print(f"{'ok  ' if d > 1e-4 else 'FAIL'} {key}|y+1: E(x | another label) differs by {d:.3g} of max |E| (> 1e-4: the labels matter)")
            ok &= d > 1e-4
    if n == 0:
        raise SystemExit(f"{outputs} holds no outputs of these networks")
    return ok


def read_inputs(shape, data=None, idx=None, limit=1 << 30):
    if idx:
        return read_idx(idx, limit)
    rows = [l for l in open(data) if l.strip() and not l.startswith("#")]
    try:
        float(rows[0].split(",")[0])
    except ValueError:
        rows = rows[1:]
    return torch.tensor([[float(v) for v in r.split(",")] for r in rows])[:limit]


def compare_scores(model, shape, x, scores):
    """energies of x against `ebm score`'s CSV: True when within 1e-4 of the largest |E|"""
    with torch.no_grad():
        e = model(x.view(len(x), *shape)).view(-1).double()
    print(f"{len(e)} energies from PyTorch: mean {e.mean():.6g}, first {e[:4].tolist()}")
    if not scores:
        return True
    ref = torch.tensor([float(l.split(",")[1]) for l in open(scores).readlines()[1:]], dtype=torch.float64)[:len(e)]
    d = (e - ref).abs()
    rel = d.max() / ref.abs().max().clamp_min(1e-30)
    print(f"vs ebm score: max |diff| {d.max():.3g} (relative to max |E| {rel:.3g}) over {len(ref)} examples")
    return bool(rel < 1e-4)


def prefix_net(prefix):
    """the network ("energy", "generator", ...) whose tensors start with prefix"""
    p = prefix if prefix in ("", "ema.") or prefix.endswith(".") else prefix + "."
    for w, q in PREFIX.items():
        if q == p or (p == "ema." and w == "energy"):
            return w
    raise SystemExit(f"--prefix {prefix}: the networks' prefixes are " + ", ".join(repr(q) for q in PREFIX.values()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--raw", action="store_true", help="the trained energy weights, not the EMA")
    ap.add_argument("--net", choices=list(PREFIX), help="one network: energy (default), generator, stats, inference")
    ap.add_argument("--prefix", help="one network by its tensors' prefix: '' (energy), generator., stats., inference.")
    ap.add_argument("--data", help="CSV of vectors")
    ap.add_argument("--idx", help="IDX images")
    ap.add_argument("--limit", type=int, default=1 << 30)
    ap.add_argument("--scores", help="`ebm score` output to compare with")
    ap.add_argument("--compare", metavar="OUTPUTS", help="safetensors of the engine's outputs (tests/net_outputs)")
    a = ap.parse_args()
    which = prefix_net(a.prefix) if a.prefix is not None else a.net
    if a.compare:
        sys.exit(0 if compare_outputs(a.checkpoint, a.compare, which, ema=not a.raw) else 1)
    tensors, meta, cfg, shape = open_checkpoint(a.checkpoint)
    if not (which or a.data or a.idx):
        for w, mod in networks(tensors, meta, cfg, shape, ema=not a.raw).items():
            ema = w == "energy" and not a.raw and any(k.startswith("ema.") for k in tensors)
            print(f"# {w} ({'tensors ' + PREFIX[w] + '*' if PREFIX[w] else 'tensors without a prefix'}{', EMA weights' if ema else ''})")
            print(mod)
        return
    which = which or "energy"
    model = load_from(tensors, meta, cfg, shape, not a.raw, which)
    print(model)
    if a.data or a.idx:
        if which != "energy":
            raise SystemExit("--data and --idx score energies (--net energy)")
        sys.exit(0 if compare_scores(model, shape, read_inputs(shape, a.data, a.idx, a.limit), a.scores) else 1)


if __name__ == "__main__":
    main()
