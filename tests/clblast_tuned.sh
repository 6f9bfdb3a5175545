#!/usr/bin/env bash
# clblast_tuned.sh EBM TEST_OPS WORK [TUNE_SCRIPT] — CLBlast parameters tuned for the device
# (EBM_DEVICE): `ebm clblast-import` keeps a tuner's results only when they are this device's
# single-precision results and GEMMs with them are right, and every later process on the device
# hands the kept parameters to CLBlast.
#   1. Tuner result files (JSON as clblast_tuner_* writes them) are imported: the faster of two
#      Xgemm results wins, `ebm devices` lists the tuned kernels, and the GEMM and convolution
#      tests pass with CLBlast forced on them (EBM_GEMM=clblast).
#   2. The parameters reach CLBlast: an Xgemm set CLBlast cannot run right (a work-group that does
#      not divide the tile) is refused by the import, and broken sets written into the device's
#      file by hand break a later process's CLBlast GEMMs, where EBM_CLBLAST_TUNED=off leaves
#      CLBlast on its defaults.
#   3. Files that are not this device's single-precision results, or not results at all, fail
#      naming the file, and the device's file is left as it was.
#   4. A new tuning re-measures the GEMM choices (the choices file's key changes).
#   5. With TUNE_SCRIPT and CLBlast's padding tuner installed: tools/clblast_tune.sh runs it and
#      imports its result (and refuses an output folder that already holds results).
set -u
EBM=$1 TEST_OPS=$2 WORK=$3 TUNE=${4:-}
rm -rf "$WORK" && mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
export EBM_KERNEL_CACHE=$WORK/cache
unset EBM_CLBLAST_TUNED EBM_GEMM
name=$("$EBM" devices 2> /dev/null | sed -n 's/^selected: [0-9]*:[0-9]* \(.*\) \[[^]]*\]$/\1/p')
[ -n "$name" ] || fail "no \"selected:\" line in \`ebm devices\`"
echo "device: $name"

# result FILE FAMILY MS "PARAMS" [PRECISION] [DEVICE]: a tuner's result file
result() {
    cat > "$WORK/$1" << EOF
{
  "kernel_family": "$2",
  "precision": "${5:-32}",
  "best_kernel": "Xgemm",
  "best_time": "$3",
  "best_parameters": "$4",
  "arg_m": "256",
  "device": "${6:-$name}",
  "results": [ { "kernel": "Xgemm", "time": 0.5, "parameters": {"PRECISION": 32} } ]
}
EOF
}
# a set every OpenCL device runs (8x8 work-groups) and a faster-claimed one (16x16)
XG8="GEMMK=0 KREG=1 KWG=16 KWI=2 MDIMA=8 MDIMC=8 MWG=32 NDIMB=8 NDIMC=8 NWG=32 PRECISION=32 SA=1 SB=1 STRM=0 STRN=0 VWM=2 VWN=2"
XG16="GEMMK=0 KREG=1 KWG=16 KWI=2 MDIMA=16 MDIMC=16 MWG=64 NDIMB=16 NDIMC=16 NWG=64 PRECISION=32 SA=1 SB=1 STRM=0 STRN=0 VWM=2 VWN=2"
result xgemm_1.json xgemm_1 0.50 "$XG8"
result xgemm_2.json xgemm_2 0.25 "$XG16"
result direct.json xgemm_direct_1 0.40 "KWID=2 MDIMAD=8 MDIMCD=8 NDIMBD=8 NDIMCD=8 PADA=1 PADB=1 PRECISION=32 VWMD=2 VWND=2 WGD=16"
result pad.json pad 0.05 "PAD_DIMX=8 PAD_DIMY=8 PAD_WPTX=2 PAD_WPTY=2 PRECISION=32"
result padtr.json padtranspose 0.06 "PADTRA_PAD=1 PADTRA_TILE=8 PADTRA_WPT=2 PRECISION=32"
result transpose.json transpose 0.06 "TRA_DIM=8 TRA_PAD=1 TRA_SHUFFLE=0 TRA_WPT=2 PRECISION=32"

