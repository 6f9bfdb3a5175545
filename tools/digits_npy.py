#!/usr/bin/env python3
"""scikit-learn's 8x8 handwritten digits, upscaled, as a .npy data set: a real "other data set" for
out-of-distribution tests of Fashion-MNIST models (`ebm eval RUN --ood --ood-folder digits.npy`).

    digits_npy.py OUT.npy [--size 28]

load_digits() ships inside scikit-learn (1797 images, no download). Each image's 0..16 intensities
are scaled to [0, 1] and resized to SIZE x SIZE by bilinear interpolation (scipy.ndimage.zoom,
order 1, grid corners aligned), then written as float32 of shape (1797, 1, SIZE, SIZE): white
digits on black, like Fashion-MNIST's white garments on black.

Exit status: 0 written; 1 bad arguments or a write error (message on stderr); 77 scikit-learn or
scipy is not installed (Debian: python3-sklearn), so callers can skip with a message.
"""
import argparse
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="the .npy file to write")
    ap.add_argument("--size", type=int, default=28, help="side of the upscaled images (8..1024, default 28)")
    a = ap.parse_args()
    if not 8 <= a.size <= 1024:
        print(f"digits_npy: --size {a.size}: expected 8 .. 1024", file=sys.stderr)
        return 1
    try:
        import numpy as np
        from scipy.ndimage import zoom
        from sklearn.datasets import load_digits
    except ImportError as e:
        print(f"digits_npy: {e.name} is not installed for {sys.executable} (Debian: python3-sklearn); no digits written", file=sys.stderr)
        return 77
    imgs = load_digits().images.astype(np.float64) / 16.0                      # (1797, 8, 8) in [0, 1]
    up = np.stack([zoom(im, a.size / 8.0, order=1) for im in imgs])   # corners onto corners
    assert up.shape[1:] == (a.size, a.size), up.shape
    up = np.clip(up, 0.0, 1.0).astype(np.float32)[:, None]
    tmp = f"{a.out}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            np.save(fh, up)
        os.replace(tmp, a.out)                                                   # never a half-written file
    except OSError as e:
        print(f"digits_npy: {a.out}: {e.strerror}", file=sys.stderr)
        if os.path.exists(tmp):
            os.remove(tmp)
        return 1
    print(f"digits_npy: {a.out}: {up.shape[0]} digits of {a.size}x{a.size}, mean {up.mean():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
