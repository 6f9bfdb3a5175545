#!/usr/bin/env python3
"""Load an ebm-cl checkpoint into the matching PyTorch nn.Module and compare energies.

    python3 tools/torch_load.py runs/toy/checkpoint.safetensors                    # prints the module
    python3 tools/torch_load.py CKPT --data points.csv --scores scores.csv         # compares with `ebm score`
    python3 tools/torch_load.py CKPT --idx t10k-images-idx3-ubyte.gz --scores s.csv --limit 512

The checkpoint's parameters carry the names a PyTorch state_dict of the module below has; EMA
weights are "ema.<name>" (pass --ema to load those, as `ebm score` does by default), optimizer and
replay-buffer tensors are ignored. Needs only torch (no safetensors package): the format is an
8-byte header length, a JSON header and raw little-endian float32 data.
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
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        assert info["dtype"] == "F32", name
        tensors[name] = torch.frombuffer(bytearray(blob[base + a:base + b]), dtype=torch.float32).reshape(info["shape"])
    return tensors, meta


ACT = {"swish": nn.SiLU, "lrelu": lambda: nn.LeakyReLU(0.2), "relu": nn.ReLU, "elu": nn.ELU, "softplus": nn.Softplus}


def mlp(cfg, n_in):
    act = ACT[cfg["model"]["activation"]]
    widths = [n_in] + [int(w) for w in cfg["model"]["hidden"].split(",")] + [1]
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(act())
    return nn.Sequential(*layers)


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
        norm = (lambda: nn.InstanceNorm2d(cin, affine=True)) if cin <= 128 else (lambda: nn.GroupNorm(32, cin))
        self.conv1, self.norm1, self.conv2, self.norm2 = WSConv2d(cin, cin, 3, padding=1), norm(), WSConv2d(cin, cin, 3, padding=1), norm()
        self.conv_down = nn.Conv2d(cin, cout, 3, padding=1) if down else None
        self.act = act()

    def forward(self, x):
        h = self.act(self.norm1(self.conv1(x)))
        h = x + self.act(self.norm2(self.conv2(h)))
        if self.conv_down is not None:
            h = self.act(F.avg_pool2d(self.conv_down(h), 3, 2, 1))
        return h


class ResNetEnergy(nn.Module):
    def __init__(self, cin, f, stages, attention, act):
        super().__init__()
        self.conv_in, self.act = nn.Conv2d(cin, f, 3, padding=1), act()
        blocks, c, self.attn_after = [], f, -1
        for s in range(stages):
            cout = c if s == 0 else 2 * c
            blocks += [ResBlock(c, c, False, act), ResBlock(c, cout, True, act)]
            c = cout
            if attention and s == 1 and stages > 2:
                self.attn_after, self.attn = len(blocks) - 1, SelfAttn(c)
        self.blocks, self.fc = nn.ModuleList(blocks), nn.Linear(c, 1)

    def forward(self, x):
        h = self.act(self.conv_in(x))
        for i, b in enumerate(self.blocks):
            h = b(h)
            if i == self.attn_after:
                h = self.attn(h)
        return self.fc(self.act(h).mean(dim=(2, 3)))


class MultiScale(nn.Module):
    def __init__(self, nets, pool):
        super().__init__()
        self.nets, self.pool = nn.ModuleList(nets), pool

    def forward(self, x):
        e = 0
        for s, net in enumerate(self.nets):
            if s:
                x = self.pool(x)
            e = e + net(x).view(-1)
        return e


def build(cfg, shape):
    m, act = cfg["model"], ACT[cfg["model"]["activation"]]
    net, base, scales = m["net"], int(m["base"]), int(m["scales"])
    if net == "mlp":
        return mlp(cfg, math.prod(shape))
    if net == "convnet":
        return convnet(shape[0], base, act)
    if net == "multiscale":
        return MultiScale([convnet(shape[0], base, act) for _ in range(scales)], lambda x: F.avg_pool2d(x, 2))
    if net == "resnet":
        stages, att = int(m["stages"]), m["attention"].lower() in ("true", "1", "yes")
        if scales <= 1:
            return ResNetEnergy(shape[0], base, stages, att, act)
        return MultiScale([ResNetEnergy(shape[0], base, max(stages - s, 1), att, act) for s in range(scales)],
                          lambda x: F.avg_pool2d(x, 3, 2, 1))
    raise SystemExit(f"unknown net {net}")


def load(path, ema=True):
    tensors, meta = read_safetensors(path)
    cfg = configparser.ConfigParser(inline_comment_prefixes=None)
    cfg.read_string(meta["config"])
    shape = [int(s) for s in meta["sample_shape"].split(",")]
    model = build(cfg, shape)
    prefix = "ema." if ema and any(k.startswith("ema.") for k in tensors) else ""
    skip = ("optim.", "replay.", "generator.", "stats.", "optim_generator.", "optim_stats.")   # the energy only
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix) and not k.startswith(skip)}
    if not prefix:
        state = {k: v for k, v in state.items() if not k.startswith("ema.")}
    model.load_state_dict(state, strict=True)
    return model.eval(), cfg, shape


def read_idx(path, limit):
    data = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    nd = data[3]
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    x = torch.frombuffer(bytearray(data[4 + 4 * nd:]), dtype=torch.uint8).float().div(255).reshape(dims)
    return (x.unsqueeze(1) if nd == 3 else x)[:limit]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--raw", action="store_true", help="the trained weights, not the EMA")
    ap.add_argument("--data", help="CSV of vectors")
    ap.add_argument("--idx", help="IDX images")
    ap.add_argument("--limit", type=int, default=1 << 30)
    ap.add_argument("--scores", help="`ebm score` output to compare with")
    a = ap.parse_args()
    model, cfg, shape = load(a.checkpoint, ema=not a.raw)
    print(model)
    if a.data or a.idx:
        if a.idx:
            x = read_idx(a.idx, a.limit)
        else:
            rows = [l for l in open(a.data) if l.strip() and not l.startswith("#")]
            try:
                float(rows[0].split(",")[0])
            except ValueError:
                rows = rows[1:]
            x = torch.tensor([[float(v) for v in r.split(",")] for r in rows])[:a.limit]
        with torch.no_grad():
            e = model(x.view(len(x), -1) if cfg["model"]["net"] == "mlp" else x).view(-1).double()
        print(f"{len(e)} energies from PyTorch: mean {e.mean():.6g}, first {e[:4].tolist()}")
        if a.scores:
            ref = torch.tensor([float(l.split(",")[1]) for l in open(a.scores).readlines()[1:]], dtype=torch.float64)[:len(e)]
            d = (e - ref).abs()
            rel = d.max() / ref.abs().max().clamp_min(1e-30)
            print(f"vs ebm score: max |diff| {d.max():.3g} (relative to max |E| {rel:.3g}) over {len(ref)} examples")
            sys.exit(0 if rel < 1e-4 else 1)


if __name__ == "__main__":
    main()
