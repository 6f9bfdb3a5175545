#!/usr/bin/env python3
"""make_corpus.py — writes the seed corpus of tests/fuzz (corpus/<harness>/): small valid inputs for
every reader, each file a few hundred bytes to a few kB, so that the fuzzers start from the
formats' real structure. The files are committed; run this again only to change them.

    tests/fuzz/make_corpus.py [CHECKPOINT]

CHECKPOINT: a checkpoint the project wrote, copied in as corpus/safetensors/toy-run.safetensors
(the committed one comes from `ebm train configs/toy-8gaussians.ini --set run.iters=2 --set
buffer.capacity=16 --set model.hidden=8,8 --set run.batch=4 --set optim.ema=0.9`: every kind of
tensor entry and the full __metadata__). Images need Pillow (Debian: python3-pil)."""
import gzip, io, json, os, shutil, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
CONFIGS = os.path.join(HERE, "..", "..", "configs")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


def safetensors(header, data=b""):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


MINI_CONFIG = "[run]\niters = 5\nmethod = cd\n\n[data]\nsource = toy:8gaussians\n\n[model]\nnet = mlp\nhidden = 8,8\n"


def main():
    # ---- safetensors ----
    if len(sys.argv) > 1:
        shutil.copy(sys.argv[1], os.path.join(CORPUS, "safetensors", "toy-run.safetensors"))
    meta = {"format": "ebm-cl checkpoint 1", "config": MINI_CONFIG, "sample_shape": "2", "iter": "5"}
    put("safetensors", "header-only.safetensors", safetensors({"__metadata__": meta}))
    w = struct.pack("<6f", 0.5, -1, 2, 0.25, 0, 1)
    put("safetensors", "one-tensor.safetensors",
        safetensors({"0.weight": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]},
                     "__metadata__": dict(meta, sample_shape="1,28,28")}, w))
    put("safetensors", "no-metadata.safetensors", safetensors({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, w[:4]))

    # ---- CLBlast tuner results (as clblast_tuner_* writes them, results trimmed to two) and tuned-file lines ----
    def tuner(family, kernel, best, params):
        res = [{"kernel": kernel, "time": 0.31, "parameters": dict(params, PRECISION=32)},
               {"kernel": kernel, "time": 0.52, "parameters": dict(params, PRECISION=32)}]
        d = {"kernel_family": family, "precision": "32", "best_kernel": kernel, "best_time": best,
             "best_parameters": " ".join(f"{k}={v}" for k, v in sorted(dict(params, PRECISION=32).items())),
             "arg_m": "128", "arg_n": "128", "arg_k": "128", "clblast_device_type": "GPU", "device": "fuzz device",
             "platform_vendor": "fuzz", "device_type": "GPU", "results": res}
        return json.dumps(d, indent=2)
    xg = dict(GEMMK=0, KREG=1, KWG=32, KWI=2, MDIMA=8, MDIMC=8, MWG=64, NDIMB=32, NDIMC=32, NWG=64, SA=0, SB=0, STRM=0, STRN=0, VWM=4, VWN=2)
    put("clblast", "xgemm_1.json", tuner("xgemm_1", "Xgemm", "0.13", xg))
    put("clblast", "xgemm_direct_1.json", tuner("xgemm_direct_1", "XgemmDirectTN", "2.19",
        dict(KWID=2, MDIMAD=8, MDIMCD=8, NDIMBD=8, NDIMCD=8, PADA=1, PADB=1, VWMD=2, VWND=1, WGD=32)))
    put("clblast", "pad.json", tuner("pad", "CopyPadMatrix", "0.05", dict(PAD_DIMX=32, PAD_DIMY=8, PAD_WPTX=4, PAD_WPTY=4)))
    put("clblast", "tuned-file.txt", "# ebm-cl: CLBlast parameters tuned for fuzz device\n"
        "Xgemm 0.13 " + " ".join(f"{k}={v}" for k, v in xg.items()) + "\n"
        "Pad 0.05 PAD_DIMX=32 PAD_DIMY=8 PAD_WPTX=4 PAD_WPTY=4\nPadtranspose 0.06 PADTRA_PAD=0 PADTRA_TILE=8 PADTRA_WPT=4\n")

    # ---- IDX: images (N, H, W), (N, C, H, W), labels; Fashion-MNIST's real header ----
    imgs = idx([3, 4, 4], [(i * 17) % 256 for i in range(48)])
    labels = idx([3], [0, 2, 1])
    rgb = idx([2, 3, 2, 2], range(24))
    fmnist = idx([60000, 28, 28], [])[:16] + bytes(range(200)) * 4   # header of train-images, 1 image of 784
    for t in ("idx", "idx_gz"):
        put(t, "images-idx3", imgs)
        put(t, "labels-idx1", labels)
        put(t, "images-idx4", rgb)
        put(t, "fmnist-header", fmnist[:16 + 784])
        put(t, "vector-idx1", idx([5], [1, 2, 3, 4, 5]))
    put("idx", "images-idx3.gz", gzip.compress(imgs, mtime=0))
    # idx_dataset: OPTIONS CLASS IMAGES [EBMLABEL LABELS] (fuzz_idx_dataset.c)
    six = idx([6, 2, 2], range(24))
    six_labels = idx([6], [0, 1, 2, 0, 1, 2])
    for name, opt, cls in (("plain", 0x00, 1), ("fmnist", 0x01, 1), ("fmnist-test", 0x02, 1), ("stacked", 0x03, 1),
                           ("anomaly-train", 0x05, 2), ("anomaly-test", 0x0d, 3), ("limit", 0x20, 0)):
        put("idx_dataset", name, bytes([opt, cls]) + six + b"EBMLABEL" + six_labels)
    put("idx_dataset", "unlabelled", bytes([0, 0]) + rgb)

    # ---- .npy: the dtypes, byte orders, header versions and layouts numpy writes ----
    try:
        import numpy as np
    except ImportError:
        sys.exit("make_corpus.py: the .npy seeds need numpy (Debian: apt-get install python3-numpy)")

    def npy(name, a, version=None):
        b = io.BytesIO()
        if version:
            np.lib.format.write_array(b, a, version=version)
        else:
            np.save(b, a)
        put("npy", name, b.getvalue())
    npy("f4-2d.npy", np.arange(6, dtype=np.float32).reshape(2, 3))
    npy("f4-4d.npy", np.linspace(0, 1, 16, dtype=np.float32).reshape(1, 1, 4, 4))
    npy("f8-be.npy", np.arange(3, dtype=">f8"))
    npy("u1-3d.npy", np.arange(12, dtype=np.uint8).reshape(3, 2, 2))
    npy("f4-v2.npy", np.ones((2, 2), np.float32), version=(2, 0))
    npy("f4-v3.npy", np.ones((1, 2), np.float32), version=(3, 0))
    npy("empty.npy", np.zeros((0, 2), np.float32))
    npy("fortran.npy", np.asfortranarray(np.ones((2, 3), np.float32)))

    # ---- images: every format and layout the decoders have a path for, 8x6 or smaller ----
    try:
        from PIL import Image
    except ImportError:
        sys.exit("make_corpus.py: the image seeds need Pillow (Debian: apt-get install python3-pil)")

    def img(mode, size=(8, 6)):
        im = Image.new("RGB", size)
        im.putdata([((x * 37) % 256, (y * 53) % 256, (x * y * 11) % 256) for y in range(size[1]) for x in range(size[0])])
        return im.convert(mode) if mode != "RGB" else im

    def save(name, im, fmt, **kw):
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        put("image", name, b.getvalue())

    save("rgb.png", img("RGB"), "PNG")
    save("gray.png", img("L"), "PNG")
    save("rgba.png", img("RGBA"), "PNG")
    save("palette.png", img("P"), "PNG")
    save("gray16.png", img("I").point(lambda v: v * 200), "PNG")
    save("interlaced.png", img("RGB"), "PNG", interlace=1)   # Pillow ignores it for tiny images on some versions
    save("mono.png", img("1"), "PNG")
    save("tall.png", img("RGB", (3, 9)), "PNG")
    save("rgb.jpg", img("RGB"), "JPEG", quality=60)
    save("gray.jpg", img("L"), "JPEG", quality=60)
    save("progressive.jpg", img("RGB", (16, 16)), "JPEG", quality=60, progressive=True)
    save("subsampled.jpg", img("RGB", (17, 9)), "JPEG", quality=40, subsampling=2)
    save("rgb.bmp", img("RGB"), "BMP")
    save("palette.bmp", img("P"), "BMP")
    save("mono.bmp", img("1"), "BMP")
    save("rgba.bmp", img("RGBA"), "BMP")
    save("rgb.gif", img("P"), "GIF")      # formats the reader refuses by their first bytes (stb_image would decode them)
    save("rgb.tga", img("RGB"), "TGA")
    save("rgb.ppm", img("RGB"), "PPM")

    # ---- CSV ----
    put("csv", "points.csv", "x,y\n0.5,-1\n2,0.25\n-3e-2,1.5e3\n")
    put("csv", "comments.csv", "# two columns\n\n 1, 2\n\t3 ,4\r\n# end\n5,6")
    put("csv", "wide.csv", "1,2,3,4,5,6,7,8\n" * 3)
    put("csv", "one.csv", "42\n")

    # ---- INI configs (then NUL-separated --set strings: fuzz_config.c) ----
    for name in ("toy-8gaussians.ini", "fmnist-laptop.ini", "icd-imagefolder.ini", "meg-25gaussians.ini"):
        with open(os.path.join(CONFIGS, name), "rb") as f:
            put("config", name, f.read())
    put("config", "sets", MINI_CONFIG + "\0run.iters=7\0sampler.step_size=0.5\0data.source=pts.csv\0buffer.uint8=yes")
    put("config", "bad-set", "[run]\niters = 3\n\0run.iters\0nosuch.key=1\0run.iters=x")

    # ---- the command line: one argument per line, an empty line, cfg.ini (fuzz_cli.c) ----
    for name, args, ini in (
            ("print-config", ["train", "cfg.ini", "--print-config"], MINI_CONFIG),
            ("print-defaults", ["train", "--print-config"], ""),
            ("train-sets", ["train", "cfg.ini", "--set", "run.iters=3", "--out", "out", "--overwrite", "--device", "pocl"], MINI_CONFIG),
            ("resume", ["train", "--resume", "toy", "--set", "run.iters=20"], ""),
            ("sample", ["sample", "toy", "--n", "4", "--steps", "2", "--init", "buffer", "--set", "sampler.step_size=0.1", "--raw"], ""),
            ("eval", ["eval", "run/checkpoint.safetensors", "--classifier", "toy", "--ood", "--min-per-mode", "3"], ""),
            ("score", ["score", "toy", "pts.csv", "--out", "s.csv"], ""),
            ("score-toy", ["score", "toy", "toy:8gaussians"], ""),
            ("devices", ["devices", "--ids", "pocl,nvidia,intel,0:0,gpu"], ""),
            ("devices-select", ["devices", "--device", "cpu"], ""),
            ("version", ["--version"], ""),
            ("help", ["help"], "")):
        put("cli", name, "\n".join(args) + "\n\n" + ini)

    known_defects()


def bmp(w, h, pixels=b"", total=0):
    """a 24-bit BMP header declaring w x h, then pixels, zero-padded to total bytes"""
    d = b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54) + \
        struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0) + pixels
    return d + b"\0" * max(0, total - len(d))


