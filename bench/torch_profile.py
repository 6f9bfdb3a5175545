"""Where PyTorch spends a reference workload's Langevin steps, per op and input shape (torch.profiler),
to hold the engine's `EBM_PROFILE=2 build/bench_workloads -w NAME` against.

    /usr/bin/python3 bench/torch_profile.py [fmnist-ms|cifar32|toy2d] [steps (5)] [threads (2)]

Runs the workload's network (bench/torch_reference.py, docs/WORKLOADS.md) on the CPU: two untimed
Langevin steps, then `steps` profiled ones (x <- clamp(x - eta grad E + sigma N(0, I), 0, 1) from U(0, 1)),
and prints the ops by self CPU time, grouped by input shapes, with the milliseconds per step."""
import sys
import torch
from torch.profiler import ProfilerActivity, profile

name = sys.argv[1] if len(sys.argv) > 1 else "fmnist-ms"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
sys.argv = ["torch_reference.py", "cpu", str(threads), "none"]   # its workload filter: run none of them
sys.path.insert(0, __file__.rsplit("/", 1)[0] if "/" in __file__ else ".")
import torch_reference as tr  # noqa: E402

nets = {"toy2d": (tr.mlp, (1000, 2), 0.01, 0.005), "fmnist-ms": (lambda: tr.MultiScale(1), (128, 1, 28, 28), 10.0, 0.005),
        "cifar32": (lambda: tr.convnet(3), (128, 3, 32, 32), 10.0, 0.005)}
if name not in nets:
    sys.exit(f"unknown workload {name!r}: one of {', '.join(nets)}")
make, shape, eta, sigma = nets[name]
E, x = make(), torch.rand(*shape)


def langevin(k):
    y = torch.rand_like(x)
    for _ in range(k):
        y = y.detach().requires_grad_(True)
        g, = torch.autograd.grad(E(y).sum(), y)
        y = (y - eta * g + sigma * torch.randn_like(y)).clamp(0, 1)


langevin(2)
with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as p:
    langevin(steps)
rows = sorted(p.key_averages(group_by_input_shape=True), key=lambda e: -e.self_cpu_time_total)
total = sum(e.self_cpu_time_total for e in rows) / 1e3 / steps
print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, {name}: {total:.1f} ms of CPU time per Langevin step ({steps} steps)")
print(f"{'op':34s} {'ms/step':>8s} {'%':>6s} {'calls/step':>10s}  input shapes")
for e in rows:
    ms = e.self_cpu_time_total / 1e3 / steps
    if ms < 0.01 * total:
        break
    print(f"{e.key:34s} {ms:8.2f} {100 * ms / total:6.1f} {e.count / steps:10.1f}  {str(e.input_shapes)[:120]}")