ops=matmul,linear,conv2d,conv2d_input_grad,conv2d_weight_grad
# a run of the GEMM tests before any tuning: its choices file
"$TEST_OPS" test -o matmul > "$WORK/before.out" 2>&1 || { tail -20 "$WORK/before.out"; fail "the GEMM tests fail before any tuning"; }
n_choices=$(ls "$WORK"/cache/choices-*.txt 2> /dev/null | wc -l)

# 1. import
"$EBM" clblast-import "$WORK"/{xgemm_1,xgemm_2,direct,pad,padtr,transpose}.json > "$WORK/import.out" 2>&1 ||
    { cat "$WORK/import.out"; fail "the import of valid results failed"; }
cat "$WORK/import.out"
tuned=$(ls "$WORK"/cache/clblast-*.txt 2> /dev/null)
[ -n "$tuned" ] && [ "$(echo "$tuned" | wc -l)" -eq 1 ] || fail "no single clblast-*.txt in the cache folder"
for k in Xgemm XgemmDirect Pad Padtranspose Transpose; do
    [ "$(grep -c "^$k " "$tuned")" -eq 1 ] || { cat "$tuned"; fail "$k: not one line in $tuned"; }
done
grep -q "^Xgemm 0.25 GEMMK=0 KREG=1 KWG=16 KWI=2 MDIMA=16 MDIMC=16 MWG=64 " "$tuned" || { cat "$tuned"; fail "Xgemm: not the faster result's set"; }
! grep -q PRECISION "$tuned" || fail "PRECISION kept as a parameter"
"$EBM" devices 2> /dev/null | grep -q "^CLBlast tuned for it: .*Xgemm.*($tuned)$" || fail "\`ebm devices\` does not list the tuned kernels"
[ -z "$(EBM_CLBLAST_TUNED=off "$EBM" devices 2> /dev/null | grep "^CLBlast tuned")" ] || fail "EBM_CLBLAST_TUNED=off still loads the file"
EBM_GEMM=clblast EBM_LOG=debug "$TEST_OPS" test -o $ops > "$WORK/tuned.out" 2> "$WORK/tuned.err" ||
    { tail -20 "$WORK/tuned.out" "$WORK/tuned.err"; fail "the GEMM and convolution tests fail with CLBlast on the tuned parameters"; }
grep -q "CLBlast: tuned parameters for 5 kernel(s) from $tuned" "$WORK/tuned.err" || fail "the tests' process did not hand the parameters to CLBlast"
! grep -q "GEMM through CLBlast cannot run" "$WORK/tuned.err" || { grep "cannot run" "$WORK/tuned.err"; fail "CLBlast did not run on the tuned parameters"; }

# 4. the choices are measured again after a tuning: a choices file under a new key
"$TEST_OPS" test -o matmul > "$WORK/after.out" 2>&1 || fail "the GEMM tests fail after the tuning"
[ "$(ls "$WORK"/cache/choices-*.txt | wc -l)" -eq $((n_choices + 1)) ] || { ls "$WORK"/cache; fail "no new choices file after the tuning"; }

# 2. the parameters reach CLBlast. 12x8 work-groups over a 32x32 tile: 32 is no multiple of 12
cp "$tuned" "$WORK/kept.txt"
BAD="GEMMK=0 KREG=1 KWG=16 KWI=2 MDIMA=12 MDIMC=12 MWG=32 NDIMB=8 NDIMC=8 NWG=32 PRECISION=32 SA=1 SB=1 STRM=0 STRN=0 VWM=2 VWN=2"
result bad.json xgemm_1 0.10 "$BAD"
"$EBM" clblast-import "$WORK/bad.json" > "$WORK/bad.out" 2>&1 && fail "a set CLBlast cannot run was imported"
cat "$WORK/bad.out"
grep -Eq "GEMM \(.*\) through CLBlast's indirect kernel with the parameters of $WORK/bad.json and of the device's file $tuned (is wrong|failed)" "$WORK/bad.out" ||
    fail "the refusal does not say that a GEMM with the set failed, naming the file"
