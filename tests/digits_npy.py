#!/usr/bin/env python3
"""digits_npy.py SOURCE_DIR WORK_DIR — tools/digits_npy.py (scikit-learn's 8x8 digits upscaled, the
"other data set" of the improved-CD ablation's OOD column): the array's shape, type and range; its
values against a bilinear resize computed here in double precision from the 8x8 originals; bad
arguments and an unwritable destination rejected with a message and no file left behind."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402

np = clitest.need("numpy", "python3-numpy", "digits_npy")
clitest.need("scipy", "python3-scipy", "digits_npy")
datasets = clitest.need("sklearn.datasets", "python3-sklearn", "digits_npy")

src, work = sys.argv[1], clitest.workdir(sys.argv[2])
tool = os.path.join(src, "tools", "digits_npy.py")
check, run = clitest.check, clitest.run

out = os.path.join(work, "digits.npy")
rc, so, se = run(sys.executable, tool, out)
check(rc == 0 and os.path.exists(out), f"writes {out} (status {rc}: {se.strip()})")
a = np.load(out)
check(a.shape == (1797, 1, 28, 28) and a.dtype == np.float32, f"shape (1797, 1, 28, 28) float32: {a.shape} {a.dtype}")
check(float(a.min()) >= 0.0 and float(a.max()) <= 1.0, f"values in [0, 1]: {a.min()} .. {a.max()}")

# the reference: bilinear interpolation with the grid's corners on the corners, in double precision,
# written out here (output pixel i samples the 8x8 image at i * 7 / 27)
orig = datasets.load_digits().images / 16.0
t = np.arange(28) * 7.0 / 27.0
i0 = np.minimum(np.floor(t).astype(int), 6)
f = t - i0
ref = np.empty((len(orig), 28, 28))
for n, im in enumerate(orig):
    rows = im[i0] * (1 - f)[:, None] + im[i0 + 1] * f[:, None]              # (28, 8)
    ref[n] = rows[:, i0] * (1 - f)[None, :] + rows[:, i0 + 1] * f[None, :]  # (28, 28)
err = float(np.abs(a[:, 0] - ref).max())
# float32 storage of numbers in [0, 1]: half an ulp of 1 is 6e-8; scipy's own interpolation in
# double adds ~1e-15
check(err <= 1.2e-7, f"every pixel is the bilinear resize of its 8x8 digit within float32 rounding: max |diff| {err:.3g}")
check(np.array_equal(a[:, 0, 0, 0], orig[:, 0, 0].astype(np.float32)) and np.array_equal(a[:, 0, 27, 27], orig[:, 7, 7].astype(np.float32)),
      "corners are the originals' corners")

rc, so, se = run(sys.executable, tool, os.path.join(work, "small.npy"), "--size", "7")
check(rc == 1 and "--size 7" in se and not os.path.exists(os.path.join(work, "small.npy")), f"--size 7 refused: {se.strip()}")
bad = os.path.join(work, "no-such-dir", "d.npy")
rc, so, se = run(sys.executable, tool, bad)
check(rc == 1 and bad in se, f"unwritable destination named: {se.strip()}")
check(sorted(os.listdir(work)) == ["digits.npy"], f"no temporary file left: {sorted(os.listdir(work))}")
clitest.finish()
