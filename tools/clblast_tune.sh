#!/usr/bin/env bash
# clblast_tune.sh — tune CLBlast's single-precision GEMM kernels for one OpenCL device with CLBlast's
# own tuners (Debian: apt-get install clblast-utils) and keep the results for the engine
# (`ebm clblast-import`): every later run on the device hands them to CLBlast (`ebm devices` then
# lists the tuned kernels; EBM_LOG=debug shows "CLBlast: tuned parameters ..." when a run first
# uses them). Worth it on a GPU CLBlast's database does not know; on CPUs the engine's own tile
# GEMM is usually chosen anyway.
#
#   tools/clblast_tune.sh [-d DEVICE] [-s SECONDS] [-f F] [-t TUNERS] [-m M -n N -k K] [-o DIR] [-e EBM]
#
#   -d  the device as the engine selects it (pocl, nvidia, P:D, ...; default $EBM_DEVICE, else a GPU)
#   -s  the most seconds each tuner runs (default 600): a tuner stopped early keeps the phases it
#       finished (the GEMM tuner writes one result per phase), and one with none adds nothing
#   -f  the GEMM tuners (xgemm, xgemm_direct) try about 1/F of their configurations, at random, in
#       every phase (CLBlast's -fraction; default: each phase's own, all of xgemm's first phase of
#       578, 1/512 to 1/64 of the larger later ones): -f 10 finishes the first phase in a tenth of
#       the time, for runs too short for it, and then samples the later phases more than by default
#       (a stopped phase adds nothing)
#   -t  the tuners, comma-separated (default and choice: xgemm,xgemm_direct,copy_pad,transpose_fast,transpose_pad,
#       the kernels a GEMM runs)
#   -m -n -k  the matrix sizes the tuners measure at (default the tuners' own: 1024, or 256 for the others)
#   -o  where the tuners' JSON results and logs go, a folder without earlier results (default a
#       temporary folder, removed afterwards)
#   -e  the ebm program (default build/ebm, else ebm on PATH)
# Exit status: 0 when results were imported, 1 on failure (the reason on stderr).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
device=${EBM_DEVICE:-} seconds=600 fraction="" tuners=xgemm,xgemm_direct,copy_pad,transpose_fast,transpose_pad
out="" ebm="" sizes=()
usage() { sed -n '2,/^[^#]/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-2}"; }
while getopts "d:s:f:t:m:n:k:o:e:h" opt; do
  case $opt in
    d) device=$OPTARG ;;
    f) [[ $OPTARG =~ ^[1-9][0-9]{0,3}$ ]] || { echo "clblast_tune.sh: -f $OPTARG is not a whole number from 1 to 9999" >&2; exit 2; }
       fraction=$OPTARG ;;
    s) seconds=$OPTARG ;;
    t) tuners=$OPTARG ;;
    m|n|k) [[ $OPTARG =~ ^[1-9][0-9]{0,5}$ ]] || { echo "clblast_tune.sh: -$opt $OPTARG is not a size from 1 to 999999" >&2; exit 2; }
           sizes+=("-$opt" "$OPTARG") ;;
    o) out=$OPTARG ;;
    e) ebm=$OPTARG ;;
    h) usage 0 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { echo "clblast_tune.sh: unexpected argument \"$1\"" >&2; exit 2; }
[[ $seconds =~ ^[1-9][0-9]{0,5}$ ]] || { echo "clblast_tune.sh: -s $seconds is not a number of seconds" >&2; exit 2; }
if [ -z "$ebm" ]; then
  if [ -x "$here/build/ebm" ]; then ebm=$here/build/ebm; else ebm=$(command -v ebm) || { echo "clblast_tune.sh: no build/ebm and no ebm on PATH (-e EBM)" >&2; exit 1; }; fi
fi
# the tuners take the OpenCL platform and device indices: those of the device the engine selects
listing=$("$ebm" devices ${device:+--device "$device"} 2> /dev/null) ||
  { echo "clblast_tune.sh: $("$ebm" devices ${device:+--device "$device"} 2>&1 > /dev/null)" >&2; exit 1; }
pd=$(sed -n 's/^selected: \([0-9]*:[0-9]*\) .*/\1/p' <<< "$listing")
platform=${pd%%:*} index=${pd##*:}
[[ $platform =~ ^[0-9]+$ && $index =~ ^[0-9]+$ ]] || { echo "clblast_tune.sh: no \"selected: P:D\" line in \`ebm devices\`" >&2; exit 1; }
if [ -z "$out" ]; then
  out=$(mktemp -d) || exit 1
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out" || exit 1
# everything there is imported at the end: an earlier run's results (another device's, say) must not be
if compgen -G "$out/clblast_*_32.json" > /dev/null; then
  echo "clblast_tune.sh: $out already holds tuner results (clblast_*_32.json): give -o an empty folder" >&2; exit 2
fi
IFS=, read -ra list <<< "$tuners"
for t in "${list[@]}"; do
  [[ $t =~ ^(xgemm|xgemm_direct|copy_pad|transpose_fast|transpose_pad)$ ]] ||
    { echo "clblast_tune.sh: \"$t\" is not one of GEMM's tuners (xgemm, xgemm_direct, copy_pad, transpose_fast, transpose_pad)" >&2; exit 2; }
  command -v "clblast_tuner_$t" > /dev/null ||
    { echo "clblast_tune.sh: clblast_tuner_$t not found: install CLBlast's tuners (Debian: clblast-utils)" >&2; exit 1; }
done
echo "tuning CLBlast on $pd for at most ${seconds}s per tuner${fraction:+, GEMM tuners on 1/$fraction of their configurations}: ${list[*]} (results in $out)"
for t in "${list[@]}"; do
  args=(-platform "$platform" -device "$index" -precision 32)
  [[ -n $fraction && $t == xgemm* ]] && args+=(-fraction "$fraction")
  # the GEMM tuners take -k, the copying ones only -m and -n
  for ((i = 0; i < ${#sizes[@]}; i += 2)); do
    [[ ${sizes[i]} == -k && $t != xgemm* ]] || args+=("${sizes[i]}" "${sizes[i + 1]}")
  done
  start=$SECONDS
  (cd "$out" && timeout "$seconds" "clblast_tuner_$t" "${args[@]}" > "tuner_$t.log" 2>&1)
  rc=$?
  printf '  %-15s %4ds  %s\n' "$t" $((SECONDS - start)) "$([ $rc -eq 124 ] && echo "stopped at ${seconds}s" || echo "exit $rc")"
done
shopt -s nullglob
results=("$out"/clblast_*_32.json)
[ ${#results[@]} -gt 0 ] || { echo "clblast_tune.sh: no tuner wrote a result (logs: $out/tuner_*.log; -o DIR keeps them)" >&2; exit 1; }
"$ebm" clblast-import --device "$pd" "${results[@]}"