cmp -s "$tuned" "$WORK/kept.txt" || fail "a refused import changed $tuned"
# written into the device's file by hand, the set reaches a later process's CLBlast: the import of
# another kernel's result there runs the GEMM checks with it, and they fail
{ grep -v "^Xgemm " "$WORK/kept.txt"; echo "Xgemm 0.1 ${BAD/PRECISION=32 /}"; } > "$tuned"
"$EBM" clblast-import "$WORK/pad.json" > "$WORK/bad2.out" 2>&1 && fail "a broken Xgemm set in the device's file did not reach CLBlast"
grep -q "through CLBlast's indirect kernel with the parameters of $WORK/pad.json and of the device's file $tuned" "$WORK/bad2.out" ||
    { cat "$WORK/bad2.out"; fail "a broken Xgemm set in the file: not the GEMM check failing, naming the file"; }
# and with the direct kernel's as broken (12x12 work-groups
# over 16x16 tiles), the sets reach a later process's CLBlast: its GEMMs fail (the engine then
# says so and uses its tile GEMM) or come out wrong (the tests fail)
BADD="KWID=2 MDIMAD=12 MDIMCD=12 NDIMBD=12 NDIMCD=12 PADA=1 PADB=1 VWMD=2 VWND=2 WGD=16"
{ grep -v "^Xgemm" "$WORK/kept.txt"; echo "Xgemm 0.1 ${BAD/PRECISION=32 /}"; echo "XgemmDirect 0.1 $BADD"; } > "$tuned"
if EBM_GEMM=clblast "$TEST_OPS" test -o matmul > "$WORK/badrun.out" 2> "$WORK/badrun.err"; then
    grep -q "GEMM through CLBlast cannot run, using another algorithm" "$WORK/badrun.err" ||
        { cat "$WORK/badrun.err"; fail "broken sets in the device's file did not reach CLBlast"; }
fi
rm -f "$WORK"/cache/choices-*.txt   # where a failure was remembered
EBM_CLBLAST_TUNED=off EBM_GEMM=clblast "$TEST_OPS" test -o matmul > "$WORK/off.out" 2> "$WORK/off.err" || fail "EBM_CLBLAST_TUNED=off: the tests fail"
! grep -q "GEMM through CLBlast cannot run" "$WORK/off.err" || { cat "$WORK/off.err"; fail "EBM_CLBLAST_TUNED=off still hands the file's parameters to CLBlast"; }
# a line the engine cannot read: a warning naming the file and line, the others still used
{ cat "$WORK/kept.txt"; echo "Xgemm 0.1 GEMMK"; } > "$tuned"
"$EBM" devices > "$WORK/badline.out" 2> "$WORK/badline.err" || fail "\`ebm devices\` fails on a bad line in $tuned"
grep -q "$tuned:$(wc -l < "$tuned"): .*line ignored" "$WORK/badline.err" || { cat "$WORK/badline.err"; fail "no warning naming the bad line"; }
grep -q "^CLBlast tuned for it: .*XgemmDirect" "$WORK/badline.out" || fail "the other lines were dropped with the bad one"
cp "$WORK/kept.txt" "$tuned"

