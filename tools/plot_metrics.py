#!/usr/bin/env python3
"""Training curves of a run as one PNG, drawn with matplotlib.

    plot_metrics.py RUN_DIR [--out PNG] [--width-px W] [--summary]

Reads RUN_DIR/metrics.jsonl (what `ebm train` and `ebm eval` append) and writes RUN_DIR/curves.png
(or --out) with one panel per kind of number, over iterations:
  - energies: the method's statistics named e_* (E(x+), E(x-), E(G(z)), ...),
  - losses: every other statistic of the training rows (loss, KL and entropy terms, accuracy, ...),
  - gradient norm (log scale) and learning rate (log scale),
  - evaluations: every score of the `ebm eval` rows (not the sizes and settings they record, such as
    samples or feature_dim), at the iteration of the checkpoint evaluated:
    scores in [0, 1] (AUROC, accuracy, fractions) in one panel, other numbers (counts, energies) in another
    (rows written before evaluations carried an iteration are placed at the last training row
    before them, and the legend says so).
Divergences and rollbacks are drawn as vertical lines. NaN and Inf (null in the file, named in the
row's "nonfinite") are left out of the lines and drawn as red crosses on the panel's lower edge;
the count is printed. A torn last line (a process killed during a write) is skipped with a warning;
a malformed line anywhere else is an error naming the file and line.

--summary prints, as JSON on stdout, every series drawn (panel, key, points, nonfinite points, first
and last iteration) so scripts and tests can check what was plotted.
Exit status: 0 written; 1 bad input (message on stderr); 77 matplotlib is not installed.
"""
import argparse
import json
import math
import os
import sys

SKIP = {"iter", "ranks", "it_per_s", "elapsed_s", "rollbacks", "event", "checkpoint", "nonfinite"}
# sizes and settings an eval row records beside its scores: not drawn
EVAL_SETTINGS = {"samples", "examples", "real_examples", "feature_dim", "modes", "min_per_mode", "ece_bins", "folder_examples",
                 "anomalies", "anomaly_class"}


def fail(msg):
    print(f"plot_metrics: {msg}", file=sys.stderr)
    sys.exit(1)


def read_rows(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    lines = data.split(b"\n")
    torn = data and not data.endswith(b"\n")
    rows = []
    for i, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw.decode("utf-8"))
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
        except (ValueError, UnicodeDecodeError) as e:
            if torn and i == len(lines):
                print(f"plot_metrics: {path}:{i}: skipping a torn last line", file=sys.stderr)
                continue
            fail(f"{path}:{i}: not a metrics row ({e})")
        rows.append((i, row))
    return rows


def number(row, key):
    """the value of row[key] as a float (NaN/Inf for nonfinite-flagged nulls), or None"""
    v = row.get(key)
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    flag = (row.get("nonfinite") or {}).get(key) if isinstance(row.get("nonfinite"), dict) else None
    return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(flag)


def collect(path):
    rows = read_rows(path)
    series = {}   # (panel, key) -> [(iter, value)]
    events = []   # (iter, kind)
    last_iter, eval_guessed = 0, False

    def add(panel, key, it, v):
        series.setdefault((panel, key), []).append((it, v))

    for lineno, row in rows:
        ev = row.get("event")
        it = row.get("iter")
        if ev == "eval":
            if not isinstance(it, (int, float)) or isinstance(it, bool):
                it, eval_guessed = last_iter, True
            for k in row:
                if k in SKIP or k in EVAL_SETTINGS:
                    continue
                v = number(row, k)
                if v is not None:
                    add("evaluations", k, it, v)
            continue
        if not isinstance(it, (int, float)) or isinstance(it, bool):
            fail(f"{path}:{lineno}: a row without an iteration")
        if ev in ("divergence", "rollback"):
            events.append((it, ev))
            continue
        if ev is not None:
            continue
        last_iter = it
        for k in row:
            if k in SKIP:
                continue
            v = number(row, k)
            if v is None:
                continue
            panel = ("energies" if k.startswith("e_") else "gradient norm" if k == "grad_norm" else
                     "learning rate" if k == "lr" else "losses")
            add(panel, k, it, v)
    if not series:
        fail(f"{path}: no numbers to plot (no training or eval rows yet)")
    return series, events, eval_guessed


