#!/usr/bin/env python3
"""Measured composition of class-conditional energies on stacked Fashion-MNIST.

    /usr/bin/python3 bench/compose_stacked.py RUN0 RUN1 CLASSIFIER --pairs 1,8 7,3 ... [--n 100] [--steps 100]
        [--not-weight -0.5] [--ebm build/ebm] [--work DIR] [--out bench/results/compose-stacked-fmnist.md]
        [--png bench/results/compose-stacked-fmnist-and.png] [--png-gray FILE]

RUN0 is a run.method = cd run with [model] classes = 10 (or a run.method = jem run) conditioned on the class
of channel 0 ([data] label_channel = 0), RUN1 on channel 1's; CLASSIFIER a one-channel Fashion-MNIST classifier run
(configs/fmnist-classifier.ini). For every pair (a, b) it draws, with `ebm sample --compose` (one
Langevin chain from noise on the composed energy, --n chains of --steps steps, seed 1):
    AND     E0(x | a) + E1(x | b)
    RUN0    E0(x | a) alone
    RUN1    E1(x | b) alone
    NOT     E0(x | a) + w E1(x | b), w = --not-weight < 0 (channel 0 a, channel 1 NOT b)
classifies channel 0 and channel 1 of every sample with the classifier (tools/torch_load.py loads it
into PyTorch) and reports the fractions with channel 0 = a, channel 1 = b and both. Chance for both is
1/100. Writes the table with the exact commands as Markdown, and the first pair's AND samples as a PNG
grid (the three channels as RGB).

    /usr/bin/python3 bench/compose_stacked.py RUN0 RUN1 CLASSIFIER --grid [--n 100] [--steps 200] [--out FILE.md] [--reuse]

draws every class alone once from each run (20 samplings) and the AND of every ordered pair (a, b),
a and b in 0..9 (100 samplings), and writes the 10 x 10 table of AND rates beside the rates each model
alone reaches for the same pair (RUN0 E0(x | a) alone, judged on both channels, and RUN1 E1(x | b)
alone), with how many pairs reach 5 times chance and beat both models alone.
"""
import argparse, configparser, json, os, struct, subprocess, sys, zlib
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import torch_load  # noqa: E402

NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def write_png(path, x, cols):
    """x (N, 3, H, W) in [0, 1] as an RGB grid of cols columns, 2-pixel gaps"""
    n, c, h, w = x.shape
    rows = (n + cols - 1) // cols
    H, W = rows * (h + 2) + 2, cols * (w + 2) + 2
    img = np.zeros((H, W, 3), np.uint8)
    for i in range(n):
        r, q = divmod(i, cols)
        tile = (np.clip(x[i], 0, 1) * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0)
        img[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + q * (w + 2):2 + q * (w + 2) + w] = tile if c == 3 else tile[:, :, :1]
    raw = b"".join(b"\0" + img[y].tobytes() for y in range(H))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def classify(model, x):
    """argmax class of channels 0 and 1 of x (N, C, H, W): (N,), (N,)"""
    with torch.no_grad():
        t = torch.from_numpy(np.ascontiguousarray(x[:, :2])).float().reshape(-1, 1, x.shape[2], x.shape[3])
        p = model(t).argmax(1).numpy().reshape(-1, 2)
    return p[:, 0], p[:, 1]


def sample(a, specs, common, out):
    """`ebm sample --compose` of specs into out (.npy; with --reuse an existing out is read instead);
    the samples and the command line"""
    cmd = [a.ebm, "sample"] + sum((["--compose", s] for s in specs), []) + common + ["--out", out]
    print("$", " ".join(cmd), flush=True)
    if not (a.reuse and os.path.exists(out)):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return np.load(out), " ".join(cmd)


