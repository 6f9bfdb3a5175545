#!/usr/bin/env bash
# bench/workloads.sh [-b BUILD] [-w toy2d,fmnist-ms,cifar32] [-n ITERS] [-o OUTDIR] [-g]
#
# The reference workloads of docs/WORKLOADS.md on every OpenCL device `ebm devices` lists
# (build/bench_workloads validates each network against a double-precision forward before timing),
# each followed by PyTorch on the same machine when python3 has torch (bench/torch_reference.py, the same
# networks: CPU with all cores, and CUDA when available; PYTHON=... picks the interpreter, default
# python3). Writes OUTDIR/workloads.csv (one row per device and workload, with the PyTorch times and
# ratios, the engine's kernel launches per Langevin step, and the peak each fraction of peak is of)
# and prints it as a markdown table. A CPU device's fraction of peak is of this host's FP32 peak as
# build/bench_cpu_peak measures it just before (FMA chains on every core), not of the estimate from
# the clock the OS reports: a VM's cores can boost past that clock, or share their pipes with
# another guest's and run at half of it for minutes. EBM_PEAK_GFLOPS, when set, is used instead.
# -g: PyTorch on CUDA only (a GPU machine's table: no CPU columns, and no minutes of PyTorch CPU).
# Ratio = PyTorch ms / engine ms: above 1 the engine is faster.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/peak.sh"
build=$here/../build workloads=toy2d,fmnist-ms,cifar32 iters=0 out=bench-out py=${PYTHON:-python3} torch_cpu=1
while getopts "b:w:n:o:g" o; do
    case $o in
        b) build=$OPTARG ;; w) workloads=$OPTARG ;; n) iters=$OPTARG ;; o) out=$OPTARG ;; g) torch_cpu=0 ;;
        *) sed -n '2,10p' "$0"; exit 2 ;;
    esac
done
mkdir -p "$out"
rm -f "$out"/engine-*.csv   # this run's files only
listing=$("$build/ebm" devices)
devices=$(awk '/^[0-9]+:[0-9]+ / {print $1}' <<< "$listing")
[ -n "$devices" ] || { echo "no OpenCL device (see: $build/ebm devices)" >&2; exit 1; }

torch_line() {   # "workload ms gp_ms peak_MiB" for one workload on one PyTorch device; args: workload device threads
    local w=$1
    shift
    "$py" "$here/torch_reference.py" "$@" "$w" 2>/dev/null |
        awk '/ms\/iter/ {for (i = 1; i <= NF; i++) { if ($i == "ms/iter") v[++k] = $(i - 1); if ($i == "MiB") m = $(i - 1) }
                         print $1, v[1], v[2], m; k = 0}'
}
has_torch=0 has_cuda=0
if "$py" -c "import torch" 2>/dev/null; then
    has_torch=1
    "$py" -c "import torch, sys; sys.exit(not torch.cuda.is_available())" 2>/dev/null && has_cuda=1
else
    echo "$py has no torch: no PyTorch columns" >&2
fi
: > "$out/torch-cpu.txt"; : > "$out/torch-cuda.txt"
# Workload by workload, the engine on each device and then PyTorch, so that the times compared are
# minutes apart, not the length of the whole run (a shared machine's load drifts); one process per
# workload, so that each peak memory figure is that workload's own.
for w in ${workloads//,/ }; do
    for d in $devices; do
        echo "== $w: engine on device $d" >&2
        args=(-d "$d" -w "$w" --csv "$out/engine-${d/:/_}-$w.csv")
        [ "$iters" -gt 0 ] && args+=(-n "$iters")
        # a CPU device's peak, measured just before (a VM's speed can change by 2x within minutes)
        pk=$(measured_peak "$build" "$d" "$listing")
        if [ -n "$pk" ]; then
            EBM_PEAK_GFLOPS=$pk "$build/bench_workloads" "${args[@]}" >&2
        else
            "$build/bench_workloads" "${args[@]}" >&2
        fi
    done
    if [ "$has_torch" = 1 ] && [ "$torch_cpu" = 1 ]; then
        echo "== $w: PyTorch CPU ($(nproc) threads)" >&2
        torch_line "$w" cpu "$(nproc)" >> "$out/torch-cpu.txt" || true
    fi
    if [ "$has_cuda" = 1 ]; then
        echo "== $w: PyTorch CUDA" >&2
        torch_line "$w" cuda 1 >> "$out/torch-cuda.txt" || true
    fi
done

awk -F, -v cpu="$out/torch-cpu.txt" -v cuda="$out/torch-cuda.txt" '
    BEGIN {
        while ((getline l < cpu) > 0) { split(l, a, " "); tc[a[1]] = a[2]; tcg[a[1]] = a[3]; tcm[a[1]] = a[4] }
        while ((getline l < cuda) > 0) { split(l, a, " "); tg[a[1]] = a[2]; tgg[a[1]] = a[3]; tgm[a[1]] = a[4] }
        print "workload,device,ms_per_iter,gp_ms,gflops,fraction_of_peak,torch_cpu_ms,torch_cpu_gp_ms,ratio_cpu,torch_cuda_ms,torch_cuda_gp_ms,ratio_cuda,launches_per_step,peak_rss_mib,torch_cpu_peak_mib,torch_cuda_peak_mib,device_peak_mib,device_held_mib,peak_gflops"
    }
    FNR == 1 { next }
    {
        w = $1; rc = tc[w] != "" ? sprintf("%.2f", tc[w] / $3) : ""; rg = tg[w] != "" ? sprintf("%.2f", tg[w] / $3) : ""
        pk = $7 > 0 ? sprintf("%.1f", $6 / $7) : ""
        printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", w, $2, $3, $4, $6, $7, tc[w], tcg[w], rc, tg[w], tgg[w], rg, $8, $9,
               tcm[w], tgm[w], $10, $11, pk
    }' "$out"/engine-*.csv > "$out/workloads.csv"

awk -F, 'NR == 1 {
        print "| workload | device | engine ms/iter (GP step) | GFLOP/s (% peak) | launches/step | peak RSS MiB (PyTorch CPU) | device peak MiB (PyTorch CUDA) | PyTorch CPU ms (GP) | CPU ratio | PyTorch CUDA ms (GP) | CUDA ratio |"
        print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"; next }
    { printf "| %s | %s | %.1f (%.1f) | %.0f (%.0f%%) | %s | %s (%s) | %s (%s) | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, 100 * $6, $13, $14,
             $15 == "" ? "-" : $15, $17 == "" ? "-" : $17, $16 == "" ? "-" : $16,
             $7 == "" ? "-" : sprintf("%.1f (%.1f)", $7, $8), $9 == "" ? "-" : $9,
             $10 == "" ? "-" : sprintf("%.1f (%.1f)", $10, $11), $12 == "" ? "-" : $12 }' "$out/workloads.csv"
echo "CSV: $out/workloads.csv" >&2
