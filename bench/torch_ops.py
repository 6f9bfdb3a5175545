"""PyTorch side of bench/ops: conv2d forward, input-gradient and weight-gradient at the same shapes
as `test_ops perf` (tests/test_ops.c, perf_cases), timed for >= 1 s after a warm-up.
Usage: python3 bench/torch_ops.py [cpu|cuda] [threads] > bench/results/torch-ops-<dev>.csv"""
import sys, time
import torch
import torch.nn.functional as F
from torch.nn.grad import conv2d_input, conv2d_weight

dev = sys.argv[1] if len(sys.argv) > 1 else "cpu"
if dev == "cpu":
    torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
CASES = [  # workload, N, C, H, W, O, k, stride, pad   (keep in step with perf_cases in tests/test_ops.c)
    ("fmnist-ms", 128, 1, 28, 28, 32, 3, 1, 1), ("fmnist-ms", 128, 32, 28, 28, 64, 3, 2, 1),
    ("fmnist-ms", 128, 64, 14, 14, 128, 3, 2, 1), ("fmnist-ms", 128, 128, 7, 7, 128, 3, 2, 1),
    # its coarser scales' networks, on avgpool2(x) and avgpool4(x)
    ("fmnist-ms/2", 128, 1, 14, 14, 32, 3, 1, 1), ("fmnist-ms/2", 128, 32, 14, 14, 64, 3, 2, 1),
    ("fmnist-ms/2", 128, 64, 7, 7, 128, 3, 2, 1), ("fmnist-ms/2", 128, 128, 4, 4, 128, 3, 2, 1),
    ("fmnist-ms/4", 128, 1, 7, 7, 32, 3, 1, 1), ("fmnist-ms/4", 128, 32, 7, 7, 64, 3, 2, 1),
    ("fmnist-ms/4", 128, 64, 4, 4, 128, 3, 2, 1), ("fmnist-ms/4", 128, 128, 2, 2, 128, 3, 2, 1),
    ("cifar32", 128, 3, 32, 32, 64, 3, 1, 1), ("cifar32", 128, 64, 32, 32, 128, 3, 2, 1),
    ("cifar32", 128, 128, 16, 16, 256, 3, 2, 1), ("cifar32", 128, 256, 8, 8, 256, 3, 2, 1),
    ("5x5", 128, 32, 28, 28, 32, 5, 1, 2),
]

def sync():
    if dev == "cuda":
        torch.cuda.synchronize()

def timeit(fn):
    fn(); sync()
    reps, t0 = 0, time.perf_counter()
    while True:
        fn(); sync(); reps += 1
        t = time.perf_counter() - t0
        if t >= 1.0 and reps >= 3:
            return t / reps

print("op,workload,shape,device,ms,gflops")
name = torch.cuda.get_device_name() if dev == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
for wl, n, c, h, w, o, k, s, p in CASES:
    x = torch.rand(n, c, h, w, device=dev) * 2 - 1
    wt = torch.rand(o, c, k, k, device=dev) * 2 - 1
    y = F.conv2d(x, wt, stride=s, padding=p)
    g = torch.rand_like(y) * 2 - 1
    flop = 2.0 * y.numel() * c * k * k
    shape = f"{n}x{c}x{h}x{w}/{o}x{k}x{k}"
    for op, fn in (("conv2d", lambda: F.conv2d(x, wt, stride=s, padding=p)),
                   ("conv2d_input_grad", lambda: conv2d_input(x.shape, wt, g, stride=s, padding=p)),
                   ("conv2d_weight_grad", lambda: conv2d_weight(x, wt.shape, g, stride=s, padding=p))):
        dt = timeit(fn)
        print(f"{op},{wl},{shape},\"{name}\",{dt * 1e3:.4f},{flop / dt * 1e-9:.2f}", flush=True)
