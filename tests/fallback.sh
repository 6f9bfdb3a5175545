#!/usr/bin/env bash
# fallback.sh TEST_OPS WORK — an algorithm that cannot run on a device is replaced by another:
# EBM_BREAK makes kernel files fail to compile (an #error line: a real compiler failure with a real
# log) and makes CLBlast and clFFT fail as they do where a compiler rejects their kernels. For each
# broken set, test_ops (GEMM and every convolution, forward and both adjoints, against the double
# reference) must
#   1. pass, printing one warning per broken algorithm that names the device, the algorithm and the
#      compiler's first error;
#   2. leave the failure in the device's choices file ("unavailable conv:fft ...");
#   3. pass again in a second process without trying it again (no warning);
# and with every GEMM algorithm broken, GEMM must fail with a message naming why each cannot run.
# Each case has a kernel cache folder of its own (the choices file lives there).
set -u
TEST_OPS=$1 WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
ops=matmul,linear,conv2d,conv2d_input_grad,conv2d_weight_grad,conv_transpose2d

# case_ok BREAK "KEY|LABEL"...: the algorithms BREAK must make unavailable
case_ok() {
    local broken=$1 dir=$WORK/${1//,/_}
    shift
    mkdir -p "$dir"
    EBM_BREAK=$broken EBM_KERNEL_CACHE=$dir/cache "$TEST_OPS" test -o $ops > "$dir/run1.out" 2> "$dir/run1.err" ||
        { tail -20 "$dir/run1.out" "$dir/run1.err"; fail "EBM_BREAK=$broken: the ops failed instead of using another algorithm"; }
    local device
    device=$(sed -n 's/^device: \(.*\) (.*/\1/p' "$dir/run1.out" | head -1)
    # one warning per broken algorithm (a device may add its own: clFFT does not build under Intel's compiler)
    local n_warn
    n_warn=$(grep "cannot run, using another algorithm" "$dir/run1.err" | grep -c "EBM_BREAK")
    [ "$n_warn" -eq $# ] || { cat "$dir/run1.err"; fail "EBM_BREAK=$broken: $n_warn warnings, expected $# (one per broken algorithm)"; }
    for want in "$@"; do
        local key=${want%%|*} label=${want#*|}
        [ "$(grep -F "$device: $label cannot run, using another algorithm" "$dir/run1.err" | grep -c "EBM_BREAK")" -eq 1 ] ||
            { cat "$dir/run1.err"; fail "EBM_BREAK=$broken: not one warning naming $device, \"$label\" and the first error"; }
        grep -q "^unavailable $key " "$dir"/cache/choices-*.txt ||
            { cat "$dir"/cache/choices-*.txt; fail "EBM_BREAK=$broken: $key not remembered in the choices file"; }
    done
    EBM_BREAK=$broken EBM_KERNEL_CACHE=$dir/cache "$TEST_OPS" test -o $ops > "$dir/run2.out" 2> "$dir/run2.err" ||
        { tail -20 "$dir/run2.out"; fail "EBM_BREAK=$broken: second run failed"; }
    ! grep -q "cannot run" "$dir/run2.err" || { cat "$dir/run2.err"; fail "EBM_BREAK=$broken: the second run tried again"; }
    echo "ok   EBM_BREAK=$broken: $(tail -1 "$dir/run1.out"), $# warning(s), remembered"
}

case_ok clfft "conv:fft|convolution through clFFT"
case_ok fftconv.cl "conv:fft|convolution through clFFT"
case_ok clblast "gemm:clblast|GEMM through CLBlast"
case_ok gemm.cl "gemm:tile|GEMM tile kernel (gemm.cl)" "conv:tile|convolution tile path" "conv:implicit|convolution implicit path"

# the same cache without EBM_BREAK: gemm.cl's text is no longer the one the failure was recorded
# under (the choices file's key hashes the programs' text), so its algorithms are tried again: a
# choices file of its own, none of them unavailable there
dir=$WORK/gemm.cl
EBM_KERNEL_CACHE=$dir/cache "$TEST_OPS" test -o $ops > "$dir/run3.out" 2> "$dir/run3.err" ||
    { tail -20 "$dir/run3.out"; fail "gemm.cl mended: the run failed"; }
[ "$(ls "$dir"/cache/choices-*.txt | wc -l)" -eq 2 ] ||
    { ls -l "$dir"/cache; fail "gemm.cl mended: not a choices file of its own beside the broken text's"; }
newest=$(ls -t "$dir"/cache/choices-*.txt | head -1)
! grep -E "^unavailable (gemm:tile|conv:tile|conv:implicit) " "$newest" ||
    fail "gemm.cl mended: its algorithms are still unavailable ($newest)"
grep -qE "^(gemm|conv) " "$newest" || { cat "$newest"; fail "gemm.cl mended: no choice measured in $newest"; }
echo "ok   gemm.cl mended: its algorithms tried again under a choices file of their own"

# no GEMM left: the op fails, naming both reasons
dir=$WORK/none
mkdir -p "$dir"
if EBM_BREAK=clblast,gemm.cl EBM_KERNEL_CACHE=$dir/cache "$TEST_OPS" test -o matmul > "$dir/run.out" 2> "$dir/run.err"; then
    fail "EBM_BREAK=clblast,gemm.cl: matmul passed without any GEMM algorithm"
fi
grep -q "GEMM: no algorithm runs on .*GEMM through CLBlast: .*EBM_BREAK.*GEMM tile kernel (gemm.cl): .*EBM_BREAK" "$dir/run.out" ||
    { cat "$dir/run.out"; fail "EBM_BREAK=clblast,gemm.cl: no message naming both GEMM algorithms and why"; }
echo "ok   EBM_BREAK=clblast,gemm.cl: matmul fails with both reasons"
