#!/usr/bin/env bash
# run_fuzz.sh — the `fuzz` test: builds the libFuzzer harnesses of tests/fuzz in a clang tree of its
# own (EBM_FUZZ=ON: every library instrumented, ASan + UBSan), then runs each harness for SECONDS
# on its seed corpus (tests/fuzz/corpus/NAME) plus what earlier runs found (WORK/run/NAME/corpus),
# one at a time. Fails when any harness reports a crash, a sanitizer finding (ASan, UBSan, LSan), a
# broken reader promise (fuzz check), a timeout (> 10 s on one input) or an out-of-memory (> 2048 MB
# resident or in one allocation); the inputs are kept in WORK/run/NAME/artifacts and their paths
# printed. Exits 77 (ctest SKIP_RETURN_CODE) when clang or its libFuzzer runtime is missing.
#
#   run_fuzz.sh SOURCE_DIR WORK SECONDS [NAME...]     (NAME: safetensors idx ...; default all)
#
# Environment: EBM_CLANG (the compiler), CMAKE (the cmake to use), EBM_FUZZ_SEED (libFuzzer's -seed;
# 0: a new one each run), EBM_FUZZ_JOBS (build parallelism, default 2).
# A harness for as long as you like, by hand: see tests/fuzz/README.md.
set -u
src=${1:?usage: run_fuzz.sh SOURCE_DIR WORK SECONDS [NAME...]}
work=${2:?usage: run_fuzz.sh SOURCE_DIR WORK SECONDS [NAME...]}
seconds=${3:?usage: run_fuzz.sh SOURCE_DIR WORK SECONDS [NAME...]}
shift 3
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(safetensors idx idx_gz idx_dataset image csv config cli npy clblast)
cmake=${CMAKE:-cmake}
start=$(date +%s)

. "$(dirname "$0")/../find_clang.sh"
find_clang fuzz "Debian: apt-get install clang libclang-rt-dev; or set EBM_CLANG"
mkdir -p "$work/probe"
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$work/probe/probe.c"
if ! "$clang" -fsanitize=fuzzer,address,undefined "$work/probe/probe.c" -o "$work/probe/probe" >"$work/probe/log" 2>&1; then
  echo "fuzz: SKIPPED, $clang cannot link libFuzzer with ASan and UBSan (Debian: apt-get install libclang-rt-dev, the"
  echo "      runtime of the default clang, or libclang-rt-NN-dev for clang-NN):"
  head -5 "$work/probe/log"
  exit 77
fi
echo "fuzz: $("$clang" --version | head -1), ${seconds} s per harness"

# ---- the instrumented build (incremental after the first run) ----
build=$work/build
if ! "$cmake" -S "$src" -B "$build" -DCMAKE_C_COMPILER="$clang" -DEBM_FUZZ=ON -DEBM_BUILD_TESTS=OFF \
     -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$work/configure.log" 2>&1; then
  tail -30 "$work/configure.log"
  echo "fuzz: configuring the fuzz build failed ($work/configure.log)"
  exit 1
fi
if ! "$cmake" --build "$build" --target fuzz_harnesses --parallel "${EBM_FUZZ_JOBS:-2}" >"$work/build.log" 2>&1; then
  grep -E "error|Error" "$work/build.log" | head -30
  echo "fuzz: building the harnesses failed ($work/build.log)"
  exit 1
fi
echo "fuzz: built in $(($(date +%s) - start)) s"

# ---- each harness in turn ----
# the files each input is written to: tmpfs when there is one; a harness that crashes leaves its
# folder behind, so all of them live in one that goes at the end
tmp=$(mktemp -d /dev/shm/ebm-fuzz-run.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export EBM_FUZZ_TMP=$tmp
failed=()
for name in "${names[@]}"; do
  exe=$build/tests/fuzz/fuzz_$name
  seeds=$src/tests/fuzz/corpus/$name
  case $name in idx*) dict=idx ;; *) dict=$name ;; esac
  dict=$src/tests/fuzz/dict/$dict.dict
  run=$work/run/$name
  rm -rf "$run/artifacts" "$run/repro"
  mkdir -p "$run/corpus" "$run/artifacts"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1
        -seed="${EBM_FUZZ_SEED:-1}" -artifact_prefix="$run/artifacts/")
  [ -f "$dict" ] && args+=(-dict="$dict")
  # new inputs go to the first folder, never into the source tree's seeds
  timeout -k 10 $((seconds + 120)) "$exe" "${args[@]}" "$run/corpus" "$seeds" >"$run/log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$run/log" | tail -1)
  artifacts=$(find "$run/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' -o -name 'timeout-*' \) | sort)
  if [ $rc -eq 0 ] && [ -z "$artifacts" ]; then
    printf 'fuzz: %-12s ok      %8s executions, %s\n' "$name" "${execs:-?}" "${cov:-?}"
    continue
  fi
  failed+=("$name")
  printf 'fuzz: %-12s FAILED  (exit %d) after %s executions; log %s\n' "$name" $rc "${execs:-?}" "$run/log"
  # the report's first lines: what and where
  grep -E '^==[0-9]+==ERROR|^SUMMARY|runtime error|fuzz check failed|ERROR: libFuzzer|^ +#[0-9]+ .* in [^_].*(ebm|models|engine|stb|fuzz_)' "$run/log" |
    grep -v 'in fuzzer::' | head -12 | sed 's/^/    /'
  for a in $artifacts; do
    echo "    input: $a"
  done
  if [ -n "$artifacts" ]; then   # as a one-file corpus: leaks are checked there, not when a file is replayed alone
    mkdir -p "$run/repro" && cp "$(echo "$artifacts" | head -1)" "$run/repro/"
    echo "    reproduce: $exe -runs=0 -timeout=10 -rss_limit_mb=2048 $run/repro"
  fi
done

echo "fuzz: ${#names[@]} harnesses, $(($(date +%s) - start)) s in all"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]}"
  exit 1
fi
exit 0
