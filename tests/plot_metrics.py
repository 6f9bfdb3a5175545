#!/usr/bin/env python3
"""plot_metrics.py SOURCE_DIR WORKDIR [EBM] — tools/plot_metrics.py draws what metrics.jsonl holds.

1. A written metrics.jsonl with every kind of row (training rows with energies, losses, gradient
   norm and lr; a NaN loss flagged in "nonfinite"; a divergence and a rollback; an eval row with
   its iteration and one without, as rows were written before evaluations carried one; a torn last
   line): the --summary must list exactly the series expected, each with the number of finite and
   NaN/Inf points and first/last iteration computed here from the rows, and the events; the PNG must
   be a PNG of the requested width.
2. Bad input: a malformed line in the middle (error naming file:line, exit 1, no PNG), a missing
   file, a file with no numbers.
3. With EBM: a 20-iteration toy run and `ebm eval` on it, plotted: the run's own keys appear, the
   eval row sits at iteration 20.
Exits 77 (skipped) when matplotlib is not installed (Debian: python3-matplotlib).
"""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402

SRC, WORK = sys.argv[1], sys.argv[2]
EBM = sys.argv[3] if len(sys.argv) > 3 else None
TOOL = os.path.join(SRC, "tools", "plot_metrics.py")
clitest.need("matplotlib", "python3-matplotlib", "plot_metrics")

clitest.workdir(WORK)
check = clitest.check


def run(*args):
    return clitest.run(sys.executable, TOOL, *args)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


# ---- 1. every kind of row ----
rows = []
for it in (10, 20, 30, 40):
    rows.append({"iter": it, "e_pos": -0.1 * it, "e_neg": 0.05 * it, "loss": 1.0 / it, "kl": 0.5,
                 "grad_norm": 2.0 / it, "it_per_s": 12.5, "lr": 1e-4, "elapsed_s": it * 0.1})
rows[2]["loss"] = None
rows[2]["nonfinite"] = {"loss": "nan"}
rows.insert(3, {"event": "divergence", "iter": 30, "e_pos": None, "nonfinite": {"e_pos": "inf"}})
rows.insert(4, {"event": "rollback", "iter": 20, "rollbacks": 1, "lr": 5e-5})
rows.append({"event": "eval", "checkpoint": "runs/x", "iter": 40, "modes": 25, "modes_covered": 24, "samples": 5000,
             "high_quality": 0.93})   # modes, samples: sizes, not scores (not drawn)
rows.append({"event": "eval", "checkpoint": "runs/x", "auroc_uniform": 0.99})   # before evals had an iteration
text = "".join(json.dumps(r) + "\n" for r in rows) + '{"iter": 50, "e_po'   # torn last line
mj = os.path.join(WORK, "metrics.jsonl")
with open(mj, "w") as f:
    f.write(text)
rc, out, err = run(WORK, "--summary", "--width-px", "900")
check(rc == 0, f"plots a metrics.jsonl with every kind of row (rc {rc}: {err.strip()})")
check("torn last line" in err and f":{len(rows) + 1}:" in err, "warns of the torn last line, naming its line")
got = json.loads(out) if rc == 0 else {"series": [], "events": []}
want = {
    ("energies", "e_pos"): (4, 0, 10, 40), ("energies", "e_neg"): (4, 0, 10, 40),
    ("losses", "loss"): (3, 1, 10, 40), ("losses", "kl"): (4, 0, 10, 40),
    ("gradient norm", "grad_norm"): (4, 0, 10, 40), ("learning rate", "lr"): (4, 0, 10, 40),
    ("evaluations, other", "modes_covered"): (1, 0, 40, 40), ("evaluations", "high_quality"): (1, 0, 40, 40),
    ("evaluations", "auroc_uniform"): (1, 0, 40, 40),   # placed at the last training row, 40
}
have = {(s["panel"], s["key"]): (s["points"], s["nonfinite"], s["first_iter"], s["last_iter"]) for s in got["series"]}
check(have == want, f"the series drawn are the rows' numbers\n     want {sorted(want.items())}\n     have {sorted(have.items())}")
check(got["events"] == [{"iter": 30, "event": "divergence"}, {"iter": 20, "event": "rollback"}], f"events {got['events']}")
png = os.path.join(WORK, "curves.png")
size = png_size(png) if os.path.exists(png) else None
check(size is not None and size[0] == 900, f"{png} is a PNG 900 pixels wide ({size})")
check(not [f for f in os.listdir(WORK) if ".tmp." in f], "no temporary file left")

# ---- 2. bad input ----
bad = os.path.join(WORK, "bad")
os.makedirs(bad)
with open(os.path.join(bad, "metrics.jsonl"), "w") as f:
    f.write(json.dumps(rows[0]) + "\n{not json}\n" + json.dumps(rows[1]) + "\n")
rc, out, err = run(bad)
check(rc == 1 and "metrics.jsonl:2:" in err and not os.path.exists(os.path.join(bad, "curves.png")),
      f"a malformed middle line is an error naming file:line, no PNG (rc {rc}: {err.strip()})")
rc, out, err = run(os.path.join(WORK, "missing"))
check(rc == 1 and "missing/metrics.jsonl" in err and "No such file" in err, f"a missing file is named (rc {rc}: {err.strip()})")
with open(os.path.join(bad, "metrics.jsonl"), "w") as f:
    f.write('{"event": "rollback", "iter": 3}\n')
rc, out, err = run(bad)
check(rc == 1 and "no numbers to plot" in err, f"a file with nothing to plot says so (rc {rc}: {err.strip()})")
rc, out, err = run(WORK, "--width-px", "5")
check(rc == 1 and "--width-px 5" in err, f"a bad width is refused (rc {rc}: {err.strip()})")

# ---- 3. a real run ----
if EBM:
    rd = os.path.join(WORK, "toy")
    rc, _, err = clitest.run(EBM, "train", os.path.join(SRC, "configs", "toy-8gaussians.ini"), "--out", rd, "--set", "run.iters=20",
                             "--set", "run.log_every=5", "--set", "run.sample_every=0", "--set", "sampler.steps=5")
    check(rc == 0, f"ebm train (rc {rc}: {err[-500:]})")
    rc, _, err = clitest.run(EBM, "eval", rd, "--n", "500")
    check(rc == 0, f"ebm eval (rc {rc}: {err[-500:]})")
    rc, out, err = run(rd, "--summary")
    got = json.loads(out) if rc == 0 else {"series": []}
    have = {(s["panel"], s["key"]): (s["points"], s["first_iter"], s["last_iter"]) for s in got["series"]}
    check(rc == 0 and all(have.get(k) == (4, 5, 20) for k in [("energies", "e_pos"), ("energies", "e_neg"), ("losses", "loss"),
                                                              ("gradient norm", "grad_norm")]),
          f"the run's energies, loss and gradient norm, 4 rows at 5..20 ({rc}: {have})")
    evals = {k[1]: v for k, v in have.items() if k[0].startswith("evaluations")}
    check(evals and all(v[1:] == (20, 20) for v in evals.values()), f"the eval's numbers at iteration 20: {evals}")
clitest.finish()
