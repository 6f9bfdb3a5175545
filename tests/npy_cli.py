#!/usr/bin/env python3
"""npy_cli.py EBM SOURCE_DIR WORKDIR — samples and data as NumPy arrays, checked with numpy itself.

- `ebm sample RUN --out FILE.npy` of a 2-D toy run and of an image run: numpy.load gives float32
  arrays of shape (N, 2) and (N, 1, 16, 16), finite, inside the sampler's clamp range.
- `ebm score RUN FILE.npy` equals `ebm score RUN FILE.csv` of the same numbers, number for number;
  `--limit N` scores the first N rows; every CSV number reads back as the float32 it printed (9
  significant digits round-trip).
- Arrays numpy writes in other layouts are read: float64, big-endian float32, (N, H, W) grey images
  as (N, 1, H, W), uint8 images divided by 255 (scored equal to the float32 array / 255), and a
  version-2.0 header; an image run trains from a .npy data source.
- Refused with a message naming the file: Fortran order, int64, a truncated file, a 1-D array,
  NaN in the data, images of the wrong size; `--limit 0` and `--limit x` are usage errors.
Exits 77 (skipped) when numpy is missing.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402

np = clitest.need("numpy", "python3-numpy", "npy_cli")

EBM, SRC, WORK = sys.argv[1:4]
clitest.workdir(WORK)
check = clitest.check


def ebm(*args):
    return clitest.run(EBM, *args)


def scores(run, data, *extra):
    rc, out, err = ebm("score", run, data, *extra)
    if rc:
        return None, err
    lines = out.strip().split("\n")
    return [tuple(x for x in line.split(",")) for line in lines[1:]], err


def w(name):
    return os.path.join(WORK, name)


short = ["--set", "run.iters=2", "--set", "run.batch=8", "--set", "run.log_every=1", "--set", "run.sample_every=0",
         "--set", "sampler.steps=2", "--set", "buffer.capacity=64", "--set", "buffer.uint8=false"]

# ---- a 2-D toy run ----
rc, _, err = ebm("train", os.path.join(SRC, "configs", "toy-8gaussians.ini"), "--out", w("toy"), *short)
check(rc == 0, f"toy run trains ({err[-300:]})")
rc, out, err = ebm("sample", w("toy"), "--n", "50", "--steps", "3", "--out", w("toy.npy"))
a = np.load(w("toy.npy")) if rc == 0 else None
check(a is not None and out.strip() == w("toy.npy") and a.dtype == np.float32 and a.shape == (50, 2) and np.isfinite(a).all(),
      f"ebm sample --out .npy: float32 (50, 2) ({None if a is None else (a.dtype, a.shape)}; {err[-200:]})")

rng = np.random.default_rng(3)
pts = (rng.standard_normal((40, 2)) * 2).astype(np.float32)
np.save(w("pts.npy"), pts)
np.savetxt(w("pts.csv"), pts, delimiter=",", fmt="%.9g")
s_npy, e1 = scores(w("toy"), w("pts.npy"))
s_csv, e2 = scores(w("toy"), w("pts.csv"))
check(s_npy is not None and s_npy == s_csv and len(s_npy) == 40, f"score of .npy == score of the same CSV, 40 rows ({e1}{e2})")
# a float32 printed with 9 significant digits is the 9-digit print of the float32 it parses to (with 8
# digits, most values would not be: the re-print has another last digit)
roundtrip = s_npy is not None and all(f"{np.float32(float(v)).item():.9g}" == v for row in s_npy for v in row[1:])
check(roundtrip, "every score printed is the 9-digit print of the float32 it reads back as")
s_lim, e3 = scores(w("toy"), w("pts.npy"), "--limit", "7")
check(s_lim is not None and s_lim == s_npy[:7], f"--limit 7: the first 7 rows ({e3})")
np.save(w("pts64.npy"), pts.astype(np.float64))
np.save(w("ptsbe.npy"), pts.astype(">f4"))
s64, _ = scores(w("toy"), w("pts64.npy"))
sbe, _ = scores(w("toy"), w("ptsbe.npy"))
check(s64 == s_npy and sbe == s_npy, "float64 and big-endian float32 arrays of the same numbers score the same")
with open(w("ptsv2.npy"), "wb") as f:
    np.lib.format.write_array(f, pts, version=(2, 0))
sv2, _ = scores(w("toy"), w("ptsv2.npy"))
check(sv2 == s_npy, "a version-2.0 .npy scores the same")

# ---- refusals ----
np.save(w("fortran.npy"), np.asfortranarray(pts))
np.save(w("int.npy"), pts.astype(np.int64))
np.save(w("flat.npy"), pts[:, 0].copy())
bad = pts.copy()
bad[5, 1] = np.nan
np.save(w("nan.npy"), bad)
with open(w("pts.npy"), "rb") as f:
    whole = f.read()
with open(w("trunc.npy"), "wb") as f:
    f.write(whole[:-3])
for name, want in (("fortran.npy", "Fortran-order"), ("int.npy", "'<i8' is not read"), ("trunc.npy", "truncated"),
                   ("flat.npy", "shape (40)"), ("nan.npy", "example 5 has a non-finite value")):
    rc, out, err = ebm("score", w("toy"), w(name))
    check(rc != 0 and w(name) in err and want in err and out == "", f"{name}: refused naming the file ({err.strip()})")
for lim in ("0", "x", "-3"):
    rc, out, err = ebm("score", w("toy"), w("pts.npy"), "--limit", lim)
    check(rc == 2 and "--limit" in err, f"--limit {lim}: usage error ({err.strip()})")

# ---- an image run trained from a .npy source ----
imgs = rng.random((32, 16, 16), dtype=np.float32)   # (N, H, W): grey images
np.save(w("imgs.npy"), imgs)
rc, _, err = ebm("train", os.path.join(SRC, "configs", "fmnist-laptop.ini"), "--out", w("img"), *short,
                 "--set", f"data.source={w('imgs.npy')}", "--set", "model.base=4", "--set", "data.size=0")
check(rc == 0, f"an image run trains from an (N, H, W) .npy ({err[-400:]})")
rc, out, err = ebm("sample", w("img"), "--n", "5", "--steps", "2", "--out", w("img.npy"))
b = np.load(w("img.npy")) if rc == 0 else None
check(b is not None and b.dtype == np.float32 and b.shape == (5, 1, 16, 16) and (b >= 0).all() and (b <= 1).all(),
      f"image samples as .npy: float32 (5, 1, 16, 16) in [0, 1] ({None if b is None else b.shape}; {err[-200:]})")
u8 = (rng.random((6, 1, 16, 16)) * 255).astype(np.uint8)
np.save(w("u8.npy"), u8)
np.save(w("u8f.npy"), u8.astype(np.float32) / np.float32(255))
su8, e4 = scores(w("img"), w("u8.npy"))
su8f, e5 = scores(w("img"), w("u8f.npy"))
check(su8 is not None and su8 == su8f and len(su8) == 6, f"uint8 images score as the same images / 255 ({e4}{e5})")
np.save(w("big.npy"), rng.random((3, 1, 20, 20), dtype=np.float32))
rc, out, err = ebm("score", w("img"), w("big.npy"))
check(rc != 0 and "big.npy" in err and "20x20" in err, f"20x20 images for a 16x16 model: refused ({err.strip()})")
clitest.finish()
