#!/usr/bin/env python3
"""compose_cli.py EBM SOURCE_DIR WORKDIR — `ebm sample --compose` samples the composed energy.

Two Gaussian energies E_i(x) = (x - m_i)^T A_i (x - m_i) / 2 ([model] net = quadratic, trained a few
score-matching iterations on different Gaussian data so that their parameters differ; the test reads
the parameters back from the checkpoints, so how well they trained does not matter):
- plumbing, bit for bit: one run composed alone, the AND of a run with itself at weights 0.5 + 0.5,
  and the OR of a run with itself sample exactly what `ebm sample RUN --init noise` samples;
- AND (weights 1, 1) and NOT (weights 1, -0.5): the composed energy is again quadratic, with precision
  P = sum w_i A_i and mean P^-1 sum w_i A_i m_i, and the sampler's chain x <- x + s e;
  x <- x - eta P (x - m) (noise first, no clamp, no gradient clip) is linear: its stationary law is
  exactly Gaussian with mean m and the covariance S solving S = (I - eta P)(S + s^2 I)(I - eta P)^T,
  computed here. 4000 independent chains after as many steps as make the start's weight below 1e-6: the
  sample mean and covariance must agree within 5 standard errors (the exact errors of Gaussian
  moments: var(mean_k) = S_kk / N, var(cov_kl) = (S_kk S_ll + S_kl^2) / N);
- OR: -logsumexp(-E_1, -E_2), the mixture exp(-E_1) + exp(-E_2), whose weights are proportional to
  det(A_i)^-1/2; its mean and covariance in continuous time are those of the mixture; the chain's
  discretisation moves them by O(eta |A|) (~1% here), allowed on top of 5 standard errors;
- a run with classes (JEM, a few iterations on 8 gaussians): RUN:class=K composed alone samples
  exactly as `ebm sample RUN --class K`, and so do two halves of it with class and weight in either
  order; a class the run does not have, a class of a run without classes, an unknown part refused;
- an image run with improved CD's augmentation: composed alone with --augment-every 2, its chain is
  bit for bit `ebm sample RUN --init noise --augment-every 2` (the transitions happen inside the
  composed chain), and differs with --augment-every 0;
- refusals: a weight that is not a number, runs of different shapes, a missing run, --compose-op
  without --compose, a CHECKPOINT beside --compose.
"""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402

np = clitest.need("numpy", "python3-numpy", "compose_cli")

EBM, SRC, WORK = sys.argv[1:4]
clitest.workdir(WORK)
check = clitest.check


def ebm(*args):
    return clitest.run(EBM, *args)


def w(name):
    return os.path.join(WORK, name)


def tensors(path):
    """the float32 tensors of a safetensors file"""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in head.items():
        if k == "__metadata__" or v["dtype"] != "F32":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"]).astype(np.float64)
    return out


rng = np.random.default_rng(1)
runs = []
for i, (mean, cov) in enumerate((((0.5, -0.3), ((0.8, 0.3), (0.3, 0.5))), ((-0.4, 0.6), ((1.5, -0.4), (-0.4, 1.0))))):
    pts = rng.multivariate_normal(mean, cov, 2000)
    np.savetxt(w(f"g{i}.csv"), pts, delimiter=",", fmt="%.7g")
    rd = w(f"q{i}")
    rc, _, err = ebm("train", os.path.join(SRC, "configs", "sm-8gaussians.ini"), "--out", rd, "--set", f"data.source={w(f'g{i}.csv')}",
                     "--set", "model.net=quadratic", "--set", "sm.kind=exact", "--set", "run.iters=60", "--set", "optim.lr=0.05",
                     "--set", "run.sample_every=0", "--set", "run.batch=200")
    check(rc == 0, f"quadratic energy {i} trains ({err[-300:]})")
    t = tensors(os.path.join(rd, "checkpoint.safetensors"))
    F, m = t["factor"], t["mean"]
    runs.append((rd, F @ F.T, m))
(q0, A0, m0), (q1, A1, m1) = runs
print("A0", A0.tolist(), "m0", m0.tolist())
print("A1", A1.tolist(), "m1", m1.tolist())
check(np.abs(A0 - A1).max() > 0.05 and np.abs(m0 - m1).max() > 0.05, "the two energies differ")

eta, noise, N, K = 0.01, 0.1414, 4000, 600   # temperature s^2 / (2 eta) = 1.0
chain = ["--set", f"sampler.step_size={eta}", "--set", f"sampler.noise={noise}", "--set", "sampler.grad_clip=0",
         "--set", "sampler.clamp=false", "--set", "sampler.noise_first=true", "--n", str(N), "--seed", "7"]


