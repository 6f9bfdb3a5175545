#!/usr/bin/env bash
# bench/ab_rounds.sh [-r ROUNDS] [-w WORKLOAD] [-n ITERS] BUILD [BUILD ...]
#
# One workload (default fmnist-ms) timed in rounds that alternate every given build directory's
# build/bench_workloads on every OpenCL device and PyTorch CPU (bench/torch_reference.py, all cores;
# PYTHON=... picks the interpreter), so that each comparison is between runs minutes apart: on a
# shared machine one run of each side can differ by 20% from the next. Prints each run's ms/iter and
# gradient-penalty ms, then the medians and the ratios PyTorch median / engine median.
# Each build gets a kernel cache of its own (EBM_KERNEL_CACHE), filled by one untimed run per device
# before the rounds: builds with different kernels must not share algorithm choices, measured with
# one build's kernels. AB_CACHE=DIR keeps those caches in DIR/1, DIR/2, ... (warm for another call).
#   bench/ab_rounds.sh -r 3 /path/to/old/build build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=3 workload=fmnist-ms iters=2 py=${PYTHON:-python3}
while getopts "r:w:n:" o; do
    case $o in
        r) rounds=$OPTARG ;; w) workload=$OPTARG ;; n) iters=$OPTARG ;;
        *) sed -n '2,9p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n '2,9p' "$0"; exit 2; }
for b in "$@"; do
    [ -x "$b/bench_workloads" ] || { echo "$b/bench_workloads: not built" >&2; exit 1; }
done
ebm=
for b in "$@"; do [ -x "$b/ebm" ] && { ebm=$b/ebm; break; }; done
[ -n "$ebm" ] || { echo "none of the builds has the ebm program (to list the devices)" >&2; exit 1; }
devices=$("$ebm" devices | awk '/^[0-9]+:[0-9]+ / {print $1}')
[ -n "$devices" ] || { echo "no OpenCL device (see: $ebm devices)" >&2; exit 1; }
"$py" -c "import torch" 2>/dev/null || { echo "$py has no torch" >&2; exit 1; }
log=$(mktemp)
if [ -n "${AB_CACHE:-}" ]; then
    caches=$AB_CACHE
    trap 'rm -f "$log"' EXIT
else
    caches=$(mktemp -d)
    trap 'rm -rf "$log" "$caches"' EXIT
fi
i=0
for b in "$@"; do
    i=$((i + 1))
    for d in $devices; do   # untimed: compiles the kernels and measures the algorithm choices
        EBM_KERNEL_CACHE=$caches/$i "$b/bench_workloads" -d "$d" -w "$workload" -n 1 > /dev/null 2>&1 || true
    done
done
for r in $(seq "$rounds"); do
    i=0
    for b in "$@"; do
        i=$((i + 1))
        for d in $devices; do
            EBM_KERNEL_CACHE=$caches/$i "$b/bench_workloads" -d "$d" -w "$workload" -n "$iters" 2>/dev/null |
                awk -v who="$b@$d" -v r="$r" '$1 == "'"$workload"'" {print r, who, $2, $3}'
        done
    done
    "$py" "$here/torch_reference.py" cpu "$(nproc)" "$workload" 2>/dev/null |
        awk -v r="$r" '/ms\/iter/ {for (i = 1; i <= NF; i++) if ($i == "ms/iter") v[++k] = $(i - 1); print r, "pytorch", v[1], v[2]}'
done | tee "$log"
echo
echo "median over $rounds rounds (ms/iter, GP ms) and ratio PyTorch / engine:"
sort -k2,2 -k3,3n "$log" | awk '
    { n[$2]++; it[$2, n[$2]] = $3; gp[$2, n[$2]] = $4 }
    function med(a, who, c,   i, j, t, v) {   # median of a[who, 1..c]
        for (i = 1; i <= c; i++) v[i] = a[who, i]
        for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
    }
    END {
        tp = med(it, "pytorch", n["pytorch"]); tg = med(gp, "pytorch", n["pytorch"])
        for (w in n) {
            m = med(it, w, n[w]); g = med(gp, w, n[w])
            if (w == "pytorch") printf "%-40s %10.1f (%7.1f)\n", w, m, g
            else printf "%-40s %10.1f (%7.1f)   ratio %.2f (%.2f)\n", w, m, g, tp / m, tg / g
        }
    }'
