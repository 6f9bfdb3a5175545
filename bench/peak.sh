# bench/peak.sh — sourced by bench/workloads.sh and bench/ops.sh.
# measured_peak BUILD ID LIST: for the OpenCL device ID of LIST (the output of `ebm devices`), when it
# is a CPU, EBM_PEAK_GFLOPS is unset and BUILD has bench_cpu_peak, prints this host's FP32 peak as
# bench_cpu_peak measures it now (the fraction of peak is then of what the cores deliver, not of the
# estimate from the clock the OS reports); else prints nothing, and the run keeps the estimate.
# Messages on stderr.
measured_peak() {
    local build=$1 id=$2 list=$3 pk
    [ -z "${EBM_PEAK_GFLOPS:-}" ] && [ -x "$build/bench_cpu_peak" ] || return 0
    awk -v id="$id" '$1 == id && / CPU /' <<< "$list" | grep -q . || return 0
    if pk=$("$build/bench_cpu_peak" -q -s 1); then
        echo "this host's FP32 peak, measured (bench_cpu_peak): $pk GFLOP/s" >&2
        echo "$pk"
    else
        echo "bench_cpu_peak failed: the peak estimate instead" >&2
    fi
}
