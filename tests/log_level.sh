#!/usr/bin/env bash
# log_level.sh TEST_OPS WORK — EBM_LOG sets the least level the default logger prints (stderr):
# with debug, each convolution algorithm measurement prints its times and choice; without EBM_LOG
# (warn) nothing of that; an unknown level is named in a warning. The kernel cache folder is the
# test's own and starts empty, so the algorithms are measured in each run.
set -u
TEST_OPS=$1 WORK=$2
fail() { echo "FAIL: $*"; exit 1; }
run() {   # run LOG: test_ops on one fused convolution with EBM_LOG=LOG (unset when empty), output in $out
    rm -rf "$WORK" && mkdir -p "$WORK"
    out=$(env ${1:+EBM_LOG=$1} EBM_KERNEL_CACHE="$WORK" "$TEST_OPS" test -o conv2d_act 2>&1) || fail "test_ops failed: $out"
}
line='^ebm: conv forward\+bias/act [0-9]+x[0-9]+x[0-9]+x[0-9]+/[0-9]+ k[0-9]+x[0-9]+ s[0-9]+: im2col\+GEMM .* -> (im2col\+GEMM|FFT|tile|implicit)$'
run debug
echo "$out" | grep -Eq "$line" || fail "EBM_LOG=debug: no measurement line: $out"
run ""
echo "$out" | grep -q '^ebm: conv ' && fail "no EBM_LOG: a debug line was printed: $out"
run DEBUG
echo "$out" | grep -Eq "$line" || fail "EBM_LOG=DEBUG: no measurement line"
run chatty
echo "$out" | grep -q '^ebm: EBM_LOG=chatty is not debug, info, warn or error; ignored$' || fail "EBM_LOG=chatty: no warning: $out"
echo "$out" | grep -q '^ebm: conv ' && fail "EBM_LOG=chatty: a debug line was printed"
echo "ok: EBM_LOG levels"
