#!/usr/bin/env bash
# cpu_peak_cli.sh BENCH_CPU_PEAK — bench_cpu_peak (the measured FP32 peak the CPU benchmarks take as
# EBM_PEAK_GFLOPS): -q prints one positive number and nothing else on stdout, within the time it
# was given (a calibration the compiler dropped once made it spin for hours); bad numbers and
# unknown options exit 2 naming what was wrong, with nothing on stdout.
set -u
BIN=$1
fail() { echo "FAIL: $*"; exit 1; }
out=$(timeout 60 "$BIN" -q -s 1 -t 1 2>/dev/null)
rc=$?
[ $rc -eq 0 ] || fail "-q -s 1 -t 1: exit $rc"
echo "$out" | grep -Eqx '[0-9]+\.[0-9]' || fail "-q printed '$out', not one number"
awk -v g="$out" 'BEGIN { exit !(g > 0.1) }' || fail "-q: $out GFLOP/s is not a measured rate"
for args in "-s 0" "-s x" "-s 61" "-t 0" "-t 1e3" "--fast" "-s"; do
    o=$("$BIN" $args 2>/tmp/cpu_peak_err.$$)
    rc=$? err=$(cat /tmp/cpu_peak_err.$$)
    rm -f /tmp/cpu_peak_err.$$
    [ $rc -eq 2 ] || fail "'$args': exit $rc, not 2"
    [ -z "$o" ] || fail "'$args': printed '$o' on stdout"
    case $args in
        -s\ *) echo "$err" | grep -q -- "-s must be an integer in \[1, 60\], got '${args#-s }'" || fail "'$args': $err" ;;
        -t\ *) echo "$err" | grep -q -- "-t must be an integer in \[1, 256\], got '${args#-t }'" || fail "'$args': $err" ;;
        *) echo "$err" | grep -q "^usage: " || fail "'$args': no usage line: $err" ;;
    esac
done
echo "ok: bench_cpu_peak -q printed $out GFLOP/s (one thread); bad arguments rejected"