def known_defects():
    """Inputs of defects found by fuzzing (the issue "Untrusted input and shared run directories"),
    named known-*: each failed its harness until its reader was fixed, and stays as a regression seed."""
    claims = idx([3200, 1000, 1000], [])                        # 16 bytes asking for 3.2 GB
    put("idx", "known-claims-3GB", claims)
    put("idx_gz", "known-claims-3GB", claims)
    put("image", "known-jpeg-dht-counts.jpg", bytes.fromhex("ffd8ffc4017112fe7f"))   # DHT counts sum to 381 > 256
    put("image", "known-zero-height.bmp", bmp(4, 0, b"\x10" * 48))
    put("image", "known-12Mx17.bmp", bmp(12000000, 17, total=643))
    put("image", "known-gif-20033x17731.gif", b"GIF89aANCE\n")   # 11 bytes for which stb_image's GIF loader took > 2 GB
    six = idx([6, 2, 2], range(24))
    put("idx_dataset", "known-stacked-short-labels", bytes([3, 0]) + six + b"EBMLABEL" + idx([2], [0, 1]))
    put("idx_dataset", "known-stacked-label-40", bytes([3, 0]) + six + b"EBMLABEL" + idx([6], [0, 1, 40, 2, 3, 4]))
    put("config", "known-set-newline", "[run]\niters = 3\n\0data.source=a\nb")
    put("config", "known-set-leading-space", "\0run.iters= 5")
    put("config", "known-set-inline-comment", "\0data.source=a ;b")
    put("config", "known-set-long-value", "\0data.source=" + "x" * 250)
    put("cli", "known-train-set-inline-comment", "train\ncfg.ini\n--set\ndata.source=a ;b\n\n[run]\niters = 3\n")


if __name__ == "__main__":
    main()