def forgetting_steps(P):
    """steps after which the start's weight |1 - eta lambda_min(P)|^K is below 1e-6"""
    return max(K, int(np.ceil(np.log(1e-6) / np.log(1 - eta * np.linalg.eigvalsh(P).min()))))


def sample(*args, steps=K):
    out = w("s.npy")
    if os.path.exists(out):
        os.unlink(out)
    rc, _, err = ebm("sample", *args, *chain, "--steps", str(steps), "--out", out)
    return np.load(out).astype(np.float64) if rc == 0 else None, err


# ---- plumbing, bit for bit ----
ref, e0 = sample(q0, "--init", "noise")
for args, what in (((f"--compose", q0), "one run composed alone"),
                   (("--compose", f"{q0}:weight=0.5", "--compose", f"{q0}:weight=0.5"), "AND of a run with itself, 0.5 + 0.5"),
                   (("--compose", q0, "--compose", q0, "--compose-op", "or"), "OR of a run with itself")):
    x, err = sample(*args)
    check(ref is not None and x is not None and np.array_equal(ref, x), f"{what} samples exactly as ebm sample RUN ({e0[-200:]}{err[-200:]})")


def stationary(P, m):
    """the exact stationary covariance of x <- (I - eta P)(x + s e - m) + m"""
    M = np.eye(2) - eta * P
    S = np.eye(2)
    for _ in range(20000):
        S = M @ (S + noise * noise * np.eye(2)) @ M.T
    return S


def compare(x, mean, S, allow, what):
    se_m = np.sqrt(np.diag(S) / N)
    se_c = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S * S) / N)
    dm, dc = np.abs(x.mean(0) - mean), np.abs(np.cov(x.T) - S)
    ok = (dm <= 5 * se_m + allow * np.sqrt(np.diag(S))).all() and (dc <= 5 * se_c + allow * np.abs(S).max()).all()
    check(ok, f"{what}: mean {x.mean(0).round(4).tolist()} vs {np.round(mean, 4).tolist()}, "
              f"cov {np.cov(x.T).round(4).tolist()} vs {np.round(S, 4).tolist()} (5 SE{f' + {allow:.0%}' if allow else ''})")


for w1, what in ((1.0, "AND (1, 1)"), (-0.5, "NOT (1, -0.5)")):
    P = A0 + w1 * A1
    if np.linalg.eigvalsh(P).min() <= 0.05:
        check(False, f"{what}: A0 + {w1} A1 is not positive definite; the test's data need changing")
        continue
    mean = np.linalg.solve(P, A0 @ m0 + w1 * A1 @ m1)
    # the chains start in U(-3, 3)^2; after k steps the start's weight is |1 - eta lambda_min|^k < 1e-6
    x, err = sample("--compose", q0, "--compose", f"{q1}:weight={w1}", steps=forgetting_steps(P))
    check(x is not None and x.shape == (N, 2), f"{what} samples, {forgetting_steps(P)} steps ({err[-200:]})")
    if x is not None:
        compare(x, mean, stationary(P, mean), 0.0, what)

# OR: the mixture of the two Gaussians with weights det(A_i)^-1/2
wts = np.array([np.linalg.det(A0) ** -0.5, np.linalg.det(A1) ** -0.5])
wts /= wts.sum()
covs = [np.linalg.inv(A0), np.linalg.inv(A1)]
mu = wts[0] * m0 + wts[1] * m1
S = sum(wts[i] * (covs[i] + np.outer(mm - mu, mm - mu)) for i, mm in enumerate((m0, m1)))
x, err = sample("--compose", q0, "--compose", q1, "--compose-op", "or", steps=max(forgetting_steps(A0), forgetting_steps(A1)))
check(x is not None, f"OR samples ({err[-200:]})")
if x is not None:
    compare(x, mu, S, 0.03, "OR (mixture, continuous-time law; eta |A| ~ 1% discretisation allowed as 3%)")

# ---- a run with classes (JEM): RUN:class=K is its E(x, K) ----
rc, _, err = ebm("train", os.path.join(SRC, "configs", "jem-8gaussians.ini"), "--out", w("jem"), "--set", "run.iters=30",
                 "--set", "run.sample_every=0")
check(rc == 0, f"a toy JEM run trains ({err[-300:]})")
jchain = ["--n", "500", "--steps", "50", "--seed", "3", "--init", "noise"]
rc, _, e1 = ebm("sample", w("jem"), "--class", "3", *jchain, "--out", w("j1.npy"))
rc2, _, e2 = ebm("sample", "--compose", f"{w('jem')}:class=3", *[a for a in jchain if a not in ("--init", "noise")], "--out", w("j2.npy"))
check(rc == 0 and rc2 == 0 and np.array_equal(np.load(w("j1.npy")), np.load(w("j2.npy"))),
      f"RUN:class=3 composed alone samples exactly as ebm sample RUN --class 3 ({e1[-200:]}{e2[-200:]})")
