"""PyTorch reference workloads for ebm-cl benchmarks: time one EBM training iteration
(Langevin negatives + CD loss + Adam) and one zero-centred gradient-penalty step.
Usage: python3 bench/torch_reference.py [cpu|cuda] [threads] [workloads], workloads a comma-separated
filter (toy2d,fmnist-ms,cifar32). The workloads are described in docs/WORKLOADS.md; bench/workloads.c
builds the same networks."""
import resource, time, sys, torch, torch.nn as nn, torch.nn.functional as F
dev = sys.argv[1] if len(sys.argv) > 1 else ("cuda" if torch.cuda.is_available() else "cpu")
torch.manual_seed(0)
if dev == "cpu": torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
class Swish(nn.Module):
    def forward(self, x): return x * torch.sigmoid(x)
def mlp(): return nn.Sequential(nn.Linear(2,128),Swish(),nn.Linear(128,128),Swish(),nn.Linear(128,128),Swish(),nn.Linear(128,1))
def convnet(cin, base=64):
    # 3x3 convs, three stride-2 downsamplings (works for any input >= 1 pixel), global average, linear head
    return nn.Sequential(nn.Conv2d(cin,base,3,1,1),Swish(),nn.Conv2d(base,base*2,3,2,1),Swish(),
        nn.Conv2d(base*2,base*4,3,2,1),Swish(),nn.Conv2d(base*4,base*4,3,2,1),Swish(),
        nn.AdaptiveAvgPool2d(1),nn.Flatten(),nn.Linear(base*4,1))
class MultiScale(nn.Module):
    def __init__(s,cin): super().__init__(); s.nets=nn.ModuleList([convnet(cin,32) for _ in range(3)])
    def forward(s,x):
        e=0
        for i,n in enumerate(s.nets):
            e = e + n(x if i==0 else F.avg_pool2d(x,2**i))
        return e
def step(E,opt,xpos,K,eps,noise):
    x = torch.rand_like(xpos)
    for _ in range(K):
        x = x.detach().requires_grad_(True)
        g, = torch.autograd.grad(E(x).sum(), x)
        x = (x - eps*g + noise*torch.randn_like(x)).clamp(0,1)
    x = x.detach()
    ep, en = E(xpos), E(x)
    loss = ep.mean() - en.mean() + 1.0*(ep**2 + en**2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
def step_gp(E,opt,xpos,xneg):
    xpos = xpos.requires_grad_(True)
    ep = E(xpos); g, = torch.autograd.grad(ep.sum(), xpos, create_graph=True)
    loss = ep.mean() - E(xneg).mean() + 0.1*(g.pow(2).flatten(1).sum(1)).mean()
    opt.zero_grad(); loss.backward(); opt.step()
def fwd_flops(E, x):
    tot = [0]
    def hook(m, i, o):
        if isinstance(m, nn.Conv2d): tot[0] += 2*o.numel()*m.in_channels*m.kernel_size[0]*m.kernel_size[1]//m.groups
        elif isinstance(m, nn.Linear): tot[0] += 2*o.numel()*m.in_features
    hs = [m.register_forward_hook(hook) for m in E.modules()]
    with torch.no_grad(): E(x)
    for h in hs: h.remove()
    return tot[0]
only = sys.argv[3].split(",") if len(sys.argv) > 3 else None
def bench(name, E, shape, K, eps, noise, iters):
    if only and name not in only: return
    E = E.to(dev); opt = torch.optim.Adam(E.parameters(), 1e-4, betas=(0.0,0.999))
    x = torch.rand(*shape, device=dev)
    for _ in range(2): step(E,opt,x,K,eps,noise)
    if dev=="cuda": torch.cuda.synchronize()
    t=time.perf_counter()
    for _ in range(iters): step(E,opt,x,K,eps,noise)
    if dev=="cuda": torch.cuda.synchronize()
    dt=(time.perf_counter()-t)/iters
    # double-backward (zero-centred gradient penalty) step
    for _ in range(2): step_gp(E,opt,x.clone(),torch.rand_like(x))
    if dev=="cuda": torch.cuda.synchronize()
    t=time.perf_counter()
    for _ in range(iters): step_gp(E,opt,x.clone(),torch.rand_like(x))
    if dev=="cuda": torch.cuda.synchronize()
    dg=(time.perf_counter()-t)/iters
    F1 = fwd_flops(E, x)
    total = K*2*F1 + 6*F1   # Langevin: fwd + input-grad per step; loss: fwd+bwd on 2 batches
    # peak memory: the CUDA allocator's peak on a GPU, else the process's peak resident set (Linux: KiB)
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{name:10s} dev={dev} batch={shape[0]} K={K}: {dt*1e3:9.2f} ms/iter (Langevin CD) | {dg*1e3:8.2f} ms/iter (grad-penalty step) | fwd {F1/1e9:.3f} GFLOP, iter ~{total/1e9:.1f} GFLOP -> {total/dt/1e12:.2f} TFLOP/s achieved | peak {peak:.0f} MiB", flush=True)
print("torch", torch.__version__, "threads", torch.get_num_threads())
if dev == "cpu":
    # the BLAS the process actually loaded: on Debian, libblas.so.3 is an alternative, and the netlib
    # reference one (no libopenblas0 installed) makes PyTorch several times slower than it can be
    torch.ones(64, 64) @ torch.ones(64, 64)
    try:
        libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.split()[-1]})
    except OSError:
        libs = []
    print("BLAS:", ", ".join(libs) or "not visible")
    if any("/blas/libblas" in l for l in libs) and not any("openblas" in l or "mkl" in l for l in libs):
        print("warning: the reference (netlib) BLAS is loaded; apt-get install libopenblas0-pthread", file=sys.stderr)
bench("toy2d", mlp(), (1000,2), 20, 0.01, 0.005, 20)
bench("fmnist-ms", MultiScale(1), (128,1,28,28), 40, 10.0, 0.005, 5)
bench("cifar32", convnet(3), (128,3,32,32), 60, 10.0, 0.005, 5)
