#!/usr/bin/env bash
# oclgrind.sh [--uninitialized] LOG COMMAND [ARGS...] — runs COMMAND under Oclgrind (an OpenCL device
# simulator that checks every memory access of every work-item) with data-race detection, and fails
# when Oclgrind reports anything: an out-of-bounds access, a data race (global or local memory),
# barrier divergence, an invalid API call, a fatal simulator error, or with --uninitialized a use
# of memory no one wrote. The reports are written to LOG and printed, counted per kernel and
# message, then the first 60 lines in full. Exit 77 (ctest: skipped) when oclgrind is not installed.
#
# The run uses EBM_EXACT_BUFFERS=1: every tensor gets a buffer of exactly its size that the pool
# never hands to another tensor (engine/tensor.c), so that an access one element past a tensor is
# out of bounds for Oclgrind too. With --uninitialized the buffers are also kept until the process
# ends (EBM_EXACT_BUFFERS=retire), so that it sees each op's output as fresh memory: Oclgrind gives
# a released buffer's number, and its shadow memory, to the next buffer. Only there, because the
# race detector's work after each kernel grows with every byte the process holds: with retired
# buffers `test_ops grad` took 901 s, spectral_norm's 1200 small kernels 235 s of it (so the ctests
# give --uninitialized runs a part of the case table each: test_ops --part). --uninitialized also
# compiles every kernel without optimisation (-cl-opt-disable): Oclgrind 21.10's uninitialized-value
# plugin stops with "Unsupported instruction: freeze" on the freeze instructions LLVM's optimiser
# adds (im2col_panels, avg_pool2d, upsample_*, CLBlast's kernels at -O1 and above); see
# bench/results/oclgrind.md. The engine's kernel cache does not know Oclgrind's build options: give
# --uninitialized runs an EBM_KERNEL_CACHE of their own, or they get optimised binaries (and freeze).
set -u
OCLGRIND=${OCLGRIND:-oclgrind}
opts=(--data-races --check-api)
exact=1
if [ "${1:-}" = "--uninitialized" ]; then
    opts+=(--uninitialized --build-options -cl-opt-disable)
    exact=retire
    shift
fi
[ $# -ge 2 ] || { echo "usage: $0 [--uninitialized] LOG COMMAND [ARGS...]" >&2; exit 2; }
LOG=$1
shift
command -v "$OCLGRIND" > /dev/null || { echo "oclgrind: SKIPPED, oclgrind is not installed (apt-get install oclgrind)"; exit 77; }
mkdir -p "$(dirname "$LOG")"
rm -f "$LOG"
# Oclgrind is the only OpenCL platform of a process it runs; the selector makes sure of it
# --uninitialized needs retire (above): an inherited EBM_EXACT_BUFFERS does not replace it there
[ "$exact" = retire ] || exact=${EBM_EXACT_BUFFERS:-$exact}
export EBM_DEVICE=oclgrind EBM_EXACT_BUFFERS=$exact
start=$SECONDS
"$OCLGRIND" "${opts[@]}" --log "$LOG" "$@"
rc=$?
echo "oclgrind ${opts[*]}: $* (exit $rc, $((SECONDS - start)) s)"
if [ -s "$LOG" ]; then
    echo "Oclgrind reports ($LOG), by message and kernel:"
    awk '/^\t?Kernel: / { sub(/^\t?Kernel: /, ""); print msg " | " $0; next }
         /^[A-Z]/ && !/^\t/ { msg = $0 }' "$LOG" | sort | uniq -c | sort -rn | head -40
    echo "first reports:"
    head -60 "$LOG"
    exit 1
fi
[ $rc -eq 0 ] || { echo "FAIL: the command failed under Oclgrind"; exit 1; }
echo "no Oclgrind reports"