# 3. files that are not this device's single-precision results
refuse() {   # refuse WHAT FILE PATTERN: the import fails with a message matching PATTERN naming FILE, the file unchanged
    "$EBM" clblast-import "$WORK/$2" > "$WORK/refuse.out" 2>&1 && fail "$1: imported"
    grep -q "ebm clblast-import: .*$WORK/$2.*$3" "$WORK/refuse.out" || { cat "$WORK/refuse.out"; fail "$1: the message does not name the file and the problem"; }
    cmp -s "$tuned" "$WORK/kept.txt" || fail "$1: $tuned changed"
}
result double.json xgemm_1 0.1 "$XG8" 64
refuse "double precision" double.json "precision 64"
result other.json xgemm_1 0.1 "$XG8" 32 "Some Other GPU"
refuse "another device" other.json "tuned on \"Some Other GPU\""
result gemv.json xgemv 0.1 "WGS1=64 WPT1=1"
refuse "a kernel GEMM does not use" gemv.json "kernel family \"xgemv\""
result copy.json copy 0.03 "COPY_DIMX=8 COPY_DIMY=8 COPY_VW=2 COPY_WPT=2 PRECISION=32"
refuse "a kernel the checks do not run" copy.json "kernel family \"copy\""
result wide.json transpose 0.1 "TRA_DIM=1024 TRA_PAD=1 TRA_SHUFFLE=0 TRA_WPT=1"
refuse "work-groups beyond the device's" wide.json "1048576 items"
result wpt.json transpose 0.1 "TRA_DIM=32 TRA_PAD=1 TRA_SHUFFLE=0 TRA_WPT=64"
refuse "a transpose tile beyond what the checks run" wpt.json "TRA_DIM x TRA_WPT = 2048"
result names.json xgemm_1 0.1 "${XG8/VWN=2/VWX=2}"
refuse "a parameter of the kernel missing" names.json "CLBlast refuses these parameters for Xgemm"
result extra.json xgemm_1 0.1 "$XG8 BOGUS=7"
refuse "a parameter name the kernel lacks" extra.json "BOGUS is not a parameter of CLBlast's Xgemm"
result zero.json xgemm_1 0.1 "${XG8/MWG=32/MWG=0}"
refuse "a size of 0" zero.json "a size is 0"
result switch.json xgemm_1 0.1 "${XG8/SA=1/SA=2}"
refuse "an on/off parameter of 2" switch.json "not 0 or 1"
result value.json xgemm_1 0.1 "${XG8/VWN=2/VWN=two}"
refuse "a value that is no number" value.json "not a whole number"
result time.json xgemm_1 fast "$XG8"
refuse "a time that is no number" time.json "best_time"
printf 'not json at all' > "$WORK/text.json"
refuse "text" text.json "not JSON"
head -c 120 "$WORK/xgemm_1.json" > "$WORK/cut.json"
refuse "a truncated file" cut.json "not JSON"
: > "$WORK/empty.json"
refuse "an empty file" empty.json "not JSON"
echo '{"kernel_family": "xgemm_1", "precision": "32"}' > "$WORK/fields.json"
refuse "missing fields" fields.json "lacks"
refuse "a missing file" nosuch.json "cannot open"
EBM_CLBLAST_TUNED=off "$EBM" clblast-import "$WORK/direct.json" > "$WORK/tunedoff.out" 2>&1 && fail "imported with EBM_CLBLAST_TUNED=off"
grep -q "EBM_CLBLAST_TUNED=off: unset it" "$WORK/tunedoff.out" || { cat "$WORK/tunedoff.out"; fail "EBM_CLBLAST_TUNED=off: no clear message"; }
cmp -s "$tuned" "$WORK/kept.txt" || fail "an import under EBM_CLBLAST_TUNED=off changed $tuned"
EBM_KERNEL_CACHE=off "$EBM" clblast-import "$WORK/xgemm_1.json" > "$WORK/off.out" 2>&1 && fail "imported with EBM_KERNEL_CACHE=off"
grep -q "EBM_KERNEL_CACHE is off" "$WORK/off.out" || { cat "$WORK/off.out"; fail "EBM_KERNEL_CACHE=off: no clear message"; }
"$EBM" clblast-import > "$WORK/none.out" 2>&1; [ $? -eq 2 ] || fail "no files: not a usage error"

# 5. the tuning script with a real tuner
if [ -n "$TUNE" ] && command -v clblast_tuner_copy_pad > /dev/null; then
    bash "$TUNE" -e "$EBM" -t copy_pad -m 256 -n 256 -s 300 -o "$WORK/tune" > "$WORK/tune.out" 2>&1 ||
        { cat "$WORK/tune.out"; fail "tools/clblast_tune.sh failed"; }
    cat "$WORK/tune.out"
    [ -f "$WORK/tune/clblast_pad_32.json" ] || fail "the padding tuner wrote no result"
    grep -q "^Pad .* PAD_DIMX=" "$tuned" && ! grep -q "^Pad 0.05 PAD_DIMX=8 PAD_DIMY=8 PAD_WPTX=2 PAD_WPTY=2$" "$tuned" ||
        { cat "$tuned"; fail "the padding tuner's result is not in $tuned"; }
    [ "$(grep -v '^#' "$tuned" | wc -l)" -eq 5 ] || { cat "$tuned"; fail "the other kernels' sets were not kept"; }
    bash "$TUNE" -e "$EBM" -t copy_pad -s 300 -o "$WORK/tune" > "$WORK/tune2.out" 2>&1 && fail "tools/clblast_tune.sh took a folder holding results"
else
    echo "(no clblast_tuner_copy_pad: tools/clblast_tune.sh not run)"
fi
echo "PASS"