PANELS = ["energies", "losses", "gradient norm", "learning rate", "evaluations", "evaluations, other"]


def split_evaluations(series):
    """eval numbers that all lie in [0, 1] (AUROC, AUPRC, accuracy, fractions) keep the panel
    "evaluations"; counts, energies and divergences go to "evaluations, other" """
    out = {}
    for (panel, key), pts in series.items():
        if panel == "evaluations" and not all(0 <= y <= 1 for _, y in pts):
            panel = "evaluations, other"
        out[(panel, key)] = pts
    return out
LOG = {"gradient norm", "learning rate"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="a run folder (holding metrics.jsonl) or a metrics.jsonl file")
    ap.add_argument("--out", help="PNG path (default RUN/curves.png)")
    ap.add_argument("--width-px", type=int, default=1200, help="image width in pixels (default 1200)")
    ap.add_argument("--summary", action="store_true", help="print what was plotted as JSON on stdout")
    a = ap.parse_args()
    if not 200 <= a.width_px <= 8000:
        fail(f"--width-px {a.width_px}: expected 200 .. 8000")
    path = a.run if a.run.endswith(".jsonl") else os.path.join(a.run, "metrics.jsonl")
    out = a.out or os.path.join(os.path.dirname(path) or ".", "curves.png")
    series, events, eval_guessed = collect(path)
    series = split_evaluations(series)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_metrics: matplotlib is not installed (Debian: apt-get install python3-matplotlib)", file=sys.stderr)
        sys.exit(77)
    panels = [p for p in PANELS if any(k[0] == p for k in series)]
    dpi = 100
    fig, axes = plt.subplots(len(panels), 1, sharex=True, squeeze=False,
                             figsize=(a.width_px / dpi, 2.4 * len(panels) + 0.6), dpi=dpi)
    summary = []
    for ax, panel in zip(axes[:, 0], panels):
        nonfinite_x = []
        for (p, key), pts in series.items():
            if p != panel:
                continue
            fin = [(x, y) for x, y in pts if math.isfinite(y) and (panel not in LOG or y > 0)]
            bad = [x for x, y in pts if not math.isfinite(y)]
            nonfinite_x += bad
            label = key + (" (at the last training row before it)" if panel.startswith("evaluations") and eval_guessed else "")
            style = dict(marker="o", linestyle="--") if panel.startswith("evaluations") else dict(linewidth=1.2)
            if fin:
                ax.plot([x for x, _ in fin], [y for _, y in fin], label=label, **style)
            summary.append({"panel": panel, "key": key, "points": len(fin), "nonfinite": len(bad),
                            "first_iter": pts[0][0], "last_iter": pts[-1][0]})
        if nonfinite_x:
            ax.plot(nonfinite_x, [0.0] * len(nonfinite_x), "rx", transform=ax.get_xaxis_transform(), clip_on=False,
                    label=f"NaN/Inf ({len(nonfinite_x)})")
        for x, kind in events:
            ax.axvline(x, color="red" if kind == "divergence" else "orange", linewidth=0.8, alpha=0.7)
        if panel in LOG:
            ax.set_yscale("log")
        if panel == "evaluations":
            ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(panel)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    axes[-1, 0].set_xlabel("iteration")
    n_div = sum(1 for _, k in events if k == "divergence")
    fig.suptitle(f"{os.path.basename(os.path.dirname(os.path.abspath(path)))}"
                 + (f" — {n_div} divergence(s) rolled back (vertical lines)" if n_div else ""))
    fig.tight_layout()
    tmp = f"{out}.tmp.{os.getpid()}"
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, out)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        fail(f"{out}: {e.strerror}")
    nonfinite = sum(s["nonfinite"] for s in summary)
    print(f"plot_metrics: {out}: {len(summary)} series in {len(panels)} panels"
          + (f", {nonfinite} NaN/Inf points marked" if nonfinite else ""), file=sys.stderr)
    if a.summary:
        json.dump({"out": out, "series": summary, "events": [{"iter": x, "event": k} for x, k in events]}, sys.stdout)
        print()


if __name__ == "__main__":
    main()