def grid(a, model, common):
    """--grid: each run alone per class, the AND of every ordered pair; a Markdown table"""
    K = len(NAMES)
    alone = {}   # (run index, class) -> (p0, p1) of its samples
    for i, run in enumerate((a.run0, a.run1)):
        for k in range(K):
            x, _ = sample(a, [f"{run}:class={k}"], common, os.path.join(a.work, f"run{i}-{k}.npy"))
            alone[i, k] = classify(model, x)
    both = np.zeros((K, K))   # AND: channel 0 = a and channel 1 = b
    r0 = np.zeros((K, K))     # RUN0 E0(x | a) alone: the same event
    r1 = np.zeros((K, K))     # RUN1 E1(x | b) alone
    for ca in range(K):
        for cb in range(K):
            x, _ = sample(a, [f"{a.run0}:class={ca}", f"{a.run1}:class={cb}"], common, os.path.join(a.work, f"and-{ca}-{cb}.npy"))
            p0, p1 = classify(model, x)
            both[ca, cb] = ((p0 == ca) & (p1 == cb)).mean()
            q0, q1 = alone[0, ca]
            r0[ca, cb] = ((q0 == ca) & (q1 == cb)).mean()
            q0, q1 = alone[1, cb]
            r1[ca, cb] = ((q0 == ca) & (q1 == cb)).mean()
            print(f"AND {ca},{cb}: {both[ca, cb]:.2f} (RUN0 alone {r0[ca, cb]:.2f}, RUN1 alone {r1[ca, cb]:.2f})", flush=True)
    own0 = [float((alone[0, k][0] == k).mean()) for k in range(K)]
    own1 = [float((alone[1, k][1] == k).mean()) for k in range(K)]
    win = (both >= 0.05) & (both > r0) & (both > r1)
    pct = lambda v: f"{100 * v:.0f}"
    short = [n.split("/")[0].split(" ")[-1] for n in NAMES]
    lines = [f"AND rate (%) of channel 0 = a and channel 1 = b, {a.n} samples of {a.steps} steps per pair (chance 1%); "
             "in brackets RUN0 E0(x | a) alone / RUN1 E1(x | b) alone for the same event; **bold**: at least 5% and above "
             "both models alone.", "",
             "| a \\ b | " + " | ".join(f"{b} {short[b]}" for b in range(K)) + " |",
             "|---|" + "---|" * K]
    for ca in range(K):
        cells = []
        for cb in range(K):
            c = f"{pct(both[ca, cb])} ({pct(r0[ca, cb])}/{pct(r1[ca, cb])})"
            cells.append(f"**{c}**" if win[ca, cb] else c)
        lines.append(f"| {ca} {short[ca]} | " + " | ".join(cells) + " |")
    lines += ["", "| | " + " | ".join(f"{k} {short[k]}" for k in range(K)) + " | mean |", "|---|" + "---|" * (K + 1),
              "| RUN0 alone: channel 0 = k | " + " | ".join(pct(v) for v in own0) + f" | {100 * np.mean(own0):.1f} |",
              "| RUN1 alone: channel 1 = k | " + " | ".join(pct(v) for v in own1) + f" | {100 * np.mean(own1):.1f} |", "",
              f"Mean over the {K * K} pairs: AND {100 * both.mean():.1f}%, RUN0 alone {100 * r0.mean():.1f}%, RUN1 alone "
              f"{100 * r1.mean():.1f}%; {int(win.sum())} of {K * K} pairs at least 5% and above both alone; AND above both "
              f"alone in {int(((both > r0) & (both > r1)).sum())} pairs."]
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(a.out + ".json", "w") as f:
        json.dump({"n": a.n, "steps": a.steps, "and": both.tolist(), "run0_alone": r0.tolist(), "run1_alone": r1.tolist(),
                   "run0_own_class": own0, "run1_own_class": own1}, f, indent=1)
    print("\n".join(lines))
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run0"), ap.add_argument("run1"), ap.add_argument("classifier")
    ap.add_argument("--pairs", nargs="+")
    ap.add_argument("--grid", action="store_true", help="every ordered class pair, AND and each run alone")
    ap.add_argument("--reuse", action="store_true", help="read the samples already in --work (same runs, --n, --steps) "
                    "instead of drawing them again, e.g. to judge them with another classifier")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--not-weight", type=float, default=-0.5)
    ap.add_argument("--ebm", default="build/ebm")
    ap.add_argument("--work", default="/tmp/compose-stacked")
    ap.add_argument("--out", default="bench/results/compose-stacked-fmnist.md")
    ap.add_argument("--png", default="bench/results/compose-stacked-fmnist-and.png")
    ap.add_argument("--png-gray", help="also the first pair's AND samples as grey channel 0 | channel 1 tiles, 5 a row")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    ck = a.classifier if a.classifier.endswith(".safetensors") else os.path.join(a.classifier, "checkpoint.safetensors")
    tensors, meta = torch_load.read_safetensors(ck)
    cfg = configparser.ConfigParser(inline_comment_prefixes=None, interpolation=None, strict=False)   # as ebm's INI reader
    cfg.read_string(meta["config"])
    shape = [int(s) for s in meta["sample_shape"].split(",")]
    model = torch_load.load_from(tensors, meta, cfg, shape, True, "energy")
    assert shape[0] == 1, "need a one-channel classifier"
    common = ["--n", str(a.n), "--steps", str(a.steps), "--seed", "1"]
    if a.grid:
        return grid(a, model, common)
    if not a.pairs:
        ap.error("give --pairs a,b ... or --grid")
    rows, cmds, res = [], [], {}
    for pair in a.pairs:
        ca, cb = (int(v) for v in pair.split(","))
        kinds = {"and": [f"{a.run0}:class={ca}", f"{a.run1}:class={cb}"], "run0": [f"{a.run0}:class={ca}"],
                 "run1": [f"{a.run1}:class={cb}"], "not": [f"{a.run0}:class={ca}", f"{a.run1}:class={cb}:weight={a.not_weight:g}"]}
        r = {}
        for kind, specs in kinds.items():
            x, cmd = sample(a, specs, common, os.path.join(a.work, f"{kind}-{ca}-{cb}.npy"))
            cmds.append(cmd)
            p0, p1 = classify(model, x)
            r[kind] = {"ch0": float((p0 == ca).mean()), "ch1": float((p1 == cb).mean()), "both": float(((p0 == ca) & (p1 == cb)).mean())}
            print(kind, ca, cb, json.dumps(r[kind]), flush=True)
            if kind == "and" and pair == a.pairs[0] and a.png:
                write_png(a.png, x[:100], 10)
            if kind == "and" and pair == a.pairs[0] and a.png_gray:
                gap = np.zeros((x.shape[0], 1, x.shape[2], 2), x.dtype)
                write_png(a.png_gray, np.concatenate([x[:, :1], gap, x[:, 1:2]], 3)[:40], 5)
        res[pair] = r
        pct = lambda v: f"{100 * v:.0f}%"
        rows.append(f"| {ca} {NAMES[ca]}, {cb} {NAMES[cb]} | **{pct(r['and']['both'])}** ({pct(r['and']['ch0'])}, {pct(r['and']['ch1'])}) "
                    f"| {pct(r['run0']['both'])} ({pct(r['run0']['ch0'])}, {pct(r['run0']['ch1'])}) "
                    f"| {pct(r['run1']['both'])} ({pct(r['run1']['ch0'])}, {pct(r['run1']['ch1'])}) "
                    f"| {pct(r['not']['ch0'])} | **{pct(r['not']['ch1'])}** (alone {pct(r['run0']['ch1'])}) |")
    mean = lambda k, f: sum(res[p][k][f] for p in a.pairs) / len(a.pairs)
    pct = lambda v: f"{100 * v:.1f}%"
    rows.append(f"| mean of {len(a.pairs)} pairs | **{pct(mean('and', 'both'))}** | {pct(mean('run0', 'both'))} | {pct(mean('run1', 'both'))} "
                f"| {pct(mean('not', 'ch0'))} | **{pct(mean('not', 'ch1'))}** (alone {pct(mean('run0', 'ch1'))}) |")
    with open(a.out + ".json", "w") as f:
        json.dump({"n": a.n, "steps": a.steps, "not_weight": a.not_weight, "results": res}, f, indent=1)
    print("\n".join(rows))
    return rows, cmds


if __name__ == "__main__":
    main()