rc, _, e3 = ebm("sample", "--compose", f"{w('jem')}:class=3:weight=0.5", "--compose", f"{w('jem')}:weight=0.5:class=3",
                *[a for a in jchain if a not in ("--init", "noise")], "--out", w("j3.npy"))
check(rc == 0 and np.array_equal(np.load(w("j1.npy")), np.load(w("j3.npy"))), f"class and weight in either order ({e3[-200:]})")
rc, out, err = ebm("sample", "--compose", f"{w('jem')}:class=8")
check(rc == 1 and "classes 0 .. 7" in err, f"a class the run does not have ({err.strip()})")
rc, out, err = ebm("sample", "--compose", f"{q0}:class=1")
check(rc == 1 and "no classes" in err, f"a class of a run without classes ({err.strip()})")
rc, out, err = ebm("sample", "--compose", f"{q0}:colour=1")
check(rc == 1 and "expected RUN[:class=K][:weight=W]" in err, f"an unknown part of a --compose argument ({err.strip()})")

# ---- improved CD's augmentation transitions inside the composed chain ----
# an image run with [augment] enable (a few iterations on random 8x8 images): composed alone, its chain
# takes the transition every --augment-every steps exactly as `ebm sample RUN` does; without them it differs
np.save(w("img.npy"), rng.random((64, 1, 8, 8)).astype(np.float32))
rc, _, err = ebm("train", os.path.join(SRC, "configs", "icd-fmnist-laptop.ini"), "--out", w("aug"), "--set", f"data.source={w('img.npy')}",
                 "--set", "run.iters=2", "--set", "run.batch=8", "--set", "sampler.steps=2", "--set", "model.base=4",
                 "--set", "model.scales=1", "--set", "run.sample_every=0")
check(rc == 0, f"an image run with augmentation trains ({err[-300:]})")
achain = ["--n", "16", "--steps", "6", "--seed", "5"]
rc, _, e1 = ebm("sample", w("aug"), "--init", "noise", "--augment-every", "2", *achain, "--out", w("a1.npy"))
rc2, _, e2 = ebm("sample", "--compose", w("aug"), "--augment-every", "2", *achain, "--out", w("a2.npy"))
rc3, _, e3 = ebm("sample", "--compose", w("aug"), "--augment-every", "0", *achain, "--out", w("a3.npy"))
ok = rc == 0 and rc2 == 0 and rc3 == 0
check(ok and np.array_equal(np.load(w("a1.npy")), np.load(w("a2.npy"))) and "transition every 2 steps" in e2,
      f"a composed chain takes the run's augmentation transitions as ebm sample RUN does ({e1[-200:]}{e2[-200:]})")
check(ok and not np.array_equal(np.load(w("a1.npy")), np.load(w("a3.npy"))), "and without them (--augment-every 0) samples differently")

# ---- refusals ----
rc, out, err = ebm("sample", "--compose", f"{q0}:weight=abc")
check(rc == 1 and "weight \"abc\"" in err, f"a weight that is not a number ({err.strip()})")
rc, out, err = ebm("sample", "--compose", q0, "--compose", w("missing"))
check(rc == 1 and "missing/checkpoint.safetensors" in err, f"a missing run ({err.strip()})")
rc, out, err = ebm("sample", q0, "--compose-op", "or")
check(rc == 2 and "--compose-op without --compose" in err, f"--compose-op alone ({err.strip()})")
rc, out, err = ebm("sample", q0, "--compose", q1)
check(rc == 2 and "with --compose" in err, f"a CHECKPOINT beside --compose ({err.strip()})")
rc, out, err = ebm("sample", "--compose", q0, "--compose-op", "xor")
check(rc == 2 and "xor" in err, f"--compose-op xor ({err.strip()})")
np.savetxt(w("g3.csv"), rng.standard_normal((64, 3)), delimiter=",", fmt="%.7g")
rc, _, err = ebm("train", os.path.join(SRC, "configs", "toy-8gaussians.ini"), "--out", w("three"), "--set", f"data.source={w('g3.csv')}",
                 "--set", "run.iters=1", "--set", "run.batch=8", "--set", "sampler.steps=1", "--set", "run.sample_every=0")
rc, out, err = ebm("sample", "--compose", q0, "--compose", w("three"))
check(rc == 1 and "shape (3)" in err and "(2)" in err, f"runs of different shapes ({err.strip()})")
clitest.finish()
